"""Several processes on one compressed file: readers together; a writer with readers.

SQLITE_BUSY ("database is locked") is acceptable; corruption, errors of any other kind and
invariant violations (a torn state seen by a reader) are not.
"""
import json
import os
import subprocess
import sys

import pytest

import gsqtool
from conftest import OURS, TOOL, _check_no_signal

SECONDS = float(os.environ.get("GSQ_CONCURRENCY_SECONDS", "8"))


def _spawn_with(lib, *args):
    return subprocess.Popen([sys.executable, TOOL, "--lib", lib] + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _spawn(*args):
    return _spawn_with(OURS, *args)


BANK_CFG = {"inner_page_KiB": 4}


def _new_bank(tmp_path):
    """A fresh bank database (see gsqtool); returns its path."""
    path = str(tmp_path / "bank.db")
    c = gsqtool.open_compressed(path, BANK_CFG)
    gsqtool.bank_init(c)
    c.close()
    return path


def _collect(p, what, timeout=SECONDS + 120):
    out, err = p.communicate(timeout=timeout)
    _check_no_signal(p, what)
    assert p.returncode == 0, "%s failed (exit %d): %s" % (what, p.returncode, err[-2000:])
    return json.loads(out.strip().splitlines()[-1])


def test_parallel_readers_same_content(compressed_db, plain_db):
    """Four reader processes at once all read the whole database correctly."""
    _, want = plain_db
    procs = [_spawn("hashes", compressed_db) for _ in range(4)]
    for i, p in enumerate(procs):
        got = _collect(p, "reader %d" % i)
        assert got["integrity"] == "ok"
        assert got["tables"] == want["tables"]


@pytest.mark.parametrize("readers,reads_per_conn", [(3, 1), (2, 20)], ids=["reopen-each-read", "reopen-every-20"])
def test_writer_and_readers_never_torn(tmp_path, readers, reads_per_conn):
    path = _new_bank(tmp_path)
    cfg, cj = BANK_CFG, json.dumps(BANK_CFG)
    rp = [_spawn("bank-reader", path, cj, SECONDS, reads_per_conn) for _ in range(readers)]
    wp = _spawn("bank-writer", path, cj, SECONDS)
    w = _collect(wp, "writer")
    rs = [_collect(p, "reader %d" % i) for i, p in enumerate(rp)]
    for i, r in enumerate(rs):
        assert r["errors"] == [], "reader %d got errors other than SQLITE_BUSY: %s" % (i, r["errors"])
        assert r["n_violations"] == 0, "reader %d saw torn states: %s" % (i, r["violations"])
    # liveness (loose, because the peer refuses most opens while a writer is busy): the
    # readers as a whole did read, and the writer did commit
    assert sum(r["reads"] for r in rs) > 0, "no reader ever managed to read: %s" % rs
    assert w["commits"] >= 5, "the writer (almost) never committed: %s" % w
    c = gsqtool.open_compressed(path, cfg, readonly=True)
    try:
        assert gsqtool.integrity(c) == "ok"
        total, n = c.execute("SELECT sum(balance), count(*) FROM accounts").fetchone()
        assert (total, n) == (gsqtool.BANK_TOTAL, gsqtool.BANK_ACCOUNTS)
        hist = c.execute("SELECT count(*) FROM history").fetchone()[0]
        assert hist == c.execute("SELECT txns FROM meta").fetchone()[0] > 0
    finally:
        c.close()
    print("writer:", w, "readers:", [{k: r[k] for k in ("reads", "busy", "open_refused")} for r in rs])


# Readers that keep their connection open and read in a loop are where ours keeps the outer read
# transaction from one read to the next; a writer must still commit promptly, whoever wrote it.
# Readers are (library, reads per connection, pause after each read in seconds); the peer
# holds its outer lock while a connection is open, so its readers reopen for every read.
@pytest.mark.parametrize("writer,readers", [
    ("ours", [("ours", 10**9, 0), ("ours", 10**9, 0), ("ours", 10**9, 0.05)]),
    ("ours", [("ours", 10**9, 0), ("peer", 1, 0)]),
    ("peer", [("ours", 10**9, 0), ("ours", 10**9, 0.05)]),
], ids=["ours", "ours-and-peer-reader", "peer-writer"])
def test_writer_commits_while_open_readers_loop(tmp_path, peer_lib, writer, readers):
    seconds = min(SECONDS, 5)
    libs = {"ours": OURS, "peer": peer_lib}
    path = _new_bank(tmp_path)
    cfg, cj = BANK_CFG, json.dumps(BANK_CFG)
    rp = [_spawn_with(libs[lib], "bank-reader", path, cj, seconds, rpc, pause)
          for lib, rpc, pause in readers]
    wp = _spawn_with(libs[writer], "bank-writer", path, cj, seconds)
    w = _collect(wp, "writer")
    rs = [_collect(p, "reader %d" % i) for i, p in enumerate(rp)]
    for i, r in enumerate(rs):
        assert r["errors"] == [], "reader %d got errors other than SQLITE_BUSY: %s" % (i, r["errors"])
        assert r["n_violations"] == 0, "reader %d saw torn states: %s" % (i, r["violations"])
    # (a 0.9.4 writer keeps the outer file locked while its connection is open, so readers
    # then wait most of the time; they read a lot only beside our writer)
    for i, ((lib, rpc, _), r) in enumerate(zip(readers, rs)):
        if lib == "ours" and writer == "ours":
            assert r["reads"] >= 20, "reader %d hardly read: %s" % (i, r)
    # readers that never let go of the outer lock would leave the writer waiting for seconds
    # per commit (or forever): it commits often, and (when it is ours, which waits at COMMIT
    # instead of failing) every commit is quick
    assert w["commits"] >= 10, "the writer (almost) never committed: %s" % w
    if writer == "ours" and all(lib == "ours" for lib, _, _ in readers):
        assert w["busy"] == 0, w
        assert w["p99_s"] < 1.0 and w["max_s"] < 5.0, "commits waited too long: %s" % w
    c = gsqtool.open_compressed(path, cfg, readonly=True)
    try:
        assert gsqtool.integrity(c) == "ok"
        total, n = c.execute("SELECT sum(balance), count(*) FROM accounts").fetchone()
        assert (total, n) == (gsqtool.BANK_TOTAL, gsqtool.BANK_ACCOUNTS)
        # no lost commit: every move the writer saw committed is there, and nothing else
        assert c.execute("SELECT txns FROM meta").fetchone()[0] == w["moves"]
        assert c.execute("SELECT count(*) FROM history").fetchone()[0] == w["moves"]
    finally:
        c.close()
    print("writer:", w, "readers:", [{k: r[k] for k in ("reads", "busy", "open_refused")} for r in rs])
