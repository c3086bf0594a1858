#!/usr/bin/env bash
# ssh-scale.sh [BUILD_DIR] [COUNT...]: the master's threads and memory per
# idle ssh context, with 1, 50 and 200 (or the COUNTs given) contexts open
# to one private sshd on 127.0.0.1 (root, throwaway keys, started here and
# stopped at the end), from bench/ssh-scale.py through GObject
# introspection. MITOGEN_PLUGIN_PATH, when set, wins over the build tree's
# plugins (to measure another build of the ssh plugin). Prints a Markdown
# table.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(50 200)
[ "$(id -u)" = 0 ] || { echo "ssh-scale.sh: run as root (the private sshd logs in as root)" >&2; exit 2; }
[ -f "$PWD/$build/engine/Mitogen-1.0.typelib" ] || { echo "ssh-scale.sh: build first, with introspection" >&2; exit 2; }

export MITOGEN_AGENT_PATH="$PWD/$build/engine/agent/mitogen-agent"
export MITOGEN_PLUGIN_PATH=${MITOGEN_PLUGIN_PATH:-$(ls -d "$PWD/$build"/plugins/*/ | tr '\n' ':')}
export GI_TYPELIB_PATH="$PWD/$build/engine" LD_LIBRARY_PATH="$PWD/$build/engine"

source bench/private-sshd.sh

tmp=$(mktemp -d)
cleanup() {
  private_sshd_stop "$tmp"
  rm -rf "$tmp"
}
trap cleanup EXIT
# Many handshakes at once: sshd's MaxStartups would drop the connects past
# 10 (its default) while they authenticate.
private_sshd "$tmp" 127.0.0.1 $'MaxStartups 1000\nMaxSessions 1000'
port=$sshd_port

/usr/bin/python3 bench/ssh-scale.py "$port" "$tmp" "${counts[@]}"
