// test-transfer.js: a push and a pull from GJS, with progress. Prints TAP.
imports.gi.versions.Mitogen = '1.0';
const {GLib, Mitogen} = imports.gi;
imports.searchPath.unshift(GLib.path_get_dirname(imports.system.programPath));
const {test, runUntil, main} = imports.mitogen_tap;

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

main({withTmpdir: true});
