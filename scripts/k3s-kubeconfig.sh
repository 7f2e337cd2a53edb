#!/usr/bin/env bash
# Copies the K3s kubeconfig out of the Vagrant VM to ./.udaconnect/kubeconfig (gitignored),
# pointed at the forwarded API port https://127.0.0.1:6443, and prints the export line.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT="$ROOT/.udaconnect/kubeconfig"
mkdir -p "$ROOT/.udaconnect"
umask 077
vagrant ssh -c 'sudo cat /etc/rancher/k3s/k3s.yaml' 2>/dev/null | tr -d '\r' \
  | sed -E 's#server: https://[^:]+:6443#server: https://127.0.0.1:6443#' >"$OUT.tmp"
grep -q 'server: https://127.0.0.1:6443' "$OUT.tmp" || { rm -f "$OUT.tmp"; echo "k3s-kubeconfig: could not read k3s.yaml from the VM (is it up? vagrant up)" >&2; exit 1; }
mv "$OUT.tmp" "$OUT"
echo "export KUBECONFIG=$OUT"
