"""Transactions on a compressed database: commit, rollback, savepoints, big transactions."""
import os
import sqlite3
import time

import pytest

import gsqtool


def _content(path):
    c = gsqtool.open_compressed(path, readonly=True)
    try:
        assert gsqtool.integrity(c) == "ok"
        return gsqtool.table_hashes(c)
    finally:
        c.close()


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "tx.db")
    c = gsqtool.open_compressed(path, {"inner_page_KiB": 4})
    c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, b BLOB)")
    c.execute("CREATE INDEX t_v ON t (v)")
    c.execute("BEGIN")
    c.executemany("INSERT INTO t VALUES (?,?,?)", ((i, "v%d" % i, os.urandom(100)) for i in range(1000)))
    c.execute("COMMIT")
    c.close()
    return path


def test_commit_visible_after_reopen(db):
    c = gsqtool.open_compressed(db)
    c.execute("BEGIN")
    c.execute("INSERT INTO t VALUES (5000, 'committed', NULL)")
    c.execute("UPDATE t SET v = 'changed' WHERE id < 10")
    c.execute("COMMIT")
    c.close()
    c = gsqtool.open_compressed(db, readonly=True)
    assert c.execute("SELECT v FROM t WHERE id = 5000").fetchone() == ("committed",)
    assert c.execute("SELECT count(*) FROM t WHERE v = 'changed'").fetchone()[0] == 10
    assert gsqtool.integrity(c) == "ok"
    c.close()


def test_rollback_restores(db):
    before = _content(db)
    c = gsqtool.open_compressed(db)
    c.execute("BEGIN")
    c.execute("DELETE FROM t WHERE id % 2 = 0")
    c.execute("INSERT INTO t VALUES (9999, 'x', zeroblob(100000))")
    c.execute("CREATE TABLE u AS SELECT * FROM t")
    assert c.execute("SELECT count(*) FROM t").fetchone()[0] == 501
    c.execute("ROLLBACK")
    assert c.execute("SELECT count(*) FROM t").fetchone()[0] == 1000
    assert c.execute("SELECT count(*) FROM sqlite_master WHERE name = 'u'").fetchone()[0] == 0
    assert gsqtool.table_hashes(c) == before
    c.close()
    assert _content(db) == before


def test_uncommitted_transaction_discarded_on_close(db):
    before = _content(db)
    c = gsqtool.open_compressed(db)
    c.execute("BEGIN")
    c.execute("UPDATE t SET v = 'never'")
    c.close()  # closing with an open transaction rolls it back
    assert _content(db) == before


def test_savepoints(db):
    c = gsqtool.open_compressed(db)
    c.execute("BEGIN")
    c.execute("INSERT INTO t VALUES (2001, 'a', NULL)")
    c.execute("SAVEPOINT s1")
    c.execute("INSERT INTO t VALUES (2002, 'b', NULL)")
    c.execute("SAVEPOINT s2")
    c.execute("DELETE FROM t WHERE id < 500")
    c.execute("INSERT INTO t VALUES (2003, 'c', zeroblob(50000))")
    c.execute("ROLLBACK TO s2")
    assert c.execute("SELECT count(*) FROM t").fetchone()[0] == 1002
    c.execute("INSERT INTO t VALUES (2004, 'd', NULL)")
    c.execute("RELEASE s2")
    c.execute("ROLLBACK TO s1")
    assert c.execute("SELECT count(*) FROM t WHERE id > 2000").fetchone()[0] == 1
    c.execute("INSERT INTO t VALUES (2005, 'e', NULL)")
    c.execute("RELEASE s1")
    c.execute("COMMIT")
    c.close()
    c = gsqtool.open_compressed(db, readonly=True)
    assert [r[0] for r in c.execute("SELECT id FROM t WHERE id > 2000 ORDER BY id")] == [2001, 2005]
    assert c.execute("SELECT count(*) FROM t").fetchone()[0] == 1002
    assert gsqtool.integrity(c) == "ok"
    c.close()


def test_savepoint_outside_transaction(db):
    """SAVEPOINT as the outermost transaction; RELEASE commits it."""
    c = gsqtool.open_compressed(db)
    c.execute("SAVEPOINT outer_sp")
    c.execute("INSERT INTO t VALUES (3001, 'sp', NULL)")
    c.execute("RELEASE outer_sp")
    c.execute("SAVEPOINT outer_sp")
    c.execute("INSERT INTO t VALUES (3002, 'sp', NULL)")
    c.execute("ROLLBACK TO outer_sp")
    c.execute("RELEASE outer_sp")
    c.close()
    c = gsqtool.open_compressed(db, readonly=True)
    assert [r[0] for r in c.execute("SELECT id FROM t WHERE v = 'sp'")] == [3001]
    c.close()


def _big_txn(c, n_rows):
    c.execute("PRAGMA cache_size = 20")  # 20 pages: the transaction must spill
    c.execute("BEGIN")
    c.executemany("INSERT INTO big VALUES (?, ?)",
                  ((i, os.urandom(50) + b"z" * 900) for i in range(n_rows)))
    c.execute("UPDATE t SET v = v || '!' ")
    c.execute("DELETE FROM t WHERE id % 3 = 0")


def test_large_transaction_commit(db):
    c = gsqtool.open_compressed(db)
    c.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, data BLOB)")
    pages_before = c.execute("PRAGMA page_count").fetchone()[0]
    _big_txn(c, 20000)
    c.execute("COMMIT")
    pages_after = c.execute("PRAGMA page_count").fetchone()[0]
    assert pages_after - pages_before > 20 * 100, (pages_before, pages_after)
    c.close()
    c = gsqtool.open_compressed(db, readonly=True)
    assert c.execute("SELECT count(*), sum(length(data)) FROM big").fetchone() == (20000, 20000 * 950)
    assert c.execute("SELECT count(*) FROM t WHERE v LIKE '%!'").fetchone()[0] == 666
    assert gsqtool.integrity(c) == "ok"
    c.close()


def test_large_transaction_rollback(db):
    c = gsqtool.open_compressed(db)
    c.execute("CREATE TABLE big (id INTEGER PRIMARY KEY, data BLOB)")
    c.execute("INSERT INTO big VALUES (-1, x'00')")
    c.close()
    before = _content(db)
    size_before = os.path.getsize(db)
    c = gsqtool.open_compressed(db)
    _big_txn(c, 20000)
    assert c.execute("SELECT count(*) FROM big").fetchone()[0] == 20001
    c.execute("ROLLBACK")
    assert gsqtool.table_hashes(c) == before
    assert gsqtool.integrity(c) == "ok"
    c.close()
    assert _content(db) == before
    # the rolled-back pages must not remain in the outer file's page table
    o = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    n_rows = o.execute("SELECT count(*) FROM nested_vfs_zstd_pages WHERE pageno > 0").fetchone()[0]
    o.close()
    c = gsqtool.open_compressed(db, readonly=True)
    assert n_rows == c.execute("PRAGMA page_count").fetchone()[0]
    c.close()
    assert os.path.getsize(db) < size_before + 4 * 1024 * 1024


def test_second_connection_sees_only_committed(db):
    """Another connection never sees a pending transaction's changes.

    (The peer keeps a read lock on the outer file while a reader connection stays open,
    which blocks the writer's COMMIT; so the reader here closes before the commit.)"""
    w = gsqtool.open_compressed(db)
    w.execute("BEGIN")
    w.execute("INSERT INTO t VALUES (7777, 'pending', NULL)")
    w.execute("UPDATE t SET v = 'pending' WHERE id < 100")
    try:
        r = gsqtool.open_compressed(db, readonly=True, timeout=0.2)
        # the reader must not see the pending changes (it may also be refused with SQLITE_BUSY)
        assert r.execute("SELECT count(*) FROM t WHERE v = 'pending'").fetchall() == [(0,)]
        r.close()
    except sqlite3.OperationalError as e:
        assert "locked" in str(e) or "busy" in str(e) or "unable to open" in str(e), e
    w.execute("COMMIT")
    w.close()
    r = gsqtool.open_compressed(db, readonly=True, timeout=0.2)
    assert r.execute("SELECT count(*) FROM t WHERE v = 'pending'").fetchall() == [(101,)]
    r.close()


@pytest.mark.ours_only
def test_open_idle_reader_does_not_hold_up_writer(db):
    """A reader connection that read and then stays open (ours keeps its outer read
    transaction for a moment, for the next read) lets another connection of the same process
    and thread commit within moments, sees that commit at its next read, and sees its own
    commits too."""
    r = gsqtool.open_compressed(db, timeout=5)
    w = gsqtool.open_compressed(db, timeout=5)
    for round_ in range(5):
        assert r.execute("SELECT count(*) FROM t WHERE v = 'w'").fetchone()[0] == round_
        w.execute("BEGIN IMMEDIATE")
        w.execute("UPDATE t SET v = 'w' WHERE id = ?", (round_,))
        t0 = time.monotonic()
        w.execute("COMMIT")
        # the reader's thread is right here, not reading: only its idle release lets go
        assert time.monotonic() - t0 < 2.0
        assert r.execute("SELECT count(*) FROM t WHERE v = 'w'").fetchone()[0] == round_ + 1
        r.execute("UPDATE t SET v = 'r' WHERE id = ?", (500 + round_,))
        assert r.execute("SELECT count(*) FROM t WHERE v = 'r'").fetchone()[0] == round_ + 1
        assert w.execute("SELECT count(*) FROM t WHERE v = 'r'").fetchone()[0] == round_ + 1
    r.close()
    w.close()
