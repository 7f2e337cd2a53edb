#!/usr/bin/env bash
# Shared by the scripts of scripts/deploy/ (sourced, not run): where the run keeps its state and
# how podman is configured. Nothing here changes /etc: podman reads its settings from the files
# that CONTAINERS_CONF and CONTAINERS_STORAGE_CONF name, written under .udaconnect/cache/deploy/.
#
#   CACHE      .udaconnect/cache/deploy            (gitignored) base rootfs, keys, podman storage
#   RUN_DIR    .udaconnect/cache/deploy/run        one run's rendered manifests, secrets, logs
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CACHE=${UDACONNECT_DEPLOY_CACHE:-$ROOT/.udaconnect/cache/deploy}
RUN_DIR=${RUN_DIR:-$CACHE/run}
# The image names the manifests use; the Dockerfile's NODE_IMAGE default.
NODE_IMAGE=$(sed -n 's/^ARG NODE_IMAGE=//p' "$ROOT/Dockerfile" | head -n 1)
VERSION=$(node -p 'require(process.argv[1]).version' "$ROOT/package.json")

dlog() { printf '\033[1;34m[deploy-test]\033[0m %s\n' "$*" >&2; }
dwarn() { printf '\033[1;33m[deploy-test] %s\033[0m\n' "$*" >&2; }
ddie() { printf '\033[1;31m[deploy-test] %s\033[0m\n' "$*" >&2; exit 1; }

# podman configuration: runc (crun 1.8 refuses cgroups in hybrid mode), open-files and process
# limits the machine allows (podman's default asks for 1048576 files), images in the cache.
podman_env() {
  mkdir -p "$CACHE/podman/storage" "$CACHE/podman/tmp"
  # Half of this shell's hard limits: runc here refuses values at (or near) the hard limit
  # ("error setting rlimit type 7: operation not permitted"; nofile 20000 of 20000 fails, 19999
  # works), and half leaves headroom on any machine. Capped at what the services could need.
  local nofile nproc
  nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=131072
  nproc=$(ulimit -Hu); [ "$nproc" = unlimited ] && nproc=65536
  nofile=$((nofile / 2)) nproc=$((nproc / 2))
  [ "$nofile" -gt 65536 ] && nofile=65536
  [ "$nproc" -gt 32768 ] && nproc=32768
  cat >"$CACHE/podman/containers.conf.tmp" <<CONF
# written by scripts/deploy/lib.sh
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
image_parallel_copies = 2
CONF
  mv -f "$CACHE/podman/containers.conf.tmp" "$CACHE/podman/containers.conf"
  cat >"$CACHE/podman/storage.conf.tmp" <<CONF
# written by scripts/deploy/lib.sh
[storage]
driver = "overlay"
graphroot = "$CACHE/podman/storage"
runroot = "/run/udaconnect-deploy-test"
CONF
  mv -f "$CACHE/podman/storage.conf.tmp" "$CACHE/podman/storage.conf"
  export CONTAINERS_CONF="$CACHE/podman/containers.conf"
  export CONTAINERS_STORAGE_CONF="$CACHE/podman/storage.conf"
  # podman build (buildah) does not apply default_ulimits to RUN steps: the same limits, as flags.
  PODMAN_BUILD_ULIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
}

# A content key of files and strings: sha256 over their bytes, names included.
cache_key() {
  local f
  for f in "$@"; do
    if [ -f "$f" ]; then printf 'file %s\n' "${f#"$ROOT"/}"; cat "$f"; else printf 'str %s\n' "$f"; fi
  done | sha256sum | cut -c1-16
}

# The cache key an image was built with ('' if the image is not there).
image_key() { podman image inspect --format '{{ index .Labels "io.udaconnect.cache-key" }}' "$1" 2>/dev/null || true; }
