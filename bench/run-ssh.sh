#!/usr/bin/env bash
# run-ssh.sh [BUILD_DIR] [--quick]: the ssh transport over loopback, beside
# OpenSSH itself (ssh host true; ssh host cat of 256 MiB) and Python
# Mitogen's ssh method, all against one private sshd started here (root,
# throwaway keys) and stopped at the end. Prints a Markdown table, each
# figure beside its floor: the ping's is the local ping plus a loopback TCP
# round trip, both measured by mitogen-bench in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
quick=${1:-}
[ "$(id -u)" = 0 ] || { echo "run-ssh.sh: run as root (the private sshd logs in as root)" >&2; exit 2; }

source "$(dirname "${BASH_SOURCE[0]}")/build-env.sh"
bench_use_build "$PWD/$build"

source bench/private-sshd.sh

tmp=$(mktemp -d)
trap 'private_sshd_stop "$tmp"; rm -rf "$tmp"' EXIT
private_sshd "$tmp"
port=$sshd_port

ssh_cmd=(ssh -p "$port" "${sshd_ssh_opts[@]}" root@127.0.0.1)
echo "run-ssh.sh: OpenSSH..." >&2
/usr/bin/python3 - "$tmp" "${ssh_cmd[@]}" >"$tmp/openssh.json" <<'PY'
import json, statistics, subprocess, sys, time
cmd = sys.argv[2:]
times = []
for _ in range(10):
    t = time.perf_counter()
    subprocess.run(cmd + ['true'], check=True)
    times.append((time.perf_counter() - t) * 1e3)
t = time.perf_counter()
subprocess.run(cmd + ['head -c 268435456 /dev/zero'], stdout=subprocess.DEVNULL, check=True)
mb = 268435456 / (time.perf_counter() - t) / 1e6
print(json.dumps({'ssh_true_ms': statistics.median(times), 'ssh_cat_mb_s': mb}))
PY

echo "run-ssh.sh: libmitogen..." >&2
opts="{'hostname': <'127.0.0.1'>, 'port': <uint32 $port>, 'username': <'root'>, 'identity_file': <'$tmp/id'>, 'known_hosts_file': <'$tmp/known_hosts'>, 'remote_cache_dir': <'$tmp/cache'>}"
"$build/bench/mitogen-bench" --ssh "$opts" $quick >"$tmp/c.json"

echo "run-ssh.sh: Python Mitogen..." >&2
if /usr/bin/python3 -c 'import mitogen' 2>/dev/null; then
  # Mitogen serves __main__ to its contexts from a file: not from stdin.
  cat >"$tmp/pyssh.py" <<'PY'
import json, os, statistics, sys, time
import mitogen.utils

def noop():
    return None

def zeros(n):
    return b'\0' * n

def main(router):
    port, tmp = int(sys.argv[1]), sys.argv[2]
    kw = dict(hostname='127.0.0.1', port=port, username='root', identity_file=tmp + '/id',
              ssh_args=['-o', 'UserKnownHostsFile=' + tmp + '/known_hosts'])
    starts = []
    for _ in range(5):
        t = time.perf_counter()
        ctx = router.ssh(**kw)
        ctx.call(os.getpid)
        starts.append((time.perf_counter() - t) * 1e3)
        ctx.shutdown(wait=True)
    ctx = router.ssh(**kw)
    pings = []
    for _ in range(500):
        t = time.perf_counter()
        ctx.call(noop)
        pings.append((time.perf_counter() - t) * 1e6)
    t = time.perf_counter()
    for _ in range(8):
        ctx.call(zeros, 8 << 20)
    bulk = (64 << 20) / (time.perf_counter() - t) / 1e6
    print(json.dumps({'ssh_start_warm_ms': statistics.median(starts),
                      'ssh_ping_us': statistics.median(pings), 'ssh_bulk_mb_s': bulk}))

if __name__ == '__main__':
    mitogen.utils.run_with_router(main)
PY
  /usr/bin/python3 "$tmp/pyssh.py" "$port" "$tmp" >"$tmp/py.json"
else
  echo '{}' >"$tmp/py.json"
fi

/usr/bin/python3 - "$tmp" <<'PY'
import json, os, sys
d = sys.argv[1]
o, c, py = (json.load(open(os.path.join(d, n))) for n in ('openssh.json', 'c.json', 'py.json'))
local, tcp = c.get('ping_us'), c.get('tcp_pingpong_us')
ping_floor = local + tcp if local and tcp else None
f = lambda x, unit: '—' if x is None else ('{:,.0f} {}'.format(x, unit) if x >= 1000 else '%.3g %s' % (x, unit))
# figure, key, unit, higher is better, floor, floor's name, target (factor, text)
rows = [
    ('start, warm cache', 'ssh_start_warm_ms', 'ms', False, o.get('ssh_true_ms'), 'ssh host true', (1.1, '≤ 1.1×')),
    ('start, cold cache: upload', 'ssh_start_cold_ms', 'ms', False, o.get('ssh_true_ms'), 'ssh host true', None),
    ('ping round trip', 'ssh_ping_us', 'µs', False, ping_floor,
     'local ping %s + loopback TCP ping-pong %s' % (f(local, 'µs'), f(tcp, 'µs')), (2, '≤ 2×')),
    ('256 MiB as 8 MiB core.zeros replies (synthetic)', 'ssh_bulk_mb_s', 'MB/s', True, o.get('ssh_cat_mb_s'),
     'ssh host head -c 256M /dev/zero', (0.9, '≥ 90%')),
]
print('| figure | libmitogen | floor (what) | ratio to floor | target | met | Python Mitogen |')
print('|---|---|---|---|---|---|---|')
for label, key, unit, higher, floor, floor_name, target in rows:
    v = c.get(key)
    r = v / floor if v and floor else None
    ratio = '—' if r is None else ('%.0f%%' % (100 * r) if higher else '%.2f×' % r)
    text, met = ('—', '—') if target is None else (target[1], '—' if r is None else
                                                   ('yes' if (r >= target[0] if higher else r <= target[0]) else 'no'))
    print('| %s | %s | %s (%s) | %s | %s | %s | %s |' % (label, f(v, unit), f(floor, unit), floor_name, ratio, text, met,
                                                       f(py.get(key), unit)))
print()
print('Load average (1, 5, 15 min) at the end: %s. 2 CPUs.' % ' '.join(open('/proc/loadavg').read().split()[:3]))
PY
