#!/usr/bin/env bash
# Entity benchmark: warta's tagger beside the CRF peer on the same splits, in one run.
# Usage: benches/ner.sh [nergrit|nerui-indolem|nerp]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${WARTA_SHARED:-../shared}
VENV=${WARTA_PEERS_VENV:-target/peers-venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import sklearn_crfsuite" 2>/dev/null; then
  "$VENV/bin/pip" install -q sklearn-crfsuite
fi
WARTA_SHARED="$SHARED" WARTA_PYTHON="$VENV/bin/python" cargo bench --bench ner -- "$@"
