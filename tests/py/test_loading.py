"""Loading the extension: system sqlite3 shell and Debian python; auto-extension; no SQLite inside."""
import re
import sqlite3
import subprocess
import sys

import pytest

import gsqtool
from conftest import OURS, shell

FUNCS = ["genomicsqlite_version()", "genomicsqlite_default_config_json()",
         "genomicsqlite_uri('/tmp/x.db')", "genomicsqlite_uri('/tmp/x.db', '{}')",
         "genomicsqlite_tuning_sql('{}')", "genomicsqlite_attach_sql('/tmp/x.db', 's', '{}')",
         "genomicsqlite_vacuum_into_sql('/tmp/x.db', '{}')"]


def test_system_sqlite_version():
    out = subprocess.run(["sqlite3", "--version"], capture_output=True, text=True).stdout
    assert out.startswith("3."), out


def test_loads_into_sqlite3_shell(tmp_path):
    p = shell(OURS, "SELECT %s;" % ", ".join(FUNCS))
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("vfs=zstd") >= 4


def test_functions_on_connections_opened_after_loading(tmp_path):
    """Auto-extension: a database opened after `.load` has the functions and the VFS."""
    db = tmp_path / "later.db"
    p = shell(OURS, ".open %s\nSELECT genomicsqlite_version();\n"
              "ATTACH %s AS z;\nCREATE TABLE z.t AS SELECT 1 AS x;\nSELECT x FROM z.t;" % (
                  db, "'" + gsqtool.sqlfunc("genomicsqlite_uri", str(tmp_path / "z.db")) + "'"))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split()
    assert re.match(r"^v?\d+\.\d+", lines[0]) and lines[-1] == "1", p.stdout


def test_python_second_connection_has_functions(tmp_path):
    """In Debian python: load into one connection; a new connection has everything."""
    code = r'''
import sqlite3, sys
a = sqlite3.connect(":memory:")
a.enable_load_extension(True)
a.load_extension(sys.argv[1])
a.close()
b = sqlite3.connect(":memory:")
print(b.execute("SELECT genomicsqlite_version()").fetchone()[0])
uri = b.execute("SELECT genomicsqlite_uri(?)", (sys.argv[2],)).fetchone()[0]
c = sqlite3.connect(uri, uri=True)
c.executescript(b.execute("SELECT genomicsqlite_tuning_sql('{}')").fetchone()[0])
c.execute("CREATE TABLE t (x)"); c.execute("INSERT INTO t VALUES (7)"); c.commit()
c.execute("ATTACH ':memory:' AS m")
print(c.execute("SELECT x, genomicsqlite_version() IS NOT NULL FROM t").fetchone())
'''
    p = subprocess.run([sys.executable, "-c", code, OURS, str(tmp_path / "p.db")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[1] == "(7, 1)", p.stdout


def test_load_twice_is_harmless(tmp_path):
    p = shell(OURS, ".load %s\nSELECT genomicsqlite_version();" % OURS)
    assert p.returncode == 0, p.stderr


def test_without_extension_no_zstd_vfs(tmp_path):
    """Sanity check of the harness: without loading, vfs=zstd is unknown."""
    p = subprocess.run(["sqlite3", "-batch", "file:%s?vfs=zstd" % (tmp_path / "x.db"), "SELECT 1"],
                       capture_output=True, text=True)
    assert p.returncode != 0 and "no such vfs" in p.stderr


def _nm(args):
    p = subprocess.run(["nm"] + args + [OURS], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.mark.ours_only
def test_no_sqlite_inside():
    """The .so uses the host's SQLite: it defines no sqlite3_* function of its own (other than
    its entry point) and doesn't link libsqlite3."""
    allowed = {"sqlite3_genomicsqlite_init"}
    dyn = [l.split()[-1] for l in _nm(["-D", "--defined-only"]).splitlines() if l.strip()]
    bad_dyn = sorted(s for s in dyn if s.startswith("sqlite3") and s not in allowed)
    assert not bad_dyn, "exported SQLite symbols: %s" % bad_dyn[:20]
    assert "sqlite3_genomicsqlite_init" in dyn
    full = _nm(["--defined-only"])
    syms = [l.split()[-1] for l in full.splitlines() if l.strip()]
    bad = sorted(s for s in syms if re.match(r"^sqlite3_?[a-z]", s) and s not in allowed
                 and s in ("sqlite3_open_v2", "sqlite3_prepare_v2", "sqlite3_step", "sqlite3_vfs_register",
                           "sqlite3_initialize", "sqlite3_libversion", "sqlite3VdbeExec", "sqlite3BtreeOpen",
                           "sqlite3_exec", "sqlite3_config"))
    assert not bad, "SQLite's own code is compiled into the library: %s" % bad
    # static SQLite code would also show up as its internal (non-API) functions
    internal = [s for s in syms if re.match(r"^sqlite3(Vdbe|Btree|Pager|Parser|Malloc)", s)]
    assert not internal, "SQLite internals inside the library: %s" % internal[:10]
    und = _nm(["-D", "--undefined-only"])
    und_sqlite = [l.split()[-1] for l in und.splitlines() if "sqlite3" in l]
    assert not und_sqlite, "needs SQLite symbols from elsewhere (should use the host's API table): %s" % und_sqlite[:10]
    p = subprocess.run(["readelf", "-d", OURS], capture_output=True, text=True)
    assert p.returncode == 0
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", p.stdout)
    assert needed and not [n for n in needed if "sqlite" in n], needed
