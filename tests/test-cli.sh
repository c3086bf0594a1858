#!/usr/bin/env bash
# test-cli.sh MITOGEN: the command-line tool, end to end, as TAP.
# It runs once with the test environment and once without it, to show the
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

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "1..15"

"$MITOGEN" run local -- sh -c 'echo out; echo err >&2; exit 3' >"$tmp/out" 2>"$tmp/err"
status=$?
check "run passes the exit status through" test "$status" = 3
check "run passes stdout through" grep -qx out "$tmp/out"
check "run passes stderr through" grep -qx err "$tmp/err"

check "run passes stdin through" test "$(echo hello | "$MITOGEN" run local -- cat)" = hello

"$MITOGEN" run local -- sh -c 'kill -TERM $$'
check "a command killed by a signal exits 128+N" test $? = 143

pid=$("$MITOGEN" call local core.getpid)
check "call prints the result (another process)" test -n "$pid" -a "$pid" != "$$"

check "call arguments are GVariant text" test "$("$MITOGEN" call local core.echo "(1, 'a')")" = "(1, 'a')"

check "a chain of hops works" test -n "$("$MITOGEN" call local/local core.getpid)"

"$MITOGEN" call nosuchtransport core.getpid 2>"$tmp/err"
check "an unknown transport fails, naming it" \
  bash -c "test $? = 1 && grep -q nosuchtransport '$tmp/err'"

"$MITOGEN" call local nosuch.function 2>"$tmp/err"
check "an unknown function fails, naming it" \
  bash -c "test $? = 1 && grep -q nosuch.function '$tmp/err'"

"$MITOGEN" call 'Bad Target' core.getpid 2>"$tmp/err"
check "a bad target fails clearly" bash -c "test $? = 1 && grep -q 'bad target' '$tmp/err'"

check "--help works for the tool" bash -c "'$MITOGEN' --help | grep -q 'Usage'"
check "--help works for run and call" \
  bash -c "'$MITOGEN' run --help | grep -q TARGET && '$MITOGEN' call --help | grep -q FUNCTION"

check "-o sets transport options (name)" \
  test "$("$MITOGEN" call -o name=\'foo\' local core.ping)" = "()"

check "the build tree is found without the test environment" \
  test "$(env -u MITOGEN_AGENT_PATH -u MITOGEN_PLUGIN_PATH "$MITOGEN" call local core.echo "'x'")" = "'x'"

exit $failed
