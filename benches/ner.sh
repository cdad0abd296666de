#!/usr/bin/env bash
# Entity benchmark: warta's tagger beside the CRF peer on the same splits, in one run.
# Usage: benches/ner.sh [nergrit|nerui-indolem|nerp]
exec "$(dirname "$0")/peers.sh" ner "sklearn_crfsuite" sklearn-crfsuite -- "$@"
