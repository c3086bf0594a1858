# mitogen_tap.py: what every Python test script here shares: a @test
# decorator, and main(), which runs the tests in order, each with a fresh
# router (and a temporary directory if asked), and prints TAP.
import shutil
import tempfile
import traceback

import gi
gi.require_version('Mitogen', '1.0')
from gi.repository import Mitogen  # noqa: E402

TESTS = []


def test(func):
    TESTS.append(func)
    return func


def main(with_tmpdir=False):
    print('1..%d' % len(TESTS), flush=True)
    failed = 0
    for n, func in enumerate(TESTS, 1):
        router = Mitogen.Router.new(None)
        tmp = tempfile.mkdtemp(prefix='mitogen-gi-') if with_tmpdir else None
        try:
            func(router, tmp) if with_tmpdir else func(router)
            print('ok %d - %s' % (n, func.__name__), flush=True)
        except Exception:
            failed += 1
            print('not ok %d - %s' % (n, func.__name__), flush=True)
            for line in traceback.format_exc().splitlines():
                print('# ' + line, flush=True)
        finally:
            router.disconnect_all()
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0
