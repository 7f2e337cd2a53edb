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
    # A rule is checked only when it held at the start: KIND (tracked|untracked), what a breach means, what was already so.
    rule() {
      if [ -z "$($1 <<<"$before")" ]; then
        local found
        found=$($1 <<<"$now")
        [ -z "$found" ] && return 0
        echo "[check-clean-tree] $what $2:" >&2
        sed 's/^/  /' <<<"$found" >&2
        failed=1
      else
        echo "[check-clean-tree] $3 before $what: not checking them" >&2
      fi
    }
    rule tracked 'changed tracked files (a run must leave them as committed)' 'tracked files were already modified'
    rule untracked 'left files that .gitignore does not cover' 'untracked files were already present'
    exit $failed
    ;;
  *)
    echo "usage: $0 save FILE | check FILE WHAT" >&2
    exit 2
    ;;
esac
