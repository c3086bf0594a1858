// mitogen_tap.js: what every GJS test script here shares: test() to declare
// a test, runUntil() to iterate the default main context until a condition
// holds, and main(), which runs the tests in order, each with a fresh
// router (and a temporary directory if asked), prints TAP and exits.
//
// A script loads it with:
//   imports.searchPath.unshift(GLib.path_get_dirname(imports.system.programPath));
//   const {test, runUntil, main} = imports.mitogen_tap;
imports.gi.versions.Mitogen = '1.0';
const {GLib, Mitogen} = imports.gi;

var tests = [];

function test(name, func) {
    tests.push([name, func]);
}

function runUntil(predicate, timeoutSec = 60) {
    const ctx = GLib.MainContext.default();
    const deadline = GLib.get_monotonic_time() + timeoutSec * 1000000;
    while (!predicate()) {
        if (GLib.get_monotonic_time() > deadline)
            throw new Error('timed out');
        ctx.iteration(false) || GLib.usleep(1000);
    }
}

function main({withTmpdir = false} = {}) {
    print(`1..${tests.length}`);
    let failed = 0;
    tests.forEach(([name, func], i) => {
        const router = Mitogen.Router.new(null);
        const dir = withTmpdir ? GLib.dir_make_tmp('mitogen-gjs-XXXXXX') : null;
        try {
            func(router, dir);
            print(`ok ${i + 1} - ${name}`);
        } catch (e) {
            failed++;
            print(`not ok ${i + 1} - ${name}`);
            for (const line of `${e}\n${e.stack || ''}`.trim().split('\n'))
                print(`# ${line}`);
        } finally {
            router.disconnect_all();
            if (dir !== null)
                GLib.spawn_sync(null, ['rm', '-rf', dir], null, GLib.SpawnFlags.SEARCH_PATH, null);
        }
    });
    // Let streams' worker threads and the contexts' ends settle before
    // exit() tears the interpreter down under them.
    const settle = GLib.get_monotonic_time() + 200000;
    while (GLib.get_monotonic_time() < settle)
        GLib.MainContext.default().iteration(false) || GLib.usleep(10000);
    imports.system.exit(failed ? 1 : 0);
}
