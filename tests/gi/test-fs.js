// test-fs.js: the fs.* built-ins from GJS through GObject introspection.
// Prints TAP.
imports.gi.versions.Mitogen = '1.0';
const {GLib, Gio, Mitogen} = imports.gi;

const tests = [];
function test(name, func) {
    tests.push([name, func]);
}

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

print(`1..${tests.length}`);
let failed = 0;
tests.forEach(([name, func], i) => {
    const router = Mitogen.Router.new(null);
    const dir = GLib.dir_make_tmp('mitogen-gjs-fs-XXXXXX');
    try {
        func(router, dir);
        print(`ok ${i + 1} - ${name}`);
    } catch (e) {
        failed++;
        print(`not ok ${i + 1} - ${name}`);
        print(`# ${e}`);
    } finally {
        router.disconnect_all();
        for (const name of ['js'])
            GLib.unlink(GLib.build_filenamev([dir, name]));
        GLib.rmdir(dir);
    }
});
imports.system.exit(failed ? 1 : 0);
