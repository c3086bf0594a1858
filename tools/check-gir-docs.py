#!/usr/bin/env python3
# check-gir-docs.py GIR SRCDIR: fail, listing them, when any public symbol in
# the GIR (type, function, constructor, method, virtual method, property,
# signal, constant, enum member) or any of its parameters or return values
# has no documentation.
#
# Each missing symbol is attributed to the engine source file that defines
# it, so that whoever owns that file can see what is left to them.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import collections
import pathlib
import re
import sys
import xml.etree.ElementTree as ET

CORE = '{http://www.gtk.org/introspection/core/1.0}'
C = '{http://www.gtk.org/introspection/c/1.0}'
GLIB = '{http://www.gtk.org/introspection/glib/1.0}'

TYPES = ('class', 'interface', 'record', 'union', 'enumeration', 'bitfield',
         'callback', 'alias')
CALLABLES = ('function', 'constructor', 'method', 'virtual-method')
MEMBERS = CALLABLES + ('property', GLIB + 'signal', 'constant', 'member')


def tag(element):
    return element.tag.replace(CORE, '').replace(GLIB, 'glib:')


def has_doc(element):
    doc = element.find(CORE + 'doc')
    return doc is not None and (doc.text or '').strip() != ''


class Sources:
    """Where a C symbol or a type is defined, among the engine's sources."""

    def __init__(self, srcdir):
        self.srcdir = srcdir
        self.texts = {}
        for path in sorted((srcdir / 'engine').glob('*.c')) + \
                sorted((srcdir / 'include' / 'mitogen').glob('*.h')):
            self.texts[str(path.relative_to(srcdir))] = path.read_text()

    def defining(self, identifier):
        # GLib style: the return type on its own line, the name at the start
        # of the next one.
        pattern = re.compile(r'^' + re.escape(identifier) + r'\s*\(', re.M)
        for name, text in self.texts.items():
            if name.endswith('.c') and pattern.search(text):
                return name
        # Functions made by a macro (G_DEFINE_QUARK): where they are declared.
        declared = re.compile(r'\b' + re.escape(identifier) + r'\s*\(')
        for name, text in self.texts.items():
            if name.endswith('.h') and declared.search(text):
                return name
        return None

    def defining_type(self, c_type):
        pattern = re.compile(r'G_DEFINE_[A-Z_]*TYPE[A-Z_]*\s*\(\s*' +
                             re.escape(c_type) + r'\s*,')
        for name, text in self.texts.items():
            if pattern.search(text):
                return name
        return None


def where(element, owner, sources):
    """The file a symbol belongs to: its C definition, else its type's."""
    identifier = element.get(C + 'identifier')
    if identifier:
        found = sources.defining(identifier)
        if found:
            return found
    if owner is not None and owner.get(C + 'type'):
        found = sources.defining_type(owner.get(C + 'type'))
        if found:
            return found
    if element.get(C + 'type'):
        found = sources.defining_type(element.get(C + 'type'))
        if found:
            return found
    position = element.find(CORE + 'source-position')
    if position is None and owner is not None:
        position = owner.find(CORE + 'source-position')
    if position is not None:
        return position.get('filename')
    return '(unknown file)'


def display_name(namespace, element, owner):
    name = element.get('name')
    kind = tag(element)
    if owner is None:
        full = '%s.%s' % (namespace, name)
    elif kind == 'property':
        full = '%s.%s:%s' % (namespace, owner.get('name'), name)
    elif kind == 'glib:signal':
        full = '%s.%s::%s' % (namespace, owner.get('name'), name)
    else:
        full = '%s.%s.%s' % (namespace, owner.get('name'), name)
    identifier = element.get(C + 'identifier') or element.get(C + 'type')
    if identifier:
        full += ' (%s)' % identifier
    return '%s %s' % (kind, full)


def callable_gaps(element):
    """The parameters and return value of a callable without docs."""
    gaps = []
    parameters = element.find(CORE + 'parameters')
    if parameters is not None:
        for parameter in parameters:
            if tag(parameter) in ('parameter', 'instance-parameter') and \
                    not has_doc(parameter):
                gaps.append('parameter %s' % parameter.get('name'))
    returns = element.find(CORE + 'return-value')
    if returns is not None:
        rtype = returns.find(CORE + 'type')
        void = rtype is not None and rtype.get('name') == 'none'
        if not void and not has_doc(returns):
            gaps.append('return value')
    return gaps


def check(element, owner, namespace, sources, missing):
    gaps = []
    if not has_doc(element):
        gaps.append('no description')
    if tag(element) in CALLABLES + ('callback', 'glib:signal'):
        gaps += callable_gaps(element)
    if gaps:
        missing[where(element, owner, sources)].append(
            '%s: %s' % (display_name(namespace, element, owner),
                        ', '.join(gaps)))


def is_public(element):
    # Class and interface structures are documented through their type
    # and virtual methods; private and shadowed symbols are not API.
    return element.get(GLIB + 'is-gtype-struct-for') is None and \
        element.get('shadowed-by') is None and \
        not element.get('name', '').startswith('_')


def main(gir_path, srcdir):
    root = ET.parse(gir_path).getroot()
    namespace = root.find(CORE + 'namespace')
    ns_name = namespace.get('name')
    sources = Sources(pathlib.Path(srcdir))
    missing = collections.defaultdict(list)
    checked = 0

    for element in namespace:
        kind = tag(element)
        if kind not in TYPES + MEMBERS or not is_public(element):
            continue
        check(element, None, ns_name, sources, missing)
        checked += 1
        if kind in TYPES:
            for member in element:
                if tag(member) in [tag(ET.Element(m)) for m in MEMBERS] and \
                        is_public(member):
                    check(member, element, ns_name, sources, missing)
                    checked += 1

    total = sum(len(v) for v in missing.values())
    if total == 0:
        print('%s: all %d public symbols are documented' % (gir_path, checked))
        return 0

    print('%s: %d of %d public symbols lack documentation\n'
          % (gir_path, total, checked))
    for filename in sorted(missing):
        print('%s (%d):' % (filename, len(missing[filename])))
        for line in missing[filename]:
            print('  ' + line)
        print()
    print('undocumented, by file: ' + ', '.join(
        '%s %d' % (f, len(missing[f])) for f in sorted(missing)))
    return 1


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit('usage: check-gir-docs.py GIR SRCDIR')
    sys.exit(main(sys.argv[1], sys.argv[2]))
