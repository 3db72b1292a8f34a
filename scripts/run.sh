#!/usr/bin/env bash
# README command (a): set up if needed, then run the whole pipeline on the embedded default data.
# Extra arguments go to `mtl run` (for example --root DIR, --examples N).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/mtl run "$@"
