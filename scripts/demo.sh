#!/usr/bin/env bash
# The main job, end to end: start an exec server on a private Unix socket, run commands
# through it with `tether run` (pipes, exit codes, a sandbox, a zsh-fork shell), stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
TETHER=(node "$PWD/bin/tether.js")
DIR="$(mktemp -d /tmp/tether-demo.XXXXXX)"
SOCK="$DIR/exec.sock"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting: tether exec-server --listen unix://$SOCK"
"${TETHER[@]}" exec-server --listen "unix://$SOCK" --cwd "$DIR" >"$DIR/server.out" 2>"$DIR/server.err" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^listening ' "$DIR/server.out" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$DIR/server.err" >&2; exit 1; }
  sleep 0.05
done
head -1 "$DIR/server.out"
ENV=(--env "unix://$SOCK")

say "a command through it: uname -a"
"${TETHER[@]}" run "${ENV[@]}" -- uname -a

say "stdin and stdout are piped byte-exact"
printf 'hello from the client\n' | "${TETHER[@]}" run "${ENV[@]}" -- tr a-z A-Z

say "the exit code comes back"
set +e
"${TETHER[@]}" run "${ENV[@]}" -- sh -c 'echo "to stderr" >&2; exit 3'
echo "exit code: $?"
set -e

say "a read-only sandbox refuses writes (bubblewrap)"
set +e
"${TETHER[@]}" run "${ENV[@]}" --sandbox read-only -- sh -c "touch $DIR/file"
echo "exit code: $?"
set -e

say "workspace-write: writable inside the root only"
"${TETHER[@]}" run "${ENV[@]}" --sandbox workspace-write --writable-root "$DIR" -- sh -c "echo ok > $DIR/file && cat $DIR/file"

say "zsh-fork: every exec of the shell asks the controller (here: --decide deny)"
set +e
"${TETHER[@]}" run "${ENV[@]}" --shell zsh-fork --decide deny -- 'echo hi | tr a-z A-Z'
echo "exit code: $?"
set -e

say "zsh-fork with --decide escalate: the command runs outside the read-only sandbox"
"${TETHER[@]}" run "${ENV[@]}" --sandbox read-only --shell zsh-fork --decide escalate -- "touch $DIR/escalated && echo escalated"

say "done; stopping the exec server"
