#!/usr/bin/env bash
# run-local.sh [BUILD_DIR] [--quick]: libmitogen's local-transport figures,
# each beside the floor it is measured against (what the machine does with
# plain system calls, measured in the same run by mitogen-bench), the
# ratio to that floor, issue #14's target, and Python Mitogen's and
# execnet's figures from the same run, as one Markdown table.
#
# Latency is measured twice: free to use both CPUs, and with everything
# pinned to CPU 0 (taskset), where a thread handoff costs far less. Bulk
# runs in a process of its own, so that the master's peak RSS is bulk's.
# The machine's load average is printed under the table: on a shared
# machine the figures are indicative, the ratios less so.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
quick=${1:-}

bench="$build/bench/mitogen-bench"
[ -x "$bench" ] || { echo "run-local.sh: build first (ninja -C $build)" >&2; exit 2; }
source "$(dirname "${BASH_SOURCE[0]}")/build-env.sh"
bench_use_build "$PWD/$build"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cut -d' ' -f1-3 /proc/loadavg >"$tmp/load-before"

pinned=pipe_pingpong_us,pipe_switches_per_round,socketpair_pingpong_us,ping_us,switches_per_ping
echo "run-local.sh: libmitogen and the floors..." >&2
"$bench" --skip bulk_real_mb_s $quick >"$tmp/c.json"
# Its floors again, just before it: on a shared machine the load changes
# within a run, and these override the first run's for the bulk rows.
"$bench" --only socketpair_fresh_mb_s,socketpair_reused_mb_s,bulk_real_mb_s $quick >"$tmp/c-bulk.json"
taskset -c 0 "$bench" --only "$pinned" $quick >"$tmp/c-pinned.json"
for peer in py ex; do echo '{}' >"$tmp/$peer.json"; echo '{}' >"$tmp/$peer-bulk.json"; echo '{}' >"$tmp/$peer-pinned.json"; done
if /usr/bin/python3 -c 'import mitogen' 2>/dev/null; then
  echo "run-local.sh: Python Mitogen..." >&2
  /usr/bin/python3 bench/python-mitogen-bench.py --skip bulk_real_mb_s $quick >"$tmp/py.json"
  /usr/bin/python3 bench/python-mitogen-bench.py --only bulk_real_mb_s $quick >"$tmp/py-bulk.json"
  taskset -c 0 /usr/bin/python3 bench/python-mitogen-bench.py --only ping_us $quick >"$tmp/py-pinned.json"
else
  echo "run-local.sh: no Python Mitogen (python3-mitogen)" >&2
fi
if /usr/bin/python3 -c 'import execnet' 2>/dev/null; then
  echo "run-local.sh: execnet..." >&2
  /usr/bin/python3 bench/execnet-bench.py $quick >"$tmp/ex.json"
  taskset -c 0 /usr/bin/python3 bench/execnet-bench.py --only ping_us $quick >"$tmp/ex-pinned.json"
else
  echo "run-local.sh: no execnet (python3-execnet)" >&2
fi
cut -d' ' -f1-3 /proc/loadavg >"$tmp/load-after"

/usr/bin/python3 - "$tmp" <<'PY'
import json, os, sys
d = sys.argv[1]
def load(side):
    figures = json.load(open(os.path.join(d, side + '.json')))
    figures.update(json.load(open(os.path.join(d, side + '-bulk.json'))) if os.path.exists(os.path.join(d, side + '-bulk.json')) else {})
    for key, value in json.load(open(os.path.join(d, side + '-pinned.json'))).items():
        figures[key + '_pinned'] = value
    return figures
c, py, ex = load('c'), load('py'), load('ex')
c['true_fork_exec100_s'] = 2 * c['true_fork_exec50_s'] if c.get('true_fork_exec50_s') else None
c['message_kib'] = 8 * 1024

def fmt(x, unit):
    if x is None or x < 0:
        return '—'
    if unit == 'KiB' and x >= 1024:
        return '%.1f MiB' % (x / 1024)
    return ('{:,.0f} {}'.format(x, unit) if x >= 1000 else '%.3g %s' % (x, unit)).strip()

# (figure, key, unit, higher is better, floor key, floor's name, target):
# a target is (factor, text): ≤ factor × floor, or ≥ factor × floor when
# higher is better; or 'peers' for the pipelined row.
rows = [
    ('start a context, first reply', 'start_ms', 'ms', False, 'true_fork_exec_ms', 'fork+exec /bin/true', (2, '≤ 2×')),
    ('start a context, first reply', 'start_ms', 'ms', False, 'agent_first_frame_ms', 'fork+exec agent to its ready frame', None),
    ('start, mitogen-agent-static', 'static_start_ms', 'ms', False, 'true_fork_exec_ms', 'fork+exec /bin/true', None),
    ('start, mitogen-agent-static', 'static_start_ms', 'ms', False, 'static_agent_first_frame_ms', 'fork+exec static agent to its ready frame', None),
    ('fork+exec agent to its ready frame (a floor)', 'agent_first_frame_ms', 'ms', False, 'true_fork_exec_ms', 'fork+exec /bin/true', None),
    ('fork+exec static agent to its ready frame (a floor)', 'static_agent_first_frame_ms', 'ms', False, 'true_fork_exec_ms', 'fork+exec /bin/true', None),
    ('50 contexts one after another, one call each', 'contexts50_s', 's', False, 'true_fork_exec50_s', '50 × fork+exec /bin/true', (2.5, '≤ 2.5×')),
    ('50 contexts started at once', 'contexts50_parallel_s', 's', False, 'true_fork_exec50_s', '50 × fork+exec /bin/true', None),
    ('100 contexts, 10 × 10 through via', 'tree100_s', 's', False, 'true_fork_exec100_s', '100 × fork+exec /bin/true', None),
    ('ping round trip (2 CPUs)', 'ping_us', 'µs', False, 'pipe_pingpong_us', 'pipe ping-pong', (2, '≤ 2×')),
    ('ping round trip (2 CPUs)', 'ping_us', 'µs', False, 'pipe_pingpong_cross_us', 'pipe ping-pong, one process on each CPU', None),
    ('ping round trip (2 CPUs)', 'ping_us', 'µs', False, 'socketpair_pingpong_us', 'socketpair ping-pong', None),
    ('ping round trip (1 CPU)', 'ping_us_pinned', 'µs', False, 'pipe_pingpong_us_pinned', 'pipe ping-pong, 1 CPU', (3, '≤ 3×')),
    ('ping round trip (1 CPU)', 'ping_us_pinned', 'µs', False, 'socketpair_pingpong_us_pinned', 'socketpair ping-pong, 1 CPU', None),
    ('context switches per ping, master (2 CPUs)', 'master_switches_per_ping', '', False, 'pipe_switches_per_round', 'pipe ping-pong, one side', None),
    ('context switches per ping, agent (2 CPUs)', 'agent_switches_per_ping', '', False, 'pipe_switches_per_round', 'pipe ping-pong, one side', None),
    ('context switches per ping, master (1 CPU)', 'master_switches_per_ping_pinned', '', False, 'pipe_switches_per_round_pinned', 'pipe ping-pong, one side, 1 CPU', None),
    ('context switches per ping, agent (1 CPU)', 'agent_switches_per_ping_pinned', '', False, 'pipe_switches_per_round_pinned', 'pipe ping-pong, one side, 1 CPU', None),
    ('10,000 pipelined calls', 'pipelined_calls_per_s', '/s', True, 'socketpair_echo_per_s', '10,000 × 64 B echoed over a socketpair', 'peers'),
    ('100,000 pipelined calls', 'pipelined_calls_per_s_100k', '/s', True, 'socketpair_echo_per_s', '10,000 × 64 B echoed over a socketpair', None),
    ('256 MiB of real bytes: fs.read of an 8 MiB file', 'bulk_real_mb_s', 'MB/s', True, 'socketpair_fresh_mb_s', 'socketpair into fresh buffers', (0.6, '≥ 60%')),
    ('256 MiB of real bytes: fs.read of an 8 MiB file', 'bulk_real_mb_s', 'MB/s', True, 'socketpair_reused_mb_s', 'socketpair into one reused buffer', None),
    ('agent peak RSS above idle, during bulk', 'agent_peak_above_idle_kib', 'KiB', False, 'message_kib', 'message size', (3, '≤ 3×')),
    ('master peak RSS above idle, during bulk', 'master_peak_above_idle_kib', 'KiB', False, 'message_kib', 'message size', (3, '≤ 3×')),
    ('idle agent RSS', 'rss_idle_kib', 'KiB', False, None, '', None),
    ('added per via hop', 'per_hop_us', 'µs', False, 'pipe_pingpong_us', 'pipe ping-pong', (1, '≤ 1×')),
    ('added per via hop', 'per_hop_us', 'µs', False, 'pipe_pingpong_cross_us', 'pipe ping-pong, one process on each CPU', None),
    ('256 MiB as 8 MiB core.zeros replies (synthetic: untouched calloc pages)', 'zeros_mb_s', 'MB/s', True, 'socketpair_fresh_mb_s', 'socketpair into fresh buffers', None),
    ('sudo -u nobody: start, first reply', 'sudo_start_ms', 'ms', False, 'sudo_true_ms', 'sudo -n -u nobody true', None),
]

def ratio(v, f):
    return None if v is None or not f or v < 0 or f < 0 else v / f

def ratio_text(r, higher):
    return '—' if r is None else ('%.0f%%' % (100 * r) if higher else '%.2f×' % r)

print('| figure | libmitogen | floor (what) | ratio to floor | target | met | Python Mitogen | execnet |')
print('|---|---|---|---|---|---|---|---|')
for label, key, unit, higher, floor_key, floor_name, target in rows:
    v = c.get(key)
    if v is None:
        continue
    f = c.get(floor_key) if floor_key else None
    r = ratio(v, f)
    floor = '—' if floor_key is None else '%s (%s)' % (fmt(f, unit), floor_name)
    if target == 'peers':
        p, e = py.get(key), ex.get(key)
        text = '≥ 3× execnet, ≥ 10× Python Mitogen'
        parts = []
        for name, peer, factor in (('execnet', e, 3), ('Python Mitogen', p, 10)):
            if peer:
                parts.append('%s (%.1f× %s)' % ('yes' if v >= factor * peer else 'no', v / peer, name))
        met = '; '.join(parts) or '—'
    elif target is None:
        text, met = '—', '—'
    else:
        factor, text = target
        met = '—' if r is None else ('yes' if (r >= factor if higher else r <= factor) else 'no')
    print('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
        label, fmt(v, unit), floor, ratio_text(r, higher), text, met, fmt(py.get(key), unit), fmt(ex.get(key), unit)))
print()
print('Load average (1, 5, 15 min) before: %s; after: %s. 2 CPUs.' % (
    open(os.path.join(d, 'load-before')).read().strip(), open(os.path.join(d, 'load-after')).read().strip()))
PY
