#!/usr/bin/python3
"""ssh-scale.py PORT TMPDIR COUNT...: the master's threads and memory with
COUNT idle ssh contexts open to the sshd on 127.0.0.1:PORT (keys and
known_hosts in TMPDIR, as bench/ssh-scale.sh makes them).

For each COUNT, in one process, more contexts are connected (50 at a time,
all async) until COUNT are open; each answers core.ping; then, once GLib's
pool threads have ended, the process's threads and VmRSS are read from
/proc. Prints one Markdown row per COUNT. Run with Debian's python3
(python3-gi) and the build tree's GI_TYPELIB_PATH.
"""
import os
import sys
import time

import gi
gi.require_version('Mitogen', '1.0')
from gi.repository import GLib, Mitogen  # noqa: E402


def threads():
    return len(os.listdir('/proc/self/task'))


def pump_threads():
    n = 0
    for tid in os.listdir('/proc/self/task'):
        try:
            with open('/proc/self/task/%s/comm' % tid) as f:
                n += f.read().startswith('mitogen-sshpump')
        except OSError:
            pass
    return n


def rss_kib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def settled_threads():
    """The thread count once it stayed the same for 3 s (pool threads end)."""
    last, same, deadline = threads(), 0, time.monotonic() + 60
    while same < 30 and time.monotonic() < deadline:
        time.sleep(0.1)
        now = threads()
        same = same + 1 if now == last else 0
        last = now
    return last


def connect(router, options, n, contexts):
    loop = GLib.MainLoop()
    want = len(contexts) + n
    errors = []

    def done(source, result):
        try:
            contexts.append(source.connect_context_finish(result))
        except GLib.Error as e:
            errors.append(e.message)
        if len(contexts) + len(errors) >= want:
            loop.quit()

    for _ in range(n):
        router.connect_context_async('ssh', options, None, None, done)
    loop.run()
    if errors:
        sys.exit('ssh-scale.py: %d connects failed: %s' % (len(errors), errors[0]))


def main():
    port, tmp = int(sys.argv[1]), sys.argv[2]
    counts = [int(c) for c in sys.argv[3:]]
    options = GLib.Variant('a{sv}', {
        'hostname': GLib.Variant('s', '127.0.0.1'),
        'port': GLib.Variant('u', port),
        'username': GLib.Variant('s', 'root'),
        'identity_file': GLib.Variant('s', tmp + '/id'),
        'known_hosts_file': GLib.Variant('s', tmp + '/known_hosts'),
        'remote_cache_dir': GLib.Variant('s', tmp + '/cache'),
        'connect_timeout': GLib.Variant('d', 120.0),
    })
    router = Mitogen.Router.new(None)
    # The process before any context, and with one (the agent is cached on
    # the "host" by then, and the plugin, libssh and GLib's worker loaded).
    base_threads, base_rss = settled_threads(), rss_kib()
    contexts = []
    connect(router, options, 1, contexts)
    settled_threads()
    one_rss = rss_kib()
    print('| contexts | master threads | ssh pump threads | master VmRSS | RSS per context '
          'beyond the first | connect time |')
    print('|---|---|---|---|---|---|')
    print('| 0 | %d | 0 | %.1f MiB | — | — |' % (base_threads, base_rss / 1024))
    for count in [1] + counts:
        start = time.monotonic()
        while len(contexts) < count:
            connect(router, options, min(50, count - len(contexts)), contexts)
        took = time.monotonic() - start
        for ctx in contexts:
            ctx.call('core.ping', None, None)
        n_threads, rss = settled_threads(), rss_kib()
        per = '—' if count == 1 else '%.0f KiB' % ((rss - one_rss) / (count - 1))
        print('| %d | %d | %d | %.1f MiB | %s | %s |' % (
            count, n_threads, pump_threads(), rss / 1024, per,
            '—' if count == 1 else '%.1f s' % took))
        sys.stdout.flush()
    router.disconnect_all()


if __name__ == '__main__':
    main()
