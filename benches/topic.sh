#!/usr/bin/env bash
# Topic benchmark: warta beside scikit-learn and fastText on the same splits, in one run.
# Usage: benches/topic.sh [sib200-ind|sib200-eng|ag-news]
exec "$(dirname "$0")/peers.sh" topic "sklearn, fasttext" scikit-learn fasttext-wheel -- "$@"
