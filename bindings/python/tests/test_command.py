"""The `genomicsqlite` command that the package installs, as a console command and as
`python -m genomicsqlite`, with the package's own library (no LIBGENOMICSQLITE)."""
import os
import shutil
import subprocess
import sys
import sysconfig

import pytest


def _env():
    env = dict(os.environ)
    env.pop("LIBGENOMICSQLITE", None)
    return env


@pytest.fixture
def compressed(gsq, tmp_path):
    db = str(tmp_path / "c.db")
    conn = gsq.connect(db)
    conn.executescript("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)")
    conn.commit()
    conn.close()
    return db


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="needs the sqlite3 shell")
@pytest.mark.parametrize("how", ["script", "module"])
def test_installed_command_queries(compressed, how):
    script = os.path.join(sysconfig.get_path("scripts"), "genomicsqlite")
    assert os.path.isfile(script), "the package did not install the genomicsqlite command"
    argv = [script] if how == "script" else [sys.executable, "-m", "genomicsqlite"]
    result = subprocess.run(argv + [compressed, "SELECT count(*) FROM t"], env=_env(),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "3\n", result.stdout  # no header outside an interactive session
