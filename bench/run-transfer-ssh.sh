#!/usr/bin/env bash
# run-transfer-ssh.sh [BUILD_DIR] [SIZE_MIB] [FILES]: `mitogen cp` and `mitogen run`
# over ssh to one private sshd on 127.0.0.1 (root, throwaway keys, started
# here and stopped at the end), beside OpenSSH doing the same work in the
# same run:
#   - a SIZE_MIB file (1024 by default) in the page cache, pushed and pulled:
#     `mitogen cp` against `ssh host cat` through a pipe and scp, and Python
#     Mitogen's FileService (its remote context fetching the file from the
#     master, the direction of a push);
#   - a tree of FILES (10,000) files of 1-16 KiB pushed: `mitogen cp -r` against
#     scp -r, rsync -a over ssh and tar c | ssh tar x;
#   - SIZE_MIB of zeros from a remote command to /dev/null: `mitogen run`
#     against ssh.
# Every run is warm (the agent is cached on the "host" by an untimed call
# first) and counts the connection's start; every result is checked by
# sha256 (or its size, for the zeros). The master's peak RSS comes from
# time(1); the remote agent's is its VmHWM, sampled from /proc while it
# runs (the host is this machine). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
size_mib=${2:-1024}
nfiles=${3:-10000}
mitogen="$PWD/$build/engine/cli/mitogen"
[ -x "$mitogen" ] || { echo "run-transfer-ssh.sh: build first (ninja -C $build)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run-transfer-ssh.sh: run as root (the private sshd logs in as root)" >&2; exit 2; }
command -v rsync >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y rsync >/dev/null 2>&1 ||
  { echo "run-transfer-ssh.sh: could not install rsync" >&2; exit 2; }

source "$(dirname "${BASH_SOURCE[0]}")/build-env.sh"
bench_use_build "$PWD/$build"

# --- the private sshd ------------------------------------------------------
source bench/private-sshd.sh
tmp=$(mktemp -d)
sampler=
cleanup() {
  [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
  private_sshd_stop "$tmp"
  rm -rf "$tmp"
}
trap cleanup EXIT
private_sshd "$tmp" 127.0.0.1 'Subsystem sftp internal-sftp'
port=$sshd_port

ssh_opts=("${sshd_ssh_opts[@]}")
ssh_cmd="ssh -p $port ${ssh_opts[*]}"
host=root@127.0.0.1
cache="$tmp/cache"
target="ssh:root@127.0.0.1:$port,identity_file='$tmp/id',known_hosts_file='$tmp/known_hosts',remote_cache_dir='$cache'"
# The agents, by their command lines: ours starts with its path in the cache
# (the master's own command line names the cache too, but not first);
# Python Mitogen's names itself "python3(mitogen:...)".
agent="^$cache/"
py_agent='^[^ ]*\(mitogen:'
remote="$tmp/remote"   # the "host"'s side of every copy (the same filesystem)
mkdir "$remote"

# --- measuring ---------------------------------------------------------------
# The largest VmHWM (KiB) of the processes whose command line matches $1,
# written to $tmp/hwm until killed.
sample_hwm() {
  local max=0 pid v
  echo 0 >"$tmp/hwm"
  while :; do
    for pid in $(pgrep -f -- "$1" || true); do
      v=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
      if [ -n "$v" ] && [ "$v" -gt "$max" ]; then max=$v; echo "$max" >"$tmp/hwm"; fi
    done
    sleep 0.05
  done
}
# measure PATTERN COMMAND...: "SECONDS MASTER_KIB AGENT_KIB" (AGENT_KIB 0
# when PATTERN is empty). The command's stdout goes to /dev/null.
measure() {
  local pattern=$1; shift
  echo 0 >"$tmp/hwm"
  if [ -n "$pattern" ]; then sample_hwm "$pattern" & sampler=$!; fi
  /usr/bin/time -o "$tmp/time" -f '%e %M' "$@" >/dev/null 2>"$tmp/err" ||
    { echo "run-transfer-ssh.sh: failed: $* ($(head -c 400 "$tmp/err"))" >&2; echo "0.0001 0" >"$tmp/time"; }
  if [ -n "$sampler" ]; then kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true; sampler=; fi
  echo "$(tail -1 "$tmp/time") $(cat "$tmp/hwm")"
}
declare -A secs
# check WHAT EXPECTED ACTUAL: on a mismatch, say so and fail at the end
check() {
  if [ "$2" != "$3" ]; then
    echo "run-transfer-ssh.sh: $1: content differs ($2 vs $3)" >&2
    bad=yes
  fi
}
tree_sum() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1; }

rows=()
# row LABEL UNITS FLOOR PATTERN COMMAND...: times COMMAND and keeps its row.
# UNITS: "MIB n" or "FILES n". FLOOR: "=NAME" makes this row the floor
# called NAME; "NAME" compares this row with it (as a speed ratio).
row() {
  local label=$1 units=$2 floor=$3 pattern=$4 s kib akib size rate ratio agent
  shift 4
  read -r s kib akib < <(measure "$pattern" "$@")
  set -- $units
  if [ "$1" = MIB ]; then
    size="$2 MiB"; rate=$(printf '%.0f MB/s' "$(echo "$2 * 1.048576 / $s" | bc -l)")
  else
    size="$2 files, $tree_mib MiB"; rate=$(printf '%.0f files/s' "$(echo "$2 / $s" | bc -l)")
  fi
  if [ "${floor:0:1}" = = ]; then secs[${floor:1}]=$s; ratio="floor: ${floor:1}"
  else ratio=$(printf '%.0f%% of %s' "$(echo "100 * ${secs[$floor]} / $s" | bc -l)" "$floor"); fi
  agent=—; [ "$akib" -gt 0 ] && agent="$((akib / 1024)) MiB"
  rows+=("| $label | $size | $(printf '%.2f s' "$s") | $rate | $ratio | $((kib / 1024)) MiB | $agent |")
}

echo "run-transfer-ssh.sh: making the data..." >&2
head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$tmp/src"
src_sum=$(sha256sum "$tmp/src" | cut -d' ' -f1)
mkdir "$tmp/tree"
python3 - "$tmp/tree" "$nfiles" <<'PY'
import os, random, sys
random.seed(1)
root = sys.argv[1]
for i in range(int(sys.argv[2])):
    d = os.path.join(root, 'd%03d' % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'f%05d' % i), 'wb') as f:
        f.write(os.urandom(random.randint(1024, 16384)))
PY
tree_mib=$(du -sm "$tmp/tree" | cut -f1)
tree_sum_src=$(tree_sum "$tmp/tree")

# Warm-up: caches the agent on the host; also the idle footprints.
"$mitogen" call "$target" core.ping >/dev/null
bad=
read -r _ idle_master _ < <(measure "" "$mitogen" call "$target" core.ping)
read -r _ _ idle_agent < <(measure "$agent" "$mitogen" run "$target" -- sleep 1)

# --- one file ---------------------------------------------------------------
echo "run-transfer-ssh.sh: one file of $size_mib MiB..." >&2
big="MIB $size_mib"
fresh() { rm -rf "$remote/dst" "$tmp/dst"; cat "$tmp/src" >/dev/null; }
sum_of() { sha256sum "$1" | cut -d' ' -f1; }

fresh
row "cat f \\| ssh host 'cat > f'" "$big" =ssh-cat-push "" \
  sh -c "cat '$tmp/src' | $ssh_cmd $host 'cat > $remote/dst'"
check push-cat "$src_sum" "$(sum_of "$remote/dst")"
fresh
row 'scp push' "$big" ssh-cat-push "" \
  scp -q -P "$port" "${ssh_opts[@]}" "$tmp/src" "$host:$remote/dst"
check push-scp "$src_sum" "$(sum_of "$remote/dst")"
fresh
row '**mitogen cp push**' "$big" ssh-cat-push "$agent" \
  "$mitogen" cp "$tmp/src" "$target:$remote/dst"
check push-mitogen "$src_sum" "$(sum_of "$remote/dst")"

fresh
row "ssh host 'cat f' > f" "$big" =ssh-cat-pull "" \
  sh -c "$ssh_cmd $host 'cat $tmp/src' > '$tmp/dst'"
check pull-cat "$src_sum" "$(sum_of "$tmp/dst")"
fresh
row 'scp pull' "$big" ssh-cat-pull "" \
  scp -q -P "$port" "${ssh_opts[@]}" "$host:$tmp/src" "$tmp/dst"
check pull-scp "$src_sum" "$(sum_of "$tmp/dst")"
fresh
row '**mitogen cp pull**' "$big" ssh-cat-pull "$agent" \
  "$mitogen" cp "$target:$tmp/src" "$tmp/dst"
check pull-mitogen "$src_sum" "$(sum_of "$tmp/dst")"

# Python Mitogen: the remote context fetches the file from the master's
# FileService (how Ansible's Mitogen strategy moves files). __main__ must be
# a file for Mitogen to serve it.
if /usr/bin/python3 -c 'import mitogen.service' 2>/dev/null; then
  cat >"$tmp/pyfile.py" <<'PY'
import sys
import mitogen.service
import mitogen.utils

def fetch(context, path, dst):
    import mitogen.service
    with open(dst, 'wb') as fp:
        ok, meta = mitogen.service.FileService.get(context, path, fp)
    return ok

def main(router):
    port, tmp, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    service = mitogen.service.FileService(router)
    mitogen.service.Pool(router, services=[service])
    service.register(src)
    ctx = router.ssh(hostname='127.0.0.1', port=port, username='root',
                     identity_file=tmp + '/id', python_path='/usr/bin/python3',
                     ssh_args=['-o', 'UserKnownHostsFile=' + tmp + '/known_hosts'])
    if not ctx.call(fetch, router.myself(), src, dst):
        sys.exit('FileService.get: incomplete')

if __name__ == '__main__':
    mitogen.utils.run_with_router(main)
PY
  fresh
  row 'Python Mitogen: FileService.get in the remote context' "$big" ssh-cat-push "$py_agent" \
    /usr/bin/python3 "$tmp/pyfile.py" "$port" "$tmp" "$tmp/src" "$remote/dst"
  check python-fileservice "$src_sum" "$(sum_of "$remote/dst")"
fi
rm -f "$remote/dst" "$tmp/dst"

# --- a tree of 10,000 files ---------------------------------------------------
echo "run-transfer-ssh.sh: a tree of $nfiles files..." >&2
files="FILES $nfiles"
tree_check() { check "$1" "$tree_sum_src" "$(tree_sum "$remote/tree")"; rm -rf "$remote/tree"; }
row 'scp -r push' "$files" =scp-r "" \
  scp -q -r -P "$port" "${ssh_opts[@]}" "$tmp/tree" "$host:$remote/tree"
tree_check tree-scp
row 'rsync -a push' "$files" =rsync "" \
  rsync -a -e "$ssh_cmd" "$tmp/tree/" "$host:$remote/tree/"
tree_check tree-rsync
row "tar c \\| ssh host 'tar x'" "$files" =tar-ssh "" \
  sh -c "tar cC '$tmp/tree' . | $ssh_cmd $host 'mkdir $remote/tree && tar xC $remote/tree'"
tree_check tree-tar
# the floor of the tree is the fastest of the three
best=
for l in scp-r rsync tar-ssh; do
  if [ -z "$best" ] || [ "$(echo "${secs[$l]} < ${secs[$best]}" | bc -l)" = 1 ]; then best=$l; fi
done
row '**mitogen cp -r push**' "$files" "$best" "$agent" \
  "$mitogen" cp -r "$tmp/tree" "$target:$remote/tree"
tree_check tree-mitogen

# --- a remote command's output ------------------------------------------------
echo "run-transfer-ssh.sh: $size_mib MiB from a remote command..." >&2
n=$((size_mib * 1024 * 1024))
zeros="MIB $size_mib"
check run-ssh "$n" "$($ssh_cmd $host "head -c $n /dev/zero" | wc -c)"
check run-mitogen "$n" "$("$mitogen" run "$target" -- head -c "$n" /dev/zero | wc -c)"
row "ssh host 'head -c N /dev/zero' > /dev/null" "$zeros" =ssh-stdout "" \
  $ssh_cmd $host "head -c $n /dev/zero"
row '**mitogen run -- head -c N /dev/zero > /dev/null**' "$zeros" ssh-stdout "$agent" \
  "$mitogen" run "$target" -- head -c "$n" /dev/zero

# --- the table ----------------------------------------------------------------
echo "| what | size | time | throughput | vs floor | master peak RSS | agent peak RSS |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo "| idle: mitogen call core.ping / run -- sleep 1 | — | — | — | — | $((idle_master / 1024)) MiB | $((idle_agent / 1024)) MiB |"
[ -z "$bad" ] || { echo "run-transfer-ssh.sh: some content differed (see above)" >&2; exit 1; }
