#!/usr/bin/env bash
# test-cli-serve.sh MITOGEN: `mitogen serve` and the commands that use it,
# end to end, as TAP. Each server lives in a private XDG_RUNTIME_DIR, so
# that no other test's commands find it.
set -u
MITOGEN=$1
source "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

tmp=$(mktemp -d)
export XDG_RUNTIME_DIR=$tmp/run
mkdir -m 0700 "$XDG_RUNTIME_DIR"
sock=$XDG_RUNTIME_DIR/mitogen/serve.sock
# In a sanitizer build every process here (clients, the detached server)
# reports to files checked at the end, not to output nobody reads.
if [ -n "${ASAN_OPTIONS:-}" ]; then
  export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$tmp/sanitizer"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:log_path=$tmp/sanitizer"
fi
m() { timeout 60 "$MITOGEN" "$@"; }
cleanup() {
  m serve --stop >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT

server_pid() { m serve --status | sed -n 's/^server pid //p'; }
# The agents the server started: its children.
agents() { pgrep -P "$1" -c -f mitogen-agent || true; }
# Gone: no such process, or a zombie (a detached server's parent is init,
# which in a container may never reap it).
gone() {
  test -n "$1" || return 1
  kill -0 "$1" 2>/dev/null || return 0
  test "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z
}
wait_gone() {  # wait_gone PID SECONDS
  local i
  for ((i = 0; i < $2 * 10; i++)); do gone "$1" && return 0; sleep 0.1; done
  return 1
}

echo "1..44"

m serve --status >/dev/null
check "--status with no server says so (exit 3)" test $? = 3
m serve --idle-timeout 30 >"$tmp/start"
check "serve starts a server in the background" test $? = 0
check "its socket is mode 0600" test "$(stat -c %a "$sock")" = 600
check "its directory is mode 0700" test "$(stat -c %a "$(dirname "$sock")")" = 700
spid=$(server_pid)
check "--status names the server's pid" bash -c "[[ '$spid' =~ ^[0-9]+\$ ]]"
check "a second serve finds the running one" \
  bash -c "timeout 60 '$MITOGEN' serve | grep -q 'already runs'"

m run local -- sh -c 'echo out; echo err >&2; exit 3' >"$tmp/out" 2>"$tmp/err" </dev/null
check "run through the server passes the exit status" test $? = 3
check "run through the server passes stdout and stderr" \
  bash -c "test \"\$(cat '$tmp/out')/\$(cat '$tmp/err')\" = out/err"
check "run through the server passes stdin" \
  test "$(printf 'a\nb\n' | m run local -- cat)" = "$(printf 'a\nb')"
check "one agent after the first run" test "$(agents "$spid")" = 1
p1=$(m call local core.getpid)
p2=$(m call local core.getpid)
check "two calls on the same target reach the same agent" \
  bash -c "[[ '$p1' =~ ^[0-9]+\$ ]] && test '$p1' = '$p2'"
check "and no second agent was started" test "$(agents "$spid")" = 1
p3=$(m call --no-serve local core.getpid)
check "--no-serve starts a context of its own" bash -c "[[ '$p3' =~ ^[0-9]+\$ ]] && test '$p3' != '$p1'"
check "--status lists the kept context" bash -c "timeout 60 '$MITOGEN' serve --status | grep -q '^local.$p1	local	'"

# A second target through a kept prefix: local/local reuses local.
p4=$(m call local/local core.getpid)
check "a chain reuses its kept first hop (two agents, not three)" \
  bash -c "[[ '$p4' =~ ^[0-9]+\$ ]] && test \$(pgrep -c -f mitogen-agent -P '$p1') = 1 && test '$(agents "$spid")' = 1"

m serve --stop
check "--stop exits 0" test $? = 0
check "--stop leaves no server" gone "$spid"
check "nor any agent it kept" bash -c "$(declare -f gone wait_gone); wait_gone $p1 10 && wait_gone $p4 10"
check "--stop removes the socket" test ! -e "$sock"

# Idle timeout: the context goes after 2 s unused, then the server.
m serve --idle-timeout 2 >/dev/null
spid=$(server_pid)
p5=$(m call local core.getpid)
check "an idle context is shut down after the idle timeout" wait_gone "$p5" 30
check "then the server exits, having nothing and nobody" wait_gone "$spid" 30

# The kept agent dies under a running command: the command ends (255).
m serve --idle-timeout 30 >/dev/null
spid=$(server_pid)
(m run local -- sleep 60 </dev/null; echo $? >"$tmp/rc") &
for _ in $(seq 300); do
  agent=$(pgrep -P "$spid" -f mitogen-agent | head -1)
  [ -n "$agent" ] && pgrep -P "$agent" -x sleep >/dev/null && break
  sleep 0.1
done
kill -KILL "$agent"
wait
check "a command whose kept agent dies exits 255" test "$(cat "$tmp/rc")" = 255
m serve --stop

# ---- a fan-out through the server -------------------------------------------
# Three distinct hosts: local contexts in distinct directories. Each command
# prints its agent's pid ($PPID) and that agent's parent's.
mkdir -p "$tmp/d1" "$tmp/d2" "$tmp/d3"
cd "$tmp" || exit 1
hosts='local,cwd=d[1-3]'
pids='echo "$PPID $(cut -d" " -f4 /proc/$PPID/stat)"'
m serve --idle-timeout 60 >/dev/null
spid=$(server_pid)
m run "$hosts" -- sh -c "$pids" 2>"$tmp/err" </dev/null | sort >"$tmp/first"
check "a fan-out through the server runs on every host" test "$(wc -l <"$tmp/first")" = 3
check "its agents are the server's children ($spid), three of them" \
  test "$(cut -d' ' -f3 "$tmp/first" | sort -u) $(agents "$spid")" = "$spid 3"
m run "$hosts" -- sh -c "$pids" 2>>"$tmp/err" </dev/null | sort >"$tmp/second"
check "a second fan-out reuses the kept agents, one per host" \
  bash -c "diff '$tmp/first' '$tmp/second' && test \$(cut -d' ' -f2 '$tmp/second' | sort -u | wc -l) = 3"
check "and starts none" test "$(agents "$spid")" = 3
check "nothing was said on stderr" test ! -s "$tmp/err"
m run --no-serve "$hosts" -- sh -c "$pids" </dev/null >"$tmp/own"
check "--no-serve: the fan-out starts agents of its own, not the server's" \
  bash -c "test \$(wc -l <'$tmp/own') = 3 && ! grep -q ' $spid\$' '$tmp/own' &&
           test -z \"\$(cut -d' ' -f2 '$tmp/own' | grep -xFf <(cut -d' ' -f2 '$tmp/first'))\""
m run "$hosts" nosuch:host -- sh -c "$pids" >"$tmp/out" 2>"$tmp/err" </dev/null
status=$?
check "a host the server cannot reach fails alone (255), the others run" \
  bash -c "test $status = 255 && test \"\$(sort '$tmp/out')\" = \"\$(cat '$tmp/second')\""
check "it is named in the summary with the server's reason" \
  grep -q "^  nosuch:host: .*no transport plugin named 'nosuch'" "$tmp/err"
m run -b "$hosts" -- sh -c 'echo "$PPID" | grep -cxF -e "$(cut -d" " -f2 '"'$tmp/second'"')"' \
  >"$tmp/out" </dev/null
check "-b through the server: one group, every host on a kept agent" \
  test "$(cat "$tmp/out")" = "$(printf -- '---------------\nlocal,cwd=d[1-3]\n---------------\n1')"
m run --json "$hosts" -- sh -c "$pids" >"$tmp/out" </dev/null
check "--json through the server: one valid object per host, on its kept agent" python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
kept = {l.split()[0]: l.split()[1] for l in open(sys.argv[2])}
assert len(rows) == 3 and all(r["exit_status"] == 0 and r["error"] is None for r in rows), rows
assert sorted(r["stdout"].split()[0] for r in rows) == sorted(kept.values()), (rows, kept)
' "$tmp/out" "$tmp/second"
start=$(date +%s)
m run --host-timeout 3 "$hosts" -- sh -c 'test "$PWD" = "'"$tmp"'/d2" && exec sleep 276.5; echo done' \
  >"$tmp/out" 2>"$tmp/err" </dev/null
status=$?
check "--host-timeout through the server: 124, the others done ($(( $(date +%s) - start )) s)" \
  test "$status $(grep -c ': done$' "$tmp/out")" = "124 2"
check "no command is left of the host that timed out, and its agent is kept" \
  bash -c "! pgrep -fx 'sleep 276.5' >/dev/null && test $(agents "$spid") = 3"
env --default-signal=INT "$MITOGEN" run "$hosts" -- sleep 277.5 </dev/null >/dev/null 2>&1 &
cli=$!
for _ in $(seq 300); do
  test "$(pgrep -fx 'sleep 277.5' | wc -l)" -ge 3 && break
  sleep 0.1
done
kill -INT $cli
wait $cli
status=$?
check "SIGINT through the server exits 130 and leaves no command ($status)" \
  bash -c "test $status = 130 && ! pgrep -fx 'sleep 277.5' >/dev/null"
check "the kept agents stay" test "$(agents "$spid")" = 3
# A tree: the server starts the hosts through the kept gateway.
m run --fanout-via 1 local "$hosts" -- sh -c "$pids" </dev/null | sort >"$tmp/tree1"
gw=$(sed -n 's/^local: \([0-9]*\) .*/\1/p' "$tmp/tree1")
check "--fanout-via through the server: the gateway is the server's, the hosts its agent's" \
  bash -c "grep -qx 'local: $gw $spid' '$tmp/tree1' && test \$(grep -c '^local,cwd=d[1-3]: [0-9]* $gw\$' '$tmp/tree1') = 3"
m run --fanout-via 1 local "$hosts" -- sh -c "$pids" </dev/null | sort >"$tmp/tree2"
check "and a second tree run reuses them all" \
  bash -c "test -n '$gw' && diff '$tmp/tree1' '$tmp/tree2' && test \$(pgrep -c -P '$gw' -f mitogen-agent) = 3"
# Three chains through one first hop, asked at once: the server starts it
# once, the later asks waiting for it; when it cannot, all three fail.
m run 'local,name=shared/local,cwd=d[1-3]' -- sh -c "$pids" </dev/null >"$tmp/out"
shared=$(pgrep -P "$spid" -f mitogen-agent | while read -r a; do
  test "$(pgrep -c -P "$a" -f mitogen-agent)" = 3 && grep -q " $a\$" "$tmp/out" && echo "$a"; done)
check "chains sharing a first hop, asked at once, share one agent for it ($shared)" \
  bash -c "test \$(wc -l <'$tmp/out') = 3 && test \$(grep -c ' $shared\$' '$tmp/out') = 3"
m run 'nosuch:shared/local,cwd=d[1-3]' -- true </dev/null 2>"$tmp/err"
status=$?
check "a shared first hop the server cannot start fails all three (255)" \
  bash -c "test $status = 255 && grep -q '^mitogen: 3 of 3 hosts failed' '$tmp/err' &&
           grep -q \"^  nosuch:shared/local,cwd=d\\[1-3\\]: .*no transport plugin named 'nosuch'\" '$tmp/err'"
check "and the server still serves" test "$(m call local/local core.ping)" = "()"
m serve --stop

# A directory of the wrong mode: the command says so and goes without it.
m serve --idle-timeout 30 >/dev/null
spid=$(server_pid)
chmod 0755 "$(dirname "$sock")"
out=$(m call local core.getpid 2>"$tmp/err")
check "a socket directory others may enter is not used, and the command still runs" \
  bash -c "[[ '$out' =~ ^[0-9]+\$ ]] && grep -q 'not using mitogen serve.*0700 needed' '$tmp/err' && test '$(agents "$spid")' = 0"
chmod 0700 "$(dirname "$sock")"
m serve --stop

check "the server's log holds no sanitizer report" \
  bash -c "! grep -qE 'ERROR: (Leak|Address)Sanitizer|runtime error' '$(dirname "$sock")/serve.log'"

check "no process here made a sanitizer report" \
  bash -c "! ls '$tmp'/sanitizer.* 2>/dev/null || { cat '$tmp'/sanitizer.* >&2; false; }"

exit $failed
