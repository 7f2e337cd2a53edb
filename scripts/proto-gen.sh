#!/usr/bin/env bash
# Regenerates the TypeScript in modules/proto/src/gen from protos/ with ts-proto, and
# the binary FileDescriptorSets in gen/descriptors/ that server reflection serves.
#
#   npm run proto:gen                      # rewrite the committed output
#   bash scripts/proto-gen.sh /some/dir    # generate elsewhere (the freshness test does)
#
# buf (compiler, ships google/protobuf/*.proto) and ts-proto are pinned root
# devDependencies, so `npm ci` is the only set-up. The output directory is emptied
# first and the generator writes no versions or dates, so the same inputs always
# give the same bytes.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(realpath -m -- "${1:-$root/modules/proto/src/gen}")"
if [[ "$out" == "/" || "$out" == "$root" ]]; then
  echo "proto-gen: refusing to empty $out" >&2
  exit 2
fi

buf="$root/node_modules/.bin/buf"
if [[ ! -x "$buf" || ! -f "$root/node_modules/ts-proto/protoc-gen-ts_proto" ]]; then
  echo "proto-gen: buf or ts-proto is missing; run 'npm ci' first" >&2
  exit 1
fi

cd "$root"
"$buf" lint protos
rm -rf -- "$out"
mkdir -p -- "$out"
"$buf" generate protos --template protos/buf.gen.yaml -o "$out"

# Descriptor sets for server reflection (modules/common/src/grpc-reflection.ts). They are
# plain google.protobuf.FileDescriptorSets, not buf images, with imports (so
# google/protobuf/timestamp.proto is inside) and source info (grpcurl shows the comments).
# grpc.health.v1 and grpc.reflection.* are built from the .proto files shipped in the
# installed npm packages, so they always match the code that serves them.
pkg_dir() { dirname "$(node -p "require.resolve('$1/package.json')")"; }
health_protos="$(pkg_dir grpc-health-check)/proto"
reflection_protos="$(pkg_dir @grpc/reflection)/build/proto"
mkdir -p -- "$out/descriptors"
"$buf" build protos --as-file-descriptor-set -o "$out/descriptors/udaconnect.binpb"
"$buf" build "$health_protos" --as-file-descriptor-set -o "$out/descriptors/grpc-health.binpb"
# That folder also holds @grpc/reflection's sample protos: take only grpc/reflection/.
"$buf" build "$reflection_protos" --path "$reflection_protos/grpc/reflection" \
  --as-file-descriptor-set -o "$out/descriptors/grpc-reflection.binpb"
