#!/usr/bin/env bash
# check-static-symbols.sh NM AGENT FILE...: a TAP test that every symbol
# each plugin or module FILE leaves undefined is there when
# mitogen-agent-static (AGENT) loads it: in the agent's dynamic symbol
# table (the GLib and Mitogen API it exports), or in a library that the
# agent or FILE names in its dynamic section (the C library, libssh). The
# objects link GLib's headers only, so a GLib function the agent lacks
# would be an "undefined symbol" when it loads them.
set -u
nm=$1 agent=$2
shift 2

# The dynamic symbols that OBJECT and the libraries it needs define.
defined_by() {
  local object=$1 lib
  "$nm" -D --defined-only "$object" | awk '{ print $NF }' | sed 's/@.*//'
  for lib in $(ldd "$object" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 }'); do
    "$nm" -D --defined-only "$lib" | awk '{ print $NF }' | sed 's/@.*//'
  done
}

echo "1..$#"
if ! agent_symbols=$(defined_by "$agent" | sort -u) || [ -z "$agent_symbols" ]; then
  echo "Bail out! cannot read the dynamic symbols of $agent"
  exit 1
fi
n=0 failed=0
for file in "$@"; do
  n=$((n + 1))
  # Weak references (w, v) may stay unresolved.
  wanted=$("$nm" -D --undefined-only "$file" | awk '$1 == "U" { print $2 }' | sed 's/@.*//' | sort -u)
  missing=$(comm -23 <(echo "$wanted") <(sort -u <(echo "$agent_symbols") <(defined_by "$file")) |
            sed '/^$/d' | tr '\n' ' ')
  if [ -n "$missing" ]; then
    echo "not ok $n - $(basename "$file") needs what mitogen-agent-static lacks: ${missing% }"
    failed=1
  else
    echo "ok $n - $(basename "$file"): mitogen-agent-static has every symbol it needs"
  fi
done
exit $failed
