#!/usr/bin/env bash
# Builds the local images, logging how long each step took:
#   tether-base:bookworm       debootstrap minbase rootfs imported with `docker import`
#                              (skipped when it exists; TETHER_REBUILD_BASE=1 forces it)
#   tether-runtime:<hash>      deploy/Dockerfile.runtime: host node binary + production
#                              node_modules (skipped when that hash is already built)
#   tether-exec-server:latest  deploy/Dockerfile: the runtime + build/native + dist
# Starts a private dockerd for the duration when none answers (scripts/start-dockerd.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

BASE_IMAGE="${TETHER_BASE_IMAGE:-tether-base:bookworm}"
SERVER_IMAGE="${TETHER_SERVER_IMAGE:-tether-exec-server:latest}"
SUITE=bookworm
# Beyond minbase: what the exec server runs (zsh-fork, bwrap sandbox, TLS roots, ps/pkill).
# libstdc++6/libgcc-s1 are node's; minbase has them already (apt needs them), listed to be sure.
INCLUDE="${TETHER_BASE_INCLUDE:-libstdc++6,libgcc-s1,zsh,bubblewrap,ca-certificates,procps}"
RUN_DIR="$ROOT/.tether-run"
CONTEXT="$RUN_DIR/image-context"
RUNTIME_REPO=tether-runtime
export DOCKER_BUILDKIT=0 # no buildx on the target machines: the legacy builder, explicitly

say() { echo "build-image: $*"; }
now_ms() { date +%s%3N; }
T_ALL="$(now_ms)"
# step LABEL CMD...: runs CMD and logs its duration.
step() {
  local label="$1" t0 rc=0
  shift
  t0="$(now_ms)"
  say "$label ..."
  "$@" || rc=$?
  local ms=$(( $(now_ms) - t0 ))
  if (( rc != 0 )); then
    say "$label FAILED after $(( ms / 1000 )).$(( ms % 1000 / 100 )) s (exit $rc)"
    exit "$rc"
  fi
  say "$label done in $(( ms / 1000 )).$(( ms % 1000 / 100 )) s"
}

ROOTFS=""
LEASED_DOCKERD=false
cleanup() {
  if [[ -n "$ROOTFS" && -d "$ROOTFS" ]]; then rm -rf --one-file-system "$ROOTFS"; fi
  if [[ "$LEASED_DOCKERD" == true ]]; then "$ROOT/scripts/start-dockerd.sh" release $$; fi
}
trap cleanup EXIT

# The first Debian mirror the host's apt uses: deb822 `URIs:` of the stanza for the suite,
# else the first `deb` line of sources.list, else deb.debian.org.
debian_mirror() {
  if [[ -n "${TETHER_DEBIAN_MIRROR:-}" ]]; then echo "$TETHER_DEBIAN_MIRROR"; return; fi
  local uri=""
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    uri="$(awk -v suite="$SUITE" '
      /^[[:space:]]*$/ { if (uris != "" && ok) { print uris; exit } uris = ""; ok = 0; next }
      /^URIs:/ { split($0, a, /[[:space:]]+/); uris = a[2] }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
      END { if (uris != "" && ok) print uris }' /etc/apt/sources.list.d/debian.sources | head -n1)"
  fi
  if [[ -z "$uri" && -f /etc/apt/sources.list ]]; then
    uri="$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' /etc/apt/sources.list)"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# A lease: starts a daemon when none answers, and stops it afterwards unless others use it.
ensure_docker() {
  "$ROOT/scripts/start-dockerd.sh" lease $$
  LEASED_DOCKERD=true
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

debootstrap_rootfs() {
  debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOTFS" "$MIRROR" >"$RUN_DIR/debootstrap.log" 2>&1 || {
    say "debootstrap failed; last lines of $RUN_DIR/debootstrap.log:"
    tail -n 20 "$RUN_DIR/debootstrap.log" >&2
    return 1
  }
}

# Every library the host's node links against must be in the rootfs, or the image's node
# cannot start; say which package is missing rather than failing at `docker run`.
check_node_libs() {
  local lib missing=()
  for lib in $(ldd "$(command -v node)" | awk '$2 == "=>" && $3 ~ /^\// { print $1 }'); do
    if ! compgen -G "$ROOTFS/usr/lib/*/$lib" >/dev/null && ! compgen -G "$ROOTFS/lib/*/$lib" >/dev/null; then
      missing+=("$lib")
    fi
  done
  if (( ${#missing[@]} > 0 )); then
    say "the rootfs lacks libraries node needs: ${missing[*]} (add their packages to TETHER_BASE_INCLUDE)"
    return 1
  fi
}

strip_rootfs() {
  rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/archives/*.deb \
    "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/log/*.log "$ROOTFS"/tmp/* \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
}

import_rootfs() {
  tar --numeric-owner -C "$ROOTFS" -c . | docker import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
}

build_base() {
  if image_exists "$BASE_IMAGE" && [[ "${TETHER_REBUILD_BASE:-}" != 1 ]]; then
    say "$BASE_IMAGE exists; skipping debootstrap (TETHER_REBUILD_BASE=1 rebuilds it)"
    return 0
  fi
  command -v debootstrap >/dev/null || PATH="$PATH:/usr/sbin:/sbin"
  command -v debootstrap >/dev/null || { say "debootstrap not found: run scripts/setup.sh"; return 1; }
  MIRROR="$(debian_mirror)"
  mkdir -p "$RUN_DIR"
  ROOTFS="$(mktemp -d /var/tmp/tether-rootfs.XXXXXX)"
  step "debootstrap --variant=minbase $SUITE from $MIRROR" debootstrap_rootfs
  step "check node's libraries in the rootfs" check_node_libs
  step "strip apt lists, cached .debs, docs" strip_rootfs
  step "docker import -> $BASE_IMAGE" import_rootfs
  rm -rf --one-file-system "$ROOTFS"
  ROOTFS=""
}

# Hard links when on the same filesystem (instant), a copy otherwise.
link_or_copy() { cp -al "$@" 2>/dev/null || cp -a "$@"; }

# The runtime image's tag: changes with node, the lock file, its Dockerfile or the base.
runtime_tag() {
  { node -p process.version
    cat package-lock.json deploy/Dockerfile.runtime
    docker image inspect -f '{{.Id}}' "$BASE_IMAGE"
  } | sha256sum | cut -c1-12
}

stage_runtime() {
  rm -rf "$CONTEXT"
  mkdir -p "$CONTEXT/modules"
  link_or_copy "$(readlink -f "$(command -v node)")" "$CONTEXT/node"
  cp deploy/Dockerfile.runtime "$CONTEXT/Dockerfile"
  cp package.json package-lock.json "$CONTEXT/modules/"
  # Production dependencies only: the packages `npm ls --omit=dev` resolves, with their paths.
  local pkg
  while IFS= read -r pkg; do
    [[ -n "$pkg" && -d "$pkg" ]] || continue
    mkdir -p "$CONTEXT/modules/$(dirname "$pkg")"
    [[ -e "$CONTEXT/modules/$pkg" ]] || link_or_copy "$pkg" "$CONTEXT/modules/$pkg"
  done < <(npm ls --omit=dev --all --parseable 2>/dev/null | sed "s|^$ROOT/\{0,1\}||" | sort)
}

stage_server() {
  rm -rf "$CONTEXT"
  mkdir -p "$CONTEXT/native" "$CONTEXT/app"
  cp deploy/Dockerfile deploy/tether "$CONTEXT/"
  # Again here: the runtime layer's copy only changes with the lock file. dist/ is ESM and
  # needs its "type": "module"; the CLI reads its version from it.
  cp package.json "$CONTEXT/app/"
  if [[ -d build/native ]]; then link_or_copy build/native/. "$CONTEXT/native/"; fi
  local dir
  for dir in dist bin; do
    if [[ -d "$dir" ]]; then link_or_copy "$dir" "$CONTEXT/app/$dir"; fi
  done
  if [[ ! -d dist ]]; then say "warning: dist/ missing (node scripts/build.mjs); the image will have no CLI"; fi
}

# docker_build LOG ARGS...: the legacy builder over $CONTEXT; the log tail on failure.
docker_build() {
  local log="$RUN_DIR/$1"
  shift
  docker build "$@" -f "$CONTEXT/Dockerfile" "$CONTEXT" >"$log" 2>&1 || {
    say "docker build failed; last lines of $log:"
    tail -n 30 "$log" >&2
    return 1
  }
}

build_runtime() {
  RUNTIME_IMAGE="$RUNTIME_REPO:$(runtime_tag)"
  if image_exists "$RUNTIME_IMAGE"; then
    say "$RUNTIME_IMAGE exists; skipping the node + node_modules layer"
    return 0
  fi
  step "stage runtime context (node, production node_modules)" stage_runtime
  step "docker build -> $RUNTIME_IMAGE" docker_build docker-build-runtime.log -t "$RUNTIME_IMAGE"
  # Older runtimes are only disk now; one still used by a container stays (rmi refuses).
  local old
  for old in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "$RUNTIME_REPO"); do
    [[ "$old" == "$RUNTIME_IMAGE" ]] || docker rmi "$old" >/dev/null 2>&1 || true
  done
}

mkdir -p "$RUN_DIR"
step "docker daemon" ensure_docker
build_base
build_runtime
step "stage server context (build/native, dist)" stage_server
step "docker build -> $SERVER_IMAGE" docker_build docker-build.log -t "$SERVER_IMAGE" \
  --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE" \
  --label "org.opencontainers.image.revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)"
rm -rf "$CONTEXT"
say "images: $(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^(${BASE_IMAGE}|${RUNTIME_IMAGE}|${SERVER_IMAGE}) " | tr '\n' ';')"
ms=$(( $(now_ms) - T_ALL ))
say "all done in $(( ms / 1000 )).$(( ms % 1000 / 100 )) s"
