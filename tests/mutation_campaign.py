#!/usr/bin/env python3
"""Mutation campaign (issue 16): damage a compressed database, its dictionaries and its .dbi
at random, serve it from broken servers, and check that every query gives the right answer or
a clear error, within a time bound, and never a wrong answer.

    .venv/debian/bin/python tests/mutation_campaign.py [--cases N] [--seed S] [--lib PATH]

Kinds of case (in turn): a damaged page row (bytes flipped, set, cut or extended; meta1 or
meta2 changed; the row deleted, moved, duplicated elsewhere or out of range), a damaged
dictionary, a damaged .dbi (random bytes of the file, or of one of its pages) read over HTTP,
and a broken server (tests/web/fault_http.py modes). Each case runs the same queries in a fresh
sqlite3 shell (our extension loaded) and is classified:
  correct   same output as the intact database
  error     the shell failed with a message (SQLITE_CORRUPT, I/O error naming the server...)
  wrong     different output and no error           <- must never happen
  hang      no answer within the time bound (--timeout)  <- must never happen
The last line is `cases N / clear errors E / wrong results W / hangs H` (+ correct C); exit
status 1 when W or H is not 0. Needs python3, sqlite3; runs on 127.0.0.1 only.
"""
import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
QUERIES = [
    "SELECT count(*), sum(length(v)), sum(id) FROM a",
    "SELECT count(*), sum(length(v)), hex(substr(max(v), 1, 8)) FROM b",
    "SELECT v FROM a WHERE id = 1234",
    "SELECT count(*) FROM a WHERE v LIKE '%row 77%'",
    "PRAGMA integrity_check",
]
SERVER_MODES = ["dbi500", "dbislow", "dbihuge", "bigger", "longer", "absurd", "star", "leftover",
                "noval", "close", "delay", "slow", "noval+close", "leftover+delay"]


def build(path, lib):
    """A compressed database with a compressible table (trains a dictionary) and an
    incompressible one (pages stored as is), and its .dbi."""
    boot = sqlite3.connect(":memory:")
    boot.enable_load_extension(True)
    boot.load_extension(lib)
    uri = boot.execute("SELECT genomicsqlite_uri(?, '{\"inner_page_KiB\": 4}')", (path,)).fetchone()[0]
    tuning = boot.execute("SELECT genomicsqlite_tuning_sql('{\"inner_page_KiB\": 4}')").fetchone()[0]
    c = sqlite3.connect(uri, uri=True, isolation_level=None)
    c.executescript(tuning)
    rnd = random.Random(11)
    c.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)")
    c.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, v BLOB)")
    c.execute("BEGIN")
    c.executemany("INSERT INTO a VALUES (?, ?)", ((i, ("row %d " % i) * (20 + i % 17)) for i in range(4000)))
    c.executemany("INSERT INTO b VALUES (?, ?)", ((i, rnd.randbytes(500)) for i in range(1500)))
    c.execute("COMMIT")
    c.close()
    boot.close()
    binary = os.environ.get("GENOMICSQLITE_BIN") or os.path.join(REPO, "target", "release", "genomicsqlite")
    p = subprocess.run([binary, path, "--dbi", "-f", "-q"], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("genomicsqlite --dbi failed: " + p.stderr)


def run_queries(lib, uri, timeout):
    script = ".bail on\n.load %s\n.headers off\n.mode quote\n.open '%s'\n%s" % (
        lib, uri, "".join(q + ";\n" for q in QUERIES))
    try:
        p = subprocess.run(["sqlite3", "-batch", ":memory:"], input=script, capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "hang", ""
    if p.returncode < 0:
        return "crash", p.stderr
    if p.returncode != 0 or "Error" in p.stderr:
        return "error", p.stderr
    return "ok", p.stdout


def mutate_bytes(rnd, data):
    data = bytearray(data)
    how = rnd.choice(["flip", "set", "cut", "extend", "zero-run"])
    if not data:
        return bytes(rnd.randbytes(8)), "extend"
    at = rnd.randrange(len(data))
    if how == "flip":
        data[at] ^= 1 << rnd.randrange(8)
    elif how == "set":
        data[at] = rnd.randrange(256)
    elif how == "cut":
        del data[at:]
    elif how == "extend":
        data += rnd.randbytes(rnd.randrange(1, 64))
    else:
        n = rnd.randrange(1, 64)
        data[at:at + n] = bytes(len(data[at:at + n]))
    return bytes(data), how


def page_case(rnd, src, dest):
    shutil.copy(src, dest)
    o = sqlite3.connect(dest)
    pages = [r[0] for r in o.execute("SELECT pageno FROM nested_vfs_zstd_pages WHERE pageno > 0")]
    p = rnd.choice(pages)
    kind = rnd.choice(["data", "data", "data", "meta1", "meta2", "delete", "move", "copy", "range", "swap"])
    if kind == "data":
        (data,) = o.execute("SELECT data FROM nested_vfs_zstd_pages WHERE pageno = ?", (p,)).fetchone()
        new, how = mutate_bytes(rnd, data)
        o.execute("UPDATE nested_vfs_zstd_pages SET data = ? WHERE pageno = ?", (new, p))
        kind = "data-" + how
    elif kind == "meta1":
        o.execute("UPDATE nested_vfs_zstd_pages SET meta1 = ? WHERE pageno = ?",
                  (rnd.choice([None, -1, 0, 1, 2, 7, -5]), p))
    elif kind == "meta2":
        o.execute("UPDATE nested_vfs_zstd_pages SET meta2 = ? WHERE pageno = ?",
                  (rnd.choice([None, 0, rnd.getrandbits(63), "x"]), p))
    elif kind == "delete":
        o.execute("DELETE FROM nested_vfs_zstd_pages WHERE pageno = ?", (p,))
    elif kind == "move":
        q = rnd.choice(pages)
        if q != p:
            o.execute("DELETE FROM nested_vfs_zstd_pages WHERE pageno = ?", (q,))
            o.execute("UPDATE nested_vfs_zstd_pages SET pageno = ? WHERE pageno = ?", (q, p))
    elif kind == "copy":
        q = rnd.choice(pages)
        o.execute("UPDATE nested_vfs_zstd_pages SET (data, meta1, meta2) = (SELECT data, meta1, meta2 "
                  "FROM nested_vfs_zstd_pages WHERE pageno = ?) WHERE pageno = ?", (q, p))
    elif kind == "range":
        o.execute("INSERT OR REPLACE INTO nested_vfs_zstd_pages SELECT ?, data, meta1, meta2, btree_interior "
                  "FROM nested_vfs_zstd_pages WHERE pageno = ?", (rnd.choice([0, -7, 2 ** 32, 2 ** 31 + 5, max(pages) + 3]), p))
    elif kind == "swap":
        q = rnd.choice(pages)
        o.executescript("UPDATE nested_vfs_zstd_pages SET pageno = -1 WHERE pageno = %d;"
                        "UPDATE nested_vfs_zstd_pages SET pageno = %d WHERE pageno = %d;"
                        "UPDATE nested_vfs_zstd_pages SET pageno = %d WHERE pageno = -1;" % (p, p, q, q))
    o.commit()
    o.close()
    return "page " + kind


def dict_case(rnd, src, dest):
    shutil.copy(src, dest)
    o = sqlite3.connect(dest)
    rows = o.execute("SELECT id, dict FROM nested_vfs_zstd_dicts").fetchall()
    if not rows:
        o.close()
        return "dict (none)"
    i, d = rnd.choice(rows)
    new, how = mutate_bytes(rnd, d)
    o.execute("UPDATE nested_vfs_zstd_dicts SET dict = ? WHERE id = ?", (new, i))
    o.commit()
    o.close()
    return "dict " + how


def dbi_case(rnd, src, site, name):
    shutil.copy(src, os.path.join(site, name))
    dbi = os.path.join(site, name + ".dbi")
    shutil.copy(src + ".dbi", dbi)
    if rnd.random() < 0.5:
        with open(dbi, "r+b") as f:
            size = os.path.getsize(dbi)
            for _ in range(rnd.randrange(1, 4)):
                at = rnd.randrange(size)
                f.seek(at)
                b = f.read(1)
                f.seek(at)
                f.write(bytes([(b[0] if b else 0) ^ (1 << rnd.randrange(8))]))
        return "dbi file bytes"
    o = sqlite3.connect(dbi)
    offsets = [r[0] for r in o.execute("SELECT offset FROM web_dbi_pages")]
    off = rnd.choice(offsets)
    (data,) = o.execute("SELECT data FROM web_dbi_pages WHERE offset = ?", (off,)).fetchone()
    new, how = mutate_bytes(rnd, data)
    o.execute("UPDATE web_dbi_pages SET data = ? WHERE offset = ?", (new, off))
    o.commit()
    o.close()
    return "dbi page " + how


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--lib", default=os.environ.get("LIBGENOMICSQLITE") or
                    os.path.join(REPO, "target", "release", "libgenomicsqlite.so"))
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per case before it counts as a hang")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    lib = os.path.abspath(a.lib)
    rnd = random.Random(a.seed)
    work = tempfile.mkdtemp(prefix="gsq-mutation-")
    site = os.path.join(work, "site")
    os.mkdir(site)
    src = os.path.join(work, "intact.gsq")
    build(src, lib)

    def uri(path_or_url, extra=""):
        boot = sqlite3.connect(":memory:")
        boot.enable_load_extension(True)
        boot.load_extension(lib)
        u = boot.execute("SELECT genomicsqlite_uri(?, '{\"mode\": \"ro\"}')", (path_or_url,)).fetchone()[0]
        boot.close()
        return u + extra

    status, expected = run_queries(lib, uri(src), a.timeout)
    if status != "ok":
        sys.exit("the intact database does not read back: " + expected)
    server = subprocess.Popen([sys.executable, os.path.join(HERE, "web", "fault_http.py"), "--dir", site,
                               "--ttl", "3600"], stdout=subprocess.PIPE, text=True)
    base = "http://127.0.0.1:%s" % server.stdout.readline().strip().split("=")[1]
    counts = {"ok": 0, "error": 0, "wrong": 0, "hang": 0, "crash": 0}
    print("mutation campaign: seed %d, %d cases, library %s" % (a.seed, a.cases, lib), flush=True)
    try:
        for n in range(a.cases):
            kind = n % 4
            dest = os.path.join(work, "case.gsq")
            if kind == 0:
                what = page_case(rnd, src, dest)
                u = uri(dest)
            elif kind == 1:
                what = dict_case(rnd, src, dest)
                u = uri(dest)
            elif kind == 2:
                name = "case%d.db" % n
                what = dbi_case(rnd, src, site, name)
                u = uri("%s/ok/%s" % (base, name))
            else:
                mode = rnd.choice(SERVER_MODES)
                shutil.copy(src, os.path.join(site, "served.db"))
                shutil.copy(src + ".dbi", os.path.join(site, "served.db.dbi"))
                what = "server " + mode
                u = uri("%s/%s/served.db" % (base, mode), "&web_read_timeout_ms=5000")
            t0 = time.monotonic()
            status, out = run_queries(lib, u, a.timeout)
            if status == "ok" and out != expected:
                status = "wrong"
            counts[status] += 1
            if a.verbose or status in ("wrong", "hang", "crash"):
                print("case %d (%s): %s in %.1f s%s" % (n, what, status, time.monotonic() - t0,
                                                         ("\n  " + out.strip()[-300:]) if status != "ok" else ""),
                      flush=True)
            if kind == 2:
                for f in (name, name + ".dbi"):
                    os.unlink(os.path.join(site, f))
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    bad = counts["wrong"] + counts["hang"] + counts["crash"]
    print("correct %d, crashes %d" % (counts["ok"], counts["crash"]))
    print("cases %d / clear errors %d / wrong results %d / hangs %d" % (
        a.cases, counts["error"], counts["wrong"], counts["hang"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
