#!/usr/bin/env bash
# The base images the Dockerfile and deployment/ name, made locally (no registry is reachable):
#   localhost/udaconnect-deploy/debian:bookworm   debootstrap --variant=minbase bookworm
#   $NODE_IMAGE (node:20-bookworm-slim)           that + this machine's Node 20 (node.Containerfile)
#   postgis/postgis:15-3.4                        postgis.Containerfile
#   apache/kafka:4.1.0                            kafka.Containerfile (+ the Kafka jars via mvn)
# Each image carries the label io.udaconnect.cache-key, a hash of its inputs; an image whose key
# matches is kept, so a warm run builds none of them. Usage: scripts/deploy/base-images.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/deploy/lib.sh
. "$HERE/lib.sh"
podman_env
cd "$ROOT"

MIRROR=${DEBIAN_MIRROR:-$( (grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true) | head -n 1 | awk '{print $2}')}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
DEBIAN_IMAGE=localhost/udaconnect-deploy/debian:bookworm
KAFKA_VERSION=$(sed -n 's/^# Stand-in for apache\/kafka:\([0-9.]*\).*/\1/p' "$HERE/kafka.Containerfile")
KAFKA_IMAGE=docker.io/apache/kafka:$KAFKA_VERSION
POSTGIS_IMAGE=docker.io/postgis/postgis:15-3.4
# The Dockerfile's short name, fully qualified as podman resolves it (docker.io/library/…).
case "$NODE_IMAGE" in
  */*/*) NODE_FQ=$NODE_IMAGE ;;
  */*) NODE_FQ=docker.io/$NODE_IMAGE ;;
  *) NODE_FQ=docker.io/library/$NODE_IMAGE ;;
esac
build_dir="$CACHE/base-build"
mkdir -p "$build_dir"

fresh() { # image key → 0 if the image exists with that key
  [ "$(image_key "$1")" = "$2" ]
}

# ---------------------------------------------------------------- Debian bookworm (minbase)
# Keyed on the mirror and the variant (bump "v1" to take a fresh one; so does removing the image).
debian_key=$(cache_key "debootstrap v1" "$MIRROR" "--variant=minbase bookworm")
if fresh "$DEBIAN_IMAGE" "$debian_key"; then
  dlog "base: $DEBIAN_IMAGE is current (key $debian_key)"
else
  command -v debootstrap >/dev/null || ddie "debootstrap is missing (scripts/deploy/test-deploy.sh installs it)"
  dlog "base: debootstrap --variant=minbase bookworm from $MIRROR (about a minute)"
  rootfs="$build_dir/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$build_dir/debootstrap.log" 2>&1 ||
    { tail -20 "$build_dir/debootstrap.log" >&2; ddie "debootstrap failed (log: $build_dir/debootstrap.log)"; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import -q --change "LABEL io.udaconnect.cache-key=$debian_key" \
    --change 'CMD ["/bin/bash"]' - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$rootfs"
  dlog "base: imported $DEBIAN_IMAGE"
fi

# ---------------------------------------------------------------- Node 20 as NODE_IMAGE
node_bin=$(readlink -f "$(command -v node)")
npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
ca_bundle=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
[ "$(node -p 'process.versions.node.split(".")[0]')" = 20 ] || dwarn "this machine's node is $(node -v), the Dockerfile expects Node 20"
node_key=$(cache_key "$debian_key" "$HERE/node.Containerfile" "$node_bin" "$npm_dir/package.json" "$ca_bundle")
if fresh "$NODE_FQ" "$node_key"; then
  dlog "base: $NODE_FQ is current (key $node_key)"
else
  dlog "base: $NODE_FQ from $node_bin ($(node -v)), npm $(npm -v)"
  ctx="$build_dir/node"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$node_bin" "$ctx/node"
  cp -a "$npm_dir" "$ctx/npm"
  cp "$ca_bundle" "$ctx/ca-certificates.crt"
  podman build "${PODMAN_BUILD_ULIMITS[@]}" -q --pull=never --label "io.udaconnect.cache-key=$node_key" --build-arg "BASE=$DEBIAN_IMAGE" \
    -f "$HERE/node.Containerfile" -t "$NODE_FQ" "$ctx" >/dev/null
  rm -rf "$ctx"
fi

# ---------------------------------------------------------------- postgis/postgis stand-in
pg_key=$(cache_key "$debian_key" "$HERE/postgis.Containerfile" "$HERE/postgis-entrypoint.sh")
if fresh "$POSTGIS_IMAGE" "$pg_key"; then
  dlog "base: $POSTGIS_IMAGE stand-in is current (key $pg_key)"
else
  dlog "base: $POSTGIS_IMAGE stand-in (Debian postgresql-15-postgis-3)"
  ctx="$build_dir/postgis"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$HERE/postgis-entrypoint.sh" "$ctx/"
  podman build "${PODMAN_BUILD_ULIMITS[@]}" -q --pull=never --label "io.udaconnect.cache-key=$pg_key" --build-arg "BASE=$DEBIAN_IMAGE" \
    -f "$HERE/postgis.Containerfile" -t "$POSTGIS_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
fi

# ---------------------------------------------------------------- apache/kafka stand-in
kafka_key=$(cache_key "$debian_key" "$HERE/kafka.Containerfile" "$HERE/kafka-entrypoint.sh" \
  "$ROOT/scripts/kafka/pom.xml" "$ROOT/scripts/kafka/log4j2.yaml")
if fresh "$KAFKA_IMAGE" "$kafka_key"; then
  dlog "base: $KAFKA_IMAGE stand-in is current (key $kafka_key)"
else
  dlog "base: $KAFKA_IMAGE stand-in (Debian JRE 17 + Kafka $KAFKA_VERSION jars from Maven Central)"
  jars="$CACHE/kafka-$KAFKA_VERSION-libs"
  if [ ! -f "$jars/kafka_2.13-$KAFKA_VERSION.jar" ]; then
    command -v mvn >/dev/null || ddie "mvn is needed to fetch the Kafka jars"
    rm -rf "$jars.tmp"
    mvn -q -B -f "$ROOT/scripts/kafka/pom.xml" dependency:copy-dependencies -Dkafka.version="$KAFKA_VERSION" \
      -DincludeScope=runtime -DoutputDirectory="$jars.tmp" >"$build_dir/kafka-mvn.log" 2>&1 ||
      { tail -20 "$build_dir/kafka-mvn.log" >&2; ddie "mvn could not fetch the Kafka $KAFKA_VERSION jars"; }
    mv "$jars.tmp" "$jars"
  fi
  ctx="$build_dir/kafka"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp -a "$jars" "$ctx/libs"
  cp "$HERE/kafka-entrypoint.sh" "$ctx/"
  cp "$ROOT/scripts/kafka/log4j2.yaml" "$ctx/"
  podman build "${PODMAN_BUILD_ULIMITS[@]}" -q --pull=never --label "io.udaconnect.cache-key=$kafka_key" --build-arg "BASE=$DEBIAN_IMAGE" \
    -f "$HERE/kafka.Containerfile" -t "$KAFKA_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
fi
dlog "base images ready: $DEBIAN_IMAGE $NODE_FQ $POSTGIS_IMAGE $KAFKA_IMAGE"
