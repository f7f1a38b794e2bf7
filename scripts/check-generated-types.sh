#!/usr/bin/env bash
# Fails when the TypeScript types generated from Rust (ts-rs, written into ui/src/lib/types
# while hub-core's tests run) differ from what is committed, so the UI can never compile
# against stale types. Run after `cargo test`. Compares with the git index, so freshly
# regenerated files pass once they are staged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TYPES=ui/src/lib/types

if [[ ! -d $TYPES ]]; then
  echo "check-types: $TYPES does not exist: did 'cargo test -p hub-core' run?" >&2
  exit 1
fi

changed=$(git diff --name-only -- "$TYPES")
untracked=$(git ls-files --others --exclude-standard -- "$TYPES")
if [[ -n $changed || -n $untracked ]]; then
  {
    echo "check-types: the generated TypeScript types in $TYPES are out of date."
    echo "They are regenerated from the Rust types by 'cargo test -p hub-core'; commit the result."
    git status --short --untracked-files=all -- "$TYPES" | sed 's/^/  /'
    git --no-pager diff --stat -- "$TYPES"
  } >&2
  exit 1
fi
echo "check-types: $TYPES is current ($(git ls-files -- "$TYPES" | wc -l) files)"
