#!/usr/bin/env bash
# quickstart.sh: set up a Debian 12 machine for libmitogen, build it, and
# run either the main job or every test.
#
#   ./quickstart.sh main    install what is missing, build, run a command in
#                           a fresh local context with the `mitogen` tool
#   ./quickstart.sh test    install what is missing, build, run every test:
#                           C, CLI, Python and GJS through GObject
#                           introspection, then the C tests again under
#                           AddressSanitizer/UBSan and under valgrind
#
# Packages come from Debian only; apt-get runs through sudo when not root.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  meson ninja-build gcc g++ pkg-config
  libglib2.0-dev libglib2.0-bin libjson-glib-dev
  gobject-introspection libgirepository1.0-dev gir1.2-glib-2.0
  python3-gi gjs python3-mitogen
  python3-execnet
  sudo opendoas util-linux passwd
  openssh-server openssh-client libssh-dev
  iproute2
  valgrind gi-docgen groff-base
  clang
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "quickstart: installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  fi
}

# build DIR [meson options...]: configure once (an existing DIR takes the
# options again, so that a new or changed one applies), then build.
build() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dwerror=true "$@"
  elif [ $# -gt 0 ]; then
    meson configure "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir"
}

# agent_reports_clean DIR: fails, printing them, if agents left ASan or
# UBSan reports in DIR (they write one only to report a fault).
agent_reports_clean() {
  local dir=$1 report found=0
  for report in "$dir"/*; do
    [ -e "$report" ] || continue
    echo "quickstart: an agent's sanitizer report, $report:" >&2
    cat "$report" >&2
    found=1
  done
  if [ "$found" -ne 0 ]; then
    echo "quickstart: agents started without ASAN_OPTIONS reported faults (above)" >&2
    return 1
  fi
}

main_job() {
  build build
  echo "quickstart: running 'uname -a' in a fresh local context"
  ./build/engine/cli/mitogen run local -- uname -a
  ./build/engine/cli/mitogen call local core.getpid
}

all_tests() {
  build build
  meson test -C build --print-errorlogs --num-processes 2

  # The C and CLI tests again with AddressSanitizer and UBSan. The Python
  # and GJS suites are left out: their interpreters are not built with ASan.
  # The C tests' agents report there too (log_path, set by the tests).
  # Agents that get no ASAN_OPTIONS (started by sshd or a real sudo, or by
  # the CLI tests) report to agent_sanitizer_log, built into them: a
  # directory outside the build tree (which may sit in root's private
  # home) that the users the sudo tests become can write, one per tree.
  local agent_reports
  agent_reports=/tmp/mitogen-asan-agents.$(pwd | sha256sum | cut -c1-12)
  build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dintrospection=disabled \
    -Dagent_sanitizer_log="$agent_reports"
  rm -rf "$agent_reports"
  install -d -m 1777 "$agent_reports"
  # G_SLICE=always-malloc: GLib's slice allocator would hide a leaked
  # GVariant from LeakSanitizer (a CLI leak of every -o value went unseen).
  G_SLICE=always-malloc ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-asan --print-errorlogs --num-processes 2 --suite c --suite cli
  agent_reports_clean "$agent_reports"

  # And under valgrind (memcheck), which also sees uninitialised reads,
  # over the test programs and the local agents they start.
  meson test -C build --print-errorlogs --num-processes 2 --setup valgrind --suite c

  # The libFuzzer harnesses (tests/fuzz), built with clang, 20,000 inputs
  # each; only they and the plugin they load are built there.
  if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang meson setup build-fuzz -Dwerror=true -Dfuzzing=true -Dbench=false \
      -Db_sanitize=address,undefined -Db_lundef=false -Dintrospection=disabled -Ddocs=disabled
  fi
  ninja -C build-fuzz plugins/serializer-json/mitogen-serializer-json.so \
    tests/fuzz/fuzz-{frame-header,bootstrap,envelope,body-gvariant,body-json,prompt,target}
  G_SLICE=always-malloc meson test -C build-fuzz --no-rebuild --print-errorlogs --num-processes 2 --suite fuzz

  summary build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
          build/meson-logs/testlog-valgrind.json build-fuzz/meson-logs/testlog.json
}

# One closing line over every run above: "tests: N passed, N failed".
summary() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
        result = json.loads(line).get('result')
        if result in ('OK', 'EXPECTEDFAIL'):
            passed += 1
        elif result == 'SKIP':
            skipped += 1
        else:
            failed += 1
print('tests: %d passed, %d failed, %d skipped' % (passed, failed, skipped))
PY
}

case "${1:-}" in
  main) install_missing; main_job ;;
  test) install_missing; all_tests ;;
  *) echo "usage: $0 main|test" >&2; exit 2 ;;
esac
