#!/usr/bin/env bash
# run-transfer.sh [BUILD_DIR] [SIZE_MIB]: `mitogen cp` throughput, push and
# pull, through local and through a local/local hop, beside the floors of
# the same run: the machine's cp of the same file, and `cat file | mitogen
# run local -- cat` (proc.run, one message: at most 128 MiB, so it is given
# min(SIZE, 96) MiB). Then a tree of 10,000 files of 1-16 KiB: cp -r and
# tar | tar beside `mitogen cp -r`. Prints a Markdown table. Every copy
# lands on the same filesystem (/tmp by default, $TMPDIR otherwise), with
# the source in the page cache; the master's peak RSS comes from time(1).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
size_mib=${2:-256}
mitogen="$PWD/$build/engine/cli/mitogen"
[ -x "$mitogen" ] || { echo "run-transfer.sh: build first (ninja -C $build)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$tmp/src"
cat "$tmp/src" >/dev/null
small_mib=$((size_mib < 96 ? size_mib : 96))
head -c $((small_mib * 1024 * 1024)) "$tmp/src" >"$tmp/src-small"

# seconds and peak RSS (KiB) of a command, as "S KIB"
measure() {
  /usr/bin/time -o "$tmp/time" -f '%e %M' "$@" >/dev/null 2>"$tmp/err" ||
    { echo "run-transfer.sh: failed: $* ($(head -c 300 "$tmp/err"))" >&2; echo "0.0001 0"; return; }
  tail -1 "$tmp/time"
}
row() {  # row LABEL MIB COMMAND...
  local label=$1 mib=$2; shift 2
  rm -f "$tmp/dst"
  read -r s kib < <(measure "$@")
  printf '| %s | %s MiB | %.2f s | %.0f MB/s | %d MiB |\n' "$label" "$mib" "$s" \
    "$(echo "$mib * 1.048576 / $s" | bc -l)" $((kib / 1024))
}

echo '| what | size | time | throughput | master peak RSS |'
echo '|---|---|---|---|---|'
row 'cp (floor)' "$size_mib" cp "$tmp/src" "$tmp/dst"
# The floor for chunks: the bytes through a socketpair, 256 KiB at a time,
# each into a buffer from malloc freed after it.
floor=$(MITOGEN_AGENT_PATH="$PWD/$build/engine/agent/mitogen-agent" \
        "$PWD/$build/bench/mitogen-bench" --only socketpair_chunks_mb_s 2>/dev/null |
        sed -n 's/.*"socketpair_chunks_mb_s": *\([0-9.]*\).*/\1/p')
echo "| socketpair into malloc()ed 256 KiB buffers (floor) | 256 MiB | | ${floor%.*} MB/s | |"
row 'cat \| mitogen run local -- cat' "$small_mib" sh -c "cat '$tmp/src-small' | '$mitogen' run local -- cat"
row 'mitogen cp push, local' "$size_mib" "$mitogen" cp "$tmp/src" "local:$tmp/dst"
row 'mitogen cp pull, local' "$size_mib" "$mitogen" cp "local:$tmp/src" "$tmp/dst"
row 'mitogen cp push, local/local' "$size_mib" "$mitogen" cp "$tmp/src" "local/local:$tmp/dst"
row 'mitogen cp pull, local/local' "$size_mib" "$mitogen" cp "local/local:$tmp/src" "$tmp/dst"

mkdir "$tmp/tree"
python3 - "$tmp/tree" <<'PY'
import os, random, sys
random.seed(1)
root = sys.argv[1]
for i in range(10000):
    d = os.path.join(root, 'd%03d' % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'f%05d' % i), 'wb') as f:
        f.write(os.urandom(random.randint(1024, 16384)))
PY
tree_mib=$(du -sm "$tmp/tree" | cut -f1)
tree_row() {  # tree_row LABEL COMMAND...
  local label=$1; shift
  rm -rf "$tmp/tree-dst"
  read -r s kib < <(measure "$@")
  printf '| %s | 10,000 files, %s MiB | %.2f s | %.0f files/s | %d MiB |\n' "$label" \
    "$tree_mib" "$s" "$(echo "10000 / $s" | bc -l)" $((kib / 1024))
}
tree_row 'cp -r (floor)' cp -r "$tmp/tree" "$tmp/tree-dst"
tree_row 'tar c \| tar x' sh -c "mkdir '$tmp/tree-dst' && tar cC '$tmp/tree' . | tar xC '$tmp/tree-dst'"
tree_row 'mitogen cp -r push, local' "$mitogen" cp -r "$tmp/tree" "local:$tmp/tree-dst"
tree_row 'mitogen cp -r pull, local' "$mitogen" cp -r "local:$tmp/tree" "$tmp/tree-dst"
