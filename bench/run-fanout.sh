#!/usr/bin/env bash
# run-fanout.sh [BUILD_DIR] [HOSTS] [FANOUT]: one command (`uname -r`) on
# HOSTS distinct "hosts" (100 by default; 1000 is the issue's figure) with
# FANOUT at once (64 by default), side by side in one run:
#   - pdsh -R ssh -f FANOUT, clush -f FANOUT (Debian's pdsh and
#     clustershell, installed here if missing);
#   - Python Mitogen (python3-mitogen): router.ssh() + call from a pool of
#     FANOUT threads;
#   - mitogen run -f FANOUT, cold (new SSH sessions; the agent already
#     cached on the host), the same as a tree (--fanout-via 4: four
#     gateways start the other hosts' sessions) and warm: through a
#     `mitogen serve` of the run's own, after one run that had it connect
#     every host, so that the timed run opens no SSH session.
# The "hosts" are 127.0.X.Y: one private sshd listens on a free port of
# 0.0.0.0 (root, throwaway keys, logins only from 127.0.0.0/8), which every
# loopback address reaches; their host keys go into a private known_hosts
# first, so every tool checks them. For each: wall time, the master's CPU
# time (user+sys of the tool and what it runs here: pdsh, clush and Python
# Mitogen run one ssh client per host, which counts), its peak RSS
# and its most threads (sampled from /proc). Every run must print HOSTS
# lines of output. Prints a Markdown table. MITOGEN_ONLY=1 leaves out
# pdsh, clush and Python Mitogen (to check this build at a thousand hosts
# quickly).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
nhosts=${2:-100}
fanout=${3:-64}
mitogen="$PWD/$build/engine/cli/mitogen"
[ -x "$mitogen" ] || { echo "run-fanout.sh: build first (ninja -C $build)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run-fanout.sh: run as root (the private sshd logs in as root)" >&2; exit 2; }
[ "$nhosts" -le 1000 ] || { echo "run-fanout.sh: at most 1000 hosts (127.0.0-3.1-250)" >&2; exit 2; }
for pkg in pdsh:pdsh clush:clustershell; do
  command -v "${pkg%%:*}" >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkg#*:}" >/dev/null 2>&1 || true
done
/usr/bin/python3 -c 'import mitogen' 2>/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y python3-mitogen >/dev/null 2>&1 || true

source "$(dirname "${BASH_SOURCE[0]}")/build-env.sh"
bench_use_build "$PWD/$build"

source bench/private-sshd.sh

tmp=$(mktemp -d)
# A server of this run's own, found by no other command, and none found.
export XDG_RUNTIME_DIR=$tmp/run
mkdir -m 0700 "$XDG_RUNTIME_DIR"
# A thousand hosts are a thousand sockets (and pipes) in some tools, and
# in the server.
ulimit -n "$(ulimit -Hn)"
sampler=
cleanup() {
  [ -z "$sampler" ] || kill "$sampler" 2>/dev/null || true
  private_sshd_stop "$tmp"
  "$mitogen" serve --stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# --- the hosts ---------------------------------------------------------------
hosts=()
for i in $(seq 0 $((nhosts - 1))); do
  hosts+=("127.0.$((i / 250)).$((i % 250 + 1))")
done
# The same set in range form where one range says it, else as a list.
list=$(IFS=,; echo "${hosts[*]}")
if [ "$nhosts" -le 250 ]; then
  range="127.0.0.[1-$nhosts]"
elif [ $((nhosts % 250)) -eq 0 ]; then
  range="127.0.[0-$((nhosts / 250 - 1))].[1-250]"
else
  range=$list
fi

# Logins by key only and only from loopback (it listens on every address);
# these lines come first, so they win over private_sshd's defaults.
private_sshd "$tmp" 0.0.0.0 "AllowUsers root@127.0.0.0/8
UseDNS no
PermitRootLogin prohibit-password
PasswordAuthentication no
MaxStartups 2000:30:4000
MaxSessions 100" "${hosts[@]}"
port=$sshd_port

ssh_opts="-p $port -i $tmp/id -o UserKnownHostsFile=$tmp/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes"
cache="$tmp/cache"

# --- measuring -----------------------------------------------------------------
# The most threads of process $1 (and its threads' count only), written to
# $tmp/threads until killed.
sample_threads() {
  local max=0 v
  while kill -0 "$1" 2>/dev/null; do
    v=$(awk '/^Threads:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
    [ -n "$v" ] && [ "$v" -gt "$max" ] && max=$v && echo "$max" >"$tmp/threads"
    sleep 0.05
  done
}

# row LABEL COMMAND...: runs COMMAND with its output in $tmp/out, checks it
# printed one line per host, prints the row.
row() {
  local label=$1; shift
  echo 0 >"$tmp/threads"
  /usr/bin/time -o "$tmp/time" -f '%e %U %S %M' "$@" >"$tmp/out" 2>"$tmp/err" &
  local pid=$! child= i
  # time(1) may not have started the tool yet.
  for i in $(seq 100); do
    child=$(pgrep -P "$pid" | head -1 || true)
    [ -n "$child" ] && break
    sleep 0.01
  done
  [ -n "$child" ] && { sample_threads "$child" & sampler=$!; }
  if ! wait "$pid"; then
    echo "| $label | failed: $(head -c 200 "$tmp/err" | tr '\n|' '  ') | | | | |"
    return
  fi
  [ -n "$sampler" ] && { wait "$sampler" 2>/dev/null || true; sampler=; }
  local lines
  lines=$(grep -c . "$tmp/out" || true)
  read -r wall user sys kib <"$tmp/time"
  local note=
  [ "$lines" -eq "$nhosts" ] || note=" ($lines of $nhosts hosts answered)"
  printf '| %s%s | %.2f s | %.2f s | %d MiB | %s |\n' "$label" "$note" "$wall" \
    "$(echo "$user + $sys" | bc -l)" $((kib / 1024)) "$(cat "$tmp/threads")"
}

cat >"$tmp/py_mitogen.py" <<'PY'
import subprocess, sys, concurrent.futures, mitogen.master
port, key, known, fanout, hosts = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
broker = mitogen.master.Broker()
router = mitogen.master.Router(broker)
def one(host):
    ctx = router.ssh(hostname=host, port=port, username='root', identity_file=key,
                     check_host_keys='enforce', ssh_args=['-o', 'UserKnownHostsFile=' + known])
    release = ctx.call(subprocess.check_output, ['uname', '-r']).decode().strip()
    ctx.shutdown(wait=True)
    return host, release
try:
    with concurrent.futures.ThreadPoolExecutor(fanout) as pool:
        for host, release in pool.map(one, hosts):
            print('%s: %s' % (host, release))
finally:
    broker.shutdown()
    broker.join()
PY

mitogen_target="ssh:root@$range"
mitogen_args=(-f "$fanout" -o port="$port" -o identity_file="$tmp/id"
              -o known_hosts_file="$tmp/known_hosts" -o remote_cache_dir="$cache")

# Warm the agent cache on the "host" (one host: they share a disk).
"$mitogen" run -o port="$port" -o identity_file="$tmp/id" -o known_hosts_file="$tmp/known_hosts" \
  -o remote_cache_dir="$cache" "ssh:root@${hosts[0]}" -- true

echo "$nhosts hosts, $fanout at once; master CPU counts the ssh clients a tool runs"
echo
echo '| what | wall | master CPU | master peak RSS | master threads |'
echo '|---|---|---|---|---|'
others=1
[ "${MITOGEN_ONLY:-0}" = 1 ] && others=0
if [ $others = 1 ] && command -v pdsh >/dev/null; then
  row "pdsh -R ssh -f $fanout" env PDSH_SSH_ARGS="$ssh_opts -l%u %h" \
    pdsh -R ssh -l root -f "$fanout" -w "$list" uname -r
fi
if [ $others = 1 ] && command -v clush >/dev/null; then
  row "clush -f $fanout" clush -f "$fanout" -l root -o "$ssh_opts" -w "$range" uname -r
fi
if [ $others = 1 ] && /usr/bin/python3 -c 'import mitogen' 2>/dev/null; then
  row "Python Mitogen, router.ssh from $fanout threads" /usr/bin/python3 "$tmp/py_mitogen.py" \
    "$port" "$tmp/id" "$tmp/known_hosts" "$fanout" "${hosts[@]}"
fi
row "mitogen run -f $fanout, cold" "$mitogen" run --no-serve "${mitogen_args[@]}" "$mitogen_target" -- uname -r
# A tree: 4 gateways connected from here start the others. -f counts per
# parent (as clush's does per gateway), so each gateway gets a quarter:
# FANOUT sessions in flight in all, as for every other row. (With -f
# FANOUT each, four times as many handshakes share these two CPUs and
# agents time out starting at a thousand hosts.)
per_gateway=$(( fanout / 4 > 0 ? fanout / 4 : 1 ))
row "mitogen run -f $per_gateway --fanout-via 4 ($((per_gateway * 4)) in flight), cold" "$mitogen" run --no-serve \
  "${mitogen_args[@]}" -f "$per_gateway" --fanout-via 4 "$mitogen_target" -- uname -r

# Warm: the server connects every host in a first run (timed too: the cold
# run through the server), then the timed run reuses them. The idle timeout
# outlasts the whole run.
sessions() { grep -c 'Accepted publickey' "$tmp/sshd.log" 2>/dev/null || echo "?"; }
"$mitogen" serve --idle-timeout 3600 >/dev/null
row "mitogen run -f $fanout through mitogen serve, first (it connects)" "$mitogen" run \
  "${mitogen_args[@]}" "$mitogen_target" -- uname -r
before=$(sessions)
row "mitogen run -f $fanout through mitogen serve, warm" "$mitogen" run "${mitogen_args[@]}" \
  "$mitogen_target" -- uname -r
after=$(sessions)
server=$("$mitogen" serve --status | sed -n 's/^server pid //p')
kept=$("$mitogen" serve --status | grep -c $'\tssh:' || true)
echo
echo "mitogen serve (pid $server): $kept contexts kept, RSS $(awk '/^VmRSS:/ {print int($2 / 1024)}' \
  "/proc/$server/status") MiB, $(awk '/^Threads:/ {print $2}' "/proc/$server/status") threads;" \
  "SSH sessions accepted during the warm run: $((after - before))"
"$mitogen" serve --stop >/dev/null 2>&1 || true
