#!/usr/bin/env bash
# Compiles tether's C helpers with the system cc into build/native/. Idempotent: a
# target is rebuilt only when its source (or this script) is newer than the output.
# To add a helper, append one line to TARGETS: "output|source|extra cc flags|one more source"
# (the extra source is compiled in too and counts for the rebuild check).
# Usage: scripts/build-native.sh [OUTPUT...]   (no arguments: build every target)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/build/native"
CC="${CC:-cc}"
CFLAGS="${CFLAGS:--O2 -Wall -Wextra -Werror}"

TARGETS=(
  "tether-launch|services/exec-server/process/launcher/tether-launch.c|"
  "tether-zygote|services/exec-server/process/launcher/tether-zygote.c|-DLAUNCH_MAIN=tether_launch_main|services/exec-server/process/launcher/tether-launch.c"
  "tether-escalation-broker|services/exec-server/escalation/native/escalation-broker.c|"
  "tether-escalation-shim.so|services/exec-server/escalation/native/escalation-shim.c|-shared -fPIC -ldl"
  "tether-net-relay|services/exec-server/sandbox/native/net-relay.c|"
)

mkdir -p "$OUT"
for entry in "${TARGETS[@]}"; do
  IFS='|' read -r name src extra more <<<"$entry"
  if [[ $# -gt 0 && " $* " != *" $name "* ]]; then
    continue
  fi
  out="$OUT/$name"
  if [[ ! -f "$ROOT/$src" ]]; then
    echo "build-native: missing source $src for $name" >&2
    exit 1
  fi
  fresh=1
  for dep in "$ROOT/$src" ${more:+"$ROOT/$more"} "${BASH_SOURCE[0]}"; do
    [[ -x "$out" && "$out" -nt "$dep" ]] || fresh=0
  done
  if [[ $fresh == 1 ]]; then
    continue
  fi
  # Build to a temp name and rename, so a running test never sees a half-written binary.
  tmp="$out.tmp.$$"
  # shellcheck disable=SC2086 # CFLAGS and extra flags are word lists on purpose
  "$CC" $CFLAGS -o "$tmp" "$ROOT/$src" ${more:+"$ROOT/$more"} $extra
  mv -f "$tmp" "$out"
  echo "build-native: built build/native/$name"
done
