#!/usr/bin/env bash
# Topic benchmark: warta beside scikit-learn and fastText on the same splits, in one run.
# Usage: benches/topic.sh [sib200-ind|sib200-eng|ag-news]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${WARTA_SHARED:-../shared}
VENV=${WARTA_PEERS_VENV:-target/peers-venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
# the venv is shared with benches/ner.sh: install what this bench needs, whoever made it
if ! "$VENV/bin/python" -c "import sklearn, fasttext" 2>/dev/null; then
  "$VENV/bin/pip" install -q scikit-learn fasttext-wheel
fi
WARTA_SHARED="$SHARED" WARTA_PYTHON="$VENV/bin/python" cargo bench --bench topic -- "$@"
