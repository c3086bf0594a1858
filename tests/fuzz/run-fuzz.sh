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
"$harness" "$@" "$work" "$seeds"
