#!/usr/bin/env bash
# test-cli-fanout.sh MITOGEN: `mitogen run` and `mitogen call` on many
# hosts, end to end, as TAP. Distinct local hosts are local contexts with
# distinct working directories: "local,cwd=d[1-30]" is thirty of them,
# and a command tells them apart by $PWD.
set -u
MITOGEN=$1
source "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
# A private runtime directory: no `mitogen serve` but this test's own.
export XDG_RUNTIME_DIR=$tmp/run
mkdir -m 0700 "$XDG_RUNTIME_DIR"
for i in $(seq 1 30); do mkdir "d$i"; done
m() { timeout 120 "$MITOGEN" "$@"; }

echo "1..50"

# ---- many hosts, lines prefixed ---------------------------------------------
m run 'local,cwd=d[1-30]' -- sh -c 'echo "in $PWD"; echo "err $PWD" >&2' >out 2>err </dev/null
status=$?
check "run on 30 hosts exits 0 when all succeed" test $status = 0
check "each host's stdout line is prefixed with its label, once" \
  test "$(sort out)" = "$(for i in $(seq 1 30); do echo "local,cwd=d$i: in $tmp/d$i"; done | sort)"
check "stderr lines go to stderr, prefixed" \
  test "$(grep -c '^local,cwd=d[0-9]*: err ' err)" = 30
m run 'local,cwd=d1' local -- printf 'a\nb' >out </dev/null
check "a last line without its newline gets one" \
  test "$(grep -c '^local,cwd=d1: [ab]$' out) $(tail -c 1 out | od -An -c | tr -d ' ')" = "2 \\n"

"$MITOGEN" run 'local,cwd=d[1-2]' -- sh -c 'echo first; while [ ! -e ../go ]; do sleep 0.1; done; echo second' \
  >live </dev/null 2>&1 &
cli=$!
for i in $(seq 1 300); do
  test "$(grep -c ': first$' live)" = 2 && break
  sleep 0.1
done
check "lines are printed as they come, before the command ends" \
  test "$(grep -c ': first$' live) $(grep -c second live)" = "2 0"
touch go
wait $cli
check "and the rest when it does" test "$(grep -c ': second$' live)" = 2

# ---- statuses --------------------------------------------------------------
m run 'local,cwd=d[1-5]' -- sh -c 'exit ${PWD##*/d}' >out 2>err </dev/null
status=$?
check "the status is the largest of the hosts' (5)" test $status = 5
check "the summary names the failed hosts with their reasons" \
  bash -c "grep -q '^mitogen: 5 of 5 hosts failed' err && grep -q '^  local,cwd=d3: exit status 3$' err"
m run 'local,cwd=d[1-3]' nosuch:host -- echo ok >out 2>err </dev/null
status=$?
check "a host that cannot be reached makes the status 255" test $status = 255
check "the others still ran" test "$(grep -c ': ok$' out)" = 3
check "the unreachable host is in the summary, with why" \
  grep -q "^  nosuch:host: .*nosuch" err
m run -x 'local,cwd=d2' 'local,cwd=d[1-3]' -- pwd >out </dev/null
check "-x leaves a host out" test "$(sort out | tr '\n' ' ')" = "local,cwd=d1: $tmp/d1 local,cwd=d3: $tmp/d3 "
m run -f 1 'local,cwd=d[1-6]' -- sh -c 'ls ../running.* 2>/dev/null | wc -l; touch ../running.$$; sleep 0.2; rm ../running.$$' >out </dev/null
check "-f 1 runs one host at a time" test "$(grep -c ': 0$' out)" = 6

# ---- per-host timeout -------------------------------------------------------
start=$(date +%s)
m run --host-timeout 3 'local,cwd=d[1-4]' -- sh -c 'test "$PWD" = "'"$tmp"'/d2" && exec sleep 271.5; echo done' \
  >out 2>err </dev/null
status=$?
took=$(( $(date +%s) - start ))
check "a host past --host-timeout fails with 124 (took $took s)" test $status = 124 -a $took -lt 60
check "the other hosts carried on" test "$(grep -c ': done$' out)" = 3
check "the slow host is reported as timed out" grep -q "^  local,cwd=d2: timed out after 3 s$" err
sleep 1
check "no command is left of the host that timed out" bash -c "! pgrep -f '^sleep 271.5' >/dev/null"

# ---- -b and --json ------------------------------------------------------------
m run -b 'local,cwd=d[1-5]' -- sh -c 'echo same; test "$PWD" = "'"$tmp"'/d3" && echo other; true' >out </dev/null
check "-b prints each distinct output once, under the folded host set" \
  test "$(cat out)" = "$(printf -- '---------------\nlocal,cwd=d[1-2,4-5]\n---------------\nsame\n---------------\nlocal,cwd=d3\n---------------\nsame\nother')"
printf 'bin\377\376 "q"\t\001\n' >bin
m run --json 'local,cwd=d[1-3]' nosuch:host -- sh -c 'cat ../bin; echo e >&2; exit ${PWD##*/d}' >out 2>/dev/null </dev/null
check "--json: one valid JSON object per host, every field there" python3 -c '
import json, sys
rows = [json.loads(l) for l in open("out")]
assert len(rows) == 4, rows
keys = {"host", "target", "via", "exit_status", "signal", "stdout", "stderr", "error", "seconds"}
assert all(set(r) == keys for r in rows), rows
by = {r["host"]: r for r in rows}
for i in (1, 2, 3):
    r = by["local,cwd=d%d" % i]
    assert r["exit_status"] == i and r["stderr"] == "e\n", r
    assert r["stdout"] == "bin\ufffd\ufffd \"q\"\t\x01\n", r
    assert (r["error"] is None) == (i == 0) and r["seconds"] >= 0, r
u = by["nosuch:host"]
assert u["exit_status"] is None and "nosuch" in u["error"], u
'

# ---- call --------------------------------------------------------------------
m call 'local,cwd=d[1-3]' -- core.echo "(1, 'a')" >out </dev/null
check "call on many hosts prints each result after its host" \
  test "$(sort out)" = "$(printf "local,cwd=d1: (1, 'a')\nlocal,cwd=d2: (1, 'a')\nlocal,cwd=d3: (1, 'a')")"
m call -w 'local,local/local' core.ping >out </dev/null
check "call -w HOSTS FUNCTION: hosts from -w, then the function without '--'" \
  test "$(sort out | tr '\n' ' ')" = "local/local: () local: () "
m call local core.echo -- -1 >out </dev/null
check "one TARGET, a FUNCTION and '--' still make a single-host call" test "$(cat out)" = "-1"
printf '[web]\nw[1:2] ansible_connection=local\n[db]\ndb1 ansible_connection=local ansible_become=false\n' >inv
m call -i inv -g web core.ping >out </dev/null
check "-i INVENTORY -g GROUP picks the group's hosts" test "$(cat out)" = "w1: ()"

# ---- a tree: --fanout-via, --gateway -----------------------------------------
# Each command prints its agent's pid ($PPID) and that agent's parent's.
agent_and_parent='echo "agent=$PPID parent=$(cut -d" " -f4 /proc/$PPID/stat)"'
m run --fanout-via 1 local 'local,cwd=d[1-6]' -- sh -c "$agent_and_parent" >out 2>err </dev/null
status=$?
gw=$(sed -n 's/^local: agent=\([0-9]*\) .*/\1/p' out)
check "--fanout-via 1: all 7 hosts ran (status $status)" \
  test "$status $(grep -c ': agent=' out)" = "0 7"
check "the other hosts' agents were started by the gateway's agent ($gw)" \
  test -n "$gw" -a "$(grep -c "^local,cwd=d[1-6]: agent=[0-9]* parent=$gw\$" out)" = 6
# The second gateway has two hops: hosts start from its last.
m run --json --fanout-via 2 local local/local 'local,cwd=d[1-3]' -- sh -c "$agent_and_parent" \
  >out 2>/dev/null </dev/null
check "--json names the gateway each host went through (round-robin over 2)" python3 -c '
import json
rows = {r["host"]: r for r in map(json.loads, open("out"))}
assert len(rows) == 5, rows
via = {h: r["via"] for h, r in rows.items()}
assert via == {"local": None, "local/local": None, "local,cwd=d1": "local",
               "local,cwd=d2": "local/local", "local,cwd=d3": "local"}, via
agent = {h: r["stdout"].split()[0][6:] for h, r in rows.items()}
for h, r in rows.items():
    if r["via"]:
        assert r["stdout"].split()[1] == "parent=" + agent[r["via"]], (h, r, agent)
'
"$MITOGEN" run -f 1 --gateway local --gateway 'local,cwd=nosuch' 'local,cwd=d[1-6]' -- \
  sh -c "$agent_and_parent" >out 2>err </dev/null &
master=$!
wait $master
status=$?
check "a gateway that cannot be reached fails (255), the 7 other hosts run" \
  test "$status $(grep -c ': agent=' out)" = "255 7"
check "its hosts connect from the master instead, and it says so" bash -c "
  test \"\$(grep -c 'parent=$master\$' out)\" = 4 &&
  grep -q '^mitogen: local,cwd=nosuch: not a gateway (.*nosuch.*); its 3 hosts connect directly\$' err"
check "the summary names only the gateway" \
  bash -c "grep -q '^mitogen: 1 of 8 hosts failed' err && grep -q '^  local,cwd=nosuch: ' err"
# A gateway's agent runs calls one at a time: its own command (proc.run
# with --json) must not hold up the connects of its hosts.
m run --json --fanout-via 1 local 'local,cwd=d[1-3]' -- \
  sh -c 'test "$PWD" = "'"$tmp"'" && sleep 10; true' >out 2>/dev/null </dev/null
check "a gateway's own command waits until its hosts are started" python3 -c '
import json
rows = {r["host"]: r for r in map(json.loads, open("out"))}
assert rows["local"]["seconds"] >= 10, rows
assert all(rows["local,cwd=d%d" % i]["seconds"] < 7 for i in (1, 2, 3)), rows
'
m run -f 2 --fanout-via 1 local 'local,cwd=d[1-6]' -- \
  sh -c 'test "$PWD" = "'"$tmp"'" && exit; ls ../running.* 2>/dev/null | wc -l; touch ../running.$$; sleep 0.3; rm ../running.$$' \
  >out </dev/null
check "-f 2 applies to the gateway's hosts: at most 2 ran at once" \
  test "$(grep -c ': [01]$' out)" = 6
m run --fanout-via 1 nosuch:gw 'local,cwd=d[1-2]' -- echo ok >out 2>err </dev/null
status=$?
check "a gateway with an unknown transport fails alone; its hosts run from here" \
  bash -c "test '$status $(grep -c ': ok$' out)' = '255 2' && grep -q '^  nosuch:gw: ' err"
env --default-signal=INT "$MITOGEN" run --fanout-via 1 local 'local,cwd=d[1-6]' -- sleep 273.5 \
  </dev/null >/dev/null 2>&1 &
cli=$!
for i in $(seq 1 200); do
  test "$(pgrep -fx 'sleep 273.5' | wc -l)" -ge 7 && break
  sleep 0.1
done
kill -INT $cli
wait $cli
status=$?
sleep 0.5
check "SIGINT in a tree exits 130 and leaves no command ($status)" \
  bash -c "test $status = 130 && ! pgrep -fx 'sleep 273.5' >/dev/null"
m run --fanout-via -1 local -- true 2>err </dev/null
status=$?
check "--fanout-via takes 0 or more" bash -c "test $status = 1 && grep -q 'fanout-via' err"
m run --gateway local -x local 'local,cwd=d1' -- true 2>err </dev/null
check "a --gateway that -x leaves out is an error" grep -q -- '--gateway local: -x leaves it out' err

# ---- a tree over ssh -------------------------------------------------------------
# A private sshd on 127.0.0.[1-9] (distinct hosts), as in bench/run-fanout.sh.
# Each command prints the pids holding its ssh connection's client end: the
# master for the gateway, the gateway's agent for the others.
ssh_checks=10
if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/sshd ]; then
  for i in $(seq 1 $ssh_checks); do
    n=$((n + 1)); echo "ok $n # SKIP the test sshd needs root and /usr/sbin/sshd"
  done
else
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$tmp/id"
  cp "$tmp/id.pub" "$tmp/authorized_keys"
  { echo "Port $port"; for i in $(seq 1 9); do echo "ListenAddress 127.0.0.$i"; done
    echo "HostKey $tmp/host_key"; echo "PidFile $tmp/sshd.pid"
    echo "AuthorizedKeysFile $tmp/authorized_keys"
    printf 'UsePAM no\nUseDNS no\nStrictModes no\nPermitRootLogin prohibit-password\n'
  } >"$tmp/sshd_config"
  key=$(cut -d' ' -f1,2 "$tmp/host_key.pub")
  for i in $(seq 1 9); do echo "[127.0.0.$i]:$port $key"; done >"$tmp/known_hosts"
  mkdir -p /run/sshd
  /usr/sbin/sshd -f "$tmp/sshd_config" -E "$tmp/sshd.log"
  for i in $(seq 1 100); do [ -s "$tmp/sshd.pid" ] && break; sleep 0.1; done
  trap 'm serve --stop >/dev/null 2>&1; kill $(cat "$tmp/sshd.pid") 2>/dev/null; rm -rf "$tmp"' EXIT
  owners='cport=${SSH_CLIENT#* }; cport=${cport%% *}
    echo "agent=$PPID owners=$(ss -Htnp state established "( sport = :$cport )" | grep -o "pid=[0-9]*" | sort -u | tr "\n" " ")"'
  "$MITOGEN" run --json --fanout-via 1 -o port="$port" -o identity_file="$tmp/id" \
    -o known_hosts_file="$tmp/known_hosts" -o remote_cache_dir="$tmp/cache" \
    'ssh:root@127.0.0.[1-4]' -- sh -c "$owners" >out 2>err </dev/null &
  master=$!
  wait $master
  status=$?
  check "ssh hosts through an ssh gateway: all 4 ran (status $status)" python3 -c '
import json
rows = {r["host"]: r for r in map(json.loads, open("out"))}
assert len(rows) == 4 and all(r["exit_status"] == 0 for r in rows.values()), rows
'
  conn_owners() {  # conn_owners HOST: the pids holding HOST's ssh connection, and its agent's
    python3 -c '
import json, re, sys
rows = {r["host"]: r for r in map(json.loads, open("out"))}
r = rows["ssh:root@" + sys.argv[1]]
print(r["via"], r["stdout"].split()[0][6:], *sorted(set(re.findall(r"pid=(\d+)", r["stdout"]))))
' "$1"
  }
  check "the gateway's connection is the master's ($master)" \
    test "$(conn_owners 127.0.0.1 | cut -d' ' -f1,3-)" = "None $master"
  gw=$(conn_owners 127.0.0.1 | cut -d' ' -f2)
  check "the others' ssh connections are the gateway agent's ($gw), not the master's" \
    test "$(for i in 2 3 4; do conn_owners 127.0.0.$i | cut -d' ' -f1,3-; done | sort -u)" = "ssh:root@127.0.0.1 $gw"

  # A gateway's agent has no ssh plugin: it fetches it from the master as
  # it starts its first hosts. Started at once (core.connect answered from
  # a thread pool, reverted for now), the fetches loaded the plugin several
  # times over ("cannot register existing type", then at 30 hosts a hang):
  # eight hosts through one gateway must run without a GLib warning.
  m run --json -f 8 --fanout-via 1 -o port="$port" -o identity_file="$tmp/id" \
    -o known_hosts_file="$tmp/known_hosts" -o remote_cache_dir="$tmp/cache" \
    'ssh:root@127.0.0.[1-9]' -- true >out 2>err </dev/null
  status=$?
  check "an ssh gateway starting 8 ssh hosts: all 9 ran, no GLib warning (status $status)" \
    bash -c "test $status = 0 && test \$(grep -c '\"exit_status\":0' out) = 9 &&
             ! grep -E 'WARNING|CRITICAL' err"

  # Through `mitogen serve`: the second run reuses the kept sessions. A
  # fifth host has no sshd (127.0.0.10 refuses): it fails alone each time.
  ssh_run() {  # ssh_run [OPTION...]: `echo $PPID` on the 4 hosts and the 5th
    m run -o port="$port" -o identity_file="$tmp/id" -o known_hosts_file="$tmp/known_hosts" \
      -o remote_cache_dir="$tmp/cache" "$@" 'ssh:root@127.0.0.[1-4,10]' -- sh -c 'echo $PPID' \
      2>"$tmp/err" </dev/null | sort
    echo "status=${PIPESTATUS[0]}"
  }
  sessions() { grep -c 'Accepted publickey' "$tmp/sshd.log"; }
  m serve --idle-timeout 120 >/dev/null
  ssh_run >"$tmp/ssh1"
  before=$(sessions)
  ssh_run >"$tmp/ssh2"
  after=$(sessions)
  check "over ssh through the server: 4 hosts ran, the 5th failed alone ($(tail -1 "$tmp/ssh1"))" \
    bash -c "test \$(grep -c '^ssh:root@127.0.0.[1-4]: [0-9]*\$' '$tmp/ssh1') = 4 &&
             tail -1 '$tmp/ssh1' | grep -qx status=255 && grep -q '^  ssh:root@127.0.0.10: ' '$tmp/err'"
  check "a second run reaches the same agents" diff "$tmp/ssh1" "$tmp/ssh2"
  check "and opens no ssh session ($before, then $after)" test "$before" = "$after"
  ssh_run --no-serve >"$tmp/ssh3"
  own=$(sessions)
  check "--no-serve opens sessions of its own (4 more: $after, then $own)" \
    bash -c "test $own = $((after + 4)) && test -z \"\$(grep -xFf '$tmp/ssh1' '$tmp/ssh3' | grep -v status=)\""
  # A tree: the server starts the others through the kept gateway.
  ssh_run --fanout-via 1 >"$tmp/tree1"
  before=$(sessions)
  ssh_run --fanout-via 1 >"$tmp/tree2"
  check "--fanout-via 1 over ssh through the server: the 4 hosts ran, then again, on the same agents" \
    bash -c "test \$(grep -c '^ssh:root@127.0.0.[1-4]: [0-9]*\$' '$tmp/tree1') = 4 && diff '$tmp/tree1' '$tmp/tree2'"
  check "the second tree run opens no ssh session ($before, then $(sessions))" \
    test "$before" = "$(sessions)"
  m serve --stop
fi

# ---- threads ------------------------------------------------------------------
# The tool's peak thread count while N hosts start and run a command. Hosts
# are driven from one thread; the transports' connection step runs in GIO's
# worker pool, which is bounded (10 workers) whatever the number of hosts.
for i in $(seq 31 60); do mkdir "d$i"; done
peak_threads() {  # peak_threads N
  "$MITOGEN" run -f 100 "local,cwd=d[1-$1]" -- sleep 4.25 </dev/null >/dev/null &
  local pid=$! peak=0 now i
  for i in $(seq 1 400); do
    now=$(ls /proc/$pid/task 2>/dev/null | wc -l)
    test "$now" -gt "$peak" && peak=$now
    test "$(pgrep -fx 'sleep 4.25' | wc -l)" -ge "$1" && break
    sleep 0.02
  done
  echo $peak
  wait $pid
}
one=$(peak_threads 1)
sixty=$(peak_threads 60)
check "the tool's threads do not grow with the hosts (peak with 1 host: $one, with 60: $sixty)" \
  test "$sixty" -le 20   # a few of the tool's own, 10 of GIO's pool: not 60

# ---- signals -----------------------------------------------------------------
env --default-signal=INT "$MITOGEN" run 'local,cwd=d[1-10]' -- sleep 272.5 </dev/null >/dev/null 2>&1 &
cli=$!
for i in $(seq 1 200); do
  test "$(pgrep -fx 'sleep 272.5' | wc -l)" -ge 10 && break
  sleep 0.1
done
check "all 10 commands started" test "$(pgrep -fx 'sleep 272.5' | wc -l)" = 10
kill -INT $cli
wait $cli
check "SIGINT exits 130" test $? = 130
sleep 0.5
check "SIGINT leaves no remote command" bash -c "! pgrep -fx 'sleep 272.5' >/dev/null"
m run -b -x 'local,cwd=d1' 'local,cwd=d1' -- true 2>err </dev/null
check "excluding every host is an error" test $? = 1 -a -s err

exit $failed
