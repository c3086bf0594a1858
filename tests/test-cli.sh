#!/usr/bin/env bash
# test-cli.sh MITOGEN: the command-line tool, end to end, as TAP.
# The checks that start contexts run twice: once with the test environment
# and once without MITOGEN_AGENT_PATH and MITOGEN_PLUGIN_PATH, to show the
# tool finds the agent and plugins of a build tree by itself.
set -u
MITOGEN=$1
source "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

# Every context the tool starts must be gone when it exits; a stray agent
# would keep a test run (or a user's shell) waiting.
gone() {  # gone PID: PID names no process, not even a zombie
  test -n "$1" && ! kill -0 "$1" 2>/dev/null
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "1..109"

# ---- contexts, in both environments --------------------------------------
for mode in env no-env; do
  if [ $mode = env ]; then
    m() { timeout 60 "$MITOGEN" "$@"; }
  else
    m() { timeout 60 env -u MITOGEN_AGENT_PATH -u MITOGEN_PLUGIN_PATH "$MITOGEN" "$@"; }
  fi

  m run local -- sh -c 'echo out; echo err >&2; exit 3' >"$tmp/out" 2>"$tmp/err" </dev/null
  status=$?
  check "$mode: run passes the exit status through" test "$status" = 3
  check "$mode: run passes stdout through, and only it" \
    bash -c "test \"\$(cat '$tmp/out')\" = out"
  check "$mode: run passes stderr through, and only it" \
    bash -c "test \"\$(cat '$tmp/err')\" = err"

  check "$mode: run passes stdin through" \
    test "$(printf 'hello\nworld\n' | m run local -- cat)" = "$(printf 'hello\nworld')"

  m run local -- sh -c 'kill -TERM $$' </dev/null
  check "$mode: a command killed by signal 15 exits 128+15" test $? = 143

  check "$mode: run without '--' works for a plain command" \
    test "$(m run local echo plain </dev/null)" = plain

  pid=$(m call local core.getpid)
  check "$mode: call prints the result of another process" \
    bash -c "[[ '$pid' =~ ^[0-9]+\$ ]] && test '$pid' != $$"
  check "$mode: the context is gone when the tool exits" gone "$pid"

  check "$mode: call arguments are GVariant text" \
    test "$(m call local core.echo "(1, 'a')")" = "(1, 'a')"
  check "$mode: an argument that is not GVariant text is a string" \
    test "$(m call local core.echo plain)" = "'plain'"
  check "$mode: arguments after '--' may start with '-'" \
    test "$(m call local core.echo -- -1)" = "-1"

  check "$mode: a chain of hops works" \
    test "$(m call local/local core.echo "'via'")" = "'via'"

  m call local core.nosuch.function 2>"$tmp/err" >/dev/null
  status=$?
  check "$mode: an unknown function fails, naming it" \
    bash -c "test $status = 1 && grep -q 'core.nosuch.function' '$tmp/err'"

  out=$(m call local core.fail "'boom'" 2>"$tmp/err")
  status=$?
  check "$mode: a remote error exits 1 with 'mitogen: MESSAGE' on stderr" \
    bash -c "test $status = 1 && test -z '$out' && grep -q '^mitogen: .*boom' '$tmp/err'"
  pid=$(sed -n 's/.*context local\.\([0-9]*\).*/\1/p' "$tmp/err")
  check "$mode: the context is gone after a failed call" gone "$pid"
done

# ---- the rest -----------------------------------------------------------
"$MITOGEN" call nosuchtransport core.getpid 2>"$tmp/err"
status=$?
check "an unknown transport fails with 255 (as ssh does), naming it" \
  bash -c "test $status = 255 && grep -q nosuchtransport '$tmp/err'"

"$MITOGEN" call local/nosuchtransport core.getpid 2>"$tmp/err"
status=$?
check "an unknown transport in the second hop fails, naming it" \
  bash -c "test $status = 255 && grep -q nosuchtransport '$tmp/err'"

"$MITOGEN" run local -- /nonexistent/command </dev/null 2>"$tmp/err"
status=$?
check "run exits 127 when the command is not found, naming it" \
  bash -c "test $status = 127 && grep -q /nonexistent/command '$tmp/err'"

"$MITOGEN" run local -- /etc/passwd </dev/null 2>/dev/null
check "run exits 126 when the command cannot be executed" test $? = 126

"$MITOGEN" call 'Bad Target' core.getpid 2>"$tmp/err"
status=$?
check "a bad target fails clearly" bash -c "test $status = 1 && grep -q 'bad target' '$tmp/err'"

"$MITOGEN" call "$(printf 'local/%.0s' $(seq 64))local" core.getpid 2>"$tmp/err"
status=$?
check "a target of more than 64 hops is refused before anything starts" \
  bash -c "test $status = 1 && grep -q '65 hops, more than 64' '$tmp/err'"

"$MITOGEN" call 'sudo:' core.getpid 2>"$tmp/err"
status=$?
check "an empty target argument fails clearly" \
  bash -c "test $status = 1 && grep -q 'bad target' '$tmp/err'"

"$MITOGEN" call 'ssh:user@host:notaport' core.getpid 2>"$tmp/err"
status=$?
check "a bad ssh port fails before connecting" \
  bash -c "test $status = 1 && grep -q 'bad port' '$tmp/err'"

# How an ssh target resolves, from the -v line "hop 1: ssh KEY=VALUE..."
# that comes before connecting (which fails here, quickly: nothing listens
# on port 1, and the other targets get 3 s).
hop() {  # hop TARGET: the resolved options of the first hop, one a line
  timeout 30 "$MITOGEN" call -v --timeout 3 -o password=sekrit "$1" core.ping 2>&1 </dev/null |
    sed -n 's/.*hop 1: ssh //p' | tr ' ' '\n' | sort
}
check "ssh:[::1]:1 is the IPv6 address ::1, port 1" \
  test "$(hop 'ssh:[::1]:1' | grep -E '^(hostname|port|username)=')" = "$(printf "hostname='::1'\nport=1")"
check "ssh:root@[::1] is user root at ::1, no port" \
  test "$(hop 'ssh:root@[::1]' | grep -E '^(hostname|port|username)=')" = "$(printf "hostname='::1'\nusername='root'")"
check "ssh:root@[::1]:1 is user root at ::1, port 1" \
  test "$(hop 'ssh:root@[::1]:1' | grep -E '^(hostname|port|username)=')" = "$(printf "hostname='::1'\nport=1\nusername='root'")"
check "ssh:root@::1 is user root at ::1 (no brackets: no port)" \
  test "$(hop 'ssh:root@::1' | grep -E '^(hostname|port|username)=')" = "$(printf "hostname='::1'\nusername='root'")"
check "ssh:localhost:1 is still host localhost, port 1" \
  test "$(hop 'ssh:localhost:1' | grep -E '^(hostname|port|username)=')" = "$(printf "hostname='localhost'\nport=1")"
check "-v never shows a password" bash -c "! '$MITOGEN' call -v --timeout 3 -o password=sekrit \
  'ssh:[::1]:1' core.ping 2>&1 </dev/null | grep -q sekrit"

"$MITOGEN" call 'ssh:[::1' core.getpid 2>"$tmp/err"
status=$?
check "an unclosed bracket in an ssh target fails clearly" \
  bash -c "test $status = 1 && grep -q 'expected \[ADDRESS\]' '$tmp/err'"

"$MITOGEN" call -o novalue local core.ping 2>"$tmp/err"
status=$?
check "an -o without '=' fails clearly" \
  bash -c "test $status = 1 && grep -q 'KEY=VALUE' '$tmp/err'"

"$MITOGEN" call -o name=foo local core.fail "'x'" 2>"$tmp/err"
check "-o name=foo names the context (a plain string value)" \
  grep -q 'context foo: core.fail: x' "$tmp/err"

check "-o values that are GVariant text work too" \
  test "$("$MITOGEN" call -o "name='bar'" local core.ping)" = "()"

"$MITOGEN" call --agent /nonexistent/agent local core.ping 2>"$tmp/err"
status=$?
check "--agent sets the agent program" \
  bash -c "test $status = 255 && grep -q /nonexistent/agent '$tmp/err'"

check "--timeout and --debug are accepted" \
  test "$("$MITOGEN" call --timeout 30 --debug local core.ping 2>/dev/null)" = "()"

"$MITOGEN" run local </dev/null 2>"$tmp/err"
status=$?
check "run without a command fails clearly" \
  bash -c "test $status = 1 && grep -q COMMAND '$tmp/err'"

check "-v shows debug messages" \
  bash -c "'$MITOGEN' call -v local core.ping 2>&1 >/dev/null | grep -q DEBUG"

check "--help works for the tool" bash -c "'$MITOGEN' --help | grep -q 'Usage'"
check "--help works for run, call and list-transports" \
  bash -c "'$MITOGEN' run --help | grep -q TARGET && '$MITOGEN' call --help | grep -q FUNCTION &&
           '$MITOGEN' list-transports --help | grep -q Usage"
check "--version prints the version" bash -c "'$MITOGEN' --version | grep -qE '^mitogen [0-9]+\.'"

check "list-transports names local" bash -c "'$MITOGEN' list-transports | grep -qx local"
check "list-serializers names gvariant" bash -c "'$MITOGEN' list-serializers | grep -qx gvariant"

# ---- options checked against the transport's table ------------------------
# sudo_path is a script that leaves a mark: a typo must start nothing, even
# as root, where a forgotten username would run the command as root.
printf '#!/bin/sh\ntouch %s/ran\nexit 1\n' "$tmp" >"$tmp/fake-sudo"
chmod +x "$tmp/fake-sudo"
"$MITOGEN" run -o usernme=nobody -o sudo_path="$tmp/fake-sudo" sudo -- touch "$tmp/cmd" 2>"$tmp/err"
status=$?
check "-o usernme=nobody sudo fails, suggesting username, and runs nothing" \
  bash -c "test $status = 255 && grep -qF 'sudo: unknown option “usernme” (did you mean “username”?)' '$tmp/err' &&
           test ! -e '$tmp/ran' && test ! -e '$tmp/cmd'"

"$MITOGEN" run -o username=nobody -o sudo_path="$tmp/fake-sudo" sudo -- true 2>/dev/null
check "the same without the typo does run the sudo program" test -e "$tmp/ran"

"$MITOGEN" call -o bogus=1 local core.ping 2>"$tmp/err"
status=$?
check "-o bogus=1 is refused for local" \
  bash -c "test $status = 255 && grep -qF 'local: unknown option “bogus”' '$tmp/err'"

"$MITOGEN" call -o compression=42 ssh:192.0.2.1 core.ping 2>"$tmp/err"
status=$?
check "a wrongly typed ssh option is refused before connecting" \
  bash -c "test $status = 255 && grep -qF \"ssh: option “compression” must be of type 'b', not 'i'\" '$tmp/err'"

# Plain strings read as the declared type: these reach the password check,
# which fails on the fake sudo, not the option check.
"$MITOGEN" run -o login=yes -o set_home=no -o username=1000 -o sudo_path="$tmp/fake-sudo" \
  sudo -- true 2>"$tmp/err"
check "-o login=yes, set_home=no, username=1000 are read as b, b, s" \
  bash -c "! grep -q option '$tmp/err' && grep -q sudo '$tmp/err'"

check "list-options lists a transport's options and the shared ones" \
  bash -c "'$MITOGEN' list-options sudo | grep -qE '^username +s ' &&
           '$MITOGEN' list-options ssh | grep -qE '^port +u\|i ' &&
           '$MITOGEN' list-options local | grep -qE '^connect_timeout +d\|i\|u\|x '"

# ---- options per hop, and passwords to their own hop ----------------------
"$MITOGEN" run -v 'ssh:127.0.0.1,port=1,compression=yes/sudo:pg,login=yes' --timeout 5 -- true \
  >"$tmp/err" 2>&1 </dev/null
check "per-hop options go to their own hop only (and -v shows them)" \
  bash -c "grep -q 'hop 1: ssh .*port=1\\b' '$tmp/err' &&
           grep -q 'hop 1: ssh .*compression=true' '$tmp/err' &&
           ! grep -q 'hop 1: .*login' '$tmp/err' &&
           grep -q \"hop 2: sudo .*username='pg'\" '$tmp/err' &&
           grep -q 'hop 2: sudo .*login=true' '$tmp/err' &&
           ! grep -q 'hop 2: .*port' '$tmp/err'"

"$MITOGEN" call 'local,bogus=1' core.ping 2>"$tmp/err"
status=$?
check "a hop's unknown option is refused, naming its transport" \
  bash -c "test $status = 255 && grep -qF 'local: unknown option “bogus”' '$tmp/err'"

"$MITOGEN" call -o password=x 'ssh:127.0.0.1/sudo:root' core.ping 2>"$tmp/err"
status=$?
check "-o password= that two hops would take is refused before anything starts" \
  bash -c "test $status = 1 && grep -qF 'more than one hop (ssh:127.0.0.1, sudo:root)' '$tmp/err'"

# Stand-in sudo programs that ask on their terminal, as sudo does, and take
# only their own password; an askpass program that answers by hop number
# and writes down each prompt it got.
for i in 1 2; do
  cat >"$tmp/sudo-$i" <<EOS
#!/bin/sh
for arg; do [ "\$arg" = -n ] && { echo 'sudo: a password is required' >&2; exit 1; }; done
while [ "\$1" != -- ]; do shift; done; shift
while :; do
  printf '[mitogen-sudo-password]' >/dev/tty
  stty -echo </dev/tty; read -r pw </dev/tty || exit 1; stty echo </dev/tty; echo >/dev/tty
  [ "\$pw" = "pw-of-hop-$i" ] && exec "\$@"
  echo 'Sorry, try again.' >/dev/tty
done
EOS
  chmod +x "$tmp/sudo-$i"
done
cat >"$tmp/askpass" <<EOS
#!/bin/sh
echo "\$1" >>'$tmp/prompts'
case "\$1" in *"hop 1"*) echo pw-of-hop-1 ;; *"hop 2"*) echo pw-of-hop-2 ;; *) exit 1 ;; esac
EOS
chmod +x "$tmp/askpass"
two_sudo="sudo:root,sudo_path='$tmp/sudo-1'/sudo:root,sudo_path='$tmp/sudo-2'"

out=$(MITOGEN_ASKPASS="$tmp/askpass" "$MITOGEN" run -K "$two_sudo" -- echo in 2>"$tmp/err" </dev/null)
check "-K asks each become hop for its own password (through MITOGEN_ASKPASS)" \
  bash -c "test '$out' = in && test \$(wc -l <'$tmp/prompts') = 2 &&
           grep -qF 'sudo password for hop 1 (sudo:root,sudo_path=' '$tmp/prompts' &&
           grep -qF 'sudo password for hop 2 (sudo:root,sudo_path=' '$tmp/prompts'"

printf 'pw-of-hop-1\n' >"$tmp/pw1"
printf 'pw-of-hop-2\n' >"$tmp/pw2"
out=$("$MITOGEN" run "sudo:root,sudo_path='$tmp/sudo-1',password_file='$tmp/pw1'/sudo:root,sudo_path='$tmp/sudo-2',password_file='$tmp/pw2'" \
      -- echo in 2>"$tmp/err" </dev/null)
check "password_file= gives one hop its password" test "$out" = in

"$MITOGEN" run --become-password-file "$tmp/pw2" "sudo:root,sudo_path='$tmp/sudo-1'" -- true \
  >"$tmp/err" 2>&1 </dev/null
status=$?
check "--become-password-file with the wrong password fails as a connection does" \
  bash -c "test $status = 255 && grep -q 'sudo password incorrect' '$tmp/err'"

"$MITOGEN" run -k local -- true 2>"$tmp/err" </dev/null
status=$?
check "-k where no hop logs in with a password is refused" \
  bash -c "test $status = 1 && grep -qF 'no hop of “local” logs in with a password' '$tmp/err'"

env -u MITOGEN_ASKPASS setsid -w "$MITOGEN" run -K "sudo:root,sudo_path='$tmp/sudo-1'" -- true \
  >"$tmp/err" 2>&1 </dev/null
status=$?
check "-K with no terminal and no askpass program says so" \
  bash -c "test $status = 1 && grep -q 'no terminal to ask for a password on' '$tmp/err'"

# sudo on a host whose name does not resolve warns first (seen on a fresh
# Debian): the warning must not be taken for a refusal.
cat >"$tmp/sudo-warns" <<'EOS'
#!/bin/sh
echo "sudo: unable to resolve host vm: Name or service not known" >&2
while [ "$1" != -- ]; do shift; done; shift
exec "$@"
EOS
chmod +x "$tmp/sudo-warns"
check "a sudo that warns it cannot resolve the host still starts the agent" \
  test "$("$MITOGEN" run "sudo:root,sudo_path='$tmp/sudo-warns'" -- echo started </dev/null 2>/dev/null)" = started

# At a terminal: script(1) gives the tool one, and types the password.
printf 'pw-of-hop-1\n' | env -u MITOGEN_ASKPASS script -qec \
  "'$MITOGEN' run -K \"sudo:root,sudo_path='$tmp/sudo-1'\" -- echo typed-in" /dev/null >"$tmp/out" 2>&1
check "-K asks on the terminal and takes what is typed" \
  bash -c "grep -q 'sudo password for hop 1' '$tmp/out' && grep -q typed-in '$tmp/out'"

# Found by fuzz-target: bytes that are not UTF-8 made a GLib critical.
check "a call argument that is not UTF-8 goes as bytes" \
  test "$("$MITOGEN" call local core.echo $'\xff' </dev/null)" = "b'\\377'"
"$MITOGEN" run $'loc\xffal' -- true 2>"$tmp/err" </dev/null
check "a target that is not UTF-8 is refused" \
  bash -c "test $? = 1 && grep -q 'not valid UTF-8' '$tmp/err'"

# Containers and namespaces: setns:PID enters a process's namespaces (as
# root); a path as the argument is quoted, since '/' joins hops.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  unshare --uts sh -c 'hostname mitogen-cli-ns && exec sleep 120' </dev/null >/dev/null 2>&1 &
  ns=$!
  for i in $(seq 100); do [ "$(cat /proc/$ns/comm 2>/dev/null)" = sleep ] && break; sleep 0.05; done
  check "setns:PID runs the command in that process's namespaces" \
    test "$("$MITOGEN" run "setns:$ns" -- hostname </dev/null)" = mitogen-cli-ns
  kill -KILL $ns; wait $ns 2>/dev/null
else
  n=$((n + 1)); echo "ok $n # SKIP setns needs root and unshare"
fi
"$MITOGEN" run chroot:/srv/root -- true 2>"$tmp/err" </dev/null
check "a path argument left unquoted is refused with a hint" \
  grep -qF "chroot:'/srv/root'" "$tmp/err"

# What run starts dies with the tool, process group and all: the agent
# loses its parent and kills the groups of its children before it exits.
count_cmdline() {  # count_cmdline 'WORDS': processes whose argv is exactly WORDS
  local f n=0
  for f in /proc/[0-9]*/cmdline; do
    [ "$(tr '\0' ' ' <"$f" 2>/dev/null)" = "$1 " ] && n=$((n + 1))
  done
  echo $n
}
wait_count() {  # wait_count 'WORDS' N: up to 10 s for N such processes
  local i
  for i in $(seq 100); do
    [ "$(count_cmdline "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
# INT, TERM and HUP reach the tool (it cancels the call, and the agent
# kills the command's group); KILL does not, and the agent, losing its
# parent, does the same. Either way the tool exits 128+N, as ssh does.
# A shell's background job starts with SIGINT ignored, and a run under
# nohup with SIGHUP ignored (the tool keeps ignored signals ignored, as it
# should): env restores them for the test.
i=0
for sig in KILL TERM INT HUP; do
  i=$((i + 1))
  a=30.13${i}1 b=30.13${i}2
  env --default-signal=INT,TERM,HUP "$MITOGEN" run local -- sh -c "sleep $a & sleep $b; echo never" \
    </dev/null >/dev/null 2>&1 &
  cli=$!
  wait_count "sleep $a" 1 && wait_count "sleep $b" 1
  started=$?
  kill -$sig $cli
  wait $cli 2>/dev/null
  status=$?
  wait_count "sleep $a" 0 && wait_count "sleep $b" 0
  gone=$?
  check "SIG$sig to run kills the command and what it started" \
    test "$started" = 0 -a "$gone" = 0
  check "SIG$sig to run exits 128+$(kill -l $sig) (got $status)" test "$status" = $((128 + $(kill -l $sig)))
done

# A stopped agent keeps the tool waiting only so long: interrupted, it
# gives up on stopping its context after 10 s, disconnects and exits.
"$MITOGEN" run local -- sh -c "echo \$PPID >'$tmp/agent'; kill -STOP \$PPID; true" \
  </dev/null >/dev/null 2>&1 &
cli=$!
agent=
for i in $(seq 100); do  # up to 10 s for the agent to stop itself
  agent=$(cat "$tmp/agent" 2>/dev/null)
  [ -n "$agent" ] && [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$agent/stat" 2>/dev/null)" = T ] && break
  sleep 0.1
done
started=$SECONDS
kill -TERM $cli
timeout 60 tail --pid=$cli -f /dev/null
took=$((SECONDS - started))
wait $cli
status=$?
[ -n "$agent" ] && kill -KILL "$agent" 2>/dev/null
check "run with a stopped agent exits 143 within 30 s of SIGTERM (took $took s)" \
  test "$status" = 143 -a "$took" -lt 30

# --command-timeout: the agent kills the command at the deadline; a stopped
# agent, which cannot, is given up on a few seconds later. Both exit 124.
start=$SECONDS
# run streams: output shows as it comes, stdin flows as it is read.
# The first line's arrival time is written by a reader that stamps it.
"$MITOGEN" run local -- sh -c 'echo a; sleep 3; echo b' </dev/null |
  { read -r first; echo "$first $SECONDS" >"$tmp/first"; cat >/dev/null; echo "$SECONDS" >"$tmp/last"; }
read -r first first_at <"$tmp/first"
check "run shows a line while the command still runs (a at ${first_at}s, end at $(cat "$tmp/last")s)" \
  bash -c "test '$first' = a -a $(( $(cat "$tmp/last") - first_at )) -ge 2"
check "yes | run -- head -1 finishes" \
  bash -c "test \"\$(yes | timeout 30 '$MITOGEN' run local -- head -1)\" = y"
"$MITOGEN" run local -- sh -c 'for i in 1 2 3; do echo o$i; echo e$i >&2; sleep 0.1; done' \
  >"$tmp/out" 2>"$tmp/err" </dev/null
check "run keeps each stream's order" \
  bash -c "test \"\$(cat '$tmp/out' | tr '\n' ' ')\" = 'o1 o2 o3 ' -a \"\$(cat '$tmp/err' | tr '\n' ' ')\" = 'e1 e2 e3 '"
check "run -t gives the command a terminal, even without one here" \
  bash -c "'$MITOGEN' run -t local -- sh -c 'test -t 0 && test -t 1 && echo tty' </dev/null | grep -q tty"
check "run -t passes stdin to the terminal, and its EOF" \
  bash -c "printf 'typed\\n' | timeout 30 '$MITOGEN' run -t local -- sh -c 'read x; echo got \$x' | grep -q 'got typed'"
# On a terminal, -t gives the remote pty this terminal's size, and a
# resize here (SIGWINCH) reaches it.
cat >"$tmp/winch.py" <<'PY'
import fcntl, os, pty, struct, sys, termios, time
mitogen = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(mitogen, [mitogen, 'run', '-t', 'local', '--', 'sh', '-c', 'stty size; read x; stty size'])
def setsize(r, c):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', r, c, 0, 0))
setsize(30, 90)
seen = b''
deadline = time.monotonic() + 30
def read_until(text):
    global seen
    while text not in seen and time.monotonic() < deadline:
        try:
            seen += os.read(fd, 1024)
        except OSError:
            break
    return text in seen
ok1 = read_until(b'30 90')
setsize(40, 120)
time.sleep(0.5)
os.write(fd, b'x\r')
ok2 = read_until(b'40 120')
os.waitpid(pid, 0)
print(repr(seen), file=sys.stderr)
sys.exit(0 if ok1 and ok2 else 1)
PY
check "run -t on a terminal passes its size and its resizes" \
  timeout 60 /usr/bin/python3 "$tmp/winch.py" "$MITOGEN"
check "run streams 64 MiB of stdout in full" \
  bash -c "test \"\$('$MITOGEN' run local -- head -c 67108864 /dev/zero </dev/null | wc -c)\" = 67108864"
"$MITOGEN" run --command-timeout 1 local -- sleep 30 </dev/null 2>"$tmp/err"
status=$?
took=$((SECONDS - start))
check "run --command-timeout 1 -- sleep 30 exits 124 within 10 s (took $took s)" \
  bash -c "test $status = 124 -a $took -lt 10 && grep -q 'did not finish within 1 s' '$tmp/err'"
start=$SECONDS
"$MITOGEN" run --command-timeout 1 local -- sh -c "echo \$PPID >'$tmp/stopped'; kill -STOP \$PPID; sleep 3" \
  </dev/null 2>"$tmp/err"
status=$?
took=$((SECONDS - start))
kill -CONT "$(cat "$tmp/stopped")" 2>/dev/null
check "run --command-timeout with a stopped agent exits 124 within 15 s (took $took s)" \
  bash -c "test $status = 124 -a $took -lt 15 && grep -q 'timed out after 6 s' '$tmp/err'"
"$MITOGEN" call --command-timeout 1 local core.sleep 30.0 2>"$tmp/err"
check "call --command-timeout 1 exits 124" test $? = 124
"$MITOGEN" call --command-timeout -1 local core.ping 2>"$tmp/err"
check "a negative --command-timeout is refused" \
  bash -c "test $? = 1 && grep -q 'command-timeout' '$tmp/err'"

# An installed tool takes no plugins from a directory near it: only the
# tool in its own build tree finds the build's plugins by itself. A copy
# elsewhere (DIR/copy/bin), with a plugin planted where a build tree's
# would be (DIR/plugins/x), must not load it.
mkdir -p "$tmp/copy/bin" "$tmp/plugins/x"
cp "$MITOGEN" "$tmp/copy/bin/mitogen"
cp "$MITOGEN_TEST_PLANTED_PLUGIN" "$tmp/plugins/x/mitogen-transport-planted.so"
libdir=$(dirname "$(dirname "$MITOGEN")")
check "the planted plugin would load if asked for (MITOGEN_PLUGIN_PATH)" \
  bash -c "LD_LIBRARY_PATH='$libdir' MITOGEN_PLUGIN_PATH='$tmp/plugins/x' \
           '$tmp/copy/bin/mitogen' list-transports | grep -qx planted"
check "a copy of the tool outside its build tree ignores ../plugins" \
  bash -c "! env -u MITOGEN_AGENT_PATH -u MITOGEN_PLUGIN_PATH LD_LIBRARY_PATH='$libdir' \
             '$tmp/copy/bin/mitogen' list-transports | grep -qx planted"
check "the tool in its build tree still finds the build's plugins" \
  bash -c "env -u MITOGEN_PLUGIN_PATH '$MITOGEN' list-transports | grep -qx sudo"

# mitogen cp: both ways, trees, -p, errors.
cp_dir="$tmp/cp"
mkdir -p "$cp_dir/tree/sub" "$cp_dir/into"
head -c 300000 /dev/urandom >"$cp_dir/file"
echo small >"$cp_dir/tree/sub/a"
chmod 640 "$cp_dir/tree/sub/a"
touch -d @1000000000 "$cp_dir/tree/sub/a"
check "cp pushes a file to TARGET:/PATH" \
  bash -c "'$MITOGEN' cp '$cp_dir/file' 'local:$cp_dir/pushed' && cmp '$cp_dir/file' '$cp_dir/pushed'"
check "cp pulls a file from TARGET:/PATH" \
  bash -c "'$MITOGEN' cp 'local:$cp_dir/pushed' '$cp_dir/pulled' && cmp '$cp_dir/file' '$cp_dir/pulled'"
check "cp through a chain puts sources into an existing directory" \
  bash -c "'$MITOGEN' cp '$cp_dir/file' '$cp_dir/pushed' 'local/local:$cp_dir/into' &&
           cmp '$cp_dir/file' '$cp_dir/into/file' && cmp '$cp_dir/file' '$cp_dir/into/pushed'"
check "cp -r -p copies a tree with modes and times" \
  bash -c "'$MITOGEN' cp -r -p '$cp_dir/tree' 'local:$cp_dir/tree2' && diff -r '$cp_dir/tree' '$cp_dir/tree2' &&
           test \"\$(stat -c '%a %Y' '$cp_dir/tree2/sub/a')\" = '640 1000000000'"
"$MITOGEN" cp "$cp_dir/tree" "local:$cp_dir/tree3" 2>"$tmp/err"
status=$?
check "cp of a directory without -r fails with 1, saying so" \
  bash -c "test $status = 1 && grep -q 'is a directory' '$tmp/err' && test ! -e '$cp_dir/tree3'"
"$MITOGEN" cp "local:$cp_dir/nonexistent" "$cp_dir/x" 2>"$tmp/err"
status=$?
check "cp of a missing remote file fails with 1, naming it" \
  bash -c "test $status = 1 && grep -q nonexistent '$tmp/err' && test ! -e '$cp_dir/x'"
"$MITOGEN" cp "$cp_dir/file" "$cp_dir/not-remote" 2>"$tmp/err"
check "cp between two local paths fails clearly" \
  bash -c "test $? = 1 && grep -q 'not remote' '$tmp/err'"
check "cp splits TARGET:/PATH at the first ':' before '/', so IPv6 targets work" \
  bash -c "'$MITOGEN' cp --timeout 3 '$cp_dir/file' 'ssh:[::1]:1:/tmp/x' 2>&1 |
           grep -q 'ssh \\[::1\\]:1: cannot connect'"

"$MITOGEN" frobnicate 2>"$tmp/err"
status=$?
check "an unknown command fails, naming it" \
  bash -c "test $status = 2 && grep -q frobnicate '$tmp/err'"

exit $failed
