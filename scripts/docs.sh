#!/usr/bin/env bash
# The documentation site (MkDocs, Material theme; mkdocs.yml and docs/):
#   bash scripts/docs.sh           build it into site/ (strict: a broken link or an orphan page
#                                  fails), then serve it on http://127.0.0.1:8000 with live reload
#   bash scripts/docs.sh build     build only
# Extra arguments go to `mkdocs serve` (for example --dev-addr 127.0.0.1:8001).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# Material for MkDocs prints a notice about MkDocs 2 on every start; the site pins MkDocs 1.6.
export NO_MKDOCS_2_WARNING=1
.venv/bin/python -m mkdocs build --strict
if [ "${1:-}" = "build" ]; then
  exit 0
fi
exec .venv/bin/python -m mkdocs serve --strict "$@"
