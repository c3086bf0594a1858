// test-process.js: a remote process from GJS: its stdout read as it comes
// with Gio's read_bytes_async, stdin written and closed, the exit status.
// Prints TAP.
imports.gi.versions.Mitogen = '1.0';
const {GLib, Gio, Mitogen} = imports.gi;
imports.searchPath.unshift(GLib.path_get_dirname(imports.system.programPath));
const {test, runUntil, main} = imports.mitogen_tap;

const decoder = new TextDecoder();

test('stdout arrives live through read_bytes_async', router => {
    const ctx = router.connect_context('local', null, null, null);
    const start = GLib.get_monotonic_time();
    let process = null;
    ctx.spawn_async(['sh', '-c', 'echo a; sleep 2; echo b; exit 5'], null, null,
        (src, res) => {
            process = src.spawn_finish(res);
        });
    runUntil(() => process !== null);
    let text = '', firstAt = 0, done = false;
    const onRead = (stream, res) => {
        const bytes = stream.read_bytes_finish(res);
        if (bytes.get_size() === 0) {
            done = true;
            return;
        }
        if (!firstAt)
            firstAt = GLib.get_monotonic_time();
        text += decoder.decode(bytes.toArray());
        stream.read_bytes_async(4096, GLib.PRIORITY_DEFAULT, null, onRead);
    };
    process.get_stdout().read_bytes_async(4096, GLib.PRIORITY_DEFAULT, null, onRead);
    runUntil(() => done);
    if (text !== 'a\nb\n')
        throw new Error(`read ${JSON.stringify(text)}`);
    if (firstAt - start > 1500000)
        throw new Error(`first line after ${(firstAt - start) / 1e6} s`);
    let waited = false;
    process.wait_async(null, (src, res) => {
        waited = src.wait_finish(res);
    });
    runUntil(() => waited);
    if (process.get_exit_status() !== 5)
        throw new Error(`status ${process.get_exit_status()}`);
});

test('stdin written and closed', router => {
    const ctx = router.connect_context('local', null, null, null);
    const process = ctx.spawn(['tr', 'a-z', 'A-Z'], null, null);
    process.get_stdin().write_bytes(new GLib.Bytes(new TextEncoder().encode('hello\n')), null);
    process.get_stdin().close(null);
    const out = decoder.decode(process.get_stdout().read_bytes(100, null).toArray());
    if (out !== 'HELLO\n')
        throw new Error(`read ${JSON.stringify(out)}`);
    process.wait(null);
    if (!process.get_if_exited() || process.get_exit_status() !== 0)
        throw new Error('bad status');
});

main();
