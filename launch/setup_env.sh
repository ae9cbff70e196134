# Sourced by demo.sh and test.sh: creates .venv if absent and installs dr-sim with the given extras.
# Usage: source launch/setup_env.sh EXTRAS   (for example "dev" or "dev,train")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
EXTRAS="${1:-dev}"
if [ ! -x .venv/bin/python ]; then
    echo "[dr-sim] creating .venv"
    python3 -m venv .venv
fi
STAMP=".venv/.installed-${EXTRAS//,/-}"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ launch/constraints.txt -nt "$STAMP" ]; then
    echo "[dr-sim] installing dr-sim[$EXTRAS] into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -c launch/constraints.txt -e ".[$EXTRAS]"
    touch "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
