#!/usr/bin/python3
"""Benchmarks: plain SQLite vs GenomicSQLite 0.9.4 (the peer) vs ours.

Run with Debian's /usr/bin/python3 (its sqlite3 module can load extensions). Usually started by
bench/run.sh. Every measurement runs in a fresh child process (this same script with --child),
after the files it reads have been evicted from the OS page cache (the warm benchmark: read into
it); the child reports its own timings and the parent takes the child's peak RSS and CPU time
from wait4(). See bench/README.md.
"""

import argparse
import datetime
import glob
import hashlib
import json
import os
import platform
import random
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATA = os.path.join(HERE, "data")
WORK = os.path.join(DATA, "work")
RESULTS = os.path.join(HERE, "results")
SOURCE_DB = os.path.join(DATA, "org.Hs.eg.sqlite")
SMALL_DB = os.path.join(DATA, "org.Hs.eg.small.sqlite")
# tables copied into the small database used by --quick
SMALL_TABLES = ["metadata", "genes", "gene_info", "go_bp", "go_mf", "go_cc", "refseq", "alias", "chromosomes"]

BENCHES = ["compact", "command", "load", "scan", "join", "lookup", "warm"]
PLAIN_CACHE_KIB = 983040  # same page cache as the compressed engines' inner default (960 MiB)


# --------------------------------------------------------------------------------------------
# child side: one measurement
# --------------------------------------------------------------------------------------------

def _load_ext(lib):
    boot = sqlite3.connect(":memory:")
    boot.enable_load_extension(True)
    boot.load_extension(lib)
    boot.enable_load_extension(False)
    return boot


def _scalar(con, sql, args=()):
    row = con.execute(sql, args).fetchone()
    if row is None or row[0] is None:
        raise RuntimeError("no result from: " + sql)
    return row[0]


def child_connect(spec, path, write):
    """Open PATH with the engine in SPEC; returns a connection in autocommit mode."""
    if spec["engine_kind"] == "plain":
        mode = "rwc" if write else "ro"
        con = sqlite3.connect("file:%s?mode=%s" % (path, mode), uri=True, isolation_level=None)
        con.execute("PRAGMA cache_size = -%d" % PLAIN_CACHE_KIB)
        return con
    boot = _load_ext(spec["lib"])
    cfg = dict(spec.get("config") or {})
    if not write:
        cfg.setdefault("mode", "ro")
    cfg_json = json.dumps(cfg)
    uri = _scalar(boot, "SELECT genomicsqlite_uri(?, ?)", (path, cfg_json))
    tuning = _scalar(boot, "SELECT genomicsqlite_tuning_sql(?)", (cfg_json,))
    boot.close()
    try:
        con = sqlite3.connect(uri, uri=True, isolation_level=None)
        con.executescript(tuning)
    except sqlite3.Error as exc:
        why = last_open_error(spec["lib"])
        raise RuntimeError("opening %s: %s%s" % (uri, exc, " (%s)" % why if why else "")) from None
    return con


def last_open_error(lib):
    """Our library's genomicsqlite_last_open_error() (absent in 0.9.4), or None."""
    try:
        import ctypes
        so = ctypes.CDLL(lib)
        fn = so.genomicsqlite_last_open_error
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_void_p
    ptr = fn()
    if not ptr:
        return None
    # (not freed: which sqlite3_free matches depends on the build; this process exits soon anyway)
    return ctypes.string_at(ptr).decode(errors="replace") or None


class Digest:
    """Order-sensitive digest of query results, to check that all engines compute the same."""

    def __init__(self):
        self.h = hashlib.sha256()
        self.rows = 0

    def add(self, rows):
        for row in rows:
            self.h.update(repr(tuple(row)).encode())
            self.h.update(b"\n")
            self.rows += 1

    def hexdigest(self):
        return "%s/%d" % (self.h.hexdigest()[:16], self.rows)


def child_compact(spec):
    src, dest = spec["source"], spec["dest"]
    t0 = time.perf_counter()
    if spec["engine_kind"] == "plain":
        con = sqlite3.connect("file:%s?mode=ro" % src, uri=True, isolation_level=None)
        con.execute("VACUUM INTO ?", (dest,))
    else:
        boot = _load_ext(spec["lib"])
        con = sqlite3.connect("file:%s?mode=ro" % src, uri=True, isolation_level=None)
        sql = _scalar(con, "SELECT genomicsqlite_vacuum_into_sql(?, ?)", (dest, json.dumps(spec.get("config") or {})))
        con.executescript(sql)
        boot.close()
    con.close()
    t1 = time.perf_counter()
    return {"time_s": t1 - t0, "size_MB": os.path.getsize(dest) / 1e6}


def child_command(spec):
    """`genomicsqlite SRC --compact -o DEST -q`: the engine's own command, as a user compacts."""
    t0 = time.perf_counter()
    # 0.9.4's package loads $LIBGENOMICSQLITE when set (run.sh sets it to ours): point it at its own
    env = dict(os.environ, LIBGENOMICSQLITE=spec["lib"]) if spec["engine"] == "peer" else None
    subprocess.run(spec["argv"] + [spec["source"], "--compact", "-o", spec["dest"], "-q"], check=True,
                   stdout=subprocess.DEVNULL, env=env)
    return {"time_s": time.perf_counter() - t0, "size_MB": os.path.getsize(spec["dest"]) / 1e6}


def count_queries_of(source):
    """Statements counting the rows of every table of `source`: a compacted copy must match."""
    con = sqlite3.connect("file:%s?mode=ro" % source, uri=True)
    tables = [t for (t,) in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    con.close()
    return [["SELECT '%s', count(*) FROM \"%s\"" % (t, t), None] for t in tables]


def command_argv(name, lib_path):
    """How to run an engine's `genomicsqlite` command, or None: ours is $GENOMICSQLITE_BIN (else
    target/release/genomicsqlite), 0.9.4 its Python package's `python -m genomicsqlite` in the
    venv its library comes from."""
    if name == "ours":
        exe = os.environ.get("GENOMICSQLITE_BIN") or os.path.join(REPO, "target", "release", "genomicsqlite")
        return [exe] if os.access(exe, os.X_OK) else None
    if name == "peer" and lib_path:
        # VENV/lib/pythonX.Y/site-packages/genomicsqlite/libgenomicsqlite.so
        python = os.path.join(os.path.dirname(lib_path), *[".."] * 4, "bin", "python")
        return [os.path.normpath(python), "-m", "genomicsqlite"] if os.access(python, os.X_OK) else None
    return None


def variants_sql(n):
    """INSERT ... SELECT generating N deterministic rows of variant-like data (sorted by chrom, pos)."""
    per = (n + 23) // 24
    return """
    WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}),
    r(i, h) AS (SELECT i, (i * 2654435761 + 12345) % 4294967296 FROM s)
    INSERT INTO variants (chrom, pos, rsid, ref, alt, qual, info)
    SELECT
      CASE (i - 1) / {per} WHEN 22 THEN 'chrX' WHEN 23 THEN 'chrY' ELSE 'chr' || ((i - 1) / {per} + 1) END,
      ((i - 1) % {per}) * 100 + 1 + h % 97,
      'rs' || ((h * 31 + i) % 1000000007),
      substr('ACGT', 1 + (h >> 3) % 4, 1),
      substr('ACGT', 1 + ((h >> 3) % 4 + 1 + (h >> 7) % 3) % 4, 1),
      ((h >> 9) % 100000) / 100.0,
      'DP=' || (10 + (h >> 11) % 190) || ';AF=' || printf('%.3f', ((h >> 13) % 1000) / 1000.0)
        || ';MQ=' || (20 + (h >> 17) % 41) || ';ANN='
        || CASE (h >> 19) % 5 WHEN 0 THEN 'missense_variant' WHEN 1 THEN 'synonymous_variant'
             WHEN 2 THEN 'intron_variant' WHEN 3 THEN 'upstream_gene_variant' ELSE 'intergenic_variant' END
    FROM r
    """.format(n=int(n), per=per)


def child_load(spec):
    dest = spec["dest"]
    t0 = time.perf_counter()
    con = child_connect(spec, dest, write=True)
    con.execute("BEGIN")
    con.execute(
        "CREATE TABLE variants (chrom TEXT NOT NULL, pos INTEGER NOT NULL, rsid TEXT NOT NULL,"
        " ref TEXT NOT NULL, alt TEXT NOT NULL, qual REAL, info TEXT)"
    )
    con.execute(variants_sql(spec["rows"]))
    con.execute("COMMIT")
    t1 = time.perf_counter()
    con.execute("CREATE INDEX variants_chrom_pos ON variants (chrom, pos)")
    con.execute("CREATE INDEX variants_rsid ON variants (rsid)")
    t2 = time.perf_counter()
    con.close()
    t3 = time.perf_counter()
    # verification (untimed): reopen and compute aggregates through the table and both indexes
    con = child_connect(spec, dest, write=False)
    d = Digest()
    d.add(con.execute("SELECT count(*), sum(pos), total(qual), sum(length(info)), min(rsid), max(rsid) FROM variants NOT INDEXED"))
    d.add(con.execute("SELECT chrom, count(*), min(pos), max(pos) FROM variants INDEXED BY variants_chrom_pos GROUP BY chrom ORDER BY chrom"))
    d.add(con.execute("SELECT count(*), sum(pos) FROM variants INDEXED BY variants_rsid WHERE rsid BETWEEN 'rs1' AND 'rs2'"))
    con.close()
    return {"insert_s": t1 - t0, "index_s": t2 - t1, "time_s": t3 - t0, "size_MB": os.path.getsize(dest) / 1e6, "digest": d.hexdigest()}


def child_queries(spec):
    """scan / join / lookup: run spec['queries'] (a list of [sql, [param lists]]) and digest results."""
    t0 = time.perf_counter()
    con = child_connect(spec, spec["db"], write=False)
    d = Digest()
    n = 0
    for sql, params_list in spec["queries"]:
        if params_list is None:
            d.add(con.execute(sql))
            n += 1
        else:
            for params in params_list:
                d.add(con.execute(sql, params))
                n += 1
    con.close()
    t1 = time.perf_counter()
    return {"time_s": t1 - t0, "per_s": n / (t1 - t0), "statements": n, "digest": d.hexdigest()}


def child_main():
    spec = json.loads(sys.stdin.read())
    fn = {"compact": child_compact, "command": child_command, "load": child_load}.get(spec["bench"], child_queries)
    res = fn(spec)
    sys.stdout.write("\n" + json.dumps(res) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------------------------

def drop_cache(paths):
    """Evict PATHS from the OS page cache (fsync, then POSIX_FADV_DONTNEED). Returns resident bytes after."""
    resident = 0
    for p in paths:
        if not os.path.exists(p):
            continue
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        r = resident_bytes(p)
        if r is None:
            return None
        resident += r
    return resident


def resident_bytes(path):
    if not shutil.which("fincore"):
        return None
    out = subprocess.run(["fincore", "-b", "-n", "-r", "-o", "RES", path], capture_output=True, text=True)
    try:
        return int(out.stdout.split()[0])
    except (ValueError, IndexError):
        return None


def read_into_cache(paths):
    """Read PATHS once so that a warm measurement finds them in the OS page cache."""
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass


def run_child(spec, cold_files, warm_files=()):
    resident = drop_cache(cold_files)
    read_into_cache(warm_files)
    with tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr:
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child"],
                             stdin=subprocess.PIPE, stdout=fout, stderr=ferr)
        p.stdin.write(json.dumps(spec).encode())
        p.stdin.close()
        _, status, ru = os.wait4(p.pid, 0)
        fout.seek(0)
        ferr.seek(0)
        out, err = fout.read(), ferr.read()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(
            "%s/%s child failed (exit %d):\n%s" % (spec["bench"], spec["engine"], p.returncode, err.decode(errors="replace")[-3000:])
        )
    res = json.loads(out.decode().strip().splitlines()[-1])
    res["maxrss_MB"] = ru.ru_maxrss / 1024.0  # Linux: KiB
    # CPU of all the child's threads, Python start-up and workload parsing included: less disturbed
    # than time_s by other work on a shared machine
    res["cpu_s"] = ru.ru_utime + ru.ru_stime
    res["cold_resident_bytes"] = resident
    return res


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_small_db(src, dest):
    """The --quick database: a few tables (with their indexes) of org.Hs.eg.sqlite."""
    if os.path.exists(dest):
        return
    tmp = dest + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    con = sqlite3.connect(tmp, isolation_level=None)
    con.execute("ATTACH ? AS src", (src,))
    con.execute("BEGIN")
    for t in SMALL_TABLES:
        (sql,) = con.execute("SELECT sql FROM src.sqlite_master WHERE type='table' AND name=?", (t,)).fetchone()
        con.execute(sql)
        con.execute("INSERT INTO main.%s SELECT * FROM src.%s" % (t, t))
        for (isql,) in con.execute(
            "SELECT sql FROM src.sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL", (t,)
        ).fetchall():
            con.execute(isql)
    con.execute("COMMIT")
    con.execute("DETACH src")
    con.execute("VACUUM")
    con.close()
    os.rename(tmp, dest)


def plan_queries(db, args):
    """Build the scan / join / lookup workloads from the (plain) database's schema and contents."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
    counts = sorted(((con.execute("SELECT count(*) FROM %s" % t).fetchone()[0], t) for t in tables), reverse=True)
    scan = []
    for _, t in counts[: args.scan_tables]:
        cols = [r[1] for r in con.execute("PRAGMA table_info(%s)" % t)]
        exprs = ["count(*)"]
        for c in cols:
            if c == "_id":
                exprs.append("total(_id)")
            else:
                exprs += ["sum(length(%s))" % c, "min(%s)" % c, "max(%s)" % c]
        scan.append(["SELECT %s FROM %s NOT INDEXED" % (", ".join(exprs), t), None])
    rng = random.Random(args.seed)
    gene_ids = [r[0] for r in con.execute("SELECT gene_id FROM genes ORDER BY _id")]
    sample = rng.sample(gene_ids, min(200, len(gene_ids)))
    join = [
        [
            "SELECT count(*), total(g._id), sum(length(i.symbol)), sum(length(b.go_id)), min(b.evidence), max(i.gene_name)"
            " FROM go_bp AS b JOIN genes AS g ON g._id = b._id JOIN gene_info AS i ON i._id = b._id",
            None,
        ],
        [
            "SELECT b2.go_id, count(DISTINCT b2._id), min(i.symbol) FROM genes AS g"
            " JOIN go_bp AS b1 ON b1._id = g._id JOIN go_bp AS b2 ON b2.go_id = b1.go_id"
            " JOIN gene_info AS i ON i._id = b2._id"
            " WHERE g.gene_id IN (%s) GROUP BY b2.go_id ORDER BY b2.go_id" % ",".join("'%s'" % s for s in sample),
            None,
        ],
    ]
    fanout = "go_bp_all" if "go_bp_all" in tables else "go_bp"
    keys = []
    for _ in range(args.lookups):
        # about 5% of the keys are absent
        keys.append([rng.choice(gene_ids) if rng.random() > 0.05 else "no%d" % rng.randrange(10**6)])
    lookup = [
        ["SELECT g._id, i.symbol, i.gene_name FROM genes AS g JOIN gene_info AS i ON i._id = g._id WHERE g.gene_id = ?", keys],
        [
            "SELECT count(*), min(go_id), max(evidence) FROM %s WHERE _id = (SELECT _id FROM genes WHERE gene_id = ?)" % fanout,
            keys,
        ],
    ]
    con.close()
    # warm: the same two statements, many more keys, in one process with the file in the OS page
    # cache: the per-statement cost of the engine (locking, inner transactions) dominates
    warm_keys = [[rng.choice(gene_ids) if rng.random() > 0.05 else "no%d" % rng.randrange(10**6)]
                 for _ in range(args.warm_lookups // 2)]
    warm = [[sql, warm_keys] for sql, _ in lookup]
    return {"scan": scan, "join": join, "lookup": lookup, "warm": warm}


def compacted_path(name, source, tag):
    """The database each engine reads in scan/join/lookup: plain reads the uncompressed original."""
    if name == "plain":
        return source
    return os.path.join(WORK, "%s.%s.compact.db" % (tag, name))


def lib_stamp(source, lib_path):
    """Identifies the source database and library a compacted file was made from."""
    src, st = os.stat(source), os.stat(lib_path)
    return "%s %d %d %d %d %s" % (source, src.st_size, int(src.st_mtime), st.st_size, int(st.st_mtime), sha256_file(lib_path)[:16])


def ensure_compacted(name, kind, lib_path, cfg, source, tag, runner):
    """Make sure NAME's compacted copy of SOURCE exists and was written by the current library
    (compacting it, untimed, with RUNNER(spec) otherwise). Returns False when that failed."""
    db = compacted_path(name, source, tag)
    if kind == "plain":
        return True
    st = db + ".stamp"
    if os.path.exists(db) and os.path.exists(st) and open(st).read() == lib_stamp(source, lib_path):
        return True
    print("bench: preparing %s (compacting with %s; not timed)" % (db, name), flush=True)
    for suffix in ("", ".stamp", ".dbi"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    spec = {"bench": "compact", "engine": name, "engine_kind": "ext", "lib": lib_path, "config": cfg,
            "source": source, "dest": db}
    if runner(spec) is None:
        return False
    with open(st, "w") as f:
        f.write(lib_stamp(source, lib_path))
    return True


def find_engines(names, lib=None, peer_lib=None, threads="", variants=()):
    """[(name, kind, lib, config)], {name: why unavailable}, {name: version}; probes each library."""
    lib = lib or os.environ.get("LIBGENOMICSQLITE") or os.path.join(REPO, "target", "release", "libgenomicsqlite.so")
    peer_lib = peer_lib or os.environ.get("PEER_LIBGENOMICSQLITE")
    if not peer_lib:
        for venv in (os.path.join(REPO, ".venv", "peer"), "/opt/gsq094"):
            hits = sorted(glob.glob(os.path.join(venv, "lib", "python3*", "site-packages", "genomicsqlite", "libgenomicsqlite.so")))
            if hits:
                peer_lib = hits[0]
                break
    engines = []
    unavailable = {}
    versions = {}
    for e in names:
        if e == "plain":
            engines.append(("plain", "plain", None, {}))
        elif e == "peer":
            if peer_lib and os.path.exists(peer_lib):
                engines.append(("peer", "ext", os.path.abspath(peer_lib), {}))
            else:
                unavailable["peer"] = "library not found (%s)" % peer_lib
        elif e == "ours":
            if os.path.exists(lib):
                engines.append(("ours", "ext", os.path.abspath(lib), {}))
                for t in [t.strip() for t in threads.split(",") if t.strip()]:
                    engines.append(("ours_t%d" % int(t), "ext", os.path.abspath(lib), {"threads": int(t)}))
                for vname, vcfg in variants:
                    engines.append(("ours_" + vname, "ext", os.path.abspath(lib), vcfg))
            else:
                unavailable["ours"] = "library not found: %s" % lib
        else:
            raise ValueError("unknown engine %r" % e)
    checked = []
    for e in engines:
        if e[1] == "plain":
            checked.append(e)
            continue
        probe = subprocess.run(
            [sys.executable, "-c",
             "import sqlite3,sys; c=sqlite3.connect(':memory:'); c.enable_load_extension(True); c.load_extension(sys.argv[1]);"
             " print(c.execute('SELECT genomicsqlite_version()').fetchone()[0])", e[2]],
            capture_output=True, text=True)
        if probe.returncode != 0:
            unavailable[e[0]] = "cannot load %s: %s" % (e[2], (probe.stderr.strip().splitlines() or ["?"])[-1])
        else:
            checked.append(e)
            versions[e[0]] = probe.stdout.strip()
    return checked, unavailable, versions


def fmt(v):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return "%.0f" % v
    if abs(v) >= 100:
        return "%.1f" % v
    if abs(v) >= 10:
        return "%.2f" % v
    return "%.3f" % v


METRICS = {
    "compact": ["time_s", "cpu_s", "size_MB", "maxrss_MB"],
    "command": ["time_s", "cpu_s", "size_MB", "maxrss_MB"],
    "load": ["time_s", "cpu_s", "insert_s", "index_s", "size_MB", "maxrss_MB"],
    "scan": ["time_s", "cpu_s", "maxrss_MB"],
    "join": ["time_s", "cpu_s", "maxrss_MB"],
    "lookup": ["time_s", "cpu_s", "per_s", "maxrss_MB"],
    "warm": ["time_s", "cpu_s", "per_s", "maxrss_MB"],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=None, help="repeats per measurement (median reported; default 3, --quick 1)")
    ap.add_argument("--quick", action="store_true", help="smoke test: small database, fewer rows/lookups, 1 repeat")
    ap.add_argument("--only", action="append", default=[], help="run only this benchmark (%s); repeatable or comma-separated" % ",".join(BENCHES))
    ap.add_argument("--engines", default="plain,peer,ours", help="comma-separated subset of plain,peer,ours")
    ap.add_argument("--threads", default="", help="also measure ours with these thread settings, e.g. 1,2,8 (config threads=N)")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                    help="also measure ours with this config JSON (column ours_NAME), e.g. lvl3='{\"zstd_level\": 3}'")
    ap.add_argument("--rows", type=int, default=None, help="rows for the bulk load (default 3000000, --quick 200000)")
    ap.add_argument("--lookups", type=int, default=None, help="random point lookups (default 20000, --quick 2000)")
    ap.add_argument("--warm-lookups", type=int, default=None, help="statements of the warm lookup benchmark (default 100000, --quick 10000)")
    ap.add_argument("--scan-tables", type=int, default=6, help="how many of the largest tables to scan (default 6)")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--lib", default=None, help="our library (default $LIBGENOMICSQLITE or <repo>/target/release/libgenomicsqlite.so)")
    ap.add_argument("--peer-lib", default=None, help="the 0.9.4 library (default $PEER_LIBGENOMICSQLITE, <repo>/.venv/peer, /opt/gsq094)")
    ap.add_argument("--source", default=None, help="source database (default bench/data/org.Hs.eg.sqlite)")
    ap.add_argument("--output", default=None, help="JSON results file (default bench/results/bench-TIMESTAMP.json)")
    ap.add_argument("--read-peer-file", action="store_true",
                    help="scan/join/lookup: all compressed engines read the file compacted by 0.9.4 (compares readers only)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child_main()

    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    if repeats < 1:
        ap.error("--repeats must be at least 1")
    args.rows = args.rows if args.rows is not None else (200000 if args.quick else 3000000)
    args.lookups = args.lookups if args.lookups is not None else (2000 if args.quick else 20000)
    args.warm_lookups = args.warm_lookups if args.warm_lookups is not None else (10000 if args.quick else 100000)
    only = [b.strip() for o in args.only for b in o.split(",") if b.strip()] or list(BENCHES)
    for b in only:
        if b not in BENCHES:
            ap.error("unknown benchmark %r (choose from %s)" % (b, ", ".join(BENCHES)))
    only = [b for b in BENCHES if b in only]

    variants = []
    for v in args.variant:
        vname, sep, vjson = v.partition("=")
        try:
            vcfg = json.loads(vjson) if sep else None
        except ValueError as exc:
            ap.error("--variant %s: bad JSON: %s" % (v, exc))
        if not vname.isidentifier() or not isinstance(vcfg, dict):
            ap.error("--variant wants NAME={JSON object}, e.g. lvl3='{\"zstd_level\":3}'; got %r" % v)
        variants.append((vname, vcfg))
    # engines
    try:
        engines, unavailable, versions = find_engines(
            [e.strip() for e in args.engines.split(",") if e.strip()], args.lib, args.peer_lib, args.threads, variants)
    except ValueError as exc:
        ap.error(str(exc))
    if not engines:
        sys.exit("no engine available: %s" % unavailable)

    source = os.path.abspath(args.source or SOURCE_DB)
    if not os.path.exists(source):
        sys.exit("source database %s missing: run bench/fetch_data.sh" % source)
    if args.quick and not args.source:
        make_small_db(source, SMALL_DB)
        source = SMALL_DB
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    tag = "quick" if args.quick else "full"

    def compacted(name):
        if args.read_peer_file and name != "plain":
            return compacted_path("peer", source, tag)
        return compacted_path(name, source, tag)

    if args.read_peer_file and "peer" not in [n for n, *_ in engines]:
        sys.exit("--read-peer-file needs the peer engine")

    command = shlex.join([sys.executable] + sys.argv)
    if os.environ.get("BENCH_VIA_RUNSH"):  # set by run.sh
        command = "%s  (runs: %s)" % (shlex.join(["bench/run.sh"] + [] + sys.argv[1:]), command)
    record = {
        "command": command,
        "started": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "host": {"machine": platform.machine(), "nproc": os.cpu_count(), "python": sys.version.split()[0],
                 "sqlite": sqlite3.sqlite_version, "kernel": platform.release()},
        "source": source,
        "source_bytes": os.path.getsize(source),
        "repeats": repeats,
        "rows": args.rows,
        "lookups": args.lookups,
        "read_peer_file": args.read_peer_file,
        "cache_drop": "fsync + posix_fadvise(POSIX_FADV_DONTNEED) per file; residency checked with fincore",
        "engines": {n: {"kind": k, "lib": l, "version": versions.get(n), "lib_sha256": sha256_file(l) if l else None, "config": c} for n, k, l, c in engines},
        "unavailable": unavailable,
        "samples": {},
        "median": {},
        "digests": {},
    }
    print("bench: %s" % command, flush=True)
    print("bench: source %s (%.1f MB), engines %s, repeats %d" % (source, os.path.getsize(source) / 1e6, ", ".join(n for n, *_ in engines), repeats), flush=True)
    for n, msg in unavailable.items():
        print("bench: %s unavailable: %s" % (n, msg), flush=True)

    def spec_for(bench, name, kind, lib_path, cfg):
        return {"bench": bench, "engine": name, "engine_kind": "plain" if kind == "plain" else "ext", "lib": lib_path, "config": cfg}

    def record_sample(bench, name, res):
        record["samples"].setdefault(bench, {}).setdefault(name, []).append(res)
        shown = ", ".join("%s=%s" % (m, fmt(res.get(m))) for m in METRICS[bench])
        print("  %-7s %-8s %s%s" % (bench, name, shown, "" if res.get("cold_resident_bytes") in (0, None) else "  [resident before start: %d bytes]" % res["cold_resident_bytes"]), flush=True)

    failed = {}

    def attempt(bench, name, spec, cold, warm=()):
        """run_child, but a failing engine is reported (and skipped for this benchmark) instead of aborting."""
        if (bench, name) in failed:
            return None
        try:
            return run_child(spec, cold, warm)
        except Exception as exc:  # the child's traceback is in the message
            failed[(bench, name)] = str(exc)
            record.setdefault("errors", {}).setdefault(bench, {})[name] = str(exc)
            print("  %-7s %-8s FAILED: %s" % (bench, name, str(exc).strip().splitlines()[-1]), flush=True)
            return None

    # ---- compact
    if "compact" in only:
        count_queries = count_queries_of(source)
        for r in range(repeats):
            for name, kind, lib_path, cfg in engines:
                dest = os.path.join(WORK, "%s.%s.compact.db" % (tag, name))
                for suffix in ("", "-journal", "-wal", ".dbi", ".stamp"):
                    if os.path.exists(dest + suffix):
                        os.unlink(dest + suffix)
                spec = spec_for("compact", name, kind, lib_path, cfg)
                spec.update(source=source, dest=dest)
                res = attempt("compact", name, spec, [source])
                if res is None:
                    continue
                # untimed check in another fresh process: the copy has every table with every row
                vspec = spec_for("verify", name, kind, lib_path, cfg)
                vspec.update(db=dest, queries=count_queries)
                v = attempt("verify", name, vspec, [])
                res["digest"] = v["digest"] if v else "verification-failed"
                record_sample("compact", name, res)
                if lib_path and v:
                    with open(dest + ".stamp", "w") as f:
                        f.write(lib_stamp(source, lib_path))

    # ---- compact with each engine's own command (compressed engines with a command only)
    if "command" in only:
        for r in range(repeats):
            for name, kind, lib_path, cfg in engines:
                argv = command_argv(name, lib_path)
                if argv is None or cfg:
                    continue
                dest = os.path.join(WORK, "%s.%s.command.db" % (tag, name))
                for suffix in ("", "-journal"):
                    if os.path.exists(dest + suffix):
                        os.unlink(dest + suffix)
                spec = spec_for("command", name, kind, lib_path, cfg)
                spec.update(argv=argv, source=source, dest=dest)
                res = attempt("command", name, spec, [source])
                if res is None:
                    continue
                vspec = spec_for("verify", name, kind, lib_path, cfg)
                vspec.update(db=dest, queries=count_queries_of(source))
                v = attempt("verify", name, vspec, [])
                res["digest"] = v["digest"] if v else "verification-failed"
                record_sample("command", name, res)
                os.unlink(dest)

    # ---- load
    if "load" in only:
        for r in range(repeats):
            for name, kind, lib_path, cfg in engines:
                dest = os.path.join(WORK, "%s.%s.load.db" % (tag, name))
                for suffix in ("", "-journal", "-wal"):
                    if os.path.exists(dest + suffix):
                        os.unlink(dest + suffix)
                spec = spec_for("load", name, kind, lib_path, cfg)
                spec.update(dest=dest, rows=args.rows)
                res = attempt("load", name, spec, [])
                if res is not None:
                    record_sample("load", name, res)
                if os.path.exists(dest):
                    os.unlink(dest)

    # ---- read workloads on each engine's own compacted file
    readers = [b for b in ("scan", "join", "lookup", "warm") if b in only]
    if readers:
        for name, kind, lib_path, cfg in engines:
            if kind == "plain" or (args.read_peer_file and name != "peer"):
                continue
            ok = ensure_compacted(name, kind, lib_path, cfg, source, tag,
                                  lambda spec: attempt("prepare", name, spec, []))
            if not ok:
                for n2, *_ in engines:
                    if n2 == name or (args.read_peer_file and n2 != "plain"):
                        for b in readers:
                            failed[(b, n2)] = "preparing the compacted file failed"
        workloads = plan_queries(source, args)
        record["queries"] = {b: [q[0] for q in workloads[b]] for b in readers}
        for bench in readers:
            for r in range(repeats):
                for name, kind, lib_path, cfg in engines:
                    spec = spec_for(bench, name, kind, lib_path, cfg)
                    spec.update(db=compacted(name), queries=workloads[bench])
                    files = [compacted(name)]
                    res = attempt(bench, name, spec, [] if bench == "warm" else files, files if bench == "warm" else ())
                    if res is not None:
                        record_sample(bench, name, res)

    # ---- correctness: identical results across engines and repeats
    failures = ["%s/%s failed: %s" % (b, n, msg.strip().splitlines()[-1] if msg.strip() else "?") for (b, n), msg in failed.items()]
    for bench, per_engine in record["samples"].items():
        digests = {}
        for name, samples in per_engine.items():
            for s in samples:
                if "digest" in s:
                    digests.setdefault(s["digest"], []).append(name)
        if digests:
            record["digests"][bench] = digests
            if len(digests) != 1:
                failures.append("%s: engines disagree: %s" % (bench, digests))

    # ---- medians and table
    names = [n for n, *_ in engines]
    rows = []
    for bench in BENCHES:
        if bench not in record["samples"]:
            continue
        for m in METRICS[bench]:
            med = {}
            for n in names:
                vals = [s[m] for s in record["samples"][bench].get(n, []) if s.get(m) is not None]
                med[n] = statistics.median(vals) if vals else None
            record["median"]["%s.%s" % (bench, m)] = med
            rows.append(("%s.%s" % (bench, m), med))

    extra = [n for n in names if n not in ("plain", "peer", "ours")]
    header = ["metric", "plain", "0.9.4", "ours", "ours/0.9.4", "ours/plain"] + extra
    table = [header]
    for label, med in rows:
        o, p, pl = med.get("ours"), med.get("peer"), med.get("plain")
        table.append([label, fmt(pl), fmt(p), fmt(o),
                      fmt(o / p) if o is not None and p else "n/a",
                      fmt(o / pl) if o is not None and pl else "n/a"] + [fmt(med.get(n)) for n in extra])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    lines.append("")
    lines.append("command: %s" % command)
    lines.append("medians of %d repeat(s); source %s; times in seconds, sizes in MB (1e6 bytes), maxrss = peak RSS of the child in MiB" % (repeats, os.path.basename(source)))
    for i, r in enumerate(table):
        lines.append("  ".join(c.rjust(widths[j]) if j else c.ljust(widths[j]) for j, c in enumerate(r)))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    for n, kind, l, c in engines:
        if l:
            lines.append("%s = %s %s%s" % (n, l, versions.get(n, "?"), " config %s" % json.dumps(c) if c else ""))
    for n, msg in unavailable.items():
        lines.append("%s: unavailable (%s)" % (n, msg))
    if args.read_peer_file:
        lines.append("NOTE --read-peer-file: in scan/join/lookup every compressed engine read the file compacted by 0.9.4")
    resid = [s.get("cold_resident_bytes") for b in record["samples"].values() for ss in b.values() for s in ss]
    if any(r is None for r in resid):
        lines.append("cache: posix_fadvise DONTNEED applied; residency not verified (fincore missing)")
    else:
        lines.append("cache: posix_fadvise DONTNEED applied before each run; bytes still resident at start: max %d" % max(resid or [0]))
    mism = [b for b, d in record["digests"].items() if len(d) != 1]
    lines.append("results identical across engines and repeats: %s" % ("NO: " + ", ".join(mism) if mism else "yes (" + ", ".join("%s %s" % (b, list(d)[0]) for b, d in record["digests"].items()) + ")"))
    for f_ in failures:
        lines.append("FAILED: " + f_)
    text = "\n".join(lines)
    print(text)
    record["table"] = text
    record["failures"] = failures
    out = args.output or os.path.join(RESULTS, "bench-%s-%s.json" % (tag, datetime.datetime.utcnow().strftime("%Y%m%d-%H%M%S")))
    with open(out, "w") as f:
        json.dump(record, f, indent=1)
    print("results written to %s" % out)
    if failures:
        sys.exit(2)


if __name__ == "__main__":
    main()
