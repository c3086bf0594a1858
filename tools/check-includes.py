#!/usr/bin/env python3
# check-includes.py [SRCDIR]: fail when the engine's own files include each
# other in a cycle, or when an engine source file, or one of the `mitogen`
# tool's (engine/cli), grows past about 800 lines (850: room for a file a
# reader can still hold in their head, not for a second job).
#
# engine/cli has the line limit only. Its files are a program's, not the
# library's units, and two of them include each other's headers: the host
# lists resolve -g through the inventory (mitogen-cli-hosts.c includes
# mitogen-cli-inventory.h), and the inventory expands its host patterns
# with the host lists' ranges (mitogen-cli-inventory.c includes
# mitogen-cli-hosts.h), which the cycle rule would report.
#
# Only `#include "..."` lines naming files in engine/ count; the public
# headers include each other top-down and are left out. A source file and
# its own headers (mitogen-foo.c, mitogen-foo.h, mitogen-foo-private.h) are
# one unit: mitogen-foo.c including mitogen-foo-private.h is no cycle, but
# mitogen-foo.c including mitogen-bar-private.h while mitogen-bar.c includes
# mitogen-foo-private.h is one, however many headers lie in between.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import collections
import pathlib
import re
import sys

MAX_LINES = 850
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def unit_of(filename):
    """mitogen-foo.c, mitogen-foo.h, mitogen-foo-private.h → mitogen-foo."""
    for suffix in ('-private.h', '.h', '.c'):
        if filename.endswith(suffix):
            return filename[:-len(suffix)]
    return filename


def read_edges(engine):
    """unit → {included unit → [(file, line number, included file)]}."""
    files = {p.name: p for p in sorted(engine.glob('*.c')) + sorted(engine.glob('*.h'))}
    edges = collections.defaultdict(lambda: collections.defaultdict(list))
    units = set()
    for name, path in files.items():
        unit = unit_of(name)
        units.add(unit)
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = INCLUDE.match(line)
            if not match or match.group(1) not in files:
                continue
            target = unit_of(match.group(1))
            if target != unit:
                edges[unit][target].append((name, number, match.group(1)))
    return units, edges


def strongly_connected(units, edges):
    """Tarjan's algorithm: the units that reach each other."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(unit):
        index[unit] = low[unit] = len(index)
        stack.append(unit)
        on_stack.add(unit)
        for target in sorted(edges[unit]):
            if target not in index:
                visit(target)
                low[unit] = min(low[unit], low[target])
            elif target in on_stack:
                low[unit] = min(low[unit], index[target])
        if low[unit] == index[unit]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == unit:
                    break
            result.append(sorted(component))

    for unit in sorted(units):
        if unit not in index:
            visit(unit)
    return [c for c in result if len(c) > 1]


def simple_cycles(component, edges, limit=100):
    """Every elementary cycle within one component, each starting at its
    smallest unit so that it is listed once."""
    members = set(component)
    cycles = []

    def walk(start, path):
        for target in sorted(edges[path[-1]]):
            if target not in members or target < start:
                continue
            if target == start:
                cycles.append(path + [start])
            elif target not in path and len(cycles) < limit:
                walk(start, path + [target])

    for start in component:
        walk(start, [start])
    return cycles[:limit]


def main(srcdir):
    engine = pathlib.Path(srcdir) / 'engine'
    units, edges = read_edges(engine)
    failed = False

    components = strongly_connected(units, edges)
    for component in components:
        for cycle in simple_cycles(component, edges):
            failed = True
            print('include cycle: ' + ' -> '.join(cycle))
            for a, b in zip(cycle, cycle[1:]):
                for name, number, included in edges[a][b]:
                    print('  engine/%s:%d includes %s' % (name, number, included))
    if not components:
        print('no include cycles among %d engine units' % len(units))

    for path in sorted(engine.glob('*.c')) + sorted(engine.glob('cli/*.c')):
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            failed = True
            print('too long: %s has %d lines (at most %d)'
                  % (path.relative_to(engine.parent), lines, MAX_LINES))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else '.'))
