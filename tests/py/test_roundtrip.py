"""Round trip: plain SQLite content -> compressed database -> identical content."""
import glob
import hashlib
import json
import os
import sqlite3
import subprocess

import pytest

import gsqtool
from conftest import OURS, REPO, outer_conn, shell

ZSTD_APP_ID = 0x7A737464


def check_outer_format(path):
    """The outer file is an ordinary SQLite db in the documented layout."""
    o = outer_conn(path)
    try:
        assert o.execute("PRAGMA application_id").fetchone()[0] == ZSTD_APP_ID
        assert o.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = {r[0] for r in o.execute("SELECT name FROM sqlite_master")}
        assert {"nested_vfs_zstd_pages", "nested_vfs_zstd_dicts"} <= names, names
        pagenos = [r[0] for r in o.execute("SELECT pageno FROM nested_vfs_zstd_pages WHERE pageno > 0 ORDER BY pageno")]
        assert pagenos == list(range(1, len(pagenos) + 1)), "inner page numbers have gaps"
        page1 = o.execute("SELECT length(data), meta1 FROM nested_vfs_zstd_pages WHERE pageno = 1").fetchone()
        assert page1[1] is None, "page 1 must be stored uncompressed"
        return len(pagenos), page1[0]
    finally:
        o.close()


@pytest.mark.parametrize("cfg", [
    {},
    {"inner_page_KiB": 4, "outer_page_KiB": 1, "zstd_level": 1},
    {"inner_page_KiB": 64, "outer_page_KiB": 64, "zstd_level": 19, "threads": 1},
    {"inner_page_KiB": 1, "zstd_level": -5, "threads": 0},
    {"unsafe_load": True},
], ids=["defaults", "4KiB-l1", "64KiB-l19-t1", "1KiB-neg-t0", "unsafe_load"])
def test_vacuum_into_roundtrip(tmp_path, plain_db, cfg):
    src, want = plain_db
    dest = str(tmp_path / "vac.db")
    gsqtool.vacuum_into(src, dest, cfg)
    npages, page_size = check_outer_format(dest)
    assert page_size == cfg.get("inner_page_KiB", 16) * 1024
    c = gsqtool.open_compressed(dest)
    try:
        assert gsqtool.integrity(c) == "ok"
        assert c.execute("PRAGMA page_count").fetchone()[0] == npages
        got = gsqtool.table_hashes(c)
    finally:
        c.close()
    assert got["schema"] == want["schema"]
    assert got["tables"] == want["tables"]
    # it is compressed: smaller than the plain file
    assert os.path.getsize(dest) < os.path.getsize(src)


def test_insert_through_attached_roundtrip(tmp_path, plain_db):
    """Create the schema and copy every row through an ATTACHed compressed database."""
    src, want = plain_db
    dest = str(tmp_path / "attached.db")
    c = sqlite3.connect(src, isolation_level=None)
    try:
        sql = c.execute("SELECT genomicsqlite_attach_sql(?, 'gz', ?)",
                        (dest, json.dumps({"inner_page_KiB": 8}))).fetchone()[0]
        c.executescript(sql)
        c.execute("BEGIN")
        for d in gsqtool.DDL:
            c.execute(d.format(s="gz."))
        for (name,) in c.execute("SELECT name FROM main.sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'").fetchall():
            cols = [r[1] for r in c.execute("PRAGMA main.table_info(%s)" % gsqtool._qi(name))]
            collist = ",".join(gsqtool._qi(x) for x in cols)
            c.execute("INSERT INTO gz.%s (%s) SELECT %s FROM main.%s" % (name, collist, collist, name))
        c.execute("COMMIT")
        c.execute("ANALYZE gz")
        assert gsqtool.integrity(c, "gz") == "ok"
        c.execute("DETACH gz")
    finally:
        c.close()
    check_outer_format(dest)
    got = gsqtool.compressed_hashes(dest)
    assert got["integrity"] == "ok"
    assert got["schema"] == want["schema"]
    # sqlite_stat1 can differ in the details ANALYZE computes for the new layout; all user
    # tables and sqlite_sequence must be identical
    for t in want["tables"]:
        if t != "sqlite_stat1":
            assert got["tables"][t] == want["tables"][t], t


def test_shell_dump_identical(tmp_path, plain_db, compressed_db):
    """The system sqlite3 shell's .dump of the compressed copy equals that of the plain db."""
    src, _ = plain_db
    p1 = subprocess.run(["sqlite3", "-batch", src, ".dump"], capture_output=True, text=True, timeout=300)
    assert p1.returncode == 0, p1.stderr
    uri = gsqtool.sqlfunc("genomicsqlite_uri", compressed_db, '{"mode":"ro"}')
    p2 = shell(OURS, ".open %s\n.dump" % uri)
    assert p2.returncode == 0, p2.stderr
    assert len(p1.stdout) > 1_000_000
    assert p2.stdout == p1.stdout


def test_reopen_and_modify_roundtrip(tmp_path, plain_db):
    """Modify a compressed db in several sessions; mirror the same changes in plain SQLite."""
    src, _ = plain_db
    dest = str(tmp_path / "mod.db")
    mirror = str(tmp_path / "mirror.db")
    gsqtool.vacuum_into(src, dest, {"inner_page_KiB": 4})
    with open(src, "rb") as f, open(mirror, "wb") as g:
        g.write(f.read())
    stmts = [
        "UPDATE ints SET b = coalesce(b, 0) + 1 WHERE id % 5 = 0",
        "DELETE FROM reals WHERE label = 'gene'",
        "INSERT INTO blobs (data, note) SELECT zeroblob(5000 + id), 'new' FROM ints WHERE id < 300",
        "UPDATE texts SET v = NULL WHERE n % 11 = 0",
        "CREATE TABLE extra AS SELECT id, a * 2 AS a2 FROM ints",
        "CREATE INDEX extra_a2 ON extra (a2)",
        "DROP INDEX ints_a",
        "DELETE FROM mixed WHERE rowid % 2 = 0",
    ]
    for i, st in enumerate(stmts):
        c = gsqtool.open_compressed(dest)
        c.execute("BEGIN"); c.execute(st); c.execute("COMMIT")
        c.close()
        m = sqlite3.connect(mirror, isolation_level=None)
        m.execute(st)
        m.close()
        if i % 3 == 2:
            c = gsqtool.open_compressed(dest)
            c.execute("VACUUM")
            c.close()
    got = gsqtool.compressed_hashes(dest)
    want = gsqtool.plain_hashes(mirror)
    assert got["integrity"] == "ok"
    assert got["schema"] == want["schema"]
    assert got["tables"] == want["tables"]
    check_outer_format(dest)


def _bench_databases():
    out = []
    for p in sorted(glob.glob(os.path.join(REPO, "bench/data/*"))):
        if not os.path.isfile(p) or os.path.getsize(p) < 1_000_000:
            continue
        with open(p, "rb") as f:
            head = f.read(100)
        if head.startswith(b"SQLite format 3\x00") and head[68:72] != b"zstd":
            out.append(p)
    return out


@pytest.mark.slow
def test_real_database_roundtrip(tmp_path):
    """The real Bioconductor database (bench/data), if it has been fetched there."""
    # GSQ_TEST_REAL_DB=PATH picks one; by default the smallest plain SQLite file >= 1 MB under
    # bench/data (bench/fetch_data.sh puts the full org.Hs.eg.sqlite and a smaller cut there)
    src = os.environ.get("GSQ_TEST_REAL_DB")
    if not src:
        dbs = _bench_databases()
        if not dbs:
            pytest.skip("no plain SQLite database under bench/data (tests never download it)")
        src = min(dbs, key=os.path.getsize)
    want = gsqtool.plain_hashes(src)
    dest = str(tmp_path / "real.db")
    gsqtool.vacuum_into(src, dest, {})
    got = gsqtool.compressed_hashes(dest)
    assert got["integrity"] == "ok"
    assert got["schema"] == want["schema"]
    assert got["tables"] == want["tables"]


@pytest.mark.ours_only
def test_vacuum_into_is_reproducible(tmp_path):
    """The same input and settings give a byte-identical file, whatever the number of threads
    (threads=-1 means the host's processors) and however fast they are: published files keep
    their checksums. The input is big enough for several dictionaries, whose samples are drawn
    at random (seeded), and for rows to be in flight on the workers when one is stored."""
    src = str(tmp_path / "src.db")
    gsqtool.make_plain(src, scale=4, seed=7)
    outs = []
    for i, threads in enumerate([1, 2, 2, 8]):
        dest = str(tmp_path / ("out%d.db" % i))
        gsqtool.vacuum_into(src, dest, {"threads": threads, "inner_page_KiB": 4})
        with open(dest, "rb") as f:
            outs.append(hashlib.sha256(f.read()).hexdigest())
    with outer_conn(str(tmp_path / "out0.db")) as c:
        assert c.execute("SELECT count(*) FROM nested_vfs_zstd_dicts").fetchone()[0] >= 3
    for i in range(1, len(outs)):
        assert outs[i] == outs[0], "output %d differs from output 0" % i
