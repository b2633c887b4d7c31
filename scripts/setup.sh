#!/usr/bin/env bash
# One idempotent setup for tether: system packages (apt-get when root), npm packages
# (`npm ci` when node_modules is missing or package-lock.json changed) and the C helpers.
# Fast no-op when everything is present. `--npm-only` does just the npm part.
set -euo pipefail
cd "$(dirname "$0")/.."

npm_only=false
for arg in "$@"; do
  case "$arg" in
    --npm-only) npm_only=true ;;
    -h|--help) echo "usage: scripts/setup.sh [--npm-only]"; exit 0 ;;
    *) echo "setup: unknown argument '$arg' (usage: scripts/setup.sh [--npm-only])" >&2; exit 2 ;;
  esac
done

say() { echo "setup: $*"; }

# Debian package -> what proves it is present (commands, or absolute paths).
# Checked by presence, not by dpkg name, so e.g. docker-ce satisfies docker.io and
# apt-get is never asked to swap one for the other.
PACKAGES=(
  "bubblewrap:bwrap"
  "zsh:zsh"
  "docker.io:docker dockerd"
  "debootstrap:debootstrap"
  "openssh-server:/usr/sbin/sshd"
  "openssh-client:ssh ssh-keygen"
  "iproute2:ip"
  "openssl:openssl"
  "procps:ps pkill"
  "iptables:iptables"
  "ca-certificates:/etc/ssl/certs/ca-certificates.crt"
  "gcc:cc"
  "make:make"
  # node-gyp builds node-pty (no Linux prebuild) during npm ci.
  "g++:g++"
  "python3:python3"
  "curl:curl"
)

present() {
  local probe
  for probe in "$@"; do
    if [[ "$probe" == /* ]]; then
      [[ -e "$probe" ]] || return 1
    else
      # sbin is not on every user's PATH, but the tools there still count.
      PATH="$PATH:/usr/sbin:/sbin" command -v "$probe" >/dev/null 2>&1 || return 1
    fi
  done
}

system_packages() {
  local missing=() entry pkg probes
  for entry in "${PACKAGES[@]}"; do
    pkg="${entry%%:*}"
    probes="${entry#*:}"
    # shellcheck disable=SC2086 # probes is a space-separated list on purpose
    present $probes || missing+=("$pkg")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0

  say "missing system packages: ${missing[*]}"
  local install=(apt-get install -y -q --no-install-recommends "${missing[@]}")
  if [[ "$(id -u)" -ne 0 ]]; then
    say "not root, so not installing them. Run:"
    echo "    sudo apt-get update && sudo ${install[*]}"
    if [[ "${TETHER_SETUP_ALLOW_MISSING:-}" == 1 ]]; then
      say "TETHER_SETUP_ALLOW_MISSING=1: continuing; tests needing them will skip or fail"
      return 0
    fi
    say "(or set TETHER_SETUP_ALLOW_MISSING=1 to continue without them)"
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "apt-get not found: install these packages with your system's package manager: ${missing[*]}"
    exit 1
  fi
  say "apt-get update && ${install[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  "${install[@]}"
}

check_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    say "node/npm not found: install Node.js 20.12 or newer (Debian 12's nodejs is 18, too old;"
    say "use https://nodejs.org or the NodeSource 20.x packages), then rerun."
    exit 1
  fi
  local version
  version="$(node -p 'process.versions.node')"
  if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=12)?0:1)'; then
    say "node $version is too old: tether needs Node.js 20.12 or newer (package.json engines)."
    exit 1
  fi
}

npm_packages() {
  # npm writes node_modules/.package-lock.json on every install; a package-lock.json
  # newer than it (fresh clone, pull, edit) means node_modules is stale.
  if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    say "npm ci (node_modules missing or package-lock.json changed)"
    # node-gyp would download node's headers from nodejs.org, which CI cannot reach; use the
    # ones installed beside node when there are any.
    local prefix
    prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
    if [[ -z "${npm_config_nodedir:-}" && -z "$(npm config get nodedir 2>/dev/null | grep -v '^undefined$' || true)" \
          && -f "$prefix/include/node/node.h" ]]; then
      export npm_config_nodedir="$prefix"
    fi
    npm ci --no-audit --no-fund
    touch node_modules/.package-lock.json
  fi
}

native_helpers() {
  if [[ -f scripts/build-native.sh ]]; then
    bash scripts/build-native.sh
  fi
}

check_node
if [[ "$npm_only" == true ]]; then
  npm_packages
  exit 0
fi
system_packages
npm_packages
native_helpers
