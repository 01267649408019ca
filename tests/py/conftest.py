"""Fixtures for the compressed-database core tests.

Which library is "ours": $LIBGENOMICSQLITE, else <repo>/target/release/libgenomicsqlite.so.
The peer (GenomicSQLite 0.9.4): $PEER_LIBGENOMICSQLITE, else .venv/peer/.../libgenomicsqlite.so.

To check that a test is meaningful before our library exists, run the suite with
LIBGENOMICSQLITE pointing at the peer's .so: everything except the tests marked `ours_only`
(deliberate differences of ours) must then pass, and the `ours_only` ones must fail.

The pytest process loads "ours" into its own sqlite3 module (Debian's python, which can load
extensions); anything that has to use the peer runs in a child process (gsqtool.py), because
both libraries register the same VFS and function names.
"""
import glob
import hashlib
import json
import os
import signal
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import gsqtool  # noqa: E402

TOOL = os.path.join(HERE, "gsqtool.py")


def _ours():
    p = os.environ.get("LIBGENOMICSQLITE") or os.path.join(REPO, "target/release/libgenomicsqlite.so")
    return os.path.abspath(p)


def _peer():
    p = os.environ.get("PEER_LIBGENOMICSQLITE")
    if p:
        return os.path.abspath(p)
    found = sorted(glob.glob(os.path.join(REPO, ".venv/peer/lib/python3*/site-packages/genomicsqlite/libgenomicsqlite.so")))
    return found[0] if found else ""


OURS = _ours()
# our `genomicsqlite` command
BIN = os.environ.get("GENOMICSQLITE_BIN") or os.path.join(REPO, "target", "release", "genomicsqlite")
PEER = _peer()
LIBS = {"ours": OURS, "peer": PEER}
AGAINST_PEER = bool(PEER) and os.path.realpath(OURS) == os.path.realpath(PEER)


def pytest_configure(config):
    config.addinivalue_line("markers", "ours_only: checks a deliberate difference of ours from 0.9.4 (fails against the peer)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


def pytest_report_header(config):
    return ["libgenomicsqlite (ours): %s%s" % (OURS, "  [== peer]" if AGAINST_PEER else ""),
            "libgenomicsqlite (peer): %s" % (PEER or "NOT FOUND"),
            "python: %s, sqlite %s" % (sys.executable, __import__("sqlite3").sqlite_version)]


@pytest.fixture(scope="session", autouse=True)
def _load_ours():
    if not os.path.isfile(OURS):
        pytest.exit("library under test not found: %s (build it or set LIBGENOMICSQLITE)" % OURS, returncode=3)
    gsqtool.load_extension(OURS)
    yield


@pytest.fixture(scope="session")
def peer_lib():
    if not PEER or not os.path.isfile(PEER):
        pytest.fail("peer library (GenomicSQLite 0.9.4) not found; run tests/setup.sh or set PEER_LIBGENOMICSQLITE")
    return PEER


@pytest.fixture(scope="session")
def ours_lib():
    return OURS


# ---------------------------------------------------------------------------------------
# child processes


def _check_no_signal(proc, what):
    if proc.returncode is not None and proc.returncode < 0:
        raise AssertionError("%s was killed by signal %s (crash)\nstderr: %s" % (
            what, signal.Signals(-proc.returncode).name, getattr(proc, "stderr", "")))


def tool(lib, *args, check=True, timeout=600):
    """Run gsqtool.py COMMAND with LIB in a child Debian python; returns parsed JSON stdout."""
    cmd = [sys.executable, TOOL, "--lib", lib] + [str(a) for a in args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    _check_no_signal(p, "gsqtool %s" % args[0])
    if check and p.returncode != 0:
        raise AssertionError("gsqtool %s failed (exit %d) with %s:\n%s" % (
            args[0], p.returncode, os.path.basename(os.path.dirname(lib)) or lib, p.stderr[-3000:]))
    return json.loads(p.stdout) if p.returncode == 0 and p.stdout.strip() else p


def shell(lib, script, timeout=300):
    """Run the system sqlite3 shell: `.load LIB` then SCRIPT (on stdin); returns CompletedProcess.

    Asserts that the shell was not killed by a signal (a crash of the extension)."""
    full = ".bail on\n.load %s\n%s\n" % (lib, script)
    p = subprocess.run(["sqlite3", "-batch", ":memory:"], input=full, capture_output=True,
                       text=True, timeout=timeout)
    _check_no_signal(p, "sqlite3 shell")
    return p


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def files_digest(path):
    """sha256 of a file plus the names of any journal/wal siblings (to see side effects)."""
    d = os.path.dirname(path) or "."
    base = os.path.basename(path)
    sib = sorted(n for n in os.listdir(d) if n.startswith(base) and n != base)
    return (sha256(path) if os.path.exists(path) else None, sib)


# ---------------------------------------------------------------------------------------
# data fixtures (built once per session)

@pytest.fixture(scope="session")
def plain_db(tmp_path_factory):
    """A generated plain SQLite database of a few MB and its content hashes."""
    d = tmp_path_factory.mktemp("plain")
    path = str(d / "generated.db")
    gsqtool.make_plain(path, scale=float(os.environ.get("GSQ_TEST_SCALE", "1")), seed=20240611)
    h = gsqtool.plain_hashes(path)
    assert h["integrity"] == "ok"
    assert os.path.getsize(path) > 2_000_000, os.path.getsize(path)
    return path, h


@pytest.fixture(scope="session")
def compressed_db(tmp_path_factory, plain_db):
    """plain_db copied into a compressed database by ours (VACUUM INTO); read-only use please."""
    d = tmp_path_factory.mktemp("compressed")
    path = str(d / "generated.gsq.db")
    gsqtool.vacuum_into(plain_db[0], path, {})
    return path


def outer_conn(path):
    """The outer file opened as a plain SQLite database, read-only."""
    import sqlite3
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True)
