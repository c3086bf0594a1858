#!/usr/bin/env bash
# compare-builds.sh OLD_TREE NEW_TREE [ROUNDS]: the same figures from two
# built trees (each with its build/ directory), alternating round by round
# so that both see the same machine, one JSON line per run. For checking
# that a change makes nothing slower; these machines are noisy, so look at
# the spread over the rounds, not at one pair.
set -euo pipefail
old=$(realpath "$1"); new=$(realpath "$2"); rounds=${3:-3}
# bulk_mb_s is core.zeros in trees before zeros_mb_s and bulk_real_mb_s.
figures=${FIGURES:-start_ms,ping_us,pipelined_calls_per_s,pipelined_calls_per_s_100k,bulk_mb_s,zeros_mb_s,bulk_real_mb_s,contexts50_s,per_hop_us}

run() {
  local tree=$1
  MITOGEN_AGENT_PATH="$tree/build/engine/agent/mitogen-agent" \
  MITOGEN_PLUGIN_PATH=$(ls -d "$tree"/build/plugins/*/ 2>/dev/null | tr '\n' ':') \
    "$tree/build/bench/mitogen-bench" --only "$figures" 2>/dev/null | tr -d '\n'
}

for ((i = 1; i <= rounds; i++)); do
  echo "{\"round\": $i, \"tree\": \"old\", \"figures\": $(run "$old")}"
  echo "{\"round\": $i, \"tree\": \"new\", \"figures\": $(run "$new")}"
done
