#!/usr/bin/env bash
# Regenerates the TypeScript in modules/proto/src/gen from protos/ with ts-proto.
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
