#!/usr/bin/env bash
# test-uninstalled.sh MESON SRCDIR BUILDDIR CC...: programs use the build
# tree without installing it, the two ways meson offers.
#
#  - a C program compiled with PKG_CONFIG_PATH=BUILDDIR/meson-uninstalled
#    includes <mitogen/mitogen.h>, links, and runs with the agent and
#    plugins its pkg-config variables name;
#  - the same program, a Python script and a GJS script run under
#    `meson devenv` with nothing set by hand.
#
# Each starts a local context, pings it and prints the agent program that
# answered, which must be the build tree's. Prints TAP.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -uo pipefail

meson=$1 srcdir=$2 builddir=$3
shift 3
cc=("$@")

# Nothing from the caller's environment may help.
unset MITOGEN_AGENT_PATH MITOGEN_PLUGIN_PATH GI_TYPELIB_PATH LD_LIBRARY_PATH PKG_CONFIG_PATH

agent=$builddir/engine/agent/mitogen-agent
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; sed 's/^/# /' "$tmp/log"; }

# check NAME EXPECTED COMMAND...: COMMAND succeeds and prints EXPECTED.
check() {
  local name=$1 expected=$2
  shift 2
  if "$@" >"$tmp/out" 2>"$tmp/log" && [ "$(cat "$tmp/out")" = "$expected" ]; then
    ok "$name"
  else
    echo "expected: $expected; got: $(cat "$tmp/out")" >>"$tmp/log"
    not_ok "$name"
  fi
}

pc() { PKG_CONFIG_PATH=$builddir/meson-uninstalled pkg-config "$@" mitogen-1.0; }

# The variables name real things in the build tree.
pc_agent=$(pc --variable=agent)
pc_plugins=$(pc --variable=plugindir)
{
  echo "agent=$pc_agent plugindir=$pc_plugins"
  [ "$pc_agent" = "$agent" ] && [ -x "$pc_agent" ] &&
    IFS=: read -ra dirs <<<"$pc_plugins" &&
    for d in "${dirs[@]}"; do [ -f "$d/mitogen-transport-sudo.so" ] && break; done
} >"$tmp/log" 2>&1 && ok "uninstalled pkg-config names the agent and a plugin path" ||
  not_ok "uninstalled pkg-config names the agent and a plugin path"

# Built like a program outside the project: only what pkg-config says.
if "${cc[@]}" -o "$tmp/ping" "$srcdir/tests/uninstalled/ping.c" \
     $(pc --cflags --libs) >"$tmp/log" 2>&1; then
  ok "a program compiles against the build tree with <mitogen/mitogen.h>"
else
  not_ok "a program compiles against the build tree with <mitogen/mitogen.h>"
fi

libdirs=$(pc --libs-only-L | sed 's/-L//g; s/ \+/:/g; s/:$//')
check "it runs with the agent and plugins pkg-config names" "$agent" \
  env LD_LIBRARY_PATH="$libdirs" MITOGEN_AGENT_PATH="$pc_agent" \
      MITOGEN_PLUGIN_PATH="$pc_plugins" "$tmp/ping"

# meson devenv runs its command in the build directory; start elsewhere.
cd "$tmp"
check "it runs under meson devenv" "$agent" \
  "$meson" devenv -C "$builddir" "$tmp/ping"
check "Python starts a local context under meson devenv" "$agent" \
  "$meson" devenv -C "$builddir" /usr/bin/python3 "$srcdir/tests/uninstalled/local-context.py"
if command -v gjs >/dev/null; then
  check "GJS starts a local context under meson devenv" "$agent" \
    "$meson" devenv -C "$builddir" gjs "$srcdir/tests/uninstalled/local-context.js"
else
  n=$((n + 1)); echo "ok $n # SKIP gjs is not installed"
fi

echo "1..$n"
exit $failed
