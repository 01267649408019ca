"""End-to-end page integrity (issue 16): a damaged, misplaced or out-of-range page is
SQLITE_CORRUPT naming the page, never different rows; files stay readable by 0.9.4 both ways.

Every case damages a copy of one small compressed database through its outer file (opened as a
plain SQLite file) and reads it back with ours. On 0.9.4 (and on ours before page checksums)
these damages returned other rows, or an empty-looking database, without an error.
"""
import random
import re
import shutil
import sqlite3

import pytest

import gsqtool
from conftest import OURS, PEER, shell, tool

CORRUPT_RE = re.compile(r"malformed|corrupt", re.I)
ROWS = 3000


def expected(name):
    if name == "a":
        return (ROWS, sum(len(("row %d " % i) * 30) for i in range(ROWS)))
    return (ROWS, ROWS * 600)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """Tables a (compressible, trains a dictionary) and b (incompressible: pages stored as is)."""
    path = str(tmp_path_factory.mktemp("integrity") / "db.gsq")
    c = gsqtool.open_compressed(path, {"inner_page_KiB": 4})
    c.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)")
    c.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, v BLOB)")
    rnd = random.Random(7)
    c.execute("BEGIN")
    c.executemany("INSERT INTO a VALUES (?, ?)", ((i, ("row %d " % i) * 30) for i in range(ROWS)))
    c.executemany("INSERT INTO b VALUES (?, ?)", ((i, rnd.randbytes(600)) for i in range(ROWS)))
    c.execute("COMMIT")
    leaves = {n: [r[0] for r in c.execute(
        "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno", (n,))]
        for n in ("a", "b")}
    c.close()
    o = sqlite3.connect(path)
    meta1 = dict(o.execute("SELECT pageno, meta1 FROM nested_vfs_zstd_pages"))
    o.close()
    return path, leaves, meta1


def damaged(tmp_path, db, sql, *args):
    dest = str(tmp_path / "damaged.gsq")
    shutil.copy(db[0], dest)
    o = sqlite3.connect(dest)
    o.execute(sql, args)
    o.commit()
    o.close()
    return dest


def read_all(path, table):
    c = gsqtool.open_compressed(path, readonly=True)
    try:
        return c.execute("SELECT count(*), sum(length(v)) FROM %s" % table).fetchone()
    finally:
        c.close()


def assert_corrupt(path, table, page=None):
    with pytest.raises(sqlite3.DatabaseError) as ei:
        got = read_all(path, table)
        pytest.fail("read %s without an error: %s (intact: %s)" % (table, got, expected(table)))
    assert CORRUPT_RE.search(str(ei.value)), str(ei.value)


def pick(db, table, compressed):
    _, leaves, meta1 = db
    pages = [p for p in leaves[table] if (meta1.get(p) is not None) == compressed]
    assert len(pages) >= 2, (table, compressed)
    return pages


def test_intact_reads_back(db):
    assert read_all(db[0], "a") == expected("a")
    assert read_all(db[0], "b") == expected("b")


@pytest.mark.parametrize("table,compressed", [("a", True), ("b", False)])
def test_flipped_bytes_are_corruption(tmp_path, db, table, compressed):
    """Single bytes changed at several places of one stored page: each read is an error."""
    page = pick(db, table, compressed)[3]
    o = sqlite3.connect(db[0])
    size = o.execute("SELECT length(data) FROM nested_vfs_zstd_pages WHERE pageno = ?", (page,)).fetchone()[0]
    o.close()
    for at in sorted({20, size // 3, size // 2, size - 40}):
        dest = damaged(tmp_path, db,
                       "UPDATE nested_vfs_zstd_pages SET data = substr(data, 1, ?1) || "
                       "x'5A' || substr(data, ?1 + 2) WHERE pageno = ?2", at, page)
        assert_corrupt(dest, table, page)


@pytest.mark.parametrize("table,compressed", [("a", True), ("b", False)])
def test_swapped_rows_are_corruption(tmp_path, db, table, compressed):
    """Two pages' rows exchanged (each intact in itself): a different leaf, so rows would be
    counted twice and others lost, with integrity_check still ok."""
    p, q = pick(db, table, compressed)[1:3]
    dest = str(tmp_path / "swapped.gsq")
    shutil.copy(db[0], dest)
    o = sqlite3.connect(dest)
    o.executescript(
        "UPDATE nested_vfs_zstd_pages SET pageno = -1 WHERE pageno = %d;"
        "UPDATE nested_vfs_zstd_pages SET pageno = %d WHERE pageno = %d;"
        "UPDATE nested_vfs_zstd_pages SET pageno = %d WHERE pageno = -1;" % (p, p, q, q))
    o.close()
    assert_corrupt(dest, table)


def test_damaged_dictionary_is_corruption(tmp_path, db):
    """The second half of every dictionary replaced (their headers stay valid): the pages
    compressed with them decode to other bytes, which zstd's content checksum catches."""
    o = sqlite3.connect(db[0])
    used = o.execute("SELECT count(*) FROM nested_vfs_zstd_pages WHERE meta1 >= 0").fetchone()[0]
    o.close()
    assert used, "no page uses a dictionary"
    dest = damaged(tmp_path, db,
                   "UPDATE nested_vfs_zstd_dicts SET dict = substr(dict, 1, length(dict) / 2) || "
                   "randomblob(length(dict) - length(dict) / 2) WHERE length(dict) > 1000")
    assert_corrupt(dest, "a")


@pytest.mark.parametrize("pageno", [2 ** 32, 2 ** 40, 0, -5])
def test_page_number_out_of_range_is_corruption(tmp_path, db, pageno):
    """One stray row outside 1..page_count: before, 2^32 made the whole database look empty."""
    dest = damaged(tmp_path, db,
                   "INSERT INTO nested_vfs_zstd_pages (pageno, data, meta1, meta2, btree_interior) "
                   "SELECT ?, data, meta1, meta2, btree_interior FROM nested_vfs_zstd_pages WHERE pageno = 2",
                   pageno)
    with pytest.raises(sqlite3.DatabaseError) as ei:
        c = gsqtool.open_compressed(dest, readonly=True)
        got = c.execute("SELECT count(*) FROM sqlite_master").fetchone()
        pytest.fail("no error: %s" % (got,))
    assert CORRUPT_RE.search(str(ei.value)), str(ei.value)


def test_missing_page_row_is_corruption(tmp_path, db):
    page = pick(db, "a", True)[2]
    dest = damaged(tmp_path, db, "DELETE FROM nested_vfs_zstd_pages WHERE pageno = ?", page)
    assert_corrupt(dest, "a")


def test_checksums_are_written(db):
    """Every row carries its checksum and every frame zstd's content checksum flag."""
    o = sqlite3.connect(db[0])
    rows = o.execute("SELECT pageno, meta1, meta2, substr(data, 5, 1) FROM nested_vfs_zstd_pages").fetchall()
    o.close()
    assert all(isinstance(m2, int) for _, _, m2, _ in rows), [r[:3] for r in rows if not isinstance(r[2], int)][:5]
    frames = [fd for _, m1, _, fd in rows if m1 is not None]
    assert frames and all(fd[0] & 0x04 for fd in frames), "zstd frames without the checksum flag"


def test_peer_reads_checksummed_file_and_we_read_its_rewrites(tmp_path, db):
    """0.9.4 reads a file with checksums; it NULLs meta2 of the pages it rewrites, which we
    then read unchecked (never as damaged)."""
    dest = str(tmp_path / "both.gsq")
    shutil.copy(db[0], dest)
    rows = tool(PEER, "sql", dest, "{}", "SELECT count(*), sum(length(v)) FROM a; ")
    assert tuple(rows[0]) == expected("a")
    tool(PEER, "sql", dest, "{}", "UPDATE a SET v = v || 'x' WHERE id % 7 = 0; SELECT 1")
    o = sqlite3.connect(dest)
    nulls = o.execute("SELECT count(*) FROM nested_vfs_zstd_pages WHERE meta2 IS NULL").fetchone()[0]
    o.close()
    assert nulls > 0, "0.9.4 kept meta2 of rewritten pages"
    n, total = read_all(dest, "a")
    assert (n, total) == (ROWS, expected("a")[1] + len(range(0, ROWS, 7)))
    c = gsqtool.open_compressed(dest, readonly=True)
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    c.close()
