#!/usr/bin/env bash
# run-serve.sh [BUILD] [RUNS]: `mitogen run TARGET -- true`, cold (a
# context of its own each time) against warm (through `mitogen serve`), for
# local and for ssh to a private sshd on 127.0.0.1 (as root). Prints the
# mean wall time per run in ms.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${2:-20}
mitogen="$PWD/$build/engine/cli/mitogen"
[ -x "$mitogen" ] || { echo "run-serve.sh: build first (ninja -C $build)" >&2; exit 2; }

source "$(dirname "${BASH_SOURCE[0]}")/build-env.sh"
bench_use_build "$PWD/$build"

source bench/private-sshd.sh

tmp=$(mktemp -d)
export XDG_RUNTIME_DIR=$tmp/run
mkdir -m 0700 "$XDG_RUNTIME_DIR"
cleanup() {
  "$mitogen" serve --stop >/dev/null 2>&1 || true
  private_sshd_stop "$tmp"
  rm -rf "$tmp"
}
trap cleanup EXIT

mean_ms() {  # mean_ms COMMAND...: mean wall time of RUNS runs, in ms
  local start end
  start=$(date +%s%N)
  for ((i = 0; i < runs; i++)); do "$@" >/dev/null; done
  end=$(date +%s%N)
  echo "scale=1; ($end - $start) / $runs / 1000000" | bc
}

row() {  # row NAME TARGET
  local cold warm
  "$mitogen" run --no-serve "$2" -- true   # the agent cached on the host
  cold=$(mean_ms "$mitogen" run --no-serve "$2" -- true)
  "$mitogen" run "$2" -- true              # the server connects once
  warm=$(mean_ms "$mitogen" run "$2" -- true)
  printf '| %s | %s ms | %s ms | %.1f× |\n' "$1" "$cold" "$warm" "$(echo "$cold / $warm" | bc -l)"
}

"$mitogen" serve >/dev/null
echo "| mitogen run TARGET -- true, mean of $runs | cold | through mitogen serve | ratio |"
echo "|---|---|---|---|"
row local local

if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/sshd ]; then
  private_sshd "$tmp"
  port=$sshd_port
  row ssh "ssh:root@127.0.0.1:$port,identity_file='$tmp/id',known_hosts_file='$tmp/known_hosts',remote_cache_dir='$tmp/cache'"
fi
