#!/usr/bin/env bash
# ssh-scale.sh [BUILD_DIR] [COUNT...]: the master's threads and memory per
# idle ssh context, with 1, 50 and 200 (or the COUNTs given) contexts open
# to one private sshd on 127.0.0.1 (root, throwaway keys, started here and
# stopped at the end), from bench/ssh-scale.py through GObject
# introspection. MITOGEN_PLUGIN_PATH, when set, wins over the build tree's
# plugins (to measure another build of the ssh plugin). Prints a Markdown
# table.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(50 200)
[ "$(id -u)" = 0 ] || { echo "ssh-scale.sh: run as root (the private sshd logs in as root)" >&2; exit 2; }
[ -f "$PWD/$build/engine/Mitogen-1.0.typelib" ] || { echo "ssh-scale.sh: build first, with introspection" >&2; exit 2; }

export MITOGEN_AGENT_PATH="$PWD/$build/engine/agent/mitogen-agent"
export MITOGEN_PLUGIN_PATH=${MITOGEN_PLUGIN_PATH:-$(ls -d "$PWD/$build"/plugins/*/ | tr '\n' ':')}
export GI_TYPELIB_PATH="$PWD/$build/engine" LD_LIBRARY_PATH="$PWD/$build/engine"

tmp=$(mktemp -d)
cleanup() {
  [ -f "$tmp/sshd.pid" ] && kill "$(cat "$tmp/sshd.pid")" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/id"
cp "$tmp/id.pub" "$tmp/authorized_keys"
# Many handshakes at once: sshd's MaxStartups would drop the connects past
# 10 (its default) while they authenticate.
cat >"$tmp/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $tmp/host_key
PidFile $tmp/sshd.pid
AuthorizedKeysFile $tmp/authorized_keys
UsePAM no
StrictModes no
PermitRootLogin yes
MaxStartups 1000
MaxSessions 1000
CONF
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$tmp/host_key.pub")" >"$tmp/known_hosts"
mkdir -p /run/sshd
/usr/sbin/sshd -f "$tmp/sshd_config"
for _ in $(seq 50); do [ -s "$tmp/sshd.pid" ] && break; sleep 0.1; done

/usr/bin/python3 bench/ssh-scale.py "$port" "$tmp" "${counts[@]}"
