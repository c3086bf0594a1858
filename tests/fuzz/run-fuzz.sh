#!/bin/sh
# run-fuzz.sh HARNESS SEEDS [libFuzzer options...]: runs a libFuzzer
# harness over its checked-in seeds, writing what it finds to a scratch
# directory rather than into the source tree. Crashes are written to the
# current directory (crash-*), as libFuzzer does.
set -eu
harness=$1 seeds=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# libFuzzer exits 77 on a finding by default, which meson reads as a
# skip: a crash or a leak must fail the test.
"$harness" -error_exitcode=1 "$@" "$work" "$seeds"
