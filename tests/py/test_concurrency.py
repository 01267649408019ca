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


def _spawn(*args):
    return subprocess.Popen([sys.executable, TOOL, "--lib", OURS] + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


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
    path = str(tmp_path / "bank.db")
    cfg = {"inner_page_KiB": 4}
    c = gsqtool.open_compressed(path, cfg)
    gsqtool.bank_init(c)
    c.close()
    cj = json.dumps(cfg)
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
