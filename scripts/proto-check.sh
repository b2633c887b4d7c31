#!/usr/bin/env bash
# Fails when proto/ does not lint or when gen/ differs from what `make proto` would write.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

buf lint
buf generate --output "$out"
if ! diff -r gen "$out/gen"; then
  echo "proto-check: gen/ is out of date with proto/: run 'make proto' and commit gen/" >&2
  exit 1
fi
echo "proto-check: buf lint clean, gen/ matches proto/"
