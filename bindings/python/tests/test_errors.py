import os
import sqlite3

import pytest


def _make_db(gsq, path, rows=10):
    conn = gsq.connect(path)
    conn.execute("CREATE TABLE t(x)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(rows)])
    conn.commit()
    conn.close()


def test_unknown_config_key(gsq, tmp_path):
    db = str(tmp_path / "x.db")
    with pytest.raises(sqlite3.Error, match="zstd_levle"):
        gsq.connect(db, zstd_levle=5)
    assert not os.path.exists(db)
    _make_db(gsq, db)
    conn = gsq.connect(db)
    with pytest.raises(sqlite3.Error, match="bogus_option"):
        gsq.attach_sql(conn, str(tmp_path / "y.db"), "y", bogus_option=True)
    with pytest.raises(sqlite3.Error, match="no_such_key"):
        gsq.vacuum_into_sql(conn, str(tmp_path / "z.db"), no_such_key=1)
    conn.close()


@pytest.mark.parametrize("key,value", [("zstd_level", "high"), ("page_cache_MiB", [1]),
                                       ("unsafe_load", "yes"), ("inner_page_KiB", 3.5)])
def test_wrong_type(gsq, tmp_path, key, value):
    with pytest.raises(sqlite3.Error, match=key):
        gsq.connect(str(tmp_path / "x.db"), **{key: value})


def test_invalid_value(gsq, tmp_path):
    with pytest.raises(sqlite3.Error, match="inner_page_KiB"):
        gsq.connect(str(tmp_path / "x.db"), inner_page_KiB=3)
    with pytest.raises(sqlite3.Error, match="zstd_level"):
        gsq.connect(str(tmp_path / "x.db"), zstd_level=99)


def test_value_not_json(gsq, tmp_path):
    with pytest.raises(sqlite3.ProgrammingError, match="zstd_level"):
        gsq.connect(str(tmp_path / "x.db"), zstd_level=object())


def test_missing_file_read_only(gsq, tmp_path):
    db = str(tmp_path / "does_not_exist.db")
    with pytest.raises(sqlite3.OperationalError) as info:
        gsq.connect(db, read_only=True)
    message = str(info.value)
    assert "unable to open" in message
    # the library's own reason is appended to SQLite's generic message
    assert db in message, message
    assert not os.path.exists(db)


def test_plain_sqlite_file_is_not_compressed(gsq, tmp_path):
    db = str(tmp_path / "plain.db")
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t(x)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.commit()
    conn.close()
    before = open(db, "rb").read()
    for read_only in (True, False):
        with pytest.raises(sqlite3.DatabaseError) as info:
            c = gsq.connect(db, read_only=read_only)
            c.execute("SELECT * FROM t").fetchall()
        assert db in str(info.value), str(info.value)  # the library's reason names the file
        # said in Python's terms: what to call instead
        assert "plain SQLite database" in str(info.value), str(info.value)
        assert "sqlite3.connect(" in str(info.value), str(info.value)
    assert open(db, "rb").read() == before  # untouched


def test_failed_open_is_raised_not_printed(gsq, tmp_path, capfd):
    """The reason goes into the exception only; the library prints nothing on stderr."""
    fake = str(tmp_path / "fake.db")
    conn = sqlite3.connect(fake)  # claims to be compressed (application_id) but is not
    conn.executescript("PRAGMA application_id = 2054386788; CREATE TABLE x(a)")
    conn.close()
    capfd.readouterr()
    for db in (fake, str(tmp_path / "missing.db")):
        with pytest.raises(sqlite3.Error) as info:
            gsq.connect(db, read_only=True)
        assert db in str(info.value), str(info.value)
    out, err = capfd.readouterr()
    assert err == "", err


def test_garbage_file(gsq, tmp_path):
    db = str(tmp_path / "garbage.db")
    with open(db, "wb") as f:
        f.write(b"this is not a database at all\n" * 1000)
    with pytest.raises(sqlite3.DatabaseError) as info:
        c = gsq.connect(db, read_only=True)
        c.execute("SELECT * FROM sqlite_master").fetchall()
    assert str(info.value)


def test_empty_file_read_only(gsq, tmp_path):
    db = str(tmp_path / "empty.db")
    open(db, "wb").close()
    with pytest.raises(sqlite3.Error):
        c = gsq.connect(db, read_only=True)
        c.execute("SELECT * FROM sqlite_master").fetchall()


def test_write_on_read_only_connection(gsq, tmp_path):
    db = str(tmp_path / "ro.db")
    _make_db(gsq, db)
    conn = gsq.connect(db, read_only=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("INSERT INTO t VALUES (99)")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("CREATE TABLE u(y)")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (10,)
    conn.close()
    again = gsq.connect(db, read_only=True)
    assert again.execute("SELECT count(*) FROM t").fetchone() == (10,)
    again.close()


def test_wrong_thread_default(gsq, tmp_path):
    import threading

    db = str(tmp_path / "th.db")
    _make_db(gsq, db)
    conn = gsq.connect(db)
    errors = []

    def use():
        try:
            conn.execute("SELECT 1")
        except sqlite3.ProgrammingError as exc:
            errors.append(exc)

    t = threading.Thread(target=use)
    t.start()
    t.join()
    assert len(errors) == 1 and "thread" in str(errors[0])
    conn.close()


def test_nul_byte_in_path(gsq, tmp_path):
    """Like sqlite3.connect: a NUL byte would make SQLite open the file named by the part
    before it; refused by connect, attach_sql and vacuum_into_sql, and nothing is created."""
    bad = str(tmp_path / "nul\x00tail.gsq")
    with pytest.raises(ValueError):
        gsq.connect(bad)
    conn = gsq.connect(str(tmp_path / "ok.gsq"))
    with pytest.raises(ValueError):
        gsq.attach_sql(conn, bad, "other")
    with pytest.raises(ValueError):
        gsq.vacuum_into_sql(conn, bad)
    with pytest.raises(sqlite3.Error, match="NUL"):
        conn.execute("SELECT genomicsqlite_uri(?)", (bad,)).fetchone()
    conn.close()
    assert sorted(os.listdir(tmp_path)) == ["ok.gsq"], os.listdir(tmp_path)
