#!/usr/bin/env bash
# Install the genomicsqlite Python package (bindings/python) into each test venv and run its
# pytest suite there; print pytest's summary lines for each. Exit status non-zero if anything
# failed.
#
# Venvs: $GSQ_PY_VENVS (space-separated) or <repo>/.venv/default (default python3, whose sqlite3
# cannot load extensions) and <repo>/.venv/debian (/usr/bin/python3); tests/setup.sh creates
# them with pytest and pandas. The package build (setuptools-rust) runs cargo in the repository,
# reusing target/.
# The interop tests run GenomicSQLite 0.9.4 with $PEER_PYTHON, else <repo>/.venv/peer/bin/python,
# else /opt/gsq094/bin/python. Extra arguments are passed to pytest.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VENVS=${GSQ_PY_VENVS:-"$REPO/.venv/default $REPO/.venv/debian"}
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/gsq-python-tests.XXXXXX")

status=0
for venv in $VENVS; do
    py="$venv/bin/python"
    name=$(basename "$venv")
    echo "=== $name: $venv"
    if [ ! -x "$py" ]; then
        echo "FAILED: $py does not exist (create the venvs with tests/setup.sh)"
        status=1
        continue
    fi
    if ! "$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$HERE" \
            >"$LOGDIR/$name.install.log" 2>&1; then
        cat "$LOGDIR/$name.install.log"
        echo "FAILED: pip install $HERE into $venv"
        status=1
        continue
    fi
    # Test the installed package with its bundled library, from a directory where the source
    # tree is not importable.
    if ! (cd / && env -u LIBGENOMICSQLITE -u PYTHONPATH "$py" -c \
            'import os, sqlite3, genomicsqlite as g
d = os.path.dirname(g.__file__)
assert os.path.dirname(g.LIBRARY_PATH) == d, (g.LIBRARY_PATH, d)
print("installed: genomicsqlite %s in %s (sqlite3 %s, enable_load_extension: %s)" % (
    g.__version__, d, sqlite3.sqlite_version, hasattr(sqlite3.Connection, "enable_load_extension")))'); then
        echo "FAILED: the installed package does not import with its bundled library"
        status=1
        continue
    fi
    log="$LOGDIR/$name.pytest.log"
    (cd "$HERE/tests" && env -u LIBGENOMICSQLITE -u PYTHONPATH \
        "$py" -m pytest -p no:cacheprovider -q -rfEs --tb=short "$HERE/tests" "$@") >"$log" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        status=1
        awk '/^=+ (FAILURES|ERRORS) =+$/ {on=1} /short test summary info/ {on=0} on' "$log" | head -400
    fi
    # summary: the short test summary section if any, and the final counts line
    sed -n '/short test summary info/,$p' "$log" | grep -v '^$' || true
    if ! grep -q 'short test summary info' "$log"; then tail -n 1 "$log"; fi
    echo "($name: pytest exit status $rc; full log $log)"
done
exit $status
