#!/usr/bin/env bash
# Builds one image per service from the root Dockerfile (one target each) and tags it
#   ${REGISTRY}udaconnect/<service>:<version>        version: package.json's "version"
# REGISTRY is an optional prefix, e.g. REGISTRY=registry.example.com:5000/ (trailing slash added
# if missing). Usage: scripts/build-images.sh [service …]   (default: every target)
#   BUILD_CLI=docker|podman   the builder (default: docker if its daemon answers, else podman)
#   BUILD_OPTS="…"            extra options for every build (scripts/deploy/test-deploy.sh passes
#                             podman's --pull=never and --ulimit)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

TARGETS=(frontend person-api location-ingest location-writer connection-service migrate)
if [ $# -gt 0 ]; then TARGETS=("$@"); fi

VERSION=${VERSION:-$(node -p 'require("./package.json").version')}
REGISTRY=${REGISTRY:-}
if [ -n "$REGISTRY" ] && [ "${REGISTRY: -1}" != "/" ]; then REGISTRY="$REGISTRY/"; fi

BUILD_CLI=${BUILD_CLI:-}
if [ -z "$BUILD_CLI" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then BUILD_CLI=docker
  elif command -v podman >/dev/null 2>&1; then BUILD_CLI=podman
  else echo "build-images: docker (with a running daemon) or podman is required" >&2; exit 1
  fi
fi
# shellcheck disable=SC2206
OPTS=(${BUILD_OPTS:-})

for target in "${TARGETS[@]}"; do
  image="${REGISTRY}udaconnect/${target}:${VERSION}"
  echo "[build-images] ${image} (target ${target}, ${BUILD_CLI})" >&2
  # Both share the build/prod-deps stages between targets (BuildKit; podman's layer cache), so
  # only the first build installs.
  # The build's own output goes to stderr: stdout carries only the image names.
  if [ "$BUILD_CLI" = docker ]; then
    DOCKER_BUILDKIT=1 docker build "${OPTS[@]}" --target "$target" -t "$image" -f Dockerfile . >&2
  else
    "$BUILD_CLI" build "${OPTS[@]}" --layers --target "$target" -t "$image" -f Dockerfile . >&2
  fi
  echo "$image"
done
