#!/usr/bin/env bash
# Create (once) the virtual environment of a BI client from its lock file and print its path.
#
#   bi/setup_env.sh superset   # Apache Superset 6.1.0 + duckdb_engine + SQLAlchemy 1.4 (bi/superset/requirements.lock)
#   bi/setup_env.sh clients    # DuckDB CLI + Harlequin (bi/clients/requirements.lock)
#
# The environment lives in a cache folder named after the lock file's hash
# ($CHENGYU_BI_ENVS, default ~/.cache/chengyu-bi/<name>-<hash>), so it survives fresh clones
# on the same machine and is rebuilt only when the lock changes. Progress goes to stderr,
# the path alone to stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
name="${1:?usage: bi/setup_env.sh superset|clients}"
lock="$here/$name/requirements.lock"
[ -f "$lock" ] || { echo "bi/setup_env.sh: no lock file $lock" >&2; exit 2; }
python="${PYTHON:-python3}"
hash="$(sha256sum "$lock" | cut -c1-12)"
root="${CHENGYU_BI_ENVS:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/chengyu-bi}"
venv="$root/$name-$hash"
if [ ! -f "$venv/.installed" ]; then
    echo "bi/setup_env.sh: installing $name into $venv (a few minutes, once)" >&2
    rm -rf "$venv"
    mkdir -p "$root"
    started=$(date +%s)
    "$python" -m venv "$venv"
    if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$lock" >"$venv/install.log" 2>&1; then
        tail -20 "$venv/install.log" >&2
        echo "bi/setup_env.sh: installing $name failed (log: $venv/install.log)" >&2
        exit 1
    fi
    echo "$(( $(date +%s) - started ))" > "$venv/.installed"
    echo "bi/setup_env.sh: $name installed in $(cat "$venv/.installed") s" >&2
fi
echo "$venv"
