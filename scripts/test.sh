#!/usr/bin/env bash
# The one test entry point (`make test`, which .ci/run runs). Builds, starts dockerd when
# needed (always in CI), checks gen/ against proto/, builds the images when Docker answers,
# runs vitest (extra arguments go to vitest) and ends with the line
# `N passed, N failed, N retried[, N skipped]`; each retried test is named above it (vitest's
# `retry: 1` in CI would otherwise hide a flake as a pass). Exits non-zero when a test or a
# step failed, or vitest crashed, and in CI (CI=true) when any test was skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export PATH="$ROOT/node_modules/.bin:$PATH"
RUN_DIR="$ROOT/.tether-run"
SUMMARY_FILE="$RUN_DIR/test-summary.txt"
mkdir -p "$RUN_DIR"
rm -f "$SUMMARY_FILE"
# No image registry is reachable: testcontainers must not try to pull its reaper image.
export TESTCONTAINERS_RYUK_DISABLED=true

say() { echo "test: $*"; }
now_ms() { date +%s%3N; }
failed_steps=()

# step LABEL CMD...: runs CMD, logs its duration, records a failure but carries on so the
# tests still run and the summary still comes last.
step() {
  local label="$1" t0 rc=0 ms
  shift
  t0="$(now_ms)"
  say "$label ..."
  "$@" || rc=$?
  ms=$(( $(now_ms) - t0 ))
  if (( rc != 0 )); then
    say "$label FAILED (exit $rc) after $(( ms / 1000 )).$(( ms % 1000 / 100 )) s"
    failed_steps+=("$label")
    return 1
  fi
  say "$label done in $(( ms / 1000 )).$(( ms % 1000 / 100 )) s"
}

leased_dockerd=false
release_dockerd() {
  if [[ "$leased_dockerd" == true ]]; then
    leased_dockerd=false
    "$ROOT/scripts/start-dockerd.sh" release $$ || say "releasing dockerd failed; see $RUN_DIR/dockerd.log"
  fi
}
trap release_dockerd EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -f scripts/build.mjs ]]; then
  step "build (node scripts/build.mjs)" node scripts/build.mjs
else
  say "scripts/build.mjs not present yet; skipping the build"
fi

# Docker: CI must run the container backend, so a daemon is started there; elsewhere one is
# started when docker is installed but nothing answers. A lease keeps it up while this run
# (or a concurrent one) needs it; the last one out stops a daemon started this way.
docker_answers=false
if [[ "${CI:-}" == true ]] || PATH="$PATH:/usr/sbin:/sbin" command -v dockerd >/dev/null 2>&1 \
    || "$ROOT/scripts/start-dockerd.sh" status; then
  if step "docker daemon" "$ROOT/scripts/start-dockerd.sh" lease $$; then
    leased_dockerd=true
    docker_answers=true
  fi
else
  say "docker is not installed: container-backend tests will skip (run scripts/setup.sh as root to install it)"
fi

step "proto-check" make --no-print-directory proto-check
step "type-check (tsc --noEmit)" tsc -p tsconfig.json --noEmit
step "lint (eslint)" eslint .

if [[ "$docker_answers" == true ]]; then
  step "images (scripts/build-image.sh)" "$ROOT/scripts/build-image.sh"
fi

# Two passes: the suites, then the load tests (and `make bench ARGS=--quick`) alone. A soak that shares the two cores with
# the rest starves timing-sensitive tests and measures contention instead of the server.
# Extra arguments (a file filter) run one pass over what they select.
vitest_rc=0
reports=()
vitest_pass() {
  local label="$1" report="$RUN_DIR/vitest-$1.json" notes="$RUN_DIR/vitest-$1-notes.json" t0 rc=0 ms
  shift
  rm -f "$report" "$notes"
  reports+=("$report" "$notes")
  t0="$(now_ms)"
  say "vitest ($label) ..."
  TETHER_TEST_NOTES="$notes" vitest run --reporter=default --reporter=json --outputFile.json="$report" \
    --reporter=./scripts/vitest-retries.mjs "$@" || rc=$?
  ms=$(( $(now_ms) - t0 ))
  say "vitest ($label) exited $rc after $(( ms / 1000 )).$(( ms % 1000 / 100 )) s"
  (( rc == 0 )) || vitest_rc=$rc
}
if (( $# > 0 )); then
  vitest_pass selected "$@"
else
  vitest_pass suites --exclude 'test/load/**' --exclude bench/quick-run.test.ts
  vitest_pass load test/load bench/quick-run.test.ts
fi

release_dockerd

# The summary is the last line. Failures are failed tests, test files that failed to load,
# failed steps, and a non-zero vitest exit that the report does not explain (a crash or
# unhandled errors).
if (( ${#failed_steps[@]} > 0 )); then say "failed steps: ${failed_steps[*]}"; fi
summary="$(node scripts/test-summary.mjs "$vitest_rc" "${#failed_steps[@]}" "${reports[@]}")"
echo "$summary" >"$SUMMARY_FILE"
echo "$summary"
[[ "$summary" =~ ^[0-9]+\ passed,\ 0\ failed ]] && (( vitest_rc == 0 ))
