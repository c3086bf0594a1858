// test-fanout.js: MitogenFanout from GJS: a call on several local contexts
// with a limit, results as answered (sync and async), a failed call
// throwing from get_value() while the others succeed. Prints TAP.
imports.gi.versions.Mitogen = '1.0';
const {GLib, Mitogen} = imports.gi;
imports.searchPath.unshift(GLib.path_get_dirname(imports.system.programPath));
const {test, runUntil, main} = imports.mitogen_tap;

function contexts(router, n) {
    const out = [];
    for (let i = 0; i < n; i++)
        out.push(router.connect_context('local', null, null, null));
    return out;
}

test('limit holds and every call answers', router => {
    const ctxs = contexts(router, 4);
    const fanout = Mitogen.Fanout.new(2);
    for (const ctx of ctxs)
        fanout.add_call(ctx, 'core.sleep', new GLib.Variant('(d)', [0.3]));
    const start = GLib.get_monotonic_time();
    const seen = [];
    let result;
    while ((result = fanout.next(null)) !== null) {
        if (fanout.get_in_flight() > 2)
            throw new Error(`${fanout.get_in_flight()} in flight`);
        if (!result.is_ok() || result.get_context() !== ctxs[result.get_index()])
            throw new Error(`bad result ${result.get_index()}`);
        seen.push(result.get_index());
    }
    const elapsed = (GLib.get_monotonic_time() - start) / 1e6;
    if (seen.sort().join() !== '0,1,2,3')
        throw new Error(`seen ${seen}`);
    if (elapsed < 0.55)
        throw new Error(`two at a time took only ${elapsed} s`);
});

test('a failed call throws alone, async', router => {
    const ctxs = contexts(router, 2);
    const fanout = Mitogen.Fanout.new(0);
    fanout.add_call(ctxs[0], 'core.getpid', null);
    fanout.add_call(ctxs[1], 'no.such_function', null);
    const pids = [], errors = [];
    let done = false;
    const onNext = (src, res) => {
        const result = src.next_finish(res);
        if (result === null) {
            done = true;
            return;
        }
        try {
            pids.push(result.get_value().unpack());
        } catch (e) {
            errors.push(e);
        }
        src.next_async(null, onNext);
    };
    fanout.next_async(null, onNext);
    const ctx = GLib.MainContext.default();
    const deadline = GLib.get_monotonic_time() + 60e6;
    while (!done) {
        if (GLib.get_monotonic_time() > deadline)
            throw new Error('timed out');
        ctx.iteration(true);
    }
    if (pids.length !== 1 || !(pids[0] > 0))
        throw new Error(`pids ${pids}`);
    if (errors.length !== 1 || !errors[0].matches(Mitogen.error_quark(), Mitogen.Error.CALL))
        throw new Error(`errors ${errors}`);
});

main();
