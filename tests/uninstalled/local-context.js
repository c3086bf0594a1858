// local-context.js: run under `meson devenv` with nothing set by hand:
// starts a local context through the typelib, pings it, and prints the
// path of the agent program that answered.
imports.gi.versions.Mitogen = '1.0';
const {GLib, Mitogen} = imports.gi;

const router = Mitogen.Router.new(Mitogen.Broker.new());
const ctx = router.connect_context('local', null, null, null);
const pong = ctx.call('core.ping', null, null);
if (pong.get_type_string() !== '()')
    throw new Error(`core.ping gave ${pong.print(true)}`);
const pid = ctx.call('core.getpid', null, null).unpack();
print(GLib.file_read_link(`/proc/${pid}/exe`));
ctx.shutdown(30000, null);
