#!/usr/bin/env python3
"""Helpers for the GenomicSQLite integration tests.

Importable (the pytest tests use the functions below in-process) and runnable as a script,
so that the same code can drive either library ("ours" or the 0.9.4 "peer") in a separate
process -- both libraries register a VFS named "zstd" and the same SQL function names, so
one process only ever loads one of them.

    python3 gsqtool.py --lib LIB.so COMMAND [ARGS...]

Commands (all print one JSON document on stdout unless said otherwise):
    hashes PATH [CFG_JSON]            table hashes of a compressed database (+ integrity_check)
    plain-hashes PATH                 same, for a plain SQLite file (extension not used)
    vacuum-into SRC_PLAIN DEST CFG    copy a plain db into a new compressed db (VACUUM INTO)
    generate DEST CFG SCALE SEED      build the test database directly inside a compressed db
    funcs CALLS_JSON_FILE             evaluate SQL function calls, return [{"ok":..}|{"err":..}]
    sql PATH CFG SQL                  run an SQL script on a compressed db, print rows of last stmt
    writer PATH CFG                   crash-test writer (prints each committed txn id, flushed)
    bank-writer PATH CFG SECONDS      concurrency writer (invariant-preserving transfers)
    bank-reader PATH CFG SECONDS [READS_PER_CONN [PAUSE]]  concurrency reader (checks the invariants)

This file is test code written for this project; it uses only the public SQL interface of
the extension (genomicsqlite_uri / genomicsqlite_tuning_sql / ...).
"""
import hashlib
import json
import os
import random
import sqlite3
import sys
import time

_LOADED = None  # path of the extension loaded into this process


def load_extension(lib):
    """Load the extension into this process (once); returns a :memory: connection."""
    global _LOADED
    if _LOADED is not None and os.path.realpath(_LOADED) != os.path.realpath(lib):
        raise RuntimeError("this process already loaded %s; can't also load %s" % (_LOADED, lib))
    conn = sqlite3.connect(":memory:")
    conn.enable_load_extension(True)
    conn.load_extension(lib)
    conn.enable_load_extension(False)
    _LOADED = lib
    return conn


def _boot():
    if _LOADED is None:
        raise RuntimeError("extension not loaded (call load_extension first)")
    return sqlite3.connect(":memory:")


def sqlfunc(name, *args):
    """Call one of the extension's SQL functions on a fresh connection; return its value."""
    c = _boot()
    try:
        ph = ",".join("?" * len(args))
        return c.execute("SELECT %s(%s)" % (name, ph), args).fetchone()[0]
    finally:
        c.close()


def open_compressed(path, cfg=None, readonly=False, timeout=5.0):
    """Open a compressed database the way the bindings do: URI + tuning SQL."""
    cfg = dict(cfg or {})
    if readonly:
        cfg["mode"] = "ro"
    cj = json.dumps(cfg)
    uri = sqlfunc("genomicsqlite_uri", path, cj)
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout)
    tuning = conn.execute("SELECT genomicsqlite_tuning_sql(?)", (cj,)).fetchone()[0]
    conn.executescript(tuning)
    return conn


# ----------------------------------------------------------------------------------------
# Content hashes


def _qi(name):
    return '"' + name.replace('"', '""') + '"'


def _row_bytes(row):
    # repr() keeps the storage class apart (1 vs 1.0 vs '1' vs b'1' vs None)
    return (repr(tuple((type(v).__name__, v) for v in row)) + "\n").encode("utf-8", "surrogateescape")


def table_hashes(conn, schema="main"):
    """{'schema': [...sqlite_master rows...], 'tables': {name: [rowcount, sha256]}}"""
    s = _qi(schema)
    old_tf = conn.text_factory
    # TEXT that isn't valid UTF-8 must not stop the comparison: keep its bytes, stay a str
    conn.text_factory = lambda b: b.decode("utf-8", "surrogateescape")
    try:
        return _table_hashes(conn, s)
    finally:
        conn.text_factory = old_tf


def _table_hashes(conn, s):
    master = conn.execute(
        "SELECT type, name, tbl_name, sql FROM %s.sqlite_master ORDER BY type, name" % s
    ).fetchall()
    tables = {}
    for typ, name, _tbl, sql in master:
        if typ != "table":
            continue
        if sql and sql.upper().startswith("CREATE VIRTUAL"):
            continue
        h = hashlib.sha256()
        n = 0
        try:
            cur = conn.execute("SELECT rowid, * FROM %s.%s ORDER BY rowid" % (s, _qi(name)))
        except sqlite3.OperationalError:  # WITHOUT ROWID
            ncol = len(conn.execute("SELECT * FROM %s.%s LIMIT 0" % (s, _qi(name))).description)
            order = ",".join(str(i + 1) for i in range(ncol))
            cur = conn.execute("SELECT * FROM %s.%s ORDER BY %s" % (s, _qi(name), order))
        for row in cur:
            h.update(_row_bytes(row))
            n += 1
        tables[name] = [n, h.hexdigest()]
    return {"schema": [list(r) for r in master], "tables": tables}


def integrity(conn, schema="main"):
    rows = conn.execute("PRAGMA %s.integrity_check" % _qi(schema)).fetchall()
    return "\n".join(str(r[0]) for r in rows)


def plain_hashes(path):
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        d = table_hashes(c)
        d["integrity"] = integrity(c)
        return d
    finally:
        c.close()


def compressed_hashes(path, cfg=None):
    c = open_compressed(path, cfg, readonly=True)
    try:
        d = table_hashes(c)
        d["integrity"] = integrity(c)
        return d
    finally:
        c.close()


# ----------------------------------------------------------------------------------------
# Test database generator: several tables, indexes, all storage classes, NULLs, overflow
# pages, a WITHOUT ROWID table, AUTOINCREMENT, a view and a trigger, freelist pages.
# DDL is written with {s} so it can be created in any schema (e.g. an ATTACHed one).

DDL = [
    "CREATE TABLE {s}ints (id INTEGER PRIMARY KEY, a INTEGER NOT NULL, b INTEGER, big INTEGER)",
    "CREATE INDEX {s}ints_a ON ints (a, b)",
    "CREATE TABLE {s}reals (x REAL, y REAL, label TEXT)",
    "CREATE INDEX {s}reals_xy ON reals (x DESC, y)",
    "CREATE TABLE {s}texts (k TEXT PRIMARY KEY, v TEXT, n INTEGER) WITHOUT ROWID",
    "CREATE TABLE {s}blobs (id INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB, note TEXT)",
    "CREATE INDEX {s}blobs_note ON blobs (note) WHERE note IS NOT NULL",
    "CREATE TABLE {s}mixed (v ANY_TYPE, w)",
    "CREATE TABLE {s}audit (id INTEGER PRIMARY KEY, what TEXT)",
    "CREATE VIEW {s}ints_summary AS SELECT a % 10 AS bucket, count(*) AS n, sum(big) AS s FROM ints GROUP BY 1",
    "CREATE TRIGGER {s}texts_upd AFTER UPDATE ON texts BEGIN INSERT INTO audit(what) VALUES ('upd ' || new.k); END",
]

_WORDS = ["chr1", "chr2", "chrX", "gene", "exon", "intron", "ACGT", "TTAGGG", "promoter",
          "π", "größe", "naïve", "日本語", "emoji \U0001F9EC", "", "x" * 50]


def generate(conn, scale=1.0, seed=1, schema="main"):
    """Fill an (empty) database; about 4 MB of content at scale=1."""
    rnd = random.Random(seed)
    s = "" if schema == "main" else _qi(schema) + "."
    for d in DDL:
        conn.execute(d.format(s=s))
    conn.execute("BEGIN")
    n_ints = int(20000 * scale)
    conn.executemany(
        "INSERT INTO %sints (id, a, b, big) VALUES (?,?,?,?)" % s,
        ((i * 3 + 1, rnd.randrange(-1000, 1000),
          None if rnd.random() < 0.2 else rnd.randrange(1 << 31),
          rnd.choice([0, -1, 2 ** 63 - 1, -(2 ** 63), rnd.randrange(-(2 ** 62), 2 ** 62)]))
         for i in range(n_ints)))
    specials = [0.0, -0.0, 1e308, -1e-308, 5e-324, 3.141592653589793, float("inf"), float("-inf"), 0.1]
    conn.executemany(
        "INSERT INTO %sreals (x, y, label) VALUES (?,?,?)" % s,
        ((rnd.choice(specials) if rnd.random() < 0.1 else rnd.uniform(-1e6, 1e6),
          None if rnd.random() < 0.1 else rnd.gauss(0, 1),
          rnd.choice(_WORDS)) for _ in range(int(15000 * scale))))
    conn.executemany(
        "INSERT INTO %stexts (k, v, n) VALUES (?,?,?)" % s,
        (("key%07d_%s" % (i, rnd.choice(_WORDS)),
          " ".join(rnd.choice(_WORDS) for _ in range(rnd.randrange(0, 40)))
          if rnd.random() < 0.98 else "long:" + "ACGT" * rnd.randrange(1000, 8000),
          i) for i in range(int(8000 * scale))))
    blobs = []
    for i in range(int(400 * scale)):
        kind = rnd.random()
        if kind < 0.3:
            b = rnd.randbytes(rnd.randrange(1, 3000))          # incompressible
        elif kind < 0.5:
            b = bytes(rnd.randrange(0, 70000))                 # zeros, overflow chains
        elif kind < 0.6:
            b = None
        elif kind < 0.65:
            b = b""
        else:
            b = (b"GATTACA" * 3000)[: rnd.randrange(10, 20000)]
        blobs.append((b, None if rnd.random() < 0.5 else rnd.choice(_WORDS)))
    conn.executemany("INSERT INTO %sblobs (data, note) VALUES (?,?)" % s, blobs)
    mixed_vals = [None, 1, -7, 2.5, "text", b"\x00\x01\x02", "", b"", 10 ** 18, "NULL", "0"]
    conn.executemany("INSERT INTO %smixed (v, w) VALUES (?,?)" % s,
                     ((rnd.choice(mixed_vals), rnd.choice(mixed_vals)) for _ in range(int(3000 * scale))))
    conn.execute("COMMIT")
    # some updates (trigger fires) and deletes (freelist pages), not touching the max blob id
    conn.execute("BEGIN")
    conn.execute("UPDATE %stexts SET v = v || ' updated' WHERE n %% 97 = 0" % s)
    conn.execute("DELETE FROM %sints WHERE a BETWEEN 100 AND 180" % s)
    conn.execute("DELETE FROM %sblobs WHERE id %% 7 = 3 AND id < 300" % s)
    conn.execute("COMMIT")


def make_plain(path, scale=1.0, seed=1, page_size=4096):
    if os.path.exists(path):
        os.unlink(path)
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA page_size=%d" % page_size)
    c.execute("PRAGMA journal_mode=DELETE")
    generate(c, scale, seed)
    c.execute("ANALYZE")
    c.close()


def vacuum_into(src_plain, dest, cfg=None):
    cj = json.dumps(cfg or {})
    c = sqlite3.connect(src_plain, isolation_level=None)
    try:
        sql = c.execute("SELECT genomicsqlite_vacuum_into_sql(?, ?)", (dest, cj)).fetchone()[0]
        c.executescript(sql)
    finally:
        c.close()


# ----------------------------------------------------------------------------------------
# Crash-test writer. Transaction i inserts k(i) rows tagged i into `tx`, deletes every row of
# transaction i-40 (keeps the file small), and sets meta.last = i, meta.n += 1.
# A checker can then tell for every id exactly how many rows it must have.

DELETE_LAG = 40


def crash_rows(i):
    if i % 10 == 7:
        return 1500          # big: spills the (small) page cache in mid-transaction
    return 1 + (i * 37) % 120


def crash_payload(i, j):
    r = random.Random(i * 100003 + j)
    return r.randbytes(r.randrange(50, 700)) if j % 2 else (b"row %d/%d " % (i, j)) * r.randrange(1, 40)


def crash_init(conn):
    conn.execute("CREATE TABLE IF NOT EXISTS meta (k INTEGER PRIMARY KEY CHECK (k = 1), last INTEGER NOT NULL, n INTEGER NOT NULL)")
    conn.execute("CREATE TABLE IF NOT EXISTS tx (id INTEGER NOT NULL, seq INTEGER NOT NULL, payload BLOB, PRIMARY KEY (id, seq))")
    conn.execute("CREATE INDEX IF NOT EXISTS tx_payload_len ON tx (length(payload))")
    conn.execute("INSERT OR IGNORE INTO meta VALUES (1, 0, 0)")


def crash_expected_count(j, last):
    """How many rows id j must have once transactions 1..last committed (and no others)."""
    if j > last or j + DELETE_LAG <= last:
        return 0
    return crash_rows(j)


def crash_check(conn):
    """Returns (last, problems[]) for a crash-test database."""
    problems = []
    if not conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'meta'").fetchone()[0]:
        return 0, []   # killed before the writer's first commit
    last, n = conn.execute("SELECT last, n FROM meta").fetchone()
    if n != last:
        problems.append("meta.n=%d but meta.last=%d" % (n, last))
    counts = dict(conn.execute("SELECT id, count(*) FROM tx GROUP BY id").fetchall())
    for j in sorted(set(counts) | set(range(1, last + 1))):
        want = crash_expected_count(j, last)
        got = counts.get(j, 0)
        if got != want:
            problems.append("txn %d has %d rows, expected %d (meta.last=%d)" % (j, got, want, last))
            if len(problems) > 20:
                break
    return last, problems


def cmd_writer(path, cfg_json):
    cfg = json.loads(cfg_json)
    conn = open_compressed(path, cfg, timeout=30)
    conn.execute("PRAGMA cache_size=-256")   # small cache: big transactions spill
    conn.execute("BEGIN IMMEDIATE")
    crash_init(conn)
    conn.execute("COMMIT")
    i = conn.execute("SELECT last FROM meta").fetchone()[0]
    print("start %d" % i, flush=True)
    while True:
        i += 1
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO tx (id, seq, payload) VALUES (?,?,?)",
                         ((i, j, crash_payload(i, j)) for j in range(crash_rows(i))))
        if i > DELETE_LAG:
            conn.execute("DELETE FROM tx WHERE id = ?", (i - DELETE_LAG,))
        conn.execute("UPDATE meta SET last = ?, n = n + 1", (i,))
        conn.execute("COMMIT")
        print("commit %d" % i, flush=True)


def outer_problems(path, inner_pages):
    """Check the outer file's page table against the inner page count."""
    o = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        probs = []
        ic = o.execute("PRAGMA integrity_check").fetchone()[0]
        if ic != "ok":
            probs.append("outer integrity_check: %s" % ic)
        lo, hi, n = o.execute("SELECT min(pageno), max(pageno), count(*) FROM nested_vfs_zstd_pages WHERE pageno > 0").fetchone()
        if n and (lo != 1 or hi != n):
            probs.append("outer page rows not contiguous: min %s max %s count %s" % (lo, hi, n))
        if (n or 0) != inner_pages:
            probs.append("outer has %s page rows but inner page_count is %s" % (n, inner_pages))
        return probs
    finally:
        o.close()


def crash_rounds(lib, path, kills, seed=0, cfg=None, max_delay=0.5, log=None, stop_on_corrupt=True):
    """Start the writer, SIGKILL it at a random moment, check the file; `kills` times.

    The checks run in this process, which must have loaded the same library (lib).
    Returns a dict of counts and a list of problem descriptions."""
    import subprocess
    import tempfile
    rnd = random.Random(seed)
    cj = json.dumps(cfg or {})
    st = {"kills": 0, "lost_commits": 0, "corrupt_files": 0, "bad_rounds": 0,
          "reported_commits": 0, "writer_errors": 0, "problems": []}
    with tempfile.TemporaryDirectory() as td:
        outp = os.path.join(td, "out")
        for k in range(kills):
            with open(outp, "wb") as out, open(os.path.join(td, "err"), "wb") as err:
                p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--lib", lib,
                                      "writer", path, cj], stdout=out, stderr=err)
                if rnd.random() < 0.5:
                    time.sleep(rnd.uniform(0.0, max_delay))
                else:   # wait for the writer to be in its loop, then a short random delay
                    t0 = time.time()
                    while time.time() - t0 < 10 and p.poll() is None:
                        if os.path.getsize(outp) > 0 and b"commit" in open(outp, "rb").read():
                            break
                        time.sleep(0.01)
                    time.sleep(rnd.uniform(0.0, max_delay / 3))
                early = p.poll()
                p.kill()
                p.wait()
            st["kills"] += 1
            lines = open(outp, "rb").read().decode(errors="replace").split()
            commits = [int(x) for a, x in zip(lines, lines[1:]) if a == "commit"]
            st["reported_commits"] += len(commits)
            if early is not None:
                st["writer_errors"] += 1
                st["problems"].append("round %d: writer exited by itself (%s): %s" % (
                    k, early, open(os.path.join(td, "err"), "rb").read().decode(errors="replace")[-500:]))
            reported = max(commits) if commits else 0
            try:
                conn = open_compressed(path, cfg, timeout=10)
                try:
                    ic = integrity(conn)
                    if ic != "ok":
                        raise sqlite3.DatabaseError("integrity_check: " + ic[:300])
                    last, problems = crash_check(conn)
                    inner_pages = conn.execute("PRAGMA page_count").fetchone()[0]
                finally:
                    conn.close()
                problems += outer_problems(path, inner_pages)
            except sqlite3.Error as e:
                st["corrupt_files"] += 1
                st["problems"].append("round %d: database unusable after SIGKILL: %s: %s" % (k, type(e).__name__, e))
                if stop_on_corrupt:
                    break
                continue
            if reported > last:
                st["lost_commits"] += reported - last
                problems.append("writer reported commit %d but the database has only up to %d" % (reported, last))
            if problems:
                st["bad_rounds"] += 1
                st["problems"].append("round %d: %s" % (k, "; ".join(problems[:5])))
            if log:
                log("round %d: killed after %d reported commits, db at txn %d%s" % (
                    k, len(commits), last, " PROBLEMS" if problems else ""))
    return st


# ----------------------------------------------------------------------------------------
# Concurrency: accounts whose balances always sum to BANK_TOTAL; every transfer also adds a
# history row and bumps meta.txns, so count(history) == meta.txns in every consistent state.

BANK_ACCOUNTS = 500
BANK_TOTAL = BANK_ACCOUNTS * 1000


def bank_init(conn):
    conn.execute("BEGIN")
    conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL, pad BLOB)")
    conn.execute("CREATE TABLE history (id INTEGER PRIMARY KEY, src INTEGER, dst INTEGER, amount INTEGER, pad BLOB)")
    conn.execute("CREATE TABLE meta (txns INTEGER NOT NULL)")
    conn.execute("INSERT INTO meta VALUES (0)")
    conn.executemany("INSERT INTO accounts VALUES (?, 1000, ?)",
                     ((i, random.Random(i).randbytes(300)) for i in range(BANK_ACCOUNTS)))
    conn.execute("COMMIT")


def _is_busy(e):
    m = str(e).lower()
    return "locked" in m or "busy" in m


def cmd_bank_writer(path, cfg_json, seconds):
    conn = open_compressed(path, json.loads(cfg_json), timeout=10)
    conn.execute("PRAGMA cache_size=-512")
    rnd = random.Random(os.getpid())
    deadline = time.time() + float(seconds)
    done = busy = moves = 0
    latencies = []
    while time.time() < deadline:
        try:
            t0 = time.monotonic()
            conn.execute("BEGIN IMMEDIATE")
            nmoves = 1 if rnd.random() < 0.8 else 200     # some transactions touch many pages
            for _ in range(nmoves):
                a, b = rnd.randrange(BANK_ACCOUNTS), rnd.randrange(BANK_ACCOUNTS)
                amt = rnd.randrange(1, 50)
                conn.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", (amt, a))
                conn.execute("UPDATE accounts SET balance = balance + ?, pad = ? WHERE id = ?",
                             (amt, rnd.randbytes(300), b))
                conn.execute("INSERT INTO history (src, dst, amount, pad) VALUES (?,?,?,?)",
                             (a, b, amt, rnd.randbytes(rnd.randrange(0, 2000))))
            conn.execute("UPDATE meta SET txns = txns + ?", (nmoves,))
            conn.execute("COMMIT")
            latencies.append(time.monotonic() - t0)
            moves += nmoves
            done += 1
            time.sleep(0.003 if done % 5 else 0.1)   # leave the readers a window
        except sqlite3.OperationalError as e:
            if not _is_busy(e):
                raise
            busy += 1
            if conn.in_transaction:
                conn.execute("ROLLBACK")
    latencies.sort()
    print(json.dumps({"commits": done, "busy": busy, "moves": moves,
                      "p99_s": latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
                      "max_s": latencies[-1] if latencies else None}), flush=True)


def cmd_bank_reader(path, cfg_json, seconds, reads_per_connection="1", pause="0"):
    """Reads in transactions; reopens its connection every `reads_per_connection` reads
    (the peer keeps a lock on the outer file while a connection stays open, which would
    starve the writer; short-lived connections also exercise open/close under load), and
    sleeps `pause` seconds after each read (an idle connection that stays open)."""
    cfg = json.loads(cfg_json)
    rpc = int(reads_per_connection)
    pause = float(pause)
    deadline = time.time() + float(seconds)
    ok = busy = open_refused = 0
    violations = []
    errors = []
    conn = None
    while time.time() < deadline:
        try:
            if conn is None:
                try:
                    conn = open_compressed(path, cfg, readonly=True, timeout=10)
                except sqlite3.OperationalError as e:
                    # the peer refuses to open ("unable to open database file") while the
                    # writer holds the outer file locked: tolerated like SQLITE_BUSY, counted
                    if "unable to open" not in str(e):
                        raise
                    open_refused += 1
                    time.sleep(0.005)
                    continue
            conn.execute("BEGIN")
            total, n = conn.execute("SELECT sum(balance), count(*) FROM accounts").fetchone()
            hist = conn.execute("SELECT count(*) FROM history").fetchone()[0]
            txns = conn.execute("SELECT txns FROM meta").fetchone()[0]
            conn.execute("COMMIT")
            if total != BANK_TOTAL or n != BANK_ACCOUNTS or hist != txns:
                violations.append({"sum": total, "accounts": n, "history": hist, "txns": txns})
            ok += 1
            if pause:
                time.sleep(pause)
            if ok % rpc == 0:
                conn.close()
                conn = None
                time.sleep(0.002)
        except sqlite3.OperationalError as e:
            if conn is not None and conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            if _is_busy(e):
                busy += 1
                time.sleep(0.002)
            else:
                errors.append(str(e))
                if len(errors) > 5:
                    break
        except sqlite3.DatabaseError as e:
            errors.append("%s: %s" % (type(e).__name__, e))
            break
    if conn is not None:
        conn.close()
    print(json.dumps({"reads": ok, "busy": busy, "open_refused": open_refused, "violations": violations[:10],
                      "n_violations": len(violations), "errors": errors}), flush=True)


# ----------------------------------------------------------------------------------------

def cmd_funcs(calls_file):
    with open(calls_file) as f:
        calls = json.load(f)
    c = _boot()
    out = []
    for name, args in calls:
        try:
            ph = ",".join("?" * len(args))
            out.append({"ok": c.execute("SELECT %s(%s)" % (name, ph), args).fetchone()[0]})
        except sqlite3.Error as e:
            out.append({"err": str(e)})
    print(json.dumps(out))


def main(argv):
    if len(argv) < 3 or argv[0] != "--lib":
        print(__doc__, file=sys.stderr)
        return 2
    load_extension(argv[1])
    cmd, args = argv[2], argv[3:]
    if cmd == "hashes":
        print(json.dumps(compressed_hashes(args[0], json.loads(args[1]) if len(args) > 1 else None)))
    elif cmd == "plain-hashes":
        print(json.dumps(plain_hashes(args[0])))
    elif cmd == "vacuum-into":
        vacuum_into(args[0], args[1], json.loads(args[2]))
        print(json.dumps({"ok": True}))
    elif cmd == "generate":
        conn = open_compressed(args[0], json.loads(args[1]))
        generate(conn, float(args[2]), int(args[3]))
        conn.close()
        print(json.dumps({"ok": True}))
    elif cmd == "funcs":
        cmd_funcs(args[0])
    elif cmd == "sql":
        conn = open_compressed(args[0], json.loads(args[1]))
        stmts = [s for s in args[2].split(";") if s.strip()]
        rows = []
        for s in stmts:
            rows = conn.execute(s).fetchall()
        print(json.dumps(rows, default=lambda b: b.hex()))
    elif cmd == "writer":
        cmd_writer(args[0], args[1])
    elif cmd == "bank-writer":
        cmd_bank_writer(*args)
    elif cmd == "bank-reader":
        cmd_bank_reader(*args)
    else:
        print("unknown command %r" % cmd, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
