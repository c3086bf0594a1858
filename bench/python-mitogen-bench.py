#!/usr/bin/python3
"""The libmitogen benchmark figures, measured for Python Mitogen.

Run bulk_real_mb_s in a process of its own (--only bulk_real_mb_s), as
bench/run-local.sh does, so that the master's peak RSS is that figure's.

Run with Debian's /usr/bin/python3 (python3-mitogen). Prints one JSON
object with the same keys as mitogen-bench, so bench/run-local.sh can put
both side by side. Progress goes to stderr.
"""
import argparse
import json
import os
import statistics
import shutil
import sys
import tempfile
import time

import mitogen.core
import mitogen.master
import mitogen.utils


def noop():
    return None


def zeros(n):
    return b'\0' * n


def read_file(path):
    with open(path, 'rb') as f:
        return f.read()


BULK_FILE_SIZE = 8 << 20


def make_bulk_file():
    """8 MiB of varied bytes, written 64 KiB at a time (so that this
    process's peak RSS does not grow by the file), in the page cache."""
    path = os.path.join(tempfile.mkdtemp(prefix='python-mitogen-bench-'), '8mib')
    with open(path, 'wb') as f:
        for _ in range(BULK_FILE_SIZE // 65536):
            f.write(os.urandom(65536))
    return path


def reset_peak_rss(pid):
    """VmHWM back to VmRSS (Linux ≥ 4.0): the next peak is this figure's."""
    try:
        with open('/proc/%d/clear_refs' % pid, 'w') as f:
            f.write('5')
    except OSError:
        pass


def status_kib(pid, field):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return 0


def start_ms(router, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        ctx = router.local()
        ctx.call(os.getpid)
        times.append((time.perf_counter() - t) * 1e3)
        ctx.shutdown(wait=True)
    return statistics.median(times)


def ping_us(ctx, n):
    for _ in range(n // 10):
        ctx.call(noop)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        ctx.call(noop)
        times.append((time.perf_counter() - t) * 1e6)
    return statistics.median(times)


def pipelined(ctx, n):
    t = time.perf_counter()
    receivers = [ctx.call_async(noop) for _ in range(n)]
    for recv in receivers:
        recv.get().unpickle()
    return n / (time.perf_counter() - t)


def zeros_mb_s(ctx, total):
    size = 8 << 20
    t = time.perf_counter()
    for _ in range(total // size):
        ctx.call(zeros, size)
    return total / (time.perf_counter() - t) / 1e6


def bulk_real(router, total):
    """The same file read again and again in the child, returned as bytes,
    one call at a time; and each side's peak RSS above its idle RSS."""
    path = make_bulk_file()
    ctx = router.local()
    pid = ctx.call(os.getpid)
    time.sleep(0.2)
    agent_idle = status_kib(pid, 'VmRSS')
    master_idle = status_kib(os.getpid(), 'VmRSS')
    reset_peak_rss(pid)
    reset_peak_rss(os.getpid())
    t = time.perf_counter()
    for _ in range(total // BULK_FILE_SIZE):
        assert len(ctx.call(read_file, path)) == BULK_FILE_SIZE
    mb_s = total / (time.perf_counter() - t) / 1e6
    out = {'bulk_real_mb_s': mb_s, 'rss_idle_kib': agent_idle,
           'agent_peak_above_idle_kib': status_kib(pid, 'VmHWM') - agent_idle,
           'master_peak_above_idle_kib': status_kib(os.getpid(), 'VmHWM') - master_idle}
    ctx.shutdown(wait=True)
    shutil.rmtree(os.path.dirname(path))
    return out


def sudo_start_ms(router, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        ctx = router.sudo(username='nobody')
        ctx.call(os.getpid)
        times.append((time.perf_counter() - t) * 1e3)
        ctx.shutdown(wait=True)
    return statistics.median(times)


def tree_s(router):
    """10 contexts, each starting 9 more through via: 100 in all."""
    t = time.perf_counter()
    contexts = []
    for _ in range(10):
        top = router.local()
        contexts.append(top)
        contexts.extend(router.local(via=top) for _ in range(9))
    for ctx in contexts:
        ctx.call(noop)
    elapsed = time.perf_counter() - t
    router.disconnect_all()
    return elapsed


def contexts_s(router, n):
    t = time.perf_counter()
    contexts = [router.local() for _ in range(n)]
    for ctx in contexts:
        ctx.call(noop)
    elapsed = time.perf_counter() - t
    for ctx in contexts:
        ctx.shutdown(wait=True)
    return elapsed


def main(router):
    parser = argparse.ArgumentParser()
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--only', default='')
    parser.add_argument('--skip', default='')
    args = parser.parse_args()
    only = set(filter(None, args.only.split(',')))
    skip = set(filter(None, args.skip.split(',')))
    q = args.quick
    want = lambda key: key not in skip and (not only or key in only)  # noqa: E731
    out = {'quick': q} if q else {}

    def log(what):
        print('python-mitogen-bench: %s' % what, file=sys.stderr, flush=True)

    if want('start_ms'):
        log('start')
        out['start_ms'] = start_ms(router, 3 if q else 10)
    ctx = router.local()
    if want('ping_us'):
        log('ping')
        out['ping_us'] = ping_us(ctx, 500 if q else 2000)
    if want('pipelined_calls_per_s'):
        log('pipelined')
        out['pipelined_calls_per_s'] = pipelined(ctx, 2000 if q else 10000)
    if want('zeros_mb_s'):
        log('zeros (synthetic)')
        out['zeros_mb_s'] = zeros_mb_s(ctx, (64 if q else 256) << 20)
    ctx.shutdown(wait=True)
    if want('bulk_real_mb_s'):
        log('bulk of real bytes')
        out.update(bulk_real(router, (64 if q else 256) << 20))
    if want('sudo_start_ms') and os.getuid() == 0:
        log('sudo')
        out['sudo_start_ms'] = sudo_start_ms(router, 3 if q else 10)
    if want('contexts50_s'):
        log('50 contexts')
        out['contexts50_s'] = contexts_s(router, 10 if q else 50)
    if want('tree100_s') and not q:
        log('100-context tree')
        out['tree100_s'] = tree_s(router)
    print(json.dumps(out))


if __name__ == '__main__':
    mitogen.utils.run_with_router(main)
