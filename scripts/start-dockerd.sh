#!/usr/bin/env bash
# Starts (or stops) a private dockerd for tests and image builds when no daemon answers.
#   scripts/start-dockerd.sh [start]         start one unless a daemon answers; it stays up
#   scripts/start-dockerd.sh stop            remove its containers, SIGTERM it, wait for its PIDs
#   scripts/start-dockerd.sh status          exit 0 when a daemon answers
#   scripts/start-dockerd.sh lease PID       PID needs a daemon: start one (temporary) if none answers
#   scripts/start-dockerd.sh release PID     PID is done; the last holder stops a temporary daemon
# Only a daemon this script started (pid in .tether-run/dockerd.pid) is ever stopped. Leases
# let concurrent `make test` runs share one daemon: none stops it under another.
#
# Networking: the default bridge is kept (containers get an address on docker0 the host can
# reach directly, and -p works through docker-proxy), but --iptables=false leaves the host's
# firewall alone (no FORWARD DROP policy, no MASQUERADE). IPv4 forwarding stays on as dockerd
# sets it (with it off every `docker run` warns "Networking will not work").
# TETHER_DOCKERD_NETWORK=none adds --bridge=none: faster container start, but then only
# --network host/none work; clean containers before stopping (stale sandboxes slow restarts).
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_DIR="$PWD/.tether-run"
PID_FILE="$RUN_DIR/dockerd.pid"
LEASE_DIR="$RUN_DIR/dockerd-leases"
# Present while the running daemon was started for leases, not by a person: stop it after them.
TEMPORARY_MARK="$RUN_DIR/dockerd.temporary"
LOG_FILE="$RUN_DIR/dockerd.log"
SOCKET="/var/run/docker.sock"
if [[ "${DOCKER_HOST:-}" == unix://* ]]; then SOCKET="${DOCKER_HOST#unix://}"; fi
READY_TIMEOUT_S="${TETHER_DOCKERD_READY_TIMEOUT_S:-60}"
STOP_TIMEOUT_S="${TETHER_DOCKERD_STOP_TIMEOUT_S:-30}"

say() { echo "dockerd: $*"; }
now_ms() { date +%s%3N; }

answers() {
  # _ping over the socket: cheaper than `docker info` and needs no CLI.
  [[ -S "$SOCKET" ]] && [[ "$(curl -s --max-time 2 --unix-socket "$SOCKET" http://docker/_ping 2>/dev/null)" == OK ]]
}

alive() { kill -0 "$1" 2>/dev/null; }
# Alive and not a zombie: a daemon started by this very shell stays a zombie until reaped.
running() { alive "$1" && [[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]]; }
# The recorded pid is still a dockerd (not a reused pid after a crash or reboot).
is_dockerd() { alive "$1" && [[ "$(cat "/proc/$1/comm" 2>/dev/null)" == dockerd ]]; }

start() {
  if answers; then
    say "a daemon already answers at $SOCKET; not starting another"
    return 0
  fi
  local dockerd_bin
  dockerd_bin="$(PATH="$PATH:/usr/sbin:/sbin" command -v dockerd || true)"
  if [[ -z "$dockerd_bin" ]]; then
    say "dockerd not found: run scripts/setup.sh (installs docker.io) or apt-get install -y docker.io"
    return 1
  fi
  if [[ -f "$PID_FILE" ]] && is_dockerd "$(cat "$PID_FILE")"; then
    say "dockerd $(cat "$PID_FILE") is running but does not answer at $SOCKET; stop it with '$0 stop' (log: $LOG_FILE)"
    return 1
  fi
  mkdir -p "$RUN_DIR"
  local flags=(--iptables=false --host "unix://$SOCKET")
  if [[ "${TETHER_DOCKERD_NETWORK:-bridge}" == none ]]; then flags+=(--bridge=none); fi
  local t0
  t0="$(now_ms)"
  # setsid: its own session, so a Ctrl-C meant for the tests does not kill the daemon
  # before the trap has removed its containers.
  # 9>&-: the daemon must not inherit the bookkeeping lock, or it would hold it for life.
  setsid "$dockerd_bin" "${flags[@]}" >"$LOG_FILE" 2>&1 </dev/null 9>&- &
  local pid=$!
  echo "$pid" >"$PID_FILE"
  local deadline=$(( $(now_ms) + READY_TIMEOUT_S * 1000 ))
  until answers; do
    if ! alive "$pid"; then
      say "dockerd exited during start-up; last lines of $LOG_FILE:"
      tail -n 20 "$LOG_FILE" >&2
      rm -f "$PID_FILE"
      return 1
    fi
    if (( $(now_ms) > deadline )); then
      say "dockerd did not answer at $SOCKET within ${READY_TIMEOUT_S}s (log: $LOG_FILE); stopping it"
      stop
      return 1
    fi
    sleep 0.05
  done
  say "started pid $pid (${flags[*]}), ready after $(( $(now_ms) - t0 )) ms; log: $LOG_FILE"
}

stop() {
  if [[ ! -f "$PID_FILE" ]]; then
    say "no dockerd started by this script (no $PID_FILE); nothing to stop"
    return 0
  fi
  local pid t0
  pid="$(cat "$PID_FILE")"
  t0="$(now_ms)"
  if ! is_dockerd "$pid"; then
    say "dockerd $pid already gone"
    rm -f "$PID_FILE"
    return 0
  fi
  # Containers first: left-over network sandboxes slow the next daemon start.
  if answers && command -v docker >/dev/null 2>&1; then
    local ids
    ids="$(docker ps -aq 2>/dev/null || true)"
    if [[ -n "$ids" ]]; then
      # shellcheck disable=SC2086 # one id per word
      docker rm -f $ids >/dev/null 2>&1 || say "could not remove some containers: $ids"
    fi
  fi
  # dockerd runs its own containerd as a child; wait for that as well.
  local children
  children="$(pgrep -P "$pid" 2>/dev/null || true)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( $(now_ms) + STOP_TIMEOUT_S * 1000 ))
  local p
  for p in $pid $children; do
    while running "$p"; do
      if (( $(now_ms) > deadline )); then
        say "pid $p still running ${STOP_TIMEOUT_S}s after SIGTERM; sending SIGKILL"
        kill -KILL "$p" 2>/dev/null || true
      fi
      sleep 0.05
    done
  done
  rm -f "$PID_FILE"
  say "stopped pid $pid in $(( $(now_ms) - t0 )) ms"
}

# Serialises lease bookkeeping with starting and stopping (flock is in util-linux).
with_lock() {
  mkdir -p "$RUN_DIR" "$LEASE_DIR"
  exec 9>"$RUN_DIR/dockerd.lock"
  flock 9
}

prune_leases() {
  local lease
  for lease in "$LEASE_DIR"/*; do
    [[ -e "$lease" ]] || continue
    alive "$(basename "$lease")" || rm -f "$lease"
  done
}

lease() {
  local holder="$1"
  with_lock
  prune_leases
  touch "$LEASE_DIR/$holder"
  if answers; then return 0; fi
  start || { rm -f "$LEASE_DIR/$holder"; return 1; }
  touch "$TEMPORARY_MARK"
}

release() {
  local holder="$1"
  with_lock
  rm -f "$LEASE_DIR/$holder"
  prune_leases
  if [[ -n "$(ls -A "$LEASE_DIR")" ]]; then
    say "leaving the daemon up for $(ls "$LEASE_DIR" | wc -l) other user(s)"
    return 0
  fi
  if [[ -f "$TEMPORARY_MARK" ]]; then
    rm -f "$TEMPORARY_MARK"
    stop
  elif [[ -f "$PID_FILE" ]]; then
    say "leaving dockerd $(cat "$PID_FILE") up: it was started (or kept) with '$0 start'; '$0 stop' stops it"
  fi
}

need_pid() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] || { echo "usage: $0 lease|release PID (the process that uses the daemon)" >&2; exit 2; }
}

case "${1:-start}" in
  # A person starting or stopping it takes it out of lease bookkeeping.
  start) with_lock; start; rm -f "$TEMPORARY_MARK" ;;
  stop) with_lock; stop; rm -f "$TEMPORARY_MARK" ;;
  status) answers ;;
  lease) need_pid "${2:-}"; lease "$2" ;;
  release) need_pid "${2:-}"; release "$2" ;;
  *) echo "usage: $0 [start|stop|status|lease PID|release PID]" >&2; exit 2 ;;
esac
