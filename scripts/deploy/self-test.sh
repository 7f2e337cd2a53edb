#!/usr/bin/env bash
# `scripts/deploy/test-deploy.sh --self-test`: the test of the test. Runs the whole of
# test-deploy.sh once per deliberate break (podman-kube.ts BREAKS: a wrong env var name, a wrong
# image target, a privileged container) and passes only if every broken run FAILS, at the stage
# that should catch it. Images come from the cache, so each case costs a start-up, not a build.
#   self-test.sh [case …]                 default: every case
#   self-test.sh --apply <case> <file>    (used by test-deploy.sh) break a rendered file
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/deploy/lib.sh
. "$HERE/lib.sh"
cd "$ROOT"
kube() { node --import tsx "$HERE/podman-kube.ts" "$@"; }

if [ "${1:-}" = --apply ]; then
  kube break "$2" "$3"
  exit 0
fi

mapfile -t cases < <(kube break list)
wanted=("$@")
results=() failed=0
for line in "${cases[@]}"; do
  IFS=$'\t' read -r name stage what <<<"$line"
  if [ ${#wanted[@]} -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then continue; fi
  if [ "$stage" = "4 apiserver" ] && [ ! -f "$HERE/apiserver.sh" ]; then
    results+=("SKIPPED $name: needs scripts/deploy/apiserver.sh"); continue
  fi
  dlog "self-test: $name — $what; must fail at \"$stage\""
  log="$RUN_DIR/self-test-$name.log"
  mkdir -p "$RUN_DIR"
  t=$(date +%s)
  if DEPLOY_TEST_BREAK=$name DEPLOY_TEST_READY_TIMEOUT=${DEPLOY_TEST_READY_TIMEOUT:-60} bash "$HERE/test-deploy.sh" >"$log" 2>&1; then
    results+=("NOT CAUGHT $name: the broken run passed ($what)"); failed=1
  elif grep -q "FAILED at: $stage" "$log"; then
    # grep stops by itself (-m): a `| head` would end it by SIGPIPE when the log has many such
    # lines, and under pipefail that status (141) ended the whole self-test.
    why=$(grep -m 3 -E 'not ready after|refused|Error|error' "$log" | sed 's/\x1b\[[0-9;]*m//g' | tr '\n' ' ' | cut -c1-300) || why='(no error line in the log)'
    results+=("caught $name at \"$stage\" in $(($(date +%s) - t)) s: $why")
  else
    results+=("WRONG STAGE $name: failed at $(grep -m 1 -o 'FAILED at: .*(' "$log" || echo '(no FAILED line)'), wanted \"$stage\" (log: $log)"); failed=1
  fi
done
echo >&2
echo "================ test-deploy --self-test: $([ $failed = 0 ] && echo PASSED || echo FAILED)" >&2
for r in "${results[@]}"; do echo "  $r" >&2; done
exit $failed
