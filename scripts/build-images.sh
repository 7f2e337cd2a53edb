#!/usr/bin/env bash
# Builds one image per service from the root Dockerfile (one target each) and tags it
#   ${REGISTRY}udaconnect/<service>:<version>        version: package.json's "version"
# REGISTRY is an optional prefix, e.g. REGISTRY=registry.example.com:5000/ (trailing slash added
# if missing). Usage: scripts/build-images.sh [service …]   (default: every target)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

TARGETS=(frontend person-api location-ingest location-writer connection-service migrate)
if [ $# -gt 0 ]; then TARGETS=("$@"); fi

VERSION=${VERSION:-$(node -p 'require("./package.json").version')}
REGISTRY=${REGISTRY:-}
if [ -n "$REGISTRY" ] && [ "${REGISTRY: -1}" != "/" ]; then REGISTRY="$REGISTRY/"; fi

command -v docker >/dev/null 2>&1 || { echo "build-images: docker is required" >&2; exit 1; }

for target in "${TARGETS[@]}"; do
  image="${REGISTRY}udaconnect/${target}:${VERSION}"
  echo "[build-images] ${image} (target ${target})" >&2
  # BuildKit shares the build/prod-deps stages between targets, so only the first build installs.
  DOCKER_BUILDKIT=1 docker build --target "$target" -t "$image" -f Dockerfile .
  echo "$image"
done
