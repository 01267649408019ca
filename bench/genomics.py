#!/usr/bin/env python3
"""Genomic Range Index benchmark: ours against GenomicSQLite 0.9.4 in the same run.

Real intervals: gene coordinates (chromosome_locations of org.Hs.eg.sqlite) and variants (the VCF
files under extdata/ of Debian's r-bioc-variantannotation), replicated with position offsets to
millions of rows (bash bench/fetch_genomics_data.sh fetches both into bench/data). For each
library, in its own process and on a fresh compressed database, alternating between libraries:

  create   create_genomic_range_index_sql() scripts for both tables (index creation)
  queries  --queries random overlap queries, SELECT _rowid_ FROM genomic_range_rowids('genes', ?, ?, ?),
           each in its own transaction, then all in one read transaction
  sqlq     the same queries through one statement prepared from genomic_range_rowids_sql('genes')
  join     overlap join of --join-variants variants with the genes through genomic_range_rowids
  scan     (reference) plain SQLite: the overlap predicate as a BETWEEN-style full scan, no GRI

Both libraries must return the same answers (checksums compared). Prints medians and ratios of
wall-clock time and of CPU time (the process's, all threads): on a shared machine the wall clock
mostly measures the other tenants, while CPU time stays close to the work done.

    .venv/debian/bin/python bench/genomics.py [--gene-copies 40] [--variant-copies 80] [--repeats 3] [--plain]
"""
import argparse
import glob
import gzip
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATA = os.path.join(HERE, "data")
OFFSET = 300_000_000  # larger than any human chromosome: copies do not overlap each other


def read_genes():
    src = sqlite3.connect("file:%s?mode=ro" % os.path.join(DATA, "org.Hs.eg.sqlite"), uri=True)
    rows = [("chr" + s, min(abs(b), abs(e)) - 1, max(abs(b), abs(e)))
            for s, b, e in src.execute("SELECT seqname, start_location, end_location FROM chromosome_locations")]
    src.close()
    return rows


def read_variants():
    rows = []
    for path in sorted(glob.glob(os.path.join(DATA, "variantannotation", "usr", "lib", "R", "site-library",
                                              "VariantAnnotation", "extdata", "*.vcf.gz"))):
        with gzip.open(path, "rt", errors="replace") as f:
            for line in f:
                if line.startswith("#"):
                    continue
                chrom, pos, _id, ref = line.split("\t", 4)[:4]
                chrom = chrom if chrom.startswith("chr") else "chr" + chrom
                rows.append((chrom, int(pos) - 1, int(pos) - 1 + len(ref)))
    return rows


def build_source(path, genes, variants, gene_copies, variant_copies):
    if os.path.exists(path):
        os.unlink(path)
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA journal_mode=OFF")
    c.execute("BEGIN")
    c.execute("CREATE TABLE genes(chrom TEXT, beg INTEGER, en INTEGER)")
    c.execute("CREATE TABLE variants(chrom TEXT, beg INTEGER, en INTEGER)")
    for k in range(gene_copies):
        c.executemany("INSERT INTO genes VALUES(?,?,?)", ((r, b + k * OFFSET, e + k * OFFSET) for r, b, e in genes))
    for k in range(variant_copies):
        c.executemany("INSERT INTO variants VALUES(?,?,?)", ((r, b + k * OFFSET, e + k * OFFSET) for r, b, e in variants))
    c.execute("COMMIT")
    c.close()


def make_queries(genes, variants, n, gene_copies, seed=42):
    rng = random.Random(seed)
    qs = []
    for _ in range(n):
        rid, b, e = rng.choice(genes) if rng.random() < 0.7 else rng.choice(variants)
        k = rng.randrange(gene_copies) * OFFSET
        qb = max(0, rng.randint(b - 50_000, e + 50_000)) + k
        qs.append((rid, qb, qb + rng.choice([1, 100, 1_000, 10_000, 100_000])))
    return qs


# --------------------------------------------------------------------------------------------
# child: one library, one fresh compressed database


def cpu_seconds():
    """CPU time of this process so far, every thread (compression workers too)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Phases(dict):
    """Wall-clock and CPU seconds of named phases: out[name], out[name + "_cpu"]."""

    def measure(self, name, work):
        t, c = time.perf_counter(), cpu_seconds()
        result = work()
        self[name] = time.perf_counter() - t
        self[name + "_cpu"] = cpu_seconds() - c
        return result


def run_queries(c, sql, qs):
    """Runs `sql` for each query; returns a checksum (rows, sum of rowids)."""
    n = s = 0
    for q in qs:
        for (r,) in c.execute(sql, q):
            n += 1
            s += r
    return [n, s]


def child(lib, src, db, queries_file, join_variants, with_scan, plain):
    boot = sqlite3.connect(":memory:")
    boot.enable_load_extension(True)
    boot.load_extension(lib)
    if plain:  # an ordinary SQLite file: only the GRI work differs between the libraries
        uri, tuning = "file:%s" % os.path.abspath(db), "PRAGMA cache_size=-1000000"
    else:
        uri = boot.execute("SELECT genomicsqlite_uri(?, '{}')", (db,)).fetchone()[0]
        tuning = boot.execute("SELECT genomicsqlite_tuning_sql('{}')").fetchone()[0]
    for suffix in ("", "-journal"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    c = sqlite3.connect(uri, uri=True, isolation_level=None)
    c.executescript(tuning)
    out = Phases()

    def load():
        c.execute("ATTACH ? AS src", ("file:%s?vfs=unix&mode=ro" % os.path.abspath(src),))
        c.execute("BEGIN")
        c.execute("CREATE TABLE genes AS SELECT * FROM src.genes")
        c.execute("CREATE TABLE variants AS SELECT * FROM src.variants")
        c.execute("COMMIT")
        c.execute("DETACH src")

    def create():
        scripts = [c.execute("SELECT create_genomic_range_index_sql(?, 'chrom', 'beg', 'en')", (table,)).fetchone()[0]
                   for table in ("genes", "variants")]
        c.executescript("BEGIN;\n%s;\nCOMMIT" % ";\n".join(scripts))

    out.measure("load", load)
    out.measure("create", create)
    with open(queries_file) as f:
        qs = json.load(f)
    tvf = "SELECT _rowid_ FROM genomic_range_rowids('genes', ?, ?, ?)"
    out["queries_check"] = out.measure("queries", lambda: run_queries(c, tvf, qs))
    c.execute("BEGIN")  # the same queries in one read transaction (no per-query locking)
    out["queries_txn_check"] = out.measure("queries_txn", lambda: run_queries(c, tvf, qs))
    c.execute("COMMIT")
    sql = c.execute("SELECT genomic_range_rowids_sql('genes')").fetchone()[0][1:-1]
    out["sqlq_check"] = out.measure("sqlq", lambda: run_queries(c, sql, qs))
    out["join_check"] = out.measure("join", lambda: list(c.execute(
        "SELECT count(*), sum(g._rowid_) FROM variants v, genes g WHERE v._rowid_ <= ? "
        "AND g._rowid_ IN genomic_range_rowids('genes', v.chrom, v.beg, v.en)", (join_variants,)).fetchone()))

    if with_scan:
        plain = sqlite3.connect("file:%s?mode=ro" % src, uri=True)
        k = 20
        t = time.perf_counter()
        for rid, qb, qe in qs[:k]:
            plain.execute("SELECT _rowid_ FROM genes WHERE chrom = ? AND beg <= ? AND en >= ?", (rid, qe, qb)).fetchall()
        out["scan"] = (time.perf_counter() - t) * len(qs) / k
        plain.close()
    c.close()
    print(json.dumps(out))


# --------------------------------------------------------------------------------------------


def peer_library():
    found = sorted(glob.glob(os.path.join(REPO, ".venv/peer/lib/python3*/site-packages/genomicsqlite/libgenomicsqlite.so")))
    return os.environ.get("PEER_LIBGENOMICSQLITE") or (found[0] if found else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", default=os.environ.get("LIBGENOMICSQLITE") or os.path.join(REPO, "target/release/libgenomicsqlite.so"))
    ap.add_argument("--peer", default=peer_library())
    ap.add_argument("--gene-copies", type=int, default=40)
    ap.add_argument("--variant-copies", type=int, default=80)
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--join-variants", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", default=os.path.join(HERE, "results", "genomics"))
    ap.add_argument("--child", nargs=4, metavar=("LIB", "SRC", "DB", "QUERIES"), help=argparse.SUPPRESS)
    ap.add_argument("--scan", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--plain", action="store_true", help="plain SQLite files instead of compressed ones")
    a = ap.parse_args()
    if a.child:
        return child(*a.child, a.join_variants, a.scan, a.plain)

    os.makedirs(a.work, exist_ok=True)
    genes, variants = read_genes(), read_variants()
    if not variants:
        sys.exit("no VCFs found: run bash bench/fetch_genomics_data.sh")
    src = os.path.join(a.work, "source.db")
    t = time.perf_counter()
    build_source(src, genes, variants, a.gene_copies, a.variant_copies)
    print("source: %d genes x %d = %d rows, %d variants x %d = %d rows (%.1fs)" % (
        len(genes), a.gene_copies, len(genes) * a.gene_copies, len(variants), a.variant_copies,
        len(variants) * a.variant_copies, time.perf_counter() - t), flush=True)
    qfile = os.path.join(a.work, "queries.json")
    with open(qfile, "w") as f:
        json.dump(make_queries(genes, variants, a.queries, a.gene_copies), f)

    results = {"peer": [], "ours": []}
    for rep in range(a.repeats):
        for who in (("peer", "ours") if rep % 2 == 0 else ("ours", "peer")):
            lib = a.peer if who == "peer" else a.ours
            db = os.path.join(a.work, "%s.db" % who)
            cmd = [sys.executable, __file__, "--child", lib, src, db, qfile, "--join-variants", str(a.join_variants)]
            if who == "ours" and rep == 0:
                cmd.append("--scan")
            if a.plain:
                cmd.append("--plain")
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
            results[who].append(r)
            print("  run %d %-4s %s" % (rep + 1, who, "  ".join(
                "%s %.2fs/%.2fs" % (k, v, r[k + "_cpu"]) for k, v in r.items() if k + "_cpu" in r)), flush=True)
    for k in ("queries_check", "queries_txn_check", "sqlq_check", "join_check"):
        answers = {json.dumps(r[k]) for rs in results.values() for r in rs}
        assert len(answers) == 1, "different answers for %s: %s" % (k, answers)
    print("answers identical (queries: %s rows; join: %s pairs)" % (results["ours"][0]["queries_check"][0], results["ours"][0]["join_check"][0]))

    def med(who, k):
        return statistics.median(r[k] for r in results[who])

    print("\n%s storage, median of %d runs each; wall-clock time, and CPU time of the process (all threads)"
          % ("plain SQLite" if a.plain else "compressed (zstd VFS)", a.repeats))
    print("\n| measure | 0.9.4 (s) | ours (s) | ours / 0.9.4 | 0.9.4 CPU (s) | ours CPU (s) | CPU ours / 0.9.4 |"
          "\n|---|---:|---:|---:|---:|---:|---:|")
    for k, label in (("create", "index creation (both tables)"),
                     ("queries", "%d queries, genomic_range_rowids" % a.queries),
                     ("queries_txn", "the same in one read transaction"),
                     ("sqlq", "%d queries, genomic_range_rowids_sql" % a.queries),
                     ("join", "overlap join, %d variants x genes" % a.join_variants),
                     ("load", "load tables (no GRI; for reference)")):
        p, o, pc, oc = med("peer", k), med("ours", k), med("peer", k + "_cpu"), med("ours", k + "_cpu")
        print("| %s | %.3f | %.3f | %.2f | %.3f | %.3f | %.2f |" % (label, p, o, o / p, pc, oc, oc / pc))
    scan = results["ours"][0]["scan"]
    print("| %d queries, plain full scan, no index (extrapolated from 20) | | %.1f | %.0fx ours' GRI time | | | |" % (
        a.queries, scan, scan / med("ours", "queries")))


if __name__ == "__main__":
    main()
