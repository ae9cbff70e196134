#!/usr/bin/env bash
# Sets up .venv (if needed) and runs the default test suite (slow experiments excluded).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh" train,dev
cd "$ROOT"
python -m pytest -q "$@"
