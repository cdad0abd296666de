#!/usr/bin/env bash
# Lint the protos and check them for breaking changes against the last release tag.
#
#   scripts/buf-check.sh
#
# Installs buf from npm (@bufbuild/buf, pinned) into target/buf, runs `buf lint` with the rules
# in buf.yaml, then `buf breaking` (FILE rules) against the newest tag `v*` reachable from HEAD.
# With no such tag the breaking check is skipped. Exits non-zero on lint or breaking failures.
# Needs node/npm and git.
set -euo pipefail

BUF_VERSION=1.75.0
cd "$(dirname "$0")/.."   # repo root

BUF=target/buf/node_modules/.bin/buf
if [ ! -x "$BUF" ] || [ "$("$BUF" --version 2>/dev/null)" != "$BUF_VERSION" ]; then
  echo "installing @bufbuild/buf@$BUF_VERSION into target/buf"
  npm install --prefix target/buf --no-save --no-audit --no-fund --loglevel=error \
    "@bufbuild/buf@$BUF_VERSION" >/dev/null
fi
echo "buf $("$BUF" --version)"

echo "== buf lint"
"$BUF" lint
echo "lint: OK"

echo "== buf breaking"
if ! TAG=$(git describe --tags --abbrev=0 --match 'v*' 2>/dev/null); then
  echo "breaking: SKIPPED - no tag matching 'v*' is reachable from HEAD, nothing to compare against"
  echo "          (tag a release, e.g. 'git tag v0.1.0', to enable it)"
  exit 0
fi
# buf reads the tag from the local repository (in a worktree, from the common .git dir).
GIT_DIR_PATH=$(git rev-parse --git-common-dir)
AGAINST="$GIT_DIR_PATH#tag=$TAG"
# A tag made before buf.yaml existed has no module config: point buf at its proto/ directory
# so that the files are compared under the same paths (warta/v1/article.proto).
if ! git cat-file -e "$TAG:buf.yaml" 2>/dev/null; then
  AGAINST="$AGAINST,subdir=proto"
fi
echo "against $AGAINST"
"$BUF" breaking --against "$AGAINST"
echo "breaking: OK (no breaking changes since $TAG)"
