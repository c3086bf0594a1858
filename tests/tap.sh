# tap.sh: sourced by the shell tests. check DESCRIPTION COMMAND... prints
# one TAP line (numbered in $n) and sets $failed when COMMAND fails; the
# test ends with `exit $failed`.
n=0
failed=0

check() {  # check DESCRIPTION COMMAND...: pass when COMMAND succeeds
  local what=$1; shift
  n=$((n + 1))
  if "$@"; then echo "ok $n - $what"; else echo "not ok $n - $what"; failed=1; fi
}
