# Sourced by the benchmark scripts: a separate venv holding PyKMIP (client,
# server and codec), the Python KMIP library users would otherwise pick.  It
# lives apart from .venv because PyKMIP pins old dependencies.
# Sets PYKMIP_PY to its interpreter.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
PYKMIP_VENV="$ROOT/.venv-pykmip"
if [ ! -x "$PYKMIP_VENV/bin/python" ] || ! "$PYKMIP_VENV/bin/python" -c 'import kmip' 2>/dev/null; then
    python3 -m venv "$PYKMIP_VENV"
    "$PYKMIP_VENV/bin/python" -m pip install -q --upgrade pip
    # PyKMIP needs SQLAlchemy 1.x (its server) and setuptools (pkg_resources).
    "$PYKMIP_VENV/bin/python" -m pip install -q "pykmip==0.11.0" "sqlalchemy<2" "setuptools<70"
fi
PYKMIP_PY="$PYKMIP_VENV/bin/python"
export PYKMIP_PY
