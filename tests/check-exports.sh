#!/usr/bin/env bash
# check-exports.sh NM ALLOWED FILE...: a TAP test that each shared object
# FILE exports (defines in its dynamic symbol table) only the symbols in
# ALLOWED, a space-separated list, and all of them. Internals a plugin
# exports could clash with another plugin's or the program's, and become
# an ABI nobody meant to keep.
set -u
nm=$1 allowed=$2
shift 2

echo "1..$#"
n=0 failed=0
for file in "$@"; do
  n=$((n + 1))
  if ! symbols=$("$nm" -D --defined-only "$file" | awk '{ print $NF }' | sort -u); then
    echo "not ok $n - $file: $nm failed"
    failed=1
    continue
  fi
  wanted=$(tr ' ' '\n' <<<"$allowed" | sed '/^$/d' | sort -u)
  extra=$(comm -23 <(sed '/^$/d' <<<"$symbols") <(echo "$wanted") | tr '\n' ' ')
  missing=$(comm -13 <(sed '/^$/d' <<<"$symbols") <(echo "$wanted") | tr '\n' ' ')
  if [ -n "$extra" ] || [ -n "$missing" ]; then
    echo "not ok $n - $(basename "$file") exports [${extra% }], lacks [${missing% }]"
    failed=1
  else
    echo "ok $n - $(basename "$file") exports only ${allowed}"
  fi
done
exit $failed
