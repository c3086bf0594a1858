// test-fs.js: the fs.* built-ins from GJS through GObject introspection.
// Prints TAP.
imports.gi.versions.Mitogen = '1.0';
const {GLib, Gio, Mitogen} = imports.gi;
imports.searchPath.unshift(GLib.path_get_dirname(imports.system.programPath));
const {test, runUntil, main} = imports.mitogen_tap;

test('fs.write then fs.stat and fs.read', (router, dir) => {
    const ctx = router.connect_context('local', null, null, null);
    const path = GLib.build_filenamev([dir, 'js']);
    const data = new TextEncoder().encode('from gjs');
    const options = {mode: new GLib.Variant('u', 0o600)};
    ctx.call('fs.write', new GLib.Variant('(saya{sv})', [path, data, options]), null);
    const info = ctx.call('fs.stat', new GLib.Variant('(s)', [path]), null).deepUnpack();
    if (info.type.unpack() !== 'file' || info.mode.unpack() !== 0o600 || info.size.unpack() !== 8)
        throw new Error(`wrong stat: ${JSON.stringify(info)}`);
    const got = ctx.call('fs.read', new GLib.Variant('(sxx)', [path, 5, -1]), null).deepUnpack();
    if (new TextDecoder().decode(got) !== 'gjs')
        throw new Error(`read ${got}`);
});

test('a missing file is G_IO_ERROR_NOT_FOUND', (router, dir) => {
    const ctx = router.connect_context('local', null, null, null);
    const path = GLib.build_filenamev([dir, 'missing']);
    try {
        ctx.call('fs.read', new GLib.Variant('(sxx)', [path, 0, -1]), null);
    } catch (e) {
        if (!(e instanceof GLib.Error) || !e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND) ||
            !e.message.includes(path))
            throw new Error(`wrong error: ${e}`);
        return;
    }
    throw new Error('fs.read of a missing file did not fail');
});

main({withTmpdir: true});
