#!/usr/bin/env bash
# Run the Python example client against a running warta server.
#
#   examples/python/run.sh [ADDR] [client.py options...]     # ADDR defaults to 127.0.0.1:50051
#
# Creates a venv (${VENV:-target/py-client-venv}, relative to the repo root), installs
# requirements.txt into it, generates the stubs from proto/ into ${STUBS:-target/py-client-stubs}
# and runs client.py. Needs only Python >= 3.11 with venv + pip. Exits with the client's status.
set -euo pipefail

cd "$(dirname "$0")/../.."   # repo root
ADDR="${1:-127.0.0.1:50051}"
[ $# -gt 0 ] && shift
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-target/py-client-venv}"
STUBS="${STUBS:-target/py-client-stubs}"
REQS=examples/python/requirements.txt

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV" || {
    echo "run.sh: '$PYTHON -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
  }
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"

rm -rf "$STUBS"
mkdir -p "$STUBS"
"$VENV/bin/python" -m grpc_tools.protoc -I proto \
  --python_out="$STUBS" --grpc_python_out="$STUBS" proto/warta/v1/article.proto

exec "$VENV/bin/python" examples/python/client.py --addr "$ADDR" --stubs "$STUBS" "$@"
