# build-env.sh: sourced by the bench scripts. bench_use_build DIR points
# the agent and plugin search at build tree DIR (absolute, or relative to
# the current directory), as the tests do.
bench_use_build() {
  local dir
  dir=$(realpath "$1")
  export MITOGEN_AGENT_PATH="$dir/engine/agent/mitogen-agent"
  MITOGEN_PLUGIN_PATH=$(ls -d "$dir"/plugins/*/ | tr '\n' ':')
  export MITOGEN_PLUGIN_PATH
}
