"""Several processes and threads using compressed databases at once."""
import multiprocessing
import sqlite3
import threading

import pytest

N = 40_000


def _value(i):
    return (i * 7919) % 100_003


@pytest.fixture
def shared_db(gsq, tmp_path):
    db = str(tmp_path / "shared.db")
    conn = gsq.connect(db)
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, s TEXT)")
    conn.executemany("INSERT INTO t VALUES (?,?,?)", ((i, _value(i), "s%d" % (i % 97)) for i in range(N)))
    conn.commit()
    conn.close()
    return db


def _process_reader(args):
    """Runs in a child process (spawned: a fresh interpreter imports genomicsqlite itself)."""
    db, lo, hi = args
    import genomicsqlite

    conn = genomicsqlite.connect(db, read_only=True)
    total = 0
    for _ in range(3):
        total = conn.execute("SELECT sum(v), count(*) FROM t WHERE id >= ? AND id < ?", (lo, hi)).fetchone()
    full = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    conn.close()
    return tuple(total) + (full,)


def test_processes_read_same_db(shared_db):
    ctx = multiprocessing.get_context("spawn")
    chunks = [(shared_db, k * 5000, (k + 1) * 5000) for k in range(8)]
    with ctx.Pool(4) as pool:
        results = pool.map(_process_reader, chunks)
    for (db, lo, hi), got in zip(chunks, results):
        assert got == (sum(_value(i) for i in range(lo, hi)), hi - lo, N)


def test_processes_read_same_db_fork(gsq, shared_db):
    """multiprocessing's default start method on Linux (fork) after the parent itself has read
    the compressed database (so any library worker threads exist in the parent)."""
    parent = gsq.connect(shared_db, read_only=True)
    assert parent.execute("SELECT sum(v), count(*) FROM t").fetchone() == (sum(_value(i) for i in range(N)), N)
    ctx = multiprocessing.get_context("fork")
    chunks = [(shared_db, k * 10000, (k + 1) * 10000) for k in range(4)]
    pool = ctx.Pool(4)
    try:
        pending = pool.map_async(_process_reader, chunks)
        try:
            results = pending.get(timeout=60)
        except multiprocessing.TimeoutError:
            pytest.fail("forked child processes hung reading the compressed database (library not fork-safe)")
    finally:
        pool.terminate()
        pool.join()
        parent.close()
    for (db, lo, hi), got in zip(chunks, results):
        assert got == (sum(_value(i) for i in range(lo, hi)), hi - lo, N)


def test_threads_each_own_connection(gsq, shared_db, tmp_path):
    """Reader threads on one database while a writer thread commits to it; plus threads each
    writing their own compressed database."""
    errors = []
    expected_sum = sum(_value(i) for i in range(N))
    stop = threading.Event()

    def reader():
        try:
            conn = gsq.connect(shared_db, read_only=True, timeout=60)
            for _ in range(20):
                got = conn.execute("SELECT sum(v), count(*) FROM t WHERE id < ?", (N,)).fetchone()
                assert got == (expected_sum, N), got
            conn.close()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def writer():
        try:
            conn = gsq.connect(shared_db, timeout=60)
            k = 0
            while not stop.is_set() and k < 50:
                conn.execute("INSERT INTO t VALUES (?, ?, 'w')", (N + k, k))
                conn.commit()
                k += 1
            conn.close()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    def own_db(n):
        try:
            db = str(tmp_path / ("own%d.db" % n))
            conn = gsq.connect(db)
            conn.execute("CREATE TABLE x(i INTEGER PRIMARY KEY, s TEXT)")
            conn.executemany("INSERT INTO x VALUES (?, ?)", ((i, "thread %d row %d" % (n, i)) for i in range(20_000)))
            conn.commit()
            assert conn.execute("SELECT count(*), sum(i) FROM x").fetchone() == (20_000, 199990000)
            conn.close()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    threads += [threading.Thread(target=own_db, args=(n,)) for n in range(3)]
    w = threading.Thread(target=writer)
    for t in threads + [w]:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    w.join()
    assert not errors, errors
    conn = gsq.connect(shared_db, read_only=True)
    extra = conn.execute("SELECT count(*) FROM t WHERE id >= ?", (N,)).fetchone()[0]
    assert 1 <= extra <= 50
    conn.close()
    for n in range(3):
        c = gsq.connect(str(tmp_path / ("own%d.db" % n)), read_only=True)
        assert c.execute("SELECT count(*) FROM x").fetchone() == (20_000,)
        c.close()


def test_check_same_thread_false_shared_connection(gsq, tmp_path):
    db = str(tmp_path / "shared_conn.db")
    conn = gsq.connect(db, check_same_thread=False)
    conn.execute("CREATE TABLE t(thread INT, i INT)")
    conn.commit()
    lock = threading.Lock()
    errors = []

    def work(n):
        try:
            for i in range(500):
                with lock:
                    conn.execute("INSERT INTO t VALUES (?, ?)", (n, i))
                    if i % 100 == 99:
                        conn.commit()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    conn.commit()
    assert conn.execute("SELECT count(*), count(DISTINCT thread), sum(i) FROM t").fetchone() == (2000, 4, 4 * 124750)
    conn.close()
    ro = gsq.connect(db, read_only=True, check_same_thread=False)
    results = []

    def read():
        with lock:
            results.append(ro.execute("SELECT count(*) FROM t").fetchone()[0])

    ts = [threading.Thread(target=read) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert results == [2000, 2000, 2000]
    ro.close()


def test_open_waits_for_lock_up_to_timeout(gsq, shared_db):
    """While another process/connection holds an exclusive lock on the file, connect() waits up
    to `timeout` (as sqlite3.connect users expect) and then raises 'database is locked'."""
    import time

    # the outer file, as plain SQLite
    locker = sqlite3.connect(shared_db, isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            c = gsq.connect(shared_db, read_only=True, timeout=0.5)
            c.execute("SELECT count(*) FROM t").fetchone()
        waited = time.monotonic() - started
        assert 0.4 <= waited < 10, waited

        timer = threading.Timer(0.5, lambda: locker.execute("COMMIT"))
        timer.start()
        started = time.monotonic()
        conn = gsq.connect(shared_db, read_only=True, timeout=20)
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (N,)
        assert time.monotonic() - started >= 0.3
        conn.close()
        timer.join()
    finally:
        if locker.in_transaction:
            locker.execute("COMMIT")
        locker.close()
