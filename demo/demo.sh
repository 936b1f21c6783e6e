#!/usr/bin/env bash
# The relay in thirty seconds: a server, two writers, a reader that prints what they said,
# then a reader that comes back later and gets what it missed.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${DEMO_INSTALLED:-}" ] || [ -f dist/commands/run-server.js ] || npm run build >/dev/null

work=$(mktemp -d)
# The clients remember each server's key (known_servers) in the demo's own config directory, not yours:
# a later demo's server may get the same port with a key of its own.
export XDG_CONFIG_HOME="$work/config"
cleanup() { for p in ${server:-} ${server_a:-} ${server_b:-} ${redis:-}; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# The commands by their names, as after `npm install -g`: this checkout's (or, with DEMO_INSTALLED=1,
# the ones already on PATH).
if [ -z "${DEMO_INSTALLED:-}" ]; then
  mkdir "$work/bin"
  for c in run-server run-writer run-reader run-chat; do ln -s "$PWD/bin/$c.js" "$work/bin/$c"; done
  PATH="$work/bin:$PATH"
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Waits (up to 10 s) until a file holds a pattern: a client's log saying it is registered, say.
until_in() { for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return; sleep 0.1; done; echo "gave up waiting for '$2' in $1" >&2; return 1; }

step "Start a server on a free loopback port, with its status page on another"
run-server --port 0 --http 0 --data-dir "$work/data" ${DEMO_STORE:+--store "$DEMO_STORE"} 2>"$work/server.log" &
server=$!
for _ in $(seq 50); do grep -q '"port"' "$work/server.log" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o '"port":[0-9]*' "$work/server.log" | head -1 | cut -d: -f2)
status_page=$(grep -o '"http":"[^"]*"' "$work/server.log" | head -1 | cut -d'"' -f4)
export RELAY_PORT=$port
echo "server on 127.0.0.1:$port; status page $status_page (open it in a browser: it follows the demo live)"
echo "every session is encrypted; the server's key is $(grep -o '"serverKey":"[^"]*"' "$work/server.log" | head -1 | cut -d'"' -f4) (clients remember it on first contact)"

step "A reader (ops) waits for messages"
run-reader --username ops --count 6 --log-level info 2>"$work/ops.log" &
reader=$!
until_in "$work/ops.log" 'registered as'

step "Two writers pipe lines into the relay at the same time"
printf 'GET /index.html 200\nGET /missing 404\nPOST /login 302\n' | run-writer --username web1 --log-level warn &
printf 'disk 81%% full\nbackup done\nload 0.42\n' | run-writer --username db1 --log-level warn &
wait %2 %3
wait "$reader"

step "The same lines as JSON, from the start of the log, for another reader"
run-reader --username audit --from earliest --format json --count 6 --log-level warn

step "audit comes back later: the server kept its place, so it gets only what is new"
printf 'one more thing\n' | run-writer --username web1 --log-level warn
run-reader --username audit --format json --count 1 --log-level warn

step "A direct message: only bob's reader gets it, even though bob reads later"
printf 'bob, the build is green\n' | run-writer --username ci --to bob --log-level warn
run-reader --username bob --from earliest --count 8 --log-level warn | tail -n 1

step "A whole file as one message, and a one-shot read of what is new"
printf 'build 1234\npassed: 87\nfailed: 0\n' > "$work/report.txt"
run-writer --username ci --file "$work/report.txt" --log-level warn
run-reader --username audit --once --format json --log-level warn
run-reader --username audit --once --log-level warn || echo "(exit code $?: nothing new since the last --once)"

step "Who is registered, online or not (--who)"
run-reader --username me --who --log-level warn

step "A queue group: three workers share 9 jobs, each job to one of them"
workers=()
for w in w1 w2 w3; do
  run-reader --username "$w" --group jobs --format json --log-level info >"$work/$w.jobs" 2>"$work/$w.log" &
  workers+=($!)
done
for w in w1 w2 w3; do until_in "$work/$w.log" 'registered as'; done
seq -f 'job %g' 1 9 | run-writer --username dispatcher --to jobs --log-level warn
for _ in $(seq 100); do [ "$(cat "$work"/w?.jobs | wc -l)" -ge 9 ] && break; sleep 0.1; done
kill -INT "${workers[@]}"; wait "${workers[@]}" || true
for w in w1 w2 w3; do printf '%s took: ' "$w"; (grep -o '"text":"[^"]*"' "$work/$w.jobs" | cut -d'"' -f4 | paste -sd, -) || echo; done

step "run-chat over TCP, fed from a pipe (on a terminal it is interactive: /to, /who, /away, /quit); bob reads over TCP too"
printf 'hello from the chat\n/to bob a direct one\n' | run-chat --username carol --transport tcp
echo "a chat's direct messages wait in chat.direct, whatever room each person is in: bob reads his there"
run-reader --username bob --topic chat.direct --from earliest --once --log-level warn --address "tcp://127.0.0.1:$port"

step "Topics: two log streams and a chat room on one server, each a log of its own"
printf 'GET / 200\nGET /api 500\n' | run-writer --username web1 --topic logs.web --log-level warn
printf 'slow query 2.1 s\n' | run-writer --username db1 --topic logs.db --log-level warn
printf 'deploying now\n' | run-chat --username carol --topic chat.ops
echo "ops reads logs.web, then logs.db (ids start at 1 in each), then the room: no log line in it"
run-reader --username ops --topic logs.web --from earliest --once --format json --log-level warn
run-reader --username ops --topic logs.db --from earliest --once --format json --log-level warn
run-reader --username ops --topic chat.ops --from earliest --once --log-level warn
echo "audit reads every log stream by a pattern, logs.> (each line names its topic), and no chat"
run-reader --username audit --topic 'logs.>' --from earliest --once --log-level warn

step "What the server counted, from its Prometheus metrics ($status_page""metrics)"
node -e "fetch(process.argv[1] + 'metrics').then((r) => r.text()).then((t) => console.log(t.split('\\n').filter((l) => /^relay_(messages_stored_total|commits_total|sessions_opened_total|log_messages\\{bound=\"next)/.test(l)).join('\\n')))" "$status_page"

step "Ship a log file exactly once (run-writer --follow): the shipper is killed, the log rotated meanwhile"
printf 'boot\n' >"$work/app.log"
run-reader --username archive --count 5 --log-level info 2>"$work/archive.log" >"$work/archive.out" &
archive=$!
until_in "$work/archive.log" 'registered as'
run-writer --username shipper --follow "$work/app.log" --from-start --log-level info 2>"$work/shipper.log" &
shipper=$!
until_in "$work/shipper.log" 'registered as'
printf 'request 1\nrequest 2\n' >>"$work/app.log"
sleep 1
kill -9 "$shipper"; wait "$shipper" 2>/dev/null || true
echo "(shipper killed with kill -9; while it is down, one more line, the log renamed to app.log.1, a new app.log)"
printf 'request 3\n' >>"$work/app.log"; mv "$work/app.log" "$work/app.log.1"; printf 'request 4\n' >"$work/app.log"
run-writer --username shipper --follow "$work/app.log" --log-level warn &
shipper=$!
wait "$archive"
kill -TERM "$shipper"; wait "$shipper"
sed "s|$work/||" "$work/archive.out"

step "A writer whose server is gone says so and exits non-zero"
printf 'hello?\n' | run-writer --username lost --port 9 --timeout 1 --log-level warn || echo "(exit code $?)"

if command -v redis-server >/dev/null; then
  step "Two servers on one Redis; server A is killed mid-stream, and writer and reader move to B"
  redis_port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly yes --dir "$work" >/dev/null &
  redis=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break; sleep 0.1; done
  # One key for both (--key-file): A makes it, B, started once A listens, uses it.
  start_server() { run-server --port 0 --store "redis://127.0.0.1:$redis_port" --key-file "$work/shared-key.pem" >/dev/null 2>"$work/$1.log" & echo $!; }
  port_of() { for _ in $(seq 50); do grep -q '"port"' "$work/$1.log" 2>/dev/null && break; sleep 0.1; done; grep -o '"port":[0-9]*' "$work/$1.log" | head -1 | cut -d: -f2; }
  server_a=$(start_server a); port_a=$(port_of a)
  server_b=$(start_server b); port_b=$(port_of b)
  both="127.0.0.1:$port_a,127.0.0.1:$port_b"
  echo "servers A and B: $both"
  run-reader --username mover --address "$both" --format raw --count 6 --log-level info 2>"$work/mover.log" &
  mover=$!
  until_in "$work/mover.log" 'registered as'
  { printf 'one\ntwo\nthree\n'; sleep 1; kill -9 "$server_a"; echo "(server A killed)" >&2; printf 'four\nfive\nsix\n'; } |
    run-writer --username steady --address "$both" --log-level warn
  wait "$mover"
  kill "$server_b" "$redis" 2>/dev/null || true
else
  step "(redis-server is not installed: the several-servers part is skipped; apt-get install redis-server)"
fi
echo
