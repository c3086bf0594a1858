// test-local.js: drive libmitogen from GJS through GObject introspection.
// Prints TAP.
imports.gi.versions.Mitogen = '1.0';
const {GLib, Mitogen} = imports.gi;

const tests = [];
function test(name, func) {
    tests.push([name, func]);
}

function ownPid() {
    // /proc/self is this gjs process.
    return parseInt(GLib.file_read_link('/proc/self'), 10);
}

function isMitogenError(e, code) {
    return e instanceof GLib.Error && e.matches(Mitogen.error_quark(), code);
}

test('getpid is another process', router => {
    const ctx = router.connect_context('local', null, null, null);
    const pid = ctx.call('core.getpid', null, null).unpack();
    if (typeof pid !== 'number' || pid === ownPid())
        throw new Error(`bad pid ${pid}`);
    if (!GLib.file_test(`/proc/${pid}`, GLib.FileTest.EXISTS))
        throw new Error(`no process ${pid}`);
});

test('echo round-trips a value', router => {
    const ctx = router.connect_context('local', null, null, null);
    const args = new GLib.Variant('(as)', [['a', 'b']]);
    const back = ctx.call('core.echo', args, null).deepUnpack();
    if (back.join(',') !== 'a,b')
        throw new Error(`echo gave ${back}`);
});

test('a remote error is a CALL error', router => {
    const ctx = router.connect_context('local', null, null, null);
    try {
        ctx.call('core.fail', new GLib.Variant('(s)', ['boom']), null);
    } catch (e) {
        if (!isMitogenError(e, Mitogen.Error.CALL) || !e.message.includes('boom'))
            throw new Error(`wrong error: ${e}`);
        return;
    }
    throw new Error('core.fail did not fail');
});

test('call_async in a main loop', router => {
    const ctx = router.connect_context('local', null, null, null);
    const loop = new GLib.MainLoop(null, false);
    let pid = null;
    ctx.call_async('core.getpid', null, null, (source, result) => {
        pid = source.call_finish(result).unpack();
        loop.quit();
    });
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, 5000, () => {
        loop.quit();
        return GLib.SOURCE_REMOVE;
    });
    loop.run();
    if (pid === null || pid === ownPid())
        throw new Error(`bad pid ${pid}`);
});

print(`1..${tests.length}`);
let failed = 0;
tests.forEach(([name, func], i) => {
    const router = Mitogen.Router.new(null);
    try {
        func(router);
        print(`ok ${i + 1} - ${name}`);
    } catch (e) {
        failed++;
        print(`not ok ${i + 1} - ${name}`);
        print(`# ${e}`);
    } finally {
        router.disconnect_all();
    }
});
imports.system.exit(failed ? 1 : 0);
