"""Bad input: errors, never a crash, never a modified file.

Each case is run through the system sqlite3 shell (exit status must be an error code, not a
signal) and, where useful, Debian python's sqlite3 module.
"""
import os
import random
import re
import shutil
import sqlite3

import pytest

import gsqtool
from conftest import OURS, files_digest, shell

CORRUPT_RE = re.compile(r"malformed|corrupt", re.I)


def uri(path, cfg="{}"):
    return gsqtool.sqlfunc("genomicsqlite_uri", path, cfg)


def run_shell_on(path, sql, cfg="{}"):
    """Open PATH compressed in the sqlite3 shell, run SQL; returns CompletedProcess."""
    tuning = gsqtool.sqlfunc("genomicsqlite_tuning_sql", cfg)
    return shell(OURS, ".open %s\n%s;\n%s\n" % (uri(path, cfg), tuning, sql))


def assert_shell_error(p, pattern=None):
    # (a failed `.open` doesn't stop the shell, even with .bail on: it prints "Error: unable
    # to open database ..." and goes on with an in-memory database, and may then exit 0)
    assert p.returncode > 0 or "Error" in p.stderr, "expected an error, got exit %d\nstdout: %s\nstderr: %s" % (
        p.returncode, p.stdout[-500:], p.stderr[-500:])
    assert p.stderr.strip(), "error exit without a message"
    if pattern:
        assert re.search(pattern, p.stderr, re.I), "error message %r does not match %r" % (p.stderr, pattern)


# --- files that aren't compressed databases -----------------------------------------

def test_missing_file_readonly(tmp_path):
    path = str(tmp_path / "missing.db")
    p = run_shell_on(path, "SELECT count(*) FROM sqlite_master;", '{"mode":"ro"}')
    assert_shell_error(p)
    assert os.listdir(tmp_path) == [], "opening a missing file read-only created %s" % os.listdir(tmp_path)
    with pytest.raises(sqlite3.Error):
        c = gsqtool.open_compressed(path, readonly=True)
        c.execute("SELECT count(*) FROM sqlite_master").fetchall()
    assert os.listdir(tmp_path) == []


@pytest.fixture
def plain_file(tmp_path):
    path = str(tmp_path / "plain.db")
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE t (x)")
    c.executemany("INSERT INTO t VALUES (?)", ((i,) for i in range(1000)))
    c.commit()
    c.close()
    return path


@pytest.mark.parametrize("cfg", ['{}', '{"mode":"ro"}'])
def test_plain_sqlite_file_is_rejected(plain_file, cfg):
    before = files_digest(plain_file)
    p = run_shell_on(plain_file, "SELECT count(*) FROM t;", cfg)
    assert_shell_error(p)
    assert "1000" not in p.stdout
    assert files_digest(plain_file) == before
    with pytest.raises(sqlite3.Error):
        c = gsqtool.open_compressed(plain_file, readonly=cfg != "{}")
        c.execute("SELECT count(*) FROM t").fetchall()
    assert files_digest(plain_file) == before


@pytest.mark.ours_only
def test_plain_sqlite_file_error_says_not_compressed(plain_file, capfd):
    said_why = r"not a .*(compressed|genomicsqlite|zstd)|(compressed|genomicsqlite|zstd).*not"
    p = run_shell_on(plain_file, "SELECT count(*) FROM t;")
    assert_shell_error(p, said_why)
    # Plain SQLite can only say "file is not a database"; the reason goes to stderr.
    before = files_digest(plain_file)
    with pytest.raises(sqlite3.DatabaseError):
        c = gsqtool.open_compressed(plain_file)
        c.execute("SELECT count(*) FROM t").fetchall()
    err = capfd.readouterr().err
    assert re.search(said_why, err, re.I), err
    assert files_digest(plain_file) == before


@pytest.mark.ours_only
def test_log_level_is_per_open(tmp_path, compressed_db):
    """Each open logs at its own vfs_log: a later open at 0 neither silences an earlier one at 5
    nor prints anything itself, not even why it failed; one at 5 does not make others chatty."""
    loud, quiet, missing = (str(tmp_path / n) for n in ("loud.db", "quiet.db", "missing.db"))
    shutil.copy(compressed_db, loud)
    shutil.copy(compressed_db, quiet)
    at = lambda path, level: uri(path, '{"mode": "ro", "vfs_log": %d}' % level)
    p = shell(OURS, "\n".join([
        ".open " + at(loud, 5),
        "ATTACH '%s' AS q;" % at(quiet, 0),
        "SELECT count(*) FROM q.ints;",
        ".system echo MARK 1>&2",
        "SELECT count(*) FROM main.ints;",
        "ATTACH '%s' AS m;" % at(missing, 0),
    ]))
    assert "unable to open database" in p.stderr and "MARK" in p.stderr, p.stderr[-2000:]
    ours = [l for l in p.stderr.splitlines() if l.startswith("[genomicsqlite]") or l == "MARK"]
    assert not [l for l in ours if "quiet.db" in l or "missing.db" in l], ours
    after = ours[ours.index("MARK"):]
    assert [l for l in after if re.search(r"loud\.db: fetching page", l)], ours


@pytest.mark.ours_only
def test_failed_open_reports_only_its_own_reason(tmp_path):
    """A reason left by an earlier failed open on the thread is not appended to the next one's."""
    first, second = str(tmp_path / "first.db"), str(tmp_path / "second.db")
    ro = '{"mode": "ro"}'
    p = shell(OURS, ".bail off\n.open %s\n.open %s\n" % (uri(first, ro), uri(second, ro)))
    ours = [l for l in p.stderr.splitlines() if l.startswith("[genomicsqlite]")]
    assert len(ours) == 2 and "first.db" in ours[0], ours
    assert "second.db" in ours[1] and "first.db" not in ours[1], ours


@pytest.mark.parametrize("size", [0, 50, 4096, 100_000])
def test_random_bytes(tmp_path, size):
    path = str(tmp_path / "random.db")
    with open(path, "wb") as f:
        f.write(random.Random(size).randbytes(size))
    before = files_digest(path)
    p = run_shell_on(path, "SELECT count(*) FROM sqlite_master;", '{"mode":"ro"}')
    if size == 0:
        # an empty file is a valid empty database for SQLite; read-only it has no tables
        assert p.returncode >= 0
    else:
        assert_shell_error(p)
    p = run_shell_on(path, "SELECT count(*) FROM sqlite_master;")
    if size:
        assert_shell_error(p)
        assert files_digest(path) == before


# --- damaged compressed files ------------------------------------------------------

@pytest.fixture(scope="module")
def two_tables(tmp_path_factory):
    """A compressed db with tables a (compressible text) and b (incompressible blobs)."""
    d = tmp_path_factory.mktemp("damage")
    path = str(d / "two.db")
    c = gsqtool.open_compressed(path, {"inner_page_KiB": 4})
    c.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)")
    c.execute("CREATE TABLE b (id INTEGER PRIMARY KEY, v BLOB)")
    rnd = random.Random(5)
    c.execute("BEGIN")
    c.executemany("INSERT INTO a VALUES (?, ?)", ((i, ("row %d " % i) * 30) for i in range(3000)))
    c.executemany("INSERT INTO b VALUES (?, ?)", ((i, rnd.randbytes(600)) for i in range(3000)))
    c.execute("COMMIT")
    leaf = {}
    for name in ("a", "b"):
        leaf[name] = [r[0] for r in c.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno", (name,))]
    c.close()
    o = sqlite3.connect(path)
    meta = dict(o.execute("SELECT pageno, meta1 FROM nested_vfs_zstd_pages").fetchall())
    o.close()
    return path, leaf, meta


def _damaged_copy(tmp_path, two_tables, sql_for):
    path, leaf, meta = two_tables
    dest = str(tmp_path / "damaged.db")
    shutil.copy(path, dest)
    o = sqlite3.connect(dest)
    o.executescript(sql_for(leaf, meta))
    o.commit()
    o.close()
    return dest


def _compressed_leaf(leaf, meta, name):
    pages = [p for p in leaf[name] if meta.get(p) is not None]
    assert pages, "no compressed leaf page in table %s (meta1: %s)" % (name, [meta.get(p) for p in leaf[name]])
    return pages[len(pages) // 2]


def _uncompressed_leaf(leaf, meta, name):
    pages = [p for p in leaf[name] if meta.get(p) is None]
    assert pages, "no uncompressed leaf page in table %s" % name
    return pages[len(pages) // 2]


DAMAGES = {
    "flip-zstd-magic": lambda leaf, meta: "UPDATE nested_vfs_zstd_pages SET data = x'00000000' || substr(data, 5) WHERE pageno = %d"
        % _compressed_leaf(leaf, meta, "a"),
    "cut-compressed": lambda leaf, meta: "UPDATE nested_vfs_zstd_pages SET data = substr(data, 1, length(data) / 2) WHERE pageno = %d"
        % _compressed_leaf(leaf, meta, "a"),
    "cut-uncompressed": lambda leaf, meta: "UPDATE nested_vfs_zstd_pages SET data = substr(data, 1, 1000) WHERE pageno = %d"
        % _uncompressed_leaf(leaf, meta, "b"),
    "empty-blob": lambda leaf, meta: "UPDATE nested_vfs_zstd_pages SET data = x'' WHERE pageno = %d"
        % _compressed_leaf(leaf, meta, "a"),
    "missing-page-row": lambda leaf, meta: "DELETE FROM nested_vfs_zstd_pages WHERE pageno = %d"
        % _compressed_leaf(leaf, meta, "a"),
}


A_LEN = sum(len(("row %d " % i) * 30) for i in range(3000))
EXPECTED_COUNTS = {"a": "3000|%d" % A_LEN, "b": "3000|%d" % (3000 * 600)}


def _check_damaged(tmp_path, two_tables, damage, message_re):
    dest = _damaged_copy(tmp_path, two_tables, DAMAGES[damage])
    damaged = "b" if damage == "cut-uncompressed" else "a"
    other = "a" if damaged == "b" else "b"
    before = files_digest(dest)
    p = run_shell_on(dest, "SELECT count(*), sum(length(v)) FROM %s;" % damaged)
    assert_shell_error(p, message_re)
    assert EXPECTED_COUNTS[damaged] not in p.stdout
    assert files_digest(dest) == before
    # the other table's pages are still readable
    p = run_shell_on(dest, "SELECT count(*), sum(length(v)) FROM %s;" % other)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == EXPECTED_COUNTS[other], p.stdout
    # python too: the damaged table errors, the file is unchanged
    c = gsqtool.open_compressed(dest, readonly=True)
    with pytest.raises(sqlite3.DatabaseError) as ei:
        c.execute("SELECT count(*), sum(length(v)) FROM %s" % damaged).fetchall()
    if message_re:
        assert re.search(message_re, str(ei.value), re.I), str(ei.value)
    c.close()
    assert files_digest(dest) == before


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_page(tmp_path, two_tables, damage):
    """Reading a damaged page is an error; other pages stay readable; nothing is written."""
    _check_damaged(tmp_path, two_tables, damage, None)


@pytest.mark.ours_only
@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_page_reports_corruption(tmp_path, two_tables, damage):
    """... and the error is SQLITE_CORRUPT ("database disk image is malformed"), not an I/O
    error (the peer says "disk I/O error")."""
    _check_damaged(tmp_path, two_tables, damage, CORRUPT_RE.pattern)


def test_damaged_page_flip_middle_no_crash(tmp_path, two_tables):
    """A byte flipped inside a zstd frame: an error or (undetectable) wrong data, never a crash."""
    def sql(leaf, meta):
        pg = _compressed_leaf(leaf, meta, "a")
        return ("UPDATE nested_vfs_zstd_pages SET data = substr(data, 1, length(data)/2) || "
                "x'FF' || substr(data, length(data)/2 + 2) WHERE pageno = %d" % pg)
    dest = _damaged_copy(tmp_path, two_tables, sql)
    before = files_digest(dest)
    p = run_shell_on(dest, "SELECT count(*), sum(length(v)) FROM a;\nPRAGMA integrity_check;")
    assert p.returncode >= 0
    assert files_digest(dest) == before


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_compressed_file(tmp_path, compressed_db, keep):
    dest = str(tmp_path / "truncated.db")
    with open(compressed_db, "rb") as f:
        data = f.read()
    with open(dest, "wb") as f:
        f.write(data[: int(len(data) * keep) // 4096 * 4096 + 123])
    before = files_digest(dest)
    queries = "\n".join("SELECT count(*) FROM %s;" % t for t in ("ints", "reals", "texts", "blobs", "mixed"))
    p = run_shell_on(dest, queries + "\nPRAGMA integrity_check;", '{"mode":"ro"}')
    assert_shell_error(p)
    p = run_shell_on(dest, queries)
    assert_shell_error(p)
    assert files_digest(dest) == before


def test_header_row_mismatch_no_crash(tmp_path, two_tables):
    """Page 1 replaced by garbage of the right size: an error, no crash, no change."""
    dest = _damaged_copy(tmp_path, two_tables, lambda leaf, meta:
                         "UPDATE nested_vfs_zstd_pages SET data = randomblob(length(data)) WHERE pageno = 1")
    before = files_digest(dest)
    p = run_shell_on(dest, "SELECT count(*) FROM a;")
    assert_shell_error(p)
    assert files_digest(dest) == before


# --- read-only opens refuse writes ----------------------------------------------------

@pytest.mark.parametrize("cfg", ['{"mode":"ro"}', '{"immutable":true}', '{"mode":"ro","immutable":true}'])
def test_write_through_readonly_open(tmp_path, two_tables, cfg):
    dest = str(tmp_path / "ro.db")
    shutil.copy(two_tables[0], dest)
    before = files_digest(dest)
    for sql in ("INSERT INTO a VALUES (99999, 'x');", "CREATE TABLE c (x);", "DELETE FROM b;"):
        p = run_shell_on(dest, sql, cfg)
        assert_shell_error(p, "readonly|read-only|read only")
    assert files_digest(dest) == before
    c = gsqtool.open_compressed(dest, dict(__import__("json").loads(cfg)))
    with pytest.raises(sqlite3.OperationalError, match="readonly|read-only|read only"):
        c.execute("UPDATE a SET v = 'x'")
    c.close()
    assert files_digest(dest) == before


@pytest.mark.ours_only
def test_wal_mode_is_refused(tmp_path, two_tables):
    """PRAGMA journal_mode=WAL on a compressed db: an error, never a silent switch."""
    dest = str(tmp_path / "wal.db")
    shutil.copy(two_tables[0], dest)
    p = run_shell_on(dest, "PRAGMA journal_mode=WAL;\nSELECT 'after';")
    assert_shell_error(p, "wal")
    c = gsqtool.open_compressed(dest)
    with pytest.raises(sqlite3.Error, match="(?i)wal"):
        c.execute("PRAGMA journal_mode=WAL").fetchall()
    assert c.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
    c.execute("INSERT INTO a VALUES (99999, 'after wal attempt')")
    c.close()
    assert not [n for n in os.listdir(tmp_path) if n.endswith("-wal") or n.endswith("-shm")]
    c = gsqtool.open_compressed(dest, readonly=True)
    assert c.execute("SELECT count(*) FROM a").fetchone()[0] == 3001
    assert gsqtool.integrity(c) == "ok"
    c.close()


def test_journal_mode_never_wal(tmp_path, two_tables):
    """Whatever PRAGMA journal_mode=WAL does, the database never ends up in WAL mode."""
    dest = str(tmp_path / "wal2.db")
    shutil.copy(two_tables[0], dest)
    c = gsqtool.open_compressed(dest)
    try:
        c.execute("PRAGMA journal_mode=WAL").fetchall()
    except sqlite3.Error:
        pass
    assert c.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
    c.execute("INSERT INTO a VALUES (99999, 'x')")
    c.close()
    assert not [n for n in os.listdir(tmp_path) if n.endswith("-wal") or n.endswith("-shm")]
    with open(dest, "rb") as f:
        hdr = f.read(20)
    assert hdr[18:20] == b"\x01\x01", "outer file switched to WAL"
