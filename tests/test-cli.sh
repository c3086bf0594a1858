#!/usr/bin/env bash
# test-cli.sh MITOGEN: the command-line tool, end to end, as TAP.
# The checks that start contexts run twice: once with the test environment
# and once without MITOGEN_AGENT_PATH and MITOGEN_PLUGIN_PATH, to show the
# tool finds the agent and plugins of a build tree by itself.
set -u
MITOGEN=$1
n=0
failed=0

check() {  # check DESCRIPTION COMMAND...: pass when COMMAND succeeds
  local what=$1; shift
  n=$((n + 1))
  if "$@"; then echo "ok $n - $what"; else echo "not ok $n - $what"; failed=1; fi
}

# Every context the tool starts must be gone when it exits; a stray agent
# would keep a test run (or a user's shell) waiting.
gone() {  # gone PID: PID names no process, not even a zombie
  test -n "$1" && ! kill -0 "$1" 2>/dev/null
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "1..50"

# ---- contexts, in both environments --------------------------------------
for mode in env no-env; do
  if [ $mode = env ]; then
    m() { timeout 60 "$MITOGEN" "$@"; }
  else
    m() { timeout 60 env -u MITOGEN_AGENT_PATH -u MITOGEN_PLUGIN_PATH "$MITOGEN" "$@"; }
  fi

  m run local -- sh -c 'echo out; echo err >&2; exit 3' >"$tmp/out" 2>"$tmp/err" </dev/null
  status=$?
  check "$mode: run passes the exit status through" test "$status" = 3
  check "$mode: run passes stdout through, and only it" \
    bash -c "test \"\$(cat '$tmp/out')\" = out"
  check "$mode: run passes stderr through, and only it" \
    bash -c "test \"\$(cat '$tmp/err')\" = err"

  check "$mode: run passes stdin through" \
    test "$(printf 'hello\nworld\n' | m run local -- cat)" = "$(printf 'hello\nworld')"

  m run local -- sh -c 'kill -TERM $$' </dev/null
  check "$mode: a command killed by signal 15 exits 128+15" test $? = 143

  check "$mode: run without '--' works for a plain command" \
    test "$(m run local echo plain </dev/null)" = plain

  pid=$(m call local core.getpid)
  check "$mode: call prints the result of another process" \
    bash -c "[[ '$pid' =~ ^[0-9]+\$ ]] && test '$pid' != $$"
  check "$mode: the context is gone when the tool exits" gone "$pid"

  check "$mode: call arguments are GVariant text" \
    test "$(m call local core.echo "(1, 'a')")" = "(1, 'a')"
  check "$mode: an argument that is not GVariant text is a string" \
    test "$(m call local core.echo plain)" = "'plain'"
  check "$mode: arguments after '--' may start with '-'" \
    test "$(m call local core.echo -- -1)" = "-1"

  check "$mode: a chain of hops works" \
    test "$(m call local/local core.echo "'via'")" = "'via'"

  m call local core.nosuch.function 2>"$tmp/err" >/dev/null
  status=$?
  check "$mode: an unknown function fails, naming it" \
    bash -c "test $status = 1 && grep -q 'core.nosuch.function' '$tmp/err'"

  out=$(m call local core.fail "'boom'" 2>"$tmp/err")
  status=$?
  check "$mode: a remote error exits 1 with 'mitogen: MESSAGE' on stderr" \
    bash -c "test $status = 1 && test -z '$out' && grep -q '^mitogen: .*boom' '$tmp/err'"
  pid=$(sed -n 's/.*context local\.\([0-9]*\).*/\1/p' "$tmp/err")
  check "$mode: the context is gone after a failed call" gone "$pid"
done

# ---- the rest -----------------------------------------------------------
"$MITOGEN" call nosuchtransport core.getpid 2>"$tmp/err"
status=$?
check "an unknown transport fails, naming it" \
  bash -c "test $status = 1 && grep -q nosuchtransport '$tmp/err'"

"$MITOGEN" call local/nosuchtransport core.getpid 2>"$tmp/err"
status=$?
check "an unknown transport in the second hop fails, naming it" \
  bash -c "test $status = 1 && grep -q nosuchtransport '$tmp/err'"

"$MITOGEN" call 'Bad Target' core.getpid 2>"$tmp/err"
status=$?
check "a bad target fails clearly" bash -c "test $status = 1 && grep -q 'bad target' '$tmp/err'"

"$MITOGEN" call 'sudo:' core.getpid 2>"$tmp/err"
status=$?
check "an empty target argument fails clearly" \
  bash -c "test $status = 1 && grep -q 'bad target' '$tmp/err'"

"$MITOGEN" call 'ssh:user@host:notaport' core.getpid 2>"$tmp/err"
status=$?
check "a bad ssh port fails before connecting" \
  bash -c "test $status = 1 && grep -q 'bad port' '$tmp/err'"

"$MITOGEN" call -o novalue local core.ping 2>"$tmp/err"
status=$?
check "an -o without '=' fails clearly" \
  bash -c "test $status = 1 && grep -q 'KEY=VALUE' '$tmp/err'"

"$MITOGEN" call -o name=foo local core.fail "'x'" 2>"$tmp/err"
check "-o name=foo names the context (a plain string value)" \
  grep -q 'context foo: core.fail: x' "$tmp/err"

check "-o values that are GVariant text work too" \
  test "$("$MITOGEN" call -o "name='bar'" local core.ping)" = "()"

"$MITOGEN" call --agent /nonexistent/agent local core.ping 2>"$tmp/err"
status=$?
check "--agent sets the agent program" \
  bash -c "test $status = 1 && grep -q /nonexistent/agent '$tmp/err'"

check "--timeout and --debug are accepted" \
  test "$("$MITOGEN" call --timeout 30 --debug local core.ping 2>/dev/null)" = "()"

"$MITOGEN" run local </dev/null 2>"$tmp/err"
status=$?
check "run without a command fails clearly" \
  bash -c "test $status = 1 && grep -q COMMAND '$tmp/err'"

check "-v shows debug messages" \
  bash -c "'$MITOGEN' call -v local core.ping 2>&1 >/dev/null | grep -q DEBUG"

check "--help works for the tool" bash -c "'$MITOGEN' --help | grep -q 'Usage'"
check "--help works for run, call and list-transports" \
  bash -c "'$MITOGEN' run --help | grep -q TARGET && '$MITOGEN' call --help | grep -q FUNCTION &&
           '$MITOGEN' list-transports --help | grep -q Usage"
check "--version prints the version" bash -c "'$MITOGEN' --version | grep -qE '^mitogen [0-9]+\.'"

check "list-transports names local" bash -c "'$MITOGEN' list-transports | grep -qx local"
check "list-serializers names gvariant" bash -c "'$MITOGEN' list-serializers | grep -qx gvariant"

# What run starts dies with the tool, process group and all: the agent
# loses its parent and kills the groups of its children before it exits.
count_cmdline() {  # count_cmdline 'WORDS': processes whose argv is exactly WORDS
  local f n=0
  for f in /proc/[0-9]*/cmdline; do
    [ "$(tr '\0' ' ' <"$f" 2>/dev/null)" = "$1 " ] && n=$((n + 1))
  done
  echo $n
}
wait_count() {  # wait_count 'WORDS' N: up to 10 s for N such processes
  local i
  for i in $(seq 100); do
    [ "$(count_cmdline "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
for sig in KILL TERM; do
  a=30.13${#sig}1 b=30.13${#sig}2
  "$MITOGEN" run local -- sh -c "sleep $a & sleep $b; echo never" </dev/null >/dev/null 2>&1 &
  cli=$!
  wait_count "sleep $a" 1 && wait_count "sleep $b" 1
  started=$?
  kill -$sig $cli
  wait $cli 2>/dev/null
  wait_count "sleep $a" 0 && wait_count "sleep $b" 0
  gone=$?
  check "SIG$sig to run kills the command and what it started" \
    test "$started" = 0 -a "$gone" = 0
done

"$MITOGEN" frobnicate 2>"$tmp/err"
status=$?
check "an unknown command fails, naming it" \
  bash -c "test $status = 2 && grep -q frobnicate '$tmp/err'"

exit $failed
