#!/usr/bin/python3
"""The libmitogen benchmark figures, measured for execnet (python3-execnet).

execnet has no remote call as such: a program sent with remote_exec()
talks over a channel. Its best case stands for a call here: one program
started once that answers each item on its channel, so a "call" is one
item there and one back. Prints one JSON object with mitogen-bench's keys;
progress goes to stderr.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import execnet

ECHO = '''
for item in channel:
    channel.send(item)
'''

READER = '''
path = channel.receive()
for item in channel:
    with open(path, 'rb') as f:
        channel.send(f.read())
'''

BULK_FILE_SIZE = 8 << 20
SPEC = 'popen//python=%s' % sys.executable


def start_ms(runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        gw = execnet.makegateway(SPEC)
        gw.remote_exec('channel.send(1)').receive()
        times.append((time.perf_counter() - t) * 1e3)
        gw.exit()
    return statistics.median(times)


def ping_us(channel, n):
    for _ in range(n // 10):
        channel.send(None)
        channel.receive()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        channel.send(None)
        channel.receive()
        times.append((time.perf_counter() - t) * 1e6)
    return statistics.median(times)


def pipelined(channel, n):
    t = time.perf_counter()
    for _ in range(n):
        channel.send(None)
    for _ in range(n):
        channel.receive()
    return n / (time.perf_counter() - t)


def bulk_real_mb_s(gw, total):
    """An 8 MiB file in the page cache, read by the child again and again
    and sent back, one at a time."""
    d = tempfile.mkdtemp(prefix='execnet-bench-')
    path = os.path.join(d, '8mib')
    with open(path, 'wb') as f:
        for _ in range(BULK_FILE_SIZE // 65536):
            f.write(os.urandom(65536))
    channel = gw.remote_exec(READER)
    channel.send(path)
    t = time.perf_counter()
    for _ in range(total // BULK_FILE_SIZE):
        channel.send(None)
        assert len(channel.receive()) == BULK_FILE_SIZE
    mb_s = total / (time.perf_counter() - t) / 1e6
    channel.close()
    shutil.rmtree(d)
    return mb_s


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--only', default='')
    args = parser.parse_args()
    only = set(filter(None, args.only.split(',')))
    q = args.quick
    want = lambda key: not only or key in only  # noqa: E731
    out = {'quick': q} if q else {}

    def log(what):
        print('execnet-bench: %s' % what, file=sys.stderr, flush=True)

    if want('start_ms'):
        log('start')
        out['start_ms'] = start_ms(3 if q else 10)
    gw = execnet.makegateway(SPEC)
    channel = gw.remote_exec(ECHO)
    if want('ping_us'):
        log('ping')
        out['ping_us'] = ping_us(channel, 500 if q else 2000)
    if want('pipelined_calls_per_s'):
        log('pipelined')
        out['pipelined_calls_per_s'] = pipelined(channel, 2000 if q else 10000)
    channel.close()
    if want('bulk_real_mb_s'):
        log('bulk of real bytes')
        out['bulk_real_mb_s'] = bulk_real_mb_s(gw, (64 if q else 256) << 20)
    gw.exit()
    print(json.dumps(out))


if __name__ == '__main__':
    main()
