#!/usr/bin/env bash
# run-local.sh [BUILD_DIR] [--quick]: libmitogen's local-transport figures
# beside Python Mitogen's, measured in one run, as a Markdown table.
#
# Latency is measured twice: free to use both CPUs, and with everything
# pinned to CPU 0 (taskset), where a thread handoff costs far less.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
quick=${1:-}

bench="$build/bench/mitogen-bench"
[ -x "$bench" ] || { echo "run-local.sh: build first (ninja -C $build)" >&2; exit 2; }
export MITOGEN_AGENT_PATH="$PWD/$build/engine/agent/mitogen-agent"
MITOGEN_PLUGIN_PATH=$(ls -d "$PWD/$build"/plugins/*/ | tr '\n' ':')
export MITOGEN_PLUGIN_PATH

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "run-local.sh: libmitogen..." >&2
"$bench" $quick >"$tmp/c.json"
taskset -c 0 "$bench" --only pipe_pingpong_us,ping_us $quick >"$tmp/c-pinned.json"
if /usr/bin/python3 -c 'import mitogen' 2>/dev/null; then
  echo "run-local.sh: Python Mitogen..." >&2
  /usr/bin/python3 bench/python-mitogen-bench.py $quick >"$tmp/py.json"
  taskset -c 0 /usr/bin/python3 bench/python-mitogen-bench.py --only ping_us $quick >"$tmp/py-pinned.json"
else
  echo '{}' >"$tmp/py.json"; echo '{}' >"$tmp/py-pinned.json"
fi

/usr/bin/python3 - "$tmp" <<'PY'
import json, sys, os
d = sys.argv[1]
load = lambda n: json.load(open(os.path.join(d, n)))
c, cp, py, pyp = load('c.json'), load('c-pinned.json'), load('py.json'), load('py-pinned.json')
c['ping_us_pinned'] = cp.get('ping_us'); c['pipe_pingpong_us_pinned'] = cp.get('pipe_pingpong_us')
py['ping_us_pinned'] = pyp.get('ping_us')
pipe = c.get('pipe_pingpong_us') or 0
pipe_p = c.get('pipe_pingpong_us_pinned') or 0
# key, label, unit, higher is better, target (value, text)
rows = [
    ('start_ms', 'start a context, first reply', 'ms', False, (3, '≤ 3 ms')),
    ('ping_us', 'ping round trip (2 CPUs)', 'µs', False, (3 * pipe, '≤ 3× pipe (%.0f µs)' % (3 * pipe))),
    ('ping_us_pinned', 'ping round trip (1 CPU)', 'µs', False, (3 * pipe_p, '≤ 3× pipe (%.0f µs)' % (3 * pipe_p))),
    ('pipelined_calls_per_s', '10,000 pipelined calls', 'calls/s', True, (300000, '≥ 300,000/s')),
    ('bulk_mb_s', '256 MiB as 8 MiB replies', 'MB/s', True, (2000, '≥ 2000 MB/s')),
    ('rss_idle_kib', 'idle agent RSS', 'KiB', False, (6 * 1024, '≤ 6 MiB')),
    ('peak_rss_kib_32x8mib', 'agent peak RSS, 32 × 8 MiB in flight', 'KiB', False, (24 * 1024, '≤ 24 MiB')),
    ('contexts50_s', '50 contexts, one call each', 's', False, (0.15, '≤ 0.15 s')),
    ('tree100_s', '100 contexts, 10 × 10 through via', 's', False, (1.0, '≤ 1 s')),
    ('sudo_start_ms', 'sudo -u nobody: start, first reply', 'ms', False,
     (1.5 * (c.get('sudo_true_ms') or 0), '≤ 1.5× sudo true (%.1f ms)' % (1.5 * (c.get('sudo_true_ms') or 0)))),
]
print('| figure | libmitogen | Python Mitogen | ratio | target | met |')
print('|---|---|---|---|---|---|')
for key, label, unit, higher, (target, text) in rows:
    v, p = c.get(key), py.get(key)
    fmt = lambda x: '—' if x is None else ('%.3g %s' % (x, unit) if x < 1000 else '{:,.0f} {}'.format(x, unit))
    ratio = '—' if v is None or p is None or not v else '%.1f×' % ((v / p) if higher else (p / v))
    met = '—' if v is None or not target else ('yes' if (v >= target if higher else v <= target) else 'no')
    print('| %s | %s | %s | %s | %s | %s |' % (label, fmt(v), fmt(p), ratio, text, met))
extra = [('pipe_pingpong_us', 'raw pipe ping-pong (2 CPUs)', 'µs'), ('pipe_pingpong_us_pinned', 'raw pipe ping-pong (1 CPU)', 'µs'),
         ('static_start_ms', 'start a context, mitogen-agent-static', 'ms'),
         ('sudo_true_ms', 'sudo -u nobody true', 'ms'),
         ('pipelined_calls_per_s_100k', '100,000 pipelined calls', 'calls/s'),
         ('bulk_pipelined_mb_s', '256 MiB, 32 replies pipelined', 'MB/s'),
         ('contexts50_parallel_s', '50 contexts started at once', 's'),
         ('ping_depth1_us', 'ping, 1 hop', 'µs'), ('ping_depth3_us', 'ping, 3 hops', 'µs'),
         ('per_hop_us', 'added per hop', 'µs')]
print()
print('| more libmitogen figures | value |')
print('|---|---|')
for key, label, unit in extra:
    if c.get(key) is not None:
        print('| %s | %.4g %s |' % (label, c[key], unit))
PY
