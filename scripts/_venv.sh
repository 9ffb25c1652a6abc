# Shared by scripts/test and scripts/serve: make .venv and install the project.
# Sourced, not executed.  Idempotent: a second run only reinstalls when
# pyproject.toml changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
EXTRAS="${KMSD_EXTRAS:-}"
if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PY" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
        echo "kmsd needs Python >= 3.11 (set PYTHON=...)" >&2; exit 1
    fi
    if ! "$PY" -m venv "$VENV" 2>/dev/null; then
        echo "python3 -m venv failed; installing python3-venv" >&2
        apt-get update -qq && apt-get install -y -qq python3-venv
        "$PY" -m venv "$VENV"
    fi
fi
STAMP="$VENV/.kmsd-installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$ROOT${EXTRAS:+[$EXTRAS]}"
    touch "$STAMP"
fi
