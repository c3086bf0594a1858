#!/usr/bin/python3
# local-context.py: run under `meson devenv` with nothing set by hand:
# starts a local context through the typelib, pings it, and prints the path
# of the agent program that answered.
import gi
gi.require_version('Mitogen', '1.0')
from gi.repository import Mitogen  # noqa: E402
import os  # noqa: E402

router = Mitogen.Router.new(Mitogen.Broker.new())
ctx = router.connect_context('local', None, None, None)
pong = ctx.call('core.ping', None, None)
assert pong.get_type_string() == '()', pong
pid = ctx.call('core.getpid', None, None).unpack()
print(os.readlink('/proc/%d/exe' % pid))
ctx.shutdown(30000, None)
