#!/usr/bin/python3
"""The fs.* built-ins from Python through GObject introspection.

Run with Debian's /usr/bin/python3 (python3-gi); prints TAP.
"""
import os
import sys

import gi
gi.require_version('Mitogen', '1.0')
gi.require_version('Gio', '2.0')
from gi.repository import GLib, Gio, Mitogen  # noqa: E402

from mitogen_tap import main, test  # noqa: E402


def no_options():
    return {}


@test
def write_stat_read_round_trip(router, tmp):
    ctx = router.connect_context('local', None, None, None)
    path = os.path.join(tmp, 'hello')
    data = b'hello, \x00binary\xff world'
    options = {'mode': GLib.Variant('u', 0o640),
               'mtime': GLib.Variant('x', 1_600_000_000_250_000)}
    ctx.call('fs.write', GLib.Variant('(saya{sv})', (path, data, options)), None)
    with open(path, 'rb') as f:
        assert f.read() == data
    st = os.stat(path)
    assert st.st_mode & 0o7777 == 0o640, oct(st.st_mode)
    assert st.st_mtime_ns == 1_600_000_000_250_000_000, st.st_mtime_ns
    # No temporary file is left beside it.
    assert os.listdir(tmp) == ['hello'], os.listdir(tmp)

    info = ctx.call('fs.stat', GLib.Variant('(s)', (path,)), None).unpack()
    assert info['type'] == 'file' and info['size'] == len(data), info
    assert info['mode'] == 0o640 and info['mtime'] == 1_600_000_000_250_000, info
    assert info['ino'] == st.st_ino, info

    got = ctx.call('fs.read', GLib.Variant('(sxx)', (path, 7, 7)), None)
    assert bytes(got.get_data_as_bytes().get_data()) == b'\x00binary', got
    whole = ctx.call('fs.read', GLib.Variant('(sxx)', (path, 0, -1)), None)
    assert bytes(whole.get_data_as_bytes().get_data()) == data


@test
def missing_file_is_gio_not_found(router, tmp):
    ctx = router.connect_context('local', None, None, None)
    path = os.path.join(tmp, 'missing')
    try:
        ctx.call('fs.stat', GLib.Variant('(s)', (path,)), None)
    except GLib.Error as e:
        assert e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND), e
        assert path in e.message and 'fs.stat' in e.message, e.message
    else:
        raise AssertionError('fs.stat of a missing file did not fail')
    # The same code a local GIO call gives for that path.
    try:
        Gio.File.new_for_path(path).query_info('*', Gio.FileQueryInfoFlags.NONE, None)
    except GLib.Error as local:
        assert local.code == int(Gio.IOErrorEnum.NOT_FOUND), local
    else:
        raise AssertionError('the local query did not fail')


@test
def list_and_walk_are_sorted(router, tmp):
    ctx = router.connect_context('local', None, None, None)
    os.makedirs(os.path.join(tmp, 'd/e'))
    for name in ('b', 'a', 'd/e/f'):
        with open(os.path.join(tmp, name), 'w') as f:
            f.write(name)
    os.symlink('a', os.path.join(tmp, 'c'))
    listed = ctx.call('fs.list', GLib.Variant('(s)', (tmp,)), None).unpack()
    assert [(n, i['type']) for n, i in listed] == [
        ('a', 'file'), ('b', 'file'), ('c', 'symlink'), ('d', 'directory')], listed
    walked = ctx.call('fs.walk', GLib.Variant('(sa{sv})', (tmp, no_options())), None).unpack()
    assert [n for n, _ in walked] == ['a', 'b', 'c', 'd', 'd/e', 'd/e/f'], walked


@test
def write_into_missing_directory_fails_cleanly(router, tmp):
    ctx = router.connect_context('local', None, None, None)
    path = os.path.join(tmp, 'no', 'such', 'file')
    try:
        ctx.call('fs.write', GLib.Variant('(saya{sv})', (path, b'x', no_options())), None)
    except GLib.Error as e:
        assert e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.NOT_FOUND), e
    else:
        raise AssertionError('fs.write into a missing directory did not fail')
    assert os.listdir(tmp) == [], os.listdir(tmp)
    opts = {'create_parents': GLib.Variant('b', True)}
    ctx.call('fs.write', GLib.Variant('(saya{sv})', (path, b'x', opts)), None)
    digest = ctx.call('fs.sha256', GLib.Variant('(s)', (path,)), None).unpack()
    assert digest == '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881', digest


if __name__ == '__main__':
    sys.exit(main(with_tmpdir=True))
