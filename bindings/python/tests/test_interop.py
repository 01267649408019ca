"""Interop with GenomicSQLite 0.9.4 (the peer), run in a subprocess with its own Python."""
import hashlib
import json
import os
import subprocess

import pytest

from conftest import REPO_DIR, TESTS_DIR, assert_compressed


def peer_python():
    candidates = [os.environ.get("PEER_PYTHON"), os.path.join(REPO_DIR, ".venv", "peer", "bin", "python"),
                  "/opt/gsq094/bin/python"]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate):
            return candidate
    pytest.fail("GenomicSQLite 0.9.4 peer Python not found (set PEER_PYTHON); tried %s" % candidates[:3])


def run_peer(*args):
    env = {k: v for k, v in os.environ.items() if k not in ("LIBGENOMICSQLITE", "PYTHONPATH", "PYTHONHOME")}
    result = subprocess.run([peer_python(), os.path.join(TESTS_DIR, "peer_side.py")] + [str(a) for a in args],
                            env=env, capture_output=True, text=True, timeout=600, cwd="/")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def row(i):  # same rows as peer_side.row
    return (i, "row %d %s" % (i, "abcdefgh" * (i % 7)), i * 0.5)


def summary(rows):
    digest = hashlib.sha256()
    for i, s, f in rows:
        digest.update(("%d|%s|%r\n" % (i, s, f)).encode())
    return {"count": len(rows), "sum": sum(r[0] for r in rows), "digest": digest.hexdigest()}


def our_write(gsq, db, first, count):
    conn = gsq.connect(db)
    conn.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, s TEXT, f REAL)")
    conn.executemany("INSERT INTO t VALUES (?,?,?)", (row(i) for i in range(first, first + count)))
    conn.commit()
    conn.close()


def our_read(gsq, db):
    conn = gsq.connect(db, read_only=True)
    rows = conn.execute("SELECT id, s, f FROM t ORDER BY id").fetchall()
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    return summary(rows)


def test_peer_reads_ours(gsq, tmp_path):
    db = str(tmp_path / "ours.db")
    our_write(gsq, db, 0, 30_000)
    assert_compressed(db)
    got = run_peer("read", db)
    assert got["version"].startswith("v0.9.4")
    expected = summary([row(i) for i in range(30_000)])
    assert {k: got[k] for k in expected} == expected
    assert got["page_size"] == 16384


def test_ours_reads_peer(gsq, tmp_path):
    db = str(tmp_path / "peer.db")
    run_peer("write", db, 0, 30_000)
    assert_compressed(db)
    assert our_read(gsq, db) == summary([row(i) for i in range(30_000)])


def test_alternating_writers(gsq, tmp_path):
    """Peer creates, we append, peer appends, we verify; peer verifies too."""
    db = str(tmp_path / "both.db")
    run_peer("write", db, 0, 5_000)
    our_write(gsq, db, 5_000, 5_000)
    run_peer("write", db, 10_000, 5_000)
    expected = summary([row(i) for i in range(15_000)])
    assert our_read(gsq, db) == expected
    got = run_peer("read", db)
    assert {k: got[k] for k in expected} == expected


def test_peer_reads_our_vacuum_copy(gsq, tmp_path):
    src, dest = str(tmp_path / "src.db"), str(tmp_path / "vac.db")
    our_write(gsq, src, 0, 8_000)
    conn = gsq.connect(src)
    conn.executescript(gsq.vacuum_into_sql(conn, dest, zstd_level=12))
    conn.close()
    got = run_peer("read", dest)
    expected = summary([row(i) for i in range(8_000)])
    assert {k: got[k] for k in expected} == expected
