#!/usr/bin/python3
"""Transfers from Python through GObject introspection: a push and a pull
with a progress callback, async in a main loop and blocking. Prints TAP.
"""
import hashlib
import os
import sys

import gi
gi.require_version('Mitogen', '1.0')
from gi.repository import GLib, Mitogen  # noqa: E402

from mitogen_tap import main, test  # noqa: E402


def sha(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


@test
def push_async_with_progress(router, tmp):
    ctx = router.connect_context('local', None, None, None)
    src = os.path.join(tmp, 'src')
    dest = os.path.join(tmp, 'dest')
    with open(src, 'wb') as f:
        f.write(os.urandom(3 * 1024 * 1024 + 5))
    loop = GLib.MainLoop()
    progress, results = [], []

    def on_progress(done, total, data):
        assert data == 'mine', data
        progress.append((done, total))

    def on_done(source, result):
        results.append(source.push_finish(result))
        loop.quit()

    # The progress data follows its function (PyGObject takes a notified
    # closure's data as a tuple and unpacks it), then the cancellable.
    ctx.push_async(src, dest, Mitogen.TransferFlags.NONE, on_progress, ('mine',), None, on_done)
    GLib.timeout_add(60000, loop.quit)
    loop.run()
    assert results == [True], results
    assert sha(src) == sha(dest)
    dones = [d for d, _ in progress]
    assert dones == sorted(dones) and dones[-1] == os.path.getsize(src), progress


@test
def pull_blocking_with_progress(router, tmp):
    ctx = router.connect_context('local', None, None, None)
    src = os.path.join(tmp, 'src')
    os.mkdir(src)
    for i in range(50):
        with open(os.path.join(src, 'f%d' % i), 'wb') as f:
            f.write(os.urandom(100 + i))
    dest = os.path.join(tmp, 'dest')
    progress = []
    assert ctx.pull(src, dest, Mitogen.TransferFlags.RECURSIVE,
                    lambda done, total, data: progress.append(done), None, None)
    for i in range(50):
        assert sha(os.path.join(src, 'f%d' % i)) == sha(os.path.join(dest, 'f%d' % i))
    assert progress and progress[-1] == sum(100 + i for i in range(50)), progress


@test
def a_missing_file_raises_a_gio_error(router, tmp):
    ctx = router.connect_context('local', None, None, None)
    try:
        ctx.pull('/nonexistent/file', os.path.join(tmp, 'x'), 0, None, None, None)
    except GLib.Error as e:
        assert e.matches(gi.repository.Gio.io_error_quark(), 1), e  # NOT_FOUND
    else:
        raise AssertionError('no error')
    assert not os.path.exists(os.path.join(tmp, 'x'))


if __name__ == '__main__':
    sys.exit(main(with_tmpdir=True))
