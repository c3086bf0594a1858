#!/usr/bin/env python3
# check-man.py CLI MANPAGE: fail unless the manual page documents every
# command and every long option the CLI's --help output names, and renders
# without a single groff or man warning.
#
# Commands must be described in the page's COMMANDS section and long options
# in its OPTIONS section, not merely mentioned in an example.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import os
import re
import shutil
import subprocess
import sys


def run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def cli_help(cli):
    """The commands and long options named by --help and each command's."""
    top = run([cli, '--help'])
    if top.returncode != 0:
        sys.exit('%s --help failed: %s' % (cli, top.stderr))
    commands = []
    in_commands = False
    for line in top.stdout.splitlines():
        if line.strip() == 'Commands:':
            in_commands = True
        elif in_commands and line.startswith('  '):
            commands.append(line.split()[0])
        elif in_commands:
            in_commands = False
    if not commands:
        sys.exit('%s --help lists no commands:\n%s' % (cli, top.stdout))

    options = set(re.findall(r'(?<![\w-])--[a-z][a-z0-9-]*', top.stdout))
    for command in commands:
        sub = run([cli, command, '--help'])
        if sub.returncode != 0:
            sys.exit('%s %s --help failed: %s' % (cli, command, sub.stderr))
        options |= set(re.findall(r'(?<![\w-])--[a-z][a-z0-9-]*', sub.stdout))
    return commands, sorted(options)


def render(manpage):
    """The page as plain text on very long lines, so that nothing is
    hyphenated, and the warnings groff and man give about it."""
    env = dict(os.environ, LC_ALL='C.UTF-8', MANWIDTH='1000')
    text = run(['groff', '-man', '-Tascii', '-rLL=1000n', '-P-cbou', manpage],
               env=env)
    if text.returncode != 0:
        sys.exit('groff failed on %s: %s' % (manpage, text.stderr))
    warnings = run(['groff', '-man', '-ww', '-z', '-Tutf8', manpage],
                   env=env).stderr
    if shutil.which('man'):
        warnings += run(['man', '--warnings', '-l', manpage], env=env).stderr
    return text.stdout, warnings


def sections(text):
    """Section name → its rendered body."""
    result = {}
    current = None
    for line in text.splitlines():
        if re.match(r'^[A-Z][A-Z ]+$', line):
            current = line.strip()
            result[current] = ''
        elif current is not None:
            result[current] += line + '\n'
    return result


def main(cli, manpage):
    commands, options = cli_help(cli)
    text, warnings = render(manpage)
    parts = sections(text)
    problems = []

    if warnings.strip():
        problems.append('rendering warnings:\n' + warnings.rstrip())
    for command in commands:
        # A command is described by an item starting with its name.
        item = re.compile(r'^\s+' + re.escape(command) + r'\b', re.M)
        if not item.search(parts.get('COMMANDS', '')):
            problems.append('command %s is not described under COMMANDS'
                            % command)
    for option in options:
        mention = re.compile(re.escape(option) + r'(?![\w-])')
        if not mention.search(parts.get('OPTIONS', '')):
            problems.append('option %s is not described under OPTIONS'
                            % option)

    if problems:
        print('%s does not match %s --help:' % (manpage, cli))
        for problem in problems:
            print('  ' + problem)
        return 1
    print('%s: %d commands and %d long options documented, no warnings'
          % (manpage, len(commands), len(options)))
    print('commands: ' + ' '.join(commands))
    print('options: ' + ' '.join(options))
    return 0


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit('usage: check-man.py CLI MANPAGE')
    sys.exit(main(sys.argv[1], sys.argv[2]))
