#!/usr/bin/env bash
# Did a run leave the git work tree as it found it? scripts/test.sh saves the state before
# provisioning and checks it at the end, so `npm test` (and CI) fails when a run changes a tracked
# file (`npm install` rewriting package-lock.json, a generator rewriting committed output) or leaves
# a file that .gitignore does not cover (test output, local state, build output belong there).
#
#   check-clean-tree.sh save FILE         record `git status` in FILE
#   check-clean-tree.sh check FILE WHAT   fail, naming the files, if WHAT changed the tree
#
# Two rules, each judged only when it held at the start (a tree already being edited is not
# judged, and says so): tracked files unchanged at the start are unchanged at the end, and a tree
# without untracked files has none at the end. Outside a git work tree both commands do nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

in_git() { command -v git >/dev/null 2>&1 && git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; }
state() { git -C "$ROOT" status --porcelain=v1 --untracked-files=all; }
tracked() { grep -v '^?? ' || true; }
untracked() { grep '^?? ' || true; }

case "${1:-}" in
  save)
    [ $# -eq 2 ] || { echo "usage: $0 save FILE" >&2; exit 2; }
    if in_git; then state >"$2"; else echo '#no-git' >"$2"; fi
    ;;
  check)
    [ $# -eq 3 ] || { echo "usage: $0 check FILE WHAT" >&2; exit 2; }
    file=$2 what=$3
    before=$(cat "$file")
    if [ "$before" = '#no-git' ] || ! in_git; then exit 0; fi
    now=$(state) failed=0
    if [ -z "$(tracked <<<"$before")" ]; then
      changed=$(tracked <<<"$now")
      if [ -n "$changed" ]; then
        echo "[check-clean-tree] $what changed tracked files (a run must leave them as committed):" >&2
        sed 's/^/  /' <<<"$changed" >&2
        failed=1
      fi
    else
      echo "[check-clean-tree] tracked files were already modified before $what: not checking them" >&2
    fi
    if [ -z "$(untracked <<<"$before")" ]; then
      left=$(untracked <<<"$now")
      if [ -n "$left" ]; then
        echo "[check-clean-tree] $what left files that .gitignore does not cover:" >&2
        sed 's/^/  /' <<<"$left" >&2
        failed=1
      fi
    else
      echo "[check-clean-tree] untracked files were already present before $what: not checking for new ones" >&2
    fi
    exit $failed
    ;;
  *)
    echo "usage: $0 save FILE | check FILE WHAT" >&2
    exit 2
    ;;
esac
