#!/usr/bin/python3
"""MitogenProcess from Python through GObject introspection: a remote
process's output read as it comes with Gio's read_bytes_async, stdin
written and closed, and the exit status. Prints TAP.
"""
import sys
import time

import gi
gi.require_version('Mitogen', '1.0')
gi.require_version('Gio', '2.0')
from gi.repository import GLib, Gio, Mitogen  # noqa: E402

from mitogen_tap import main, test  # noqa: E402


def run_until(predicate, timeout=60):
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'timed out'
        ctx.iteration(True)


def spawn(ctx, argv, options=None):
    results = []
    ctx.spawn_async(argv, options, None, lambda src, res: results.append(src.spawn_finish(res)))
    run_until(lambda: results)
    return results[0]


def read_all_async(stream, chunks, times):
    done = []

    def on_read(src, res):
        data = src.read_bytes_finish(res).get_data()
        if data:
            chunks.append(bytes(data))
            times.append(time.monotonic())
            src.read_bytes_async(4096, GLib.PRIORITY_DEFAULT, None, on_read)
        else:
            done.append(True)
    stream.read_bytes_async(4096, GLib.PRIORITY_DEFAULT, None, on_read)
    return done


@test
def stdout_arrives_live_through_read_bytes_async(router):
    ctx = router.connect_context('local', None, None, None)
    start = time.monotonic()
    process = spawn(ctx, ['sh', '-c', 'echo a; sleep 2; echo b; echo e >&2; exit 7'])
    chunks, times = [], []
    done = read_all_async(process.get_stdout(), chunks, times)
    run_until(lambda: done)
    assert b''.join(chunks) == b'a\nb\n', chunks
    assert times[0] - start < 1.5, times[0] - start
    err = process.get_stderr().read_bytes(100, None).get_data()
    assert bytes(err) == b'e\n', err
    waited = []
    process.wait_async(None, lambda src, res: waited.append(src.wait_finish(res)))
    run_until(lambda: waited)
    assert process.get_if_exited() and process.get_exit_status() == 7


@test
def stdin_written_and_closed(router):
    ctx = router.connect_context('local', None, None, None)
    process = ctx.spawn(['tr', 'a-z', 'A-Z'], None, None)
    stdin = process.get_stdin()
    stdin.write_all(b'hello\n', None)
    stdin.close(None)
    out = process.get_stdout().read_bytes(100, None).get_data()
    assert bytes(out) == b'HELLO\n', out
    assert process.wait(None)
    assert process.get_exit_status() == 0


@test
def signal_and_missing_program(router):
    ctx = router.connect_context('local', None, None, None)
    process = ctx.spawn(['sleep', '60'], None, None)
    process.send_signal(9)
    assert process.wait(None)
    assert process.get_if_signaled() and process.get_term_sig() == 9
    try:
        ctx.spawn(['/nonexistent/program'], None, None)
        raise AssertionError('started')
    except GLib.Error as e:
        assert e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND), e


if __name__ == '__main__':
    sys.exit(main())
