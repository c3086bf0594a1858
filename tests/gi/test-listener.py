#!/usr/bin/python3
"""MitogenListener from Python through GObject introspection: a router
listens on a Unix socket, a second router (its own broker) attaches to it,
reaches a context the first one started with the listener's authority,
and a second router cannot listen on a live socket. Prints TAP.
"""
import os
import sys

import gi
gi.require_version('Mitogen', '1.0')
from gi.repository import Gio, GLib, Mitogen  # noqa: E402

from mitogen_tap import main, test  # noqa: E402


def socket_path(tmp):
    os.chmod(tmp, 0o700)
    return os.path.join(tmp, 'serve.sock')


@test
def a_client_calls_into_the_listeners_context(router, tmp):
    path = socket_path(tmp)
    listener = router.listen(path, None)
    assert listener.get_path() == path
    assert os.stat(path).st_mode & 0o777 == 0o600
    ctx = router.connect_context('local', None, None, None)
    pid = ctx.call('core.getpid', None, None).unpack()

    client = Mitogen.Router.new(Mitogen.Broker.new())
    server = client.connect_server(path, None)
    assert server.get_id() == router.get_context_id()
    assert client.get_context_id() not in (0, ctx.get_id())
    kept = client.context_by_id(ctx.get_id())
    assert kept.call('core.getpid', None, None).unpack() == pid
    assert listener.get_n_clients() == 1
    client.get_broker().shutdown()
    listener.close()
    assert not os.path.exists(path)


@test
def a_live_socket_is_not_taken(router, tmp):
    path = socket_path(tmp)
    listener = router.listen(path, None)
    other = Mitogen.Router.new(Mitogen.Broker.new())
    try:
        other.listen(path, None)
        raise AssertionError('a second listener took a live socket')
    except GLib.Error as e:
        assert e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.ADDRESS_IN_USE), e
    listener.close()


sys.exit(main(with_tmpdir=True))
