import os
import sqlite3

import pytest

from conftest import assert_compressed


def test_version_and_functions(gsq):
    assert isinstance(gsq.__version__, str) and gsq.__version__
    conn = sqlite3.connect(":memory:")  # any sqlite3 connection sees the extension once imported
    assert conn.execute("SELECT genomicsqlite_version()").fetchone()[0] == gsq.__version__
    assert {"zstd_level", "page_cache_MiB", "inner_page_KiB", "outer_page_KiB"} <= gsq.CONFIG_KEYS
    conn.close()


def test_create_write_commit_reopen_read_only(gsq, tmp_path):
    db = str(tmp_path / "a.db")
    conn = gsq.connect(db)
    assert isinstance(conn, sqlite3.Connection)
    conn.execute("CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, score REAL)")
    conn.executemany("INSERT INTO people(name, score) VALUES (?, ?)",
                     [("alice", 1.5), ("bob", 2.25), ("carol", None)])
    conn.commit()
    conn.execute("INSERT INTO people(name, score) VALUES ('uncommitted', 0)")
    conn.rollback()
    conn.close()

    assert_compressed(db)
    ro = gsq.connect(db, read_only=True)
    rows = ro.execute("SELECT id, name, score FROM people ORDER BY id").fetchall()
    assert rows == [(1, "alice", 1.5), (2, "bob", 2.25), (3, "carol", None)]
    ro.close()

    # reopen read-write and modify
    rw = gsq.connect(db)
    rw.execute("UPDATE people SET score = 9 WHERE name = 'carol'")
    rw.commit()
    rw.close()
    ro = gsq.connect(db, read_only=True)
    assert ro.execute("SELECT score FROM people WHERE name='carol'").fetchone() == (9.0,)
    ro.close()


def test_tuning_sql_applied(gsq, tmp_path):
    db = str(tmp_path / "tuned.db")
    conn = gsq.connect(db, inner_page_KiB=4, page_cache_MiB=16)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    assert conn.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert conn.execute("PRAGMA cache_size").fetchone()[0] == -960 * 16
    assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "memory"
    assert conn.execute("PRAGMA max_page_count").fetchone()[0] == 2147483646
    conn.close()
    # page 1 of the inner database is stored uncompressed: its length is the inner page size
    outer = sqlite3.connect(db)
    assert outer.execute("SELECT length(data) FROM nested_vfs_zstd_pages WHERE pageno=1").fetchone()[0] == 4096
    outer.close()


def test_uri_and_tuning_come_from_library(gsq, tmp_path):
    db = str(tmp_path / "u.db")
    mem = sqlite3.connect(":memory:")
    uri = mem.execute("SELECT genomicsqlite_uri(?, ?)", (db, '{"zstd_level": 9}')).fetchone()[0]
    assert uri.startswith("file:") and "vfs=zstd" in uri and "level=9" in uri
    tuning = mem.execute("SELECT genomicsqlite_tuning_sql('{}')").fetchone()[0]
    assert tuning.lstrip().upper().startswith("PRAGMA PAGE_SIZE")
    mem.close()


def test_sqlite3_connect_kwargs(gsq, tmp_path):
    class MyConnection(sqlite3.Connection):
        pass

    db = str(tmp_path / "k.db")
    conn = gsq.connect(db, isolation_level=None, timeout=7.5, factory=MyConnection,
                       detect_types=sqlite3.PARSE_DECLTYPES, zstd_level=1)
    assert isinstance(conn, MyConnection)
    assert conn.isolation_level is None  # autocommit: visible to another connection at once
    conn.execute("CREATE TABLE t(x)")
    conn.execute("INSERT INTO t VALUES (42)")
    other = gsq.connect(db, read_only=True)
    assert other.execute("SELECT x FROM t").fetchall() == [(42,)]
    other.close()
    conn.close()


def test_pathlike(gsq, tmp_path):
    db = tmp_path / "p.db"
    conn = gsq.connect(db)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    assert_compressed(str(db))


def _row(i):
    return (i, "chr%d" % (i % 22 + 1), i * 37 % 1000003, "ACGT" * (i % 9) + "N")


def test_executemany_100k(gsq, tmp_path):
    n = 100_000
    db = str(tmp_path / "big.db")
    conn = gsq.connect(db)
    conn.execute("CREATE TABLE v(id INTEGER PRIMARY KEY, chrom TEXT, pos INTEGER, seq TEXT)")
    conn.executemany("INSERT INTO v VALUES (?,?,?,?)", (_row(i) for i in range(n)))
    conn.commit()
    conn.execute("CREATE INDEX v_pos ON v(chrom, pos)")
    conn.commit()
    conn.close()

    plain = str(tmp_path / "plain.db")
    pconn = sqlite3.connect(plain)
    pconn.execute("PRAGMA page_size=16384")
    pconn.execute("CREATE TABLE v(id INTEGER PRIMARY KEY, chrom TEXT, pos INTEGER, seq TEXT)")
    pconn.executemany("INSERT INTO v VALUES (?,?,?,?)", (_row(i) for i in range(n)))
    pconn.execute("CREATE INDEX v_pos ON v(chrom, pos)")
    pconn.commit()
    pconn.close()

    ro = gsq.connect(db, read_only=True)
    assert ro.execute("SELECT count(*), sum(pos), sum(length(seq)) FROM v").fetchone() == (
        n, sum(_row(i)[2] for i in range(n)), sum(len(_row(i)[3]) for i in range(n)))
    assert ro.execute("SELECT id FROM v WHERE chrom='chr5' AND pos=?", (_row(4)[2],)).fetchall() == [(4,)]
    assert ro.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    ro.close()
    pages = assert_compressed(db)
    assert pages > 10
    # compression works: the compressed file is clearly smaller than the plain one
    assert os.path.getsize(db) < 0.8 * os.path.getsize(plain), (os.path.getsize(db), os.path.getsize(plain))


def test_attach_and_join(gsq, tmp_path):
    a, b = str(tmp_path / "genes.db"), str(tmp_path / "variants.db")
    conn = gsq.connect(a)
    conn.execute("CREATE TABLE genes(name TEXT PRIMARY KEY, chrom TEXT, beg INT, end INT)")
    conn.executemany("INSERT INTO genes VALUES (?,?,?,?)",
                     [("G%d" % i, "chr1", i * 1000, i * 1000 + 500) for i in range(200)])
    conn.commit()
    conn.close()
    conn = gsq.connect(b)
    conn.execute("CREATE TABLE variants(chrom TEXT, pos INT, ref TEXT)")
    conn.executemany("INSERT INTO variants VALUES (?,?,?)", [("chr1", p, "A") for p in range(0, 200_000, 250)])
    conn.commit()
    conn.close()

    main = gsq.connect(a)
    sql = gsq.attach_sql(main, b, "var", immutable=True)
    assert isinstance(sql, str) and "ATTACH" in sql.upper() and "var" in sql
    main.executescript(sql)
    assert {r[1] for r in main.execute("PRAGMA database_list")} >= {"main", "var"}
    assert main.execute("PRAGMA var.page_size").fetchone()[0] == 16384
    counts = main.execute(
        "SELECT g.name, count(v.pos) FROM genes g JOIN var.variants v ON v.chrom = g.chrom "
        "AND v.pos BETWEEN g.beg AND g.end GROUP BY g.name ORDER BY g.beg").fetchall()
    expected = [("G%d" % i, sum(1 for p in range(0, 200_000, 250) if i * 1000 <= p <= i * 1000 + 500))
                for i in range(200)]
    assert counts == expected
    main.close()


def test_attach_new_file_writable(gsq, tmp_path):
    a, b = str(tmp_path / "m.db"), str(tmp_path / "new_attached.db")
    conn = gsq.connect(a)
    conn.executescript(gsq.attach_sql(conn, b, "aux"))
    conn.execute("CREATE TABLE aux.t(x)")
    conn.executemany("INSERT INTO aux.t VALUES (?)", [(i,) for i in range(1000)])
    conn.commit()
    conn.close()
    assert_compressed(b)
    ro = gsq.connect(b, read_only=True)
    assert ro.execute("SELECT count(*), sum(x) FROM t").fetchone() == (1000, 499500)
    ro.close()


def test_vacuum_into(gsq, tmp_path):
    src, dest = str(tmp_path / "src.db"), str(tmp_path / "copy.db")
    conn = gsq.connect(src)
    conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, s TEXT)")
    conn.executemany("INSERT INTO t(s) VALUES (?)", [("text %d" % i * 3,) for i in range(20_000)])
    conn.commit()
    conn.execute("DELETE FROM t WHERE id % 2 = 0")
    conn.commit()
    sql = gsq.vacuum_into_sql(conn, dest, zstd_level=9, inner_page_KiB=4)
    assert "VACUUM INTO" in sql.upper()
    conn.executescript(sql)
    expected = conn.execute("SELECT count(*), sum(length(s)), sum(id) FROM t").fetchone()
    conn.close()

    assert_compressed(dest)
    copy = gsq.connect(dest, read_only=True)
    assert copy.execute("SELECT count(*), sum(length(s)), sum(id) FROM t").fetchone() == expected
    assert copy.execute("PRAGMA page_size").fetchone()[0] == 4096
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    copy.close()


def test_pandas_read_sql_query(gsq, tmp_path):
    import pandas as pd
    db = str(tmp_path / "pd.db")
    conn = gsq.connect(db)
    frame = pd.DataFrame({"gene": ["G%d" % i for i in range(500)], "expr": [i / 3 for i in range(500)],
                          "chrom": ["chr%d" % (i % 3) for i in range(500)]})
    frame.to_sql("expr", conn, index=False)
    conn.commit()
    conn.close()

    ro = gsq.connect(db, read_only=True)
    df = pd.read_sql_query("SELECT chrom, count(*) AS n, sum(expr) AS total FROM expr GROUP BY chrom ORDER BY chrom", ro)
    ro.close()
    expected = frame.groupby("chrom").agg(n=("expr", "size"), total=("expr", "sum")).reset_index()
    assert list(df["chrom"]) == list(expected["chrom"])
    assert list(df["n"]) == list(expected["n"])
    assert all(abs(x - y) < 1e-9 for x, y in zip(df["total"], expected["total"]))
    assert_compressed(db)


@pytest.mark.parametrize("name", ["a b#c?d=1&e%20f.db", "\u00fcn\u00ef c\u00f8d\u00e9.db"])
def test_unusual_filenames(gsq, tmp_path, name):
    db = str(tmp_path / name)
    conn = gsq.connect(db)
    conn.execute("CREATE TABLE t(x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()
    assert os.listdir(str(tmp_path)) == [name]  # exactly this file, no URI mangling
    assert_compressed(db)
    main = gsq.connect(str(tmp_path / "main.db"))
    main.executescript(gsq.attach_sql(main, db, "other"))
    assert main.execute("SELECT x FROM other.t").fetchall() == [(1,)]
    main.close()
