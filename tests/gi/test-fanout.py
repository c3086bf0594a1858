#!/usr/bin/python3
"""MitogenFanout from Python through GObject introspection: one call on
several local contexts with a limit, results as answered, a failed call
raising from get_value() while the others succeed, and the async form.
Prints TAP.
"""
import sys
import time

import gi
gi.require_version('Mitogen', '1.0')
from gi.repository import GLib, Mitogen  # noqa: E402

from mitogen_tap import main, test  # noqa: E402


def contexts(router, n):
    return [router.connect_context('local', None, None, None) for _ in range(n)]


@test
def limit_holds_and_every_call_answers(router):
    ctxs = contexts(router, 4)
    fanout = Mitogen.Fanout.new(2)
    assert fanout.props.max_in_flight == 2
    for ctx in ctxs:
        fanout.add_call(ctx, 'core.sleep', GLib.Variant('(d)', (0.3,)))
    start = time.monotonic()
    seen = []
    while (result := fanout.next(None)) is not None:
        assert fanout.get_in_flight() <= 2
        assert result.is_ok()
        assert result.get_context() is ctxs[result.get_index()]
        assert result.get_seconds() >= 0.25
        seen.append(result.get_index())
    elapsed = time.monotonic() - start
    assert sorted(seen) == [0, 1, 2, 3], seen
    # Two at a time: two rounds of 0.3 s at least.
    assert elapsed >= 0.55, elapsed


@test
def a_failed_call_raises_alone(router):
    ctxs = contexts(router, 2)
    fanout = Mitogen.Fanout.new(0)
    fanout.add_call(ctxs[0], 'core.getpid', None)
    fanout.add_call(ctxs[1], 'no.such_function', None)
    pids, errors = [], []
    while (result := fanout.next(None)) is not None:
        if result.is_ok():
            pids.append(result.get_value().unpack())
        else:
            assert 'no.such_function' in result.get_error().message
            try:
                result.get_value()
            except GLib.Error as e:
                errors.append(e)
    assert len(pids) == 1 and pids[0] > 0, pids
    assert len(errors) == 1 and errors[0].matches(Mitogen.error_quark(), Mitogen.Error.CALL), errors


@test
def async_results(router):
    ctxs = contexts(router, 3)
    fanout = Mitogen.Fanout.new(2)
    for _ in range(3):
        for ctx in ctxs:
            fanout.add_call(ctx, 'core.ping', None)
    got = []
    done = []

    def on_next(src, res):
        result = src.next_finish(res)
        if result is None:
            done.append(True)
            return
        got.append(result.get_index())
        src.next_async(None, on_next)

    fanout.next_async(None, on_next)
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + 60
    while not done:
        assert time.monotonic() < deadline, 'timed out'
        ctx.iteration(True)
    assert sorted(got) == list(range(9)), got


sys.exit(main())
