#!/usr/bin/env bash
# Run one of our benches beside its Python peers: `benches/peers.sh BENCH "IMPORTS" PACKAGES... -- ARGS`.
# The peers' venv (target/peers-venv, or WARTA_PEERS_VENV) is shared by the benches: each installs
# what it imports, whoever made the venv.
set -euo pipefail
cd "$(dirname "$0")/.."
bench=$1 imports=$2
shift 2
packages=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do packages+=("$1"); shift; done
[ $# -gt 0 ] && shift
SHARED=${WARTA_SHARED:-../shared}
VENV=${WARTA_PEERS_VENV:-target/peers-venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import $imports" 2>/dev/null; then
  "$VENV/bin/pip" install -q "${packages[@]}"
fi
WARTA_SHARED="$SHARED" WARTA_PYTHON="$VENV/bin/python" cargo bench --bench "$bench" -- "$@"
