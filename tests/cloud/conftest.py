"""Fixtures of the private and cloud storage tests (issue 14).

The database under test is made here: a generated SQLite file, compacted and given its .dbi by
the `genomicsqlite` command (`--compact`, `--dbi`), as a user publishing data would. Queries run
in child processes (query.py, or the command) so each gets its own environment: credentials
come from the environment and files like ~/.aws/credentials and ~/.netrc under a private HOME.
"""
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.abspath(os.environ.get("LIBGENOMICSQLITE") or os.path.join(REPO, "target/release/libgenomicsqlite.so"))
BIN = os.path.abspath(os.environ.get("GENOMICSQLITE_BIN") or os.path.join(REPO, "target/release/genomicsqlite"))
QUERY = os.path.join(HERE, "query.py")

QUERIES = [
    "SELECT count(*), sum(n), total(length(v)) FROM t",
    "SELECT id, n, v FROM t WHERE id = 4321",
    "SELECT count(*) FROM t WHERE v >= 'k0500' AND v < 'k0600'",
]
# Names of the environment variables that carry credentials: the tests start children without
# them unless a test sets them.
CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                   "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
                   "AWS_ENDPOINT_URL_S3", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
                   "SQLITE_WEB_BEARER_TOKEN", "SQLITE_WEB_HEADERS", "SQLITE_WEB_LOG")


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    """(path of the compressed database, its .dbi, expected rows of QUERIES read locally)."""
    d = tmp_path_factory.mktemp("db")
    plain = str(d / "plain.db")
    conn = sqlite3.connect(plain)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, v TEXT)")
    conn.execute("CREATE INDEX t_v ON t(v)")
    conn.executemany("INSERT INTO t VALUES (?,?,?)",
                     ((i, i * 7919 % 10007, "k%04d-%s" % (i * 31 % 1000, "x" * (i % 50))) for i in range(1, 30001)))
    conn.commit()
    conn.close()
    gsq = str(d / "genes.gsq")
    for args in ([plain, "--compact", "-o", gsq, "-q"], [gsq, "--dbi", "-q"]):
        p = subprocess.run([BIN] + args, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, "genomicsqlite %s: %s" % (args, p.stderr)
    assert os.path.isfile(gsq + ".dbi")
    expected = query(gsq, mode="uri")
    assert expected.returncode == 0, expected.stderr
    return gsq, gsq + ".dbi", json.loads(expected.stdout)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(home, **extra):
    """The test process's environment without credentials, HOME = `home`, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARS}
    env["HOME"] = str(home)
    env["LIBGENOMICSQLITE"] = LIB
    env.update({k: str(v) for k, v in extra.items()})
    return env


def query(db, config=None, env=None, mode="uri", queries=QUERIES, timeout=60, opens=1):
    """Runs QUERIES on `db` in a child (query.py; `opens` times); CompletedProcess with
    .elapsed (seconds)."""
    env = dict(env if env is not None else child_env(os.environ.get("HOME", "/root")), GSQ_TEST_OPENS=str(opens))
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, QUERY, mode, db, json.dumps(config or {})] + list(queries),
                       capture_output=True, text=True, timeout=timeout,
                       env=env)
    p.elapsed = time.monotonic() - t0
    return p


def command(db, sql, env, timeout=60):
    """The `genomicsqlite` command on `db` running `sql` (-json); CompletedProcess."""
    return subprocess.run([BIN, db, "-json", sql], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def open_c(tmp_path_factory):
    """open_c.c (the C API: genomicsqlite_open) compiled against the library under test."""
    gcc = shutil.which("gcc")
    if not gcc:
        pytest.skip("gcc is not installed (tests/c/run.sh installs it)")
    exe = str(tmp_path_factory.mktemp("c") / "open_c")
    p = subprocess.run([gcc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I" + os.path.join(REPO, "include"),
                        "-o", exe, os.path.join(HERE, "open_c.c"), LIB, "-Wl,-rpath," + os.path.dirname(LIB),
                        "-lsqlite3"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return exe


def binding_installed():
    p = subprocess.run([sys.executable, "-c", "import genomicsqlite"], capture_output=True, timeout=60,
                       env=child_env("/nonexistent"))
    return p.returncode == 0


def requests_logged(stderr):
    """The request count of the file's close summary (vfs_log >= 3)."""
    for line in stderr.splitlines():
        if " requests (" in line and "closed" in line:
            return int(line.split(" requests (")[0].rsplit(" ", 1)[1])
    return None


def assert_no_secret(outputs, secrets):
    for out in outputs:
        for s in secrets:
            assert s not in out, "a secret (%s...) appears in the output:\n%s" % (s[:3], out)
