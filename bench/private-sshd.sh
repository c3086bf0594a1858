# private-sshd.sh: sourced by the bench scripts that need an OpenSSH server
# of their own. It starts one sshd as root with throwaway host and user keys
# on a free port, logging in as root by key only, and stops it on request.
#
# private_sshd DIR [LISTEN_ADDRESS] [EXTRA_CONFIG_LINES] [HOST...]
#   Writes DIR/host_key, DIR/id (the client's key; DIR/id.pub is authorized),
#   DIR/sshd_config, DIR/known_hosts (one line per HOST, 127.0.0.1 by
#   default, each as [HOST]:PORT) and DIR/sshd.pid, then waits for the pid
#   file; sshd logs to DIR/sshd.log. LISTEN_ADDRESS is 127.0.0.1 unless
#   given; the free port is found on it. EXTRA_CONFIG_LINES (newline-separated) go before the common lines:
#   sshd keeps the first value of a keyword, so they may override those.
#   Sets:
#     sshd_port         the port sshd listens on
#     sshd_identity     DIR/id
#     sshd_known_hosts  DIR/known_hosts
#     sshd_ssh_opts     (-i DIR/id -o UserKnownHostsFile=DIR/known_hosts
#                       -o BatchMode=yes): the client options, without -p
# private_sshd_stop DIR
#   Kills the sshd started in DIR, if one was; for the callers' cleanup traps
#   (it never fails, so a trap goes on to its other work).

private_sshd() {
  local dir=$1 listen=${2:-127.0.0.1} extra=${3:-} key h
  shift 3 2>/dev/null || shift $#
  local hosts=("$@")
  [ ${#hosts[@]} -gt 0 ] || hosts=(127.0.0.1)
  sshd_port=$(/usr/bin/python3 -c 'import socket, sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$listen")
  sshd_identity=$dir/id
  sshd_known_hosts=$dir/known_hosts
  sshd_ssh_opts=(-i "$sshd_identity" -o UserKnownHostsFile="$sshd_known_hosts" -o BatchMode=yes)
  ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
  ssh-keygen -q -t ed25519 -N '' -f "$sshd_identity"
  cp "$sshd_identity.pub" "$dir/authorized_keys"
  {
    [ -z "$extra" ] || printf '%s\n' "$extra"
    cat <<CONF
Port $sshd_port
ListenAddress $listen
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
UsePAM no
StrictModes no
PermitRootLogin yes
CONF
  } >"$dir/sshd_config"
  key=$(cut -d' ' -f1,2 "$dir/host_key.pub")
  for h in "${hosts[@]}"; do echo "[$h]:$sshd_port $key"; done >"$sshd_known_hosts"
  mkdir -p /run/sshd
  /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
  # sshd writes its pid file once it listens: the scripts connect after that.
  for _ in $(seq 50); do [ -s "$dir/sshd.pid" ] && break; sleep 0.1; done
}

private_sshd_stop() {
  [ -f "$1/sshd.pid" ] && kill "$(cat "$1/sshd.pid")" 2>/dev/null || true
}
