// test-transfer.js: a push and a pull from GJS, with progress. Prints TAP.
imports.gi.versions.Mitogen = '1.0';
const {GLib, Mitogen} = imports.gi;

const tests = [];
function test(name, func) {
    tests.push([name, func]);
}

function runUntil(done, timeoutMs = 60000) {
    const deadline = GLib.get_monotonic_time() + timeoutMs * 1000;
    const ctx = GLib.MainContext.default();
    while (!done() && GLib.get_monotonic_time() < deadline)
        ctx.iteration(true);
    if (!done())
        throw new Error('timed out');
}

function sha(path) {
    const [, bytes] = GLib.file_get_contents(path);
    return GLib.compute_checksum_for_data(GLib.ChecksumType.SHA256, bytes);
}

function writeFile(path, size) {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++)
        data[i] = (i * 7) % 251;
    GLib.file_set_contents(path, data);
}

test('push_async with progress, then a blocking pull', (router, dir) => {
    const ctx = router.connect_context('local', null, null, null);
    const src = `${dir}/src`, there = `${dir}/there`, back = `${dir}/back`;
    writeFile(src, 2 * 1024 * 1024 + 3);
    const seen = [];
    let ok = null;
    ctx.push_async(src, there, Mitogen.TransferFlags.NONE, (done, total) => seen.push([done, total]),
        null, (source, result) => {
            ok = source.push_finish(result);
        });
    runUntil(() => ok !== null);
    if (!ok || sha(src) !== sha(there))
        throw new Error('push did not copy the file');
    const last = seen[seen.length - 1];
    if (!last || last[0] !== last[1] || last[1] !== 2 * 1024 * 1024 + 3)
        throw new Error(`progress ended at ${last}`);
    let pulled = 0;
    ctx.pull(there, back, Mitogen.TransferFlags.NONE, done => {
        pulled = done;
    }, null);
    if (sha(src) !== sha(back) || pulled !== 2 * 1024 * 1024 + 3)
        throw new Error(`pull gave ${pulled} bytes`);
});

print(`1..${tests.length}`);
let failed = 0;
tests.forEach(([name, func], i) => {
    const router = Mitogen.Router.new(null);
    const dir = GLib.dir_make_tmp('mitogen-transfer-js-XXXXXX');
    try {
        func(router, dir);
        print(`ok ${i + 1} - ${name}`);
    } catch (e) {
        failed++;
        print(`not ok ${i + 1} - ${name}`);
        print(`# ${e}`);
    } finally {
        router.disconnect_all();
        GLib.spawn_command_line_sync(`rm -rf ${dir}`);
    }
});
imports.system.exit(failed ? 1 : 0);
