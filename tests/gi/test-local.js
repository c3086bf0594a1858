// test-local.js: drive libmitogen from GJS through GObject introspection.
// Prints TAP.
imports.gi.versions.Mitogen = '1.0';
const {GLib, GObject, Gio, Mitogen} = imports.gi;
imports.searchPath.unshift(GLib.path_get_dirname(imports.system.programPath));
const {test, runUntil, main} = imports.mitogen_tap;

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

test('context-added handler runs (blocking connect)', router => {
    const seen = [];
    const id = router.connect('context-added', (r, c) => seen.push(c));
    const ctx = router.connect_context('local', null, null, null);
    router.disconnect(id);
    if (seen.length !== 1 || seen[0] !== ctx)
        throw new Error(`context-added gave ${seen}`);
});

test('context-added handler runs (async connect)', router => {
    const seen = [];
    let ctx = null;
    router.connect('context-added', (r, c) => seen.push(c));
    router.connect_context_async('local', null, null, null, (source, result) => {
        ctx = source.connect_context_finish(result);
    });
    runUntil(() => ctx !== null);
    if (seen.length !== 1 || seen[0] !== ctx)
        throw new Error(`context-added gave ${seen}`);
});

const JsTransport = GObject.registerClass({
    GTypeName: 'TestJsTransport',
    Implements: [Mitogen.Transport],
}, class JsTransport extends GObject.Object {
    vfunc_open_stream(options, agentPath, cancellable) {
        this._proc = Gio.Subprocess.new([agentPath],
            Gio.SubprocessFlags.STDIN_PIPE | Gio.SubprocessFlags.STDOUT_PIPE);
        return Gio.SimpleIOStream.new(this._proc.get_stdout_pipe(), this._proc.get_stdin_pipe());
    }
});

const JsFailingTransport = GObject.registerClass({
    GTypeName: 'TestJsFailingTransport',
    Implements: [Mitogen.Transport],
}, class JsFailingTransport extends GObject.Object {
    vfunc_open_stream(options, agentPath, cancellable) {
        throw new GLib.Error(Gio.IOErrorEnum, Gio.IOErrorEnum.NOT_FOUND, 'no such host');
    }
});

test('a transport written in JavaScript, blocking and async', router => {
    Mitogen.register_transport(JsTransport.$gtype, 'jslocal', 10);
    const a = router.connect_context('jslocal', null, null, null);
    if (a.call('core.getpid', null, null).unpack() === ownPid())
        throw new Error('ran here');
    let b = null;
    router.connect_context_async('jslocal', null, null, null, (source, result) => {
        b = source.connect_context_finish(result);
    });
    runUntil(() => b !== null);
    if (b.call('core.getpid', null, null).unpack() === ownPid())
        throw new Error('ran here');
});

test('a JavaScript transport that throws fails both connects cleanly', router => {
    Mitogen.register_transport(JsFailingTransport.$gtype, 'jsfail', 10);
    try {
        router.connect_context('jsfail', null, null, null);
        throw new Error('connected');
    } catch (e) {
        if (!(e instanceof GLib.Error) || !e.message.includes('no such host'))
            throw e;
    }
    let error = null;
    router.connect_context_async('jsfail', null, null, null, (source, result) => {
        try {
            source.connect_context_finish(result);
            error = 'connected';
        } catch (e) {
            error = e;
        }
    });
    runUntil(() => error !== null);
    if (!(error instanceof GLib.Error) || !error.message.includes('no such host'))
        throw new Error(`wrong outcome: ${error}`);
});

main();
