#!/usr/bin/env bash
# tools/fuzz.sh: run the libFuzzer harnesses of tests/fuzz for longer than
# the CI's short runs.
#
#   tools/fuzz.sh [RUNS] [NAME...]    RUNS inputs per harness (default 10
#                                     million), NAME among frame-header,
#                                     bootstrap, envelope, body-gvariant, body-json,
#                                     prompt, target (default all)
#   tools/fuzz.sh --seeds             regenerate tests/fuzz/corpus/
#
# Builds with clang in build-fuzz/ (ASan and UBSan on). Findings land in
# fuzz-findings/NAME/ (crash-*, and the corpus grown on the way).
#
# FUZZ_SANITIZE=undefined builds in build-fuzz-ubsan/ with UBSan only: no
# use-after-free or leak detection, but many times the executions per
# second, for runs of tens of millions (libFuzzer's own -rss_limit_mb
# still catches growing memory).
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=${FUZZ_SANITIZE:-address,undefined}
case $sanitize in
  address,undefined) dir=build-fuzz ;;
  undefined) dir=build-fuzz-ubsan ;;
  *) echo "fuzz.sh: FUZZ_SANITIZE is address,undefined or undefined" >&2; exit 2 ;;
esac
all=(frame-header bootstrap envelope body-gvariant body-json prompt target)

if [ ! -f "$dir/build.ninja" ]; then
  CC=clang meson setup "$dir" -Dwerror=true -Dfuzzing=true \
    -Db_sanitize="$sanitize" -Db_lundef=false \
    -Dintrospection=disabled -Ddocs=disabled
fi
ninja -C "$dir"

if [ "${1:-}" = "--seeds" ]; then
  exec "$dir/tests/fuzz/make-corpus" tests/fuzz/corpus
fi

runs=${1:-10000000}
[ $# -gt 0 ] && shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")

export MITOGEN_PLUGIN_PATH="$PWD/$dir/plugins/serializer-json"
for name in "${names[@]}"; do
  out="fuzz-findings/$name"
  mkdir -p "$out/corpus"
  echo "fuzz.sh: $name, $runs runs"
  (cd "$out" && "$OLDPWD/$dir/tests/fuzz/fuzz-$name" -runs="$runs" -max_len=65536 \
     -print_final_stats=1 corpus "$OLDPWD/tests/fuzz/corpus/$name")
done
