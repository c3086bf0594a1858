#!/usr/bin/python3
"""Drive libmitogen from Python through GObject introspection.

Run with Debian's /usr/bin/python3 (python3-gi); prints TAP.
"""
import os
import sys
import threading
import time

import gi
gi.require_version('Mitogen', '1.0')
gi.require_version('Gio', '2.0')
from gi.repository import GLib, GObject, Gio, Mitogen  # noqa: E402

from mitogen_tap import main, test  # noqa: E402


def mitogen_error(e, code):
    return (isinstance(e, GLib.Error) and
            e.domain == GLib.quark_to_string(Mitogen.error_quark()) and
            e.code == int(code))


@test
def getpid_is_another_process(router):
    ctx = router.connect_context('local', None, None, None)
    pid = ctx.call('core.getpid', None, None).unpack()
    assert isinstance(pid, int) and pid != os.getpid(), pid
    assert os.path.exists('/proc/%d' % pid)
    assert ctx.get_remote_info().unpack()['pid'] == pid


@test
def arguments_and_results_are_variants(router):
    ctx = router.connect_context('local', None, None, None)
    assert ctx.call('core.echo', GLib.Variant('(s)', ('hi',)), None).unpack() == 'hi'
    value = GLib.Variant('(a{sv}ax)', ({'k': GLib.Variant('s', 'v')}, [1, -2]))
    back = ctx.call('core.echo', GLib.Variant.new_tuple(value), None)
    assert back.equal(value), back


@test
def remote_error_is_a_call_error(router):
    ctx = router.connect_context('local', None, None, None)
    try:
        ctx.call('core.fail', GLib.Variant('(s)', ('boom',)), None)
    except GLib.Error as e:
        assert mitogen_error(e, Mitogen.Error.CALL), e
        assert 'boom' in e.message and ctx.get_name() in e.message, e.message
    else:
        raise AssertionError('core.fail did not fail')


@test
def remote_error_keeps_its_domain_and_code(router):
    ctx = router.connect_context('local', None, None, None)
    try:
        ctx.call('proc.run', GLib.Variant('(as)', (['/nonexistent/mitogen-py'],)), None)
    except GLib.Error as e:
        assert e.domain == 'g-io-error-quark', e.domain
        assert e.code == int(Gio.IOErrorEnum.NOT_FOUND), e.code
        assert e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND), e
        prefix = 'context %s: proc.run: ' % ctx.get_name()
        assert e.message.startswith(prefix), e.message
    else:
        raise AssertionError('proc.run of a missing program did not fail')


@test
def cancelling_a_call_frees_the_context(router):
    ctx = router.connect_context('local', None, None, None)
    cancellable = Gio.Cancellable()
    GLib.timeout_add(100, lambda: cancellable.cancel() and False)
    loop = GLib.MainLoop()
    errors = []

    def done(source, result):
        try:
            source.call_finish(result)
        except GLib.Error as e:
            errors.append(e)
        loop.quit()

    start = time.monotonic()
    ctx.call_async('core.sleep', GLib.Variant('(d)', (30.0,)), cancellable, done)
    GLib.timeout_add(5000, loop.quit)
    loop.run()
    assert errors and errors[0].matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED), errors
    assert time.monotonic() - start < 1.0
    start = time.monotonic()
    ctx.call('core.ping', None, None)
    assert time.monotonic() - start < 1.0


@test
def a_call_past_its_deadline_times_out(router):
    ctx = router.connect_context('local', None, None, None)
    start = time.monotonic()
    try:
        ctx.call_with_timeout('core.sleep', GLib.Variant('(d)', (120.0,)), 500, None)
    except GLib.Error as e:
        assert mitogen_error(e, Mitogen.Error.TIMEOUT), e
        expected = 'call to core.sleep in %s timed out after 0.5 s' % ctx.get_name()
        assert e.message == expected, e.message
    else:
        raise AssertionError('core.sleep(120) did not time out after 0.5 s')
    assert 0.5 <= time.monotonic() - start < 10, time.monotonic() - start
    # The sleep was cancelled in the context: a ping is not stuck behind it.
    start = time.monotonic()
    assert ctx.call_with_timeout('core.echo', GLib.Variant('(s)', ('on time',)), 10000,
                                 None).unpack() == 'on time'
    assert time.monotonic() - start < 10

    loop = GLib.MainLoop()
    errors = []

    def done(source, result):
        try:
            source.call_with_timeout_finish(result)
        except GLib.Error as e:
            errors.append(e)
        loop.quit()

    ctx.call_with_timeout_async('core.sleep', GLib.Variant('(d)', (120.0,)), 300, None, done)
    GLib.timeout_add(20000, loop.quit)
    loop.run()
    assert errors and mitogen_error(errors[0], Mitogen.Error.TIMEOUT), errors
    assert ctx.is_connected()


@test
def call_async_in_a_main_loop(router):
    ctx = router.connect_context('local', None, None, None)
    loop = GLib.MainLoop()
    results = []

    def done(source, result):
        results.append(source.call_finish(result).unpack())
        loop.quit()

    ctx.call_async('core.getpid', None, None, done)
    GLib.timeout_add(5000, loop.quit)
    loop.run()
    assert results and results[0] != os.getpid(), results


@test
def select_over_receivers(router):
    a = router.connect_context('local', None, None, None)
    b = router.connect_context('local', None, None, None)
    sel = Mitogen.Select.new(True)
    receivers = {}
    for ctx in (a, b):
        recv = ctx.begin_call('core.getpid', None)
        receivers[recv.get_handle()] = ctx
        sel.add(recv)
    pids = set()
    while sel.has_sources():
        msg, source = sel.get(5000, None)
        pid = msg.unpack().unpack()
        assert receivers[source.get_handle()].get_remote_info().unpack()['pid'] == pid
        pids.add(pid)
    assert len(pids) == 2, pids


@test
def receiver_timeout(router):
    recv = Mitogen.Receiver.new(router)
    started = time.monotonic()
    try:
        recv.get(50, None)
    except GLib.Error as e:
        assert mitogen_error(e, Mitogen.Error.TIMEOUT), e
    else:
        raise AssertionError('get did not time out')
    assert time.monotonic() - started < 2


@test
def options_set_the_name(router):
    options = GLib.Variant('a{sv}', {'name': GLib.Variant('s', 'pyctx')})
    ctx = router.connect_context('local', options, None, None)
    assert ctx.get_name() == 'pyctx', ctx.get_name()


@test
def unknown_option_is_refused(router):
    options = GLib.Variant('a{sv}', {'nmae': GLib.Variant('s', 'pyctx')})
    try:
        router.connect_context('local', options, None, None)
    except GLib.Error as e:
        assert mitogen_error(e, Mitogen.Error.FAILED), e
        assert e.message == ('local: unknown option \u201cnmae\u201d '
                             '(did you mean \u201cname\u201d?)'), e.message
    else:
        raise AssertionError('an unknown option was accepted')
    assert router.list_contexts() == []


@test
def transports_list_their_options(router):
    transport = Mitogen.transport_lookup('local')
    table = {name: type_ for name, type_, _ in transport.list_options().unpack()}
    assert table['cwd'] == 's', table
    assert table['env'] == 'a{ss}', table
    assert table['connect_timeout'] == 'd|i|u|x', table


@test
def secret_options_are_known_and_wiped(router):
    assert Mitogen.transport_option_is_secret('password')
    assert Mitogen.transport_option_is_secret('become_password')
    assert not Mitogen.transport_option_is_secret('username')
    # The wipe clears the secret's bytes in place and leaves the rest.
    options = GLib.Variant('a{sv}', {'password': GLib.Variant('s', 'hunter2'),
                                     'username': GLib.Variant('s', 'pg')})
    Mitogen.transport_options_wipe_secrets(options)
    values = options.unpack()
    assert values['password'] == '', values
    assert values['username'] == 'pg', values


@test
def shutdown_ends_the_process(router):
    ctx = router.connect_context('local', None, None, None)
    pid = ctx.call('core.getpid', None, None).unpack()
    assert ctx.shutdown(10000, None)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            state = open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state == 'Z':
            return
        time.sleep(0.01)
    raise AssertionError('context %d still runs' % pid)


class PyTransport(GObject.Object, Mitogen.Transport):
    """A transport written in Python: start the agent with Gio.Subprocess."""
    __gtype_name__ = 'TestPyTransport'

    def do_open_stream(self, options, agent_path, cancellable):
        proc = Gio.Subprocess.new([agent_path],
                                  Gio.SubprocessFlags.STDIN_PIPE |
                                  Gio.SubprocessFlags.STDOUT_PIPE)
        self.proc = proc
        return Gio.SimpleIOStream.new(proc.get_stdout_pipe(), proc.get_stdin_pipe())


@test
def transport_written_in_python(router):
    Mitogen.register_transport(PyTransport.__gtype__, 'pylocal', 10)
    assert 'pylocal' in Mitogen.list_transports()
    ctx = router.connect_context('pylocal', None, None, None)
    pid = ctx.call('core.getpid', None, None).unpack()
    assert pid != os.getpid()


def run_until(loop_flag, timeout=10):
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    while not loop_flag() and time.monotonic() < deadline:
        ctx.iteration(False) or time.sleep(0.001)
    assert loop_flag(), 'timed out'


@test
def signals_connect_the_gobject_way(router):
    # Router.connect is GObject's: connect_context starts contexts.
    seen = []
    handler = router.connect('context-added', lambda r, c: seen.append((c, threading.get_ident())))
    ctx = router.connect_context('local', None, None, None)
    assert [c for c, _ in seen] == [ctx], seen
    assert seen[0][1] == threading.get_ident()
    router.disconnect(handler)
    router.connect_context('local', None, None, None)
    assert len(seen) == 1


@test
def context_added_on_main_thread_after_async_connect(router):
    seen = []
    result = []
    router.connect('context-added', lambda r, c: seen.append(threading.get_ident()))

    def done(source, res):
        result.append(source.connect_context_finish(res))
    router.connect_context_async('local', None, None, None, done)
    run_until(lambda: result)
    assert seen == [threading.get_ident()], seen


@test
def context_lost_on_main_thread(router):
    lost = []
    router.connect('context-lost', lambda r, c: lost.append((c, threading.get_ident())))
    ctx = router.connect_context('local', None, None, None)
    router.disconnect_context(ctx)
    run_until(lambda: lost)
    assert lost == [(ctx, threading.get_ident())], lost


@test
def python_transport_async_connect(router):
    Mitogen.register_transport(PyTransport.__gtype__, 'pylocal', 10)
    result = []

    def done(source, res):
        result.append(source.connect_context_finish(res))
    router.connect_context_async('pylocal', None, None, None, done)
    run_until(lambda: result)
    assert result[0].call('core.getpid', None, None).unpack() != os.getpid()


class FailingTransport(GObject.Object, Mitogen.Transport):
    """A transport that raises: the error reaches the caller."""
    __gtype_name__ = 'TestFailingTransport'

    def do_open_stream(self, options, agent_path, cancellable):
        raise GLib.Error('no such host', 'g-io-error-quark', Gio.IOErrorEnum.NOT_FOUND)


@test
def python_transport_error_both_ways(router):
    Mitogen.register_transport(FailingTransport.__gtype__, 'pyfail', 10)
    try:
        router.connect_context('pyfail', None, None, None)
        raise AssertionError('connected')
    except GLib.Error as e:
        assert e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND), e
    errors = []

    def done(source, res):
        try:
            source.connect_context_finish(res)
            errors.append(None)
        except GLib.Error as e:
            errors.append(e)
    router.connect_context_async('pyfail', None, None, None, done)
    run_until(lambda: errors)
    assert errors[0] is not None and 'no such host' in errors[0].message, errors


if __name__ == '__main__':
    sys.exit(main())
