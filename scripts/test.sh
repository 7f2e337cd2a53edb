#!/usr/bin/env bash
# `npm test`: provision PostgreSQL/PostGIS and Kafka if missing, type-check, lint, run every test, then
# check that the run left the git work tree as it found it (scripts/check-clean-tree.sh).
# `npm run test:faults` (--faults): provision, then only the suites that run alone (test/faults, test/replica).
set -euo pipefail
faults_only=0
if [ "${1:-}" = "--faults" ]; then faults_only=1; shift; fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
start=$(date +%s)
tree_state=$(mktemp)
trap 'rm -f "$tree_state"' EXIT
bash scripts/check-clean-tree.sh save "$tree_state"
bash scripts/provision.sh
set -a
# shellcheck disable=SC1091
. .udaconnect/env
set +a
status=0
lint_failed=0
mkdir -p test-output
rm -f test-output/jest-*.json
if [ $faults_only -eq 0 ]; then
  echo "[test] type-checking"
  npx tsc -p tsconfig.json --noEmit
  # Lint findings fail the run, but jest still runs, so one CI run shows both.
  echo "[test] lint"
  if ! bash scripts/lint.sh; then
    echo "[test] FAILED: lint (findings above; \`npm run lint\` repeats it, \`npm run format\` fixes the layout)" >&2
    status=1 lint_failed=1
  fi
  echo "[test] jest"
  npx jest --json --outputFile=test-output/jest-main.json "$@" || status=$?
fi
if [ $# -eq 0 ]; then
  # Alone, after the rest: fault injection (writer killed, broker restarted, PostgreSQL stopped; a
  # broker of a three-node cluster killed, one of two writers killed) and the read replica.
  echo "[test] jest: the suites that run alone (test/faults, test/replica)"
  npx jest -c jest.faults.config.js --json --outputFile=test-output/jest-faults.json || status=$?
fi
# Provisioning (npm ci), generators and tests write only gitignored files: a fresh clone stays clean.
if ! bash scripts/check-clean-tree.sh check "$tree_state" "npm test"; then
  echo "[test] FAILED: the run changed the git work tree (files above); fix the cause or .gitignore" >&2
  status=1
fi
# One closing line for both runs: "tests: N passed, N failed, N skipped".
node -e '
  const fs = require("fs");
  let p = 0, f = 0, s = 0;
  for (const file of fs.readdirSync("test-output").filter((n) => /^jest-.*\.json$/.test(n))) {
    const r = JSON.parse(fs.readFileSync("test-output/" + file, "utf8"));
    p += r.numPassedTests; f += r.numFailedTests + (r.numRuntimeErrorTestSuites || 0); s += r.numPendingTests;
  }
  console.log(`tests: ${p} passed, ${f} failed, ${s} skipped`);
' || true
if [ $lint_failed -eq 1 ]; then echo "[test] FAILED: lint (the [lint] lines before the tests)" >&2; fi
if [ "${CI:-}" = "true" ]; then bash scripts/stop-infra.sh || true; fi
echo "[test] finished in $(($(date +%s) - start)) s"
exit $status
