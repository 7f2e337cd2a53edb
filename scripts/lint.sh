#!/usr/bin/env bash
# `npm run lint` (and `npm test`, before jest): ESLint with type information (eslint.config.mjs),
# Prettier's check of the layout (.prettierrc.json; `npm run format` rewrites it) and knip
# (knip.jsonc: undeclared and unused dependencies, unused files and exports). All three run even
# when one fails, so one run shows every finding; the exit status is 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
failed=()
step() {
  local name=$1 started
  shift
  started=$(date +%s)
  if "$@"; then
    echo "[lint] $name: clean ($(($(date +%s) - started)) s)"
  else
    echo "[lint] $name: FAILED (findings above)" >&2
    failed+=("$name")
    status=1
  fi
}
step eslint npx --no-install eslint --max-warnings 0 .
step prettier npx --no-install prettier --check --cache --log-level warn .
step knip npx --no-install knip
if [ $status -ne 0 ]; then
  echo "[lint] failed: ${failed[*]} (\`npm run format\` fixes Prettier's findings)" >&2
fi
exit $status
