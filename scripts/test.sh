#!/usr/bin/env bash
# README command (b): install what is missing, lint, and run the whole test suite (e2e included).
# Extra arguments go to pytest (for example -m "not e2e" for the fast unit tests only).
# The test files run in parallel worker processes, one per core up to 4 (pytest-xdist; a file's
# tests stay in one worker, so a module's pipeline run is shared by its tests);
# MTL_TEST_WORKERS=0 runs them in this process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
# The report's browser tests (tests/pipeline/monitoring/test_report.py, tests/e2e/test_monitoring.py)
# load the HTML in headless Chromium through Selenium and chromedriver.
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -x /usr/bin/chromedriver ] || missing="$missing chromium-driver"
if [ -n "$missing" ]; then
  echo "test.sh: installing$missing for the report's browser tests"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update && $sudo apt-get install -y $missing
fi
workers="${MTL_TEST_WORKERS:-auto}"
parallel=()
if [ "$workers" != "0" ]; then
  parallel=(-n "$workers" --maxprocesses=4 --dist loadfile)
fi
set +e
.venv/bin/python -m pytest "${parallel[@]}" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$rc"
