#!/usr/bin/env bash
# callgrind-ping.sh BUILD_DIR [TOP]: instructions (callgrind's Ir) per ping
# round trip, for the master and for the agent, free of start-up and
# shut-down, and the TOP (15) functions by their own instructions per ping
# on each side, then by inclusive instructions (what a function and all it
# calls cost), and each side's instructions per shared object; then, if
# strace is installed, each side's system calls per ping, counted the same
# way (callgrind counts no instruction in the kernel).
#
# Both sides run under callgrind (the agent through MITOGEN_AGENT_WRAPPER)
# twice: `mitogen-bench --only ping_us --quick` makes 550 pings (50 to warm
# up, 500 timed) and `--only ping_us` 5,500; everything but the pings is
# the same in both runs, so the difference over 4,950 is one ping's cost.
# Only options every mitogen-bench has are used, so BUILD_DIR may be a
# build of an older commit, for a before/after comparison (the median's
# sort of the timings, a few hundred instructions per ping on the master,
# is in both).
set -euo pipefail
build=$(realpath "${1:?usage: callgrind-ping.sh BUILD_DIR [TOP]}")
top=${2:-15}
command -v valgrind >/dev/null || { echo "callgrind-ping.sh: needs valgrind" >&2; exit 2; }
[ -x "$build/bench/mitogen-bench" ] || { echo "callgrind-ping.sh: build $build first" >&2; exit 2; }
source "$(dirname "${BASH_SOURCE[0]}")/build-env.sh"
bench_use_build "$build"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME BENCH-ARGS...: one callgrind profile per side, annotated by
# self and by inclusive instructions per function.
run() {
  local name=$1
  shift
  mkdir "$tmp/$name"
  MITOGEN_AGENT_WRAPPER="valgrind --tool=callgrind --callgrind-out-file=$tmp/$name/agent.%p" \
    valgrind --tool=callgrind --callgrind-out-file="$tmp/$name/master.%p" \
    "$build/bench/mitogen-bench" --only ping_us "$@" >/dev/null 2>"$tmp/$name/log" ||
    { cat "$tmp/$name/log" >&2; exit 1; }
  for side in master agent; do
    set -- "$tmp/$name/$side".*
    [ $# = 1 ] || { echo "callgrind-ping.sh: expected one $side profile, found: $*" >&2; exit 1; }
    callgrind_annotate --threshold=100 --auto=no "$1" >"$tmp/$name-$side-self.txt"
    callgrind_annotate --threshold=100 --auto=no --inclusive=yes "$1" >"$tmp/$name-$side-inclusive.txt"
  done
}

# strace_run NAME BENCH-ARGS...: system calls counted per side; the outer
# strace lets go of the agent's process at its exec (-b execve), where the
# wrapper's strace takes it.
strace_run() {
  local name=$1
  shift
  MITOGEN_AGENT_WRAPPER="strace -f -c -o $tmp/$name-agent-syscalls.txt" \
    strace -f -b execve -c -o "$tmp/$name-master-syscalls.txt" \
    "$build/bench/mitogen-bench" --only ping_us "$@" >/dev/null 2>"$tmp/$name-strace.log" ||
    { cat "$tmp/$name-strace.log" >&2; exit 1; }
}

echo "callgrind-ping.sh: $build: 550 pings..." >&2
run short --quick
echo "callgrind-ping.sh: $build: 5,500 pings..." >&2
run long
if command -v strace >/dev/null; then
  echo "callgrind-ping.sh: $build: system calls..." >&2
  strace_run short --quick
  strace_run long
fi

/usr/bin/python3 - "$tmp" "$top" "$build" <<'PY'
import os, re, sys
d, top, build = sys.argv[1], int(sys.argv[2]), sys.argv[3]
PINGS = 5500 - 550
line = re.compile(r'^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*\S)\s*$')

def functions(name):
    counts = {}
    for text in open(os.path.join(d, name + '.txt')):
        m = line.match(text)
        if m:
            counts[m.group(2)] = counts.get(m.group(2), 0) + int(m.group(1).replace(',', ''))
    return counts

def short(where):
    # "file:function [object]" -> "function (object's file name)"
    m = re.match(r'^(.*?):(.+?)(?: \[(.*)\])?$', where)
    if not m:
        return where
    obj = os.path.basename(m.group(3)) if m.group(3) else os.path.basename(m.group(1))
    return '%s (%s)' % (m.group(2), obj)

def table(title, per, total):
    print('| Ir per ping (%s) | %% | function |' % title)
    print('|---|---|---|')
    for k, v in sorted(per.items(), key=lambda kv: -kv[1])[:top]:
        print('| {:,.0f} | {:.1f}% | {} |'.format(v, 100 * v / total if total else 0, short(k)))
    print()

def per_ping(kind, side):
    a, b = functions('short-%s-%s' % (side, kind)), functions('long-%s-%s' % (side, kind))
    total = (b.pop('PROGRAM TOTALS', 0) - a.pop('PROGRAM TOTALS', 0)) / PINGS
    return total, {k: (b.get(k, 0) - a.get(k, 0)) / PINGS for k in set(a) | set(b)}

def obj(where):
    m = re.search(r'\[(.*)\]$', where)
    return os.path.basename(m.group(1)) if m else '(inlined or unknown)'

print('Instructions per ping (callgrind Ir), %s:' % build)
print()
for side in ('master', 'agent'):
    total, own = per_ping('self', side)
    _, inclusive = per_ping('inclusive', side)
    objects = {}
    for k, v in own.items():
        objects[obj(k)] = objects.get(obj(k), 0) + v
    print('**%s: %s Ir per ping** (%s)' % (side, '{:,.0f}'.format(total), ', '.join(
        '%s {:,.0f}'.format(v) % k for k, v in sorted(objects.items(), key=lambda kv: -kv[1]) if v >= total / 100)))
    print()
    table(side + ', self', own, total)
    # Inclusive: only whole functions (callgrind also lists the inlined
    # parts under their source file) and nothing every instruction is in.
    outer = re.compile(r'^(\(below main\)|main|__libc_start_main\S*|start_thread|clone3?|0x[0-9a-f]+) \(')
    inclusive = {k: v for k, v in inclusive.items() if '[' in k and not outer.match(short(k))}
    table(side + ', inclusive', inclusive, total)

def syscalls(name):
    counts = {}
    for text in open(os.path.join(d, name + '-syscalls.txt')):
        f = text.split()
        if len(f) >= 5 and f[3].isdigit() and f[-1] != 'total':
            counts[f[-1]] = int(f[3])
    return counts

if os.path.exists(os.path.join(d, 'long-agent-syscalls.txt')):
    print('System calls per ping (strace -c; failed ones, such as a read that finds nothing, included):')
    print()
    for side in ('master', 'agent'):
        a, b = syscalls('short-' + side), syscalls('long-' + side)
        per = {k: (b.get(k, 0) - a.get(k, 0)) / PINGS for k in set(a) | set(b)}
        per = {k: v for k, v in per.items() if v >= 0.05}
        print('- %s: %.1f per ping: %s' % (side, sum(per.values()), ', '.join(
            '%s %.2f' % kv for kv in sorted(per.items(), key=lambda kv: -kv[1]))))
    print()
PY
