"""Files written by the peer (GenomicSQLite 0.9.4) read through ours, and the reverse."""
import os
import re
import sqlite3

import pytest

import gsqtool
from conftest import OURS, outer_conn, tool


def _dict_stats(path):
    o = outer_conn(path)
    try:
        ndicts = o.execute("SELECT count(*) FROM nested_vfs_zstd_dicts").fetchone()[0]
        dict_pages = o.execute("SELECT count(*) FROM nested_vfs_zstd_pages WHERE meta1 >= 0").fetchone()[0]
        total = o.execute("SELECT count(*) FROM nested_vfs_zstd_pages WHERE pageno > 0").fetchone()[0]
        return ndicts, dict_pages, total
    finally:
        o.close()


@pytest.fixture(scope="module")
def peer_written(tmp_path_factory, plain_db, peer_lib):
    """plain_db copied by the peer with VACUUM INTO; small inner pages -> many pages, dicts."""
    d = tmp_path_factory.mktemp("peerw")
    path = str(d / "peer.db")
    tool(peer_lib, "vacuum-into", plain_db[0], path, '{"inner_page_KiB": 4}')
    return path


def test_peer_file_trains_dictionaries(peer_written):
    ndicts, dict_pages, total = _dict_stats(peer_written)
    assert total > 300 and ndicts >= 1 and dict_pages > 0, (ndicts, dict_pages, total)


def test_peer_file_reads_identically_through_ours(peer_written, plain_db):
    got = gsqtool.compressed_hashes(peer_written)
    assert got["integrity"] == "ok"
    assert got["schema"] == plain_db[1]["schema"]
    assert got["tables"] == plain_db[1]["tables"]


def test_peer_transactional_writes_read_through_ours(tmp_path, peer_lib):
    """The peer builds a database by ordinary transactions (incl. dictionary training while
    writing); ours reads the same content as the peer does."""
    path = str(tmp_path / "peer_gen.db")
    tool(peer_lib, "generate", path, '{"inner_page_KiB": 2, "zstd_level": 3}', "1.0", "77")
    ndicts, dict_pages, _ = _dict_stats(path)
    assert ndicts >= 1 and dict_pages > 0
    theirs = tool(peer_lib, "hashes", path)
    ours = gsqtool.compressed_hashes(path)
    assert theirs["integrity"] == "ok"
    assert ours == theirs


def test_ours_file_reads_identically_through_peer(tmp_path, plain_db, peer_lib):
    path = str(tmp_path / "ours.db")
    gsqtool.vacuum_into(plain_db[0], path, {"inner_page_KiB": 4})
    theirs = tool(peer_lib, "hashes", path)
    assert theirs["integrity"] == "ok"          # the peer's integrity_check
    assert theirs["schema"] == plain_db[1]["schema"]
    assert theirs["tables"] == plain_db[1]["tables"]


def test_ours_transactional_writes_read_through_peer(tmp_path, peer_lib):
    path = str(tmp_path / "ours_gen.db")
    c = gsqtool.open_compressed(path, {"inner_page_KiB": 2, "zstd_level": 3})
    gsqtool.generate(c, 1.0, 78)
    ours = gsqtool.table_hashes(c)
    c.close()
    theirs = tool(peer_lib, "hashes", path)
    assert theirs["integrity"] == "ok"
    assert theirs["schema"] == ours["schema"] and theirs["tables"] == ours["tables"]


def test_ours_trains_dictionaries_like_peer(tmp_path, plain_db):
    """Our writer trains zstd dictionaries on a file large enough (format compatibility)."""
    path = str(tmp_path / "ours_dict.db")
    gsqtool.vacuum_into(plain_db[0], path, {"inner_page_KiB": 4})
    ndicts, dict_pages, total = _dict_stats(path)
    assert total > 300 and ndicts >= 1 and dict_pages > 0, (ndicts, dict_pages, total)


def test_ours_modifies_peer_file_then_peer_reads(tmp_path, plain_db, peer_lib):
    """Mixed history: the peer writes, ours updates, the peer reads back what ours wrote."""
    path = str(tmp_path / "mixed.db")
    tool(peer_lib, "vacuum-into", plain_db[0], path, '{"inner_page_KiB": 4}')
    c = gsqtool.open_compressed(path)
    c.execute("BEGIN")
    c.execute("UPDATE ints SET big = big / 2, b = NULL WHERE id % 4 = 1")
    c.execute("INSERT INTO blobs (data, note) SELECT randomblob(3000), 'from ours' FROM ints WHERE id < 3000")
    c.execute("DELETE FROM texts WHERE n % 3 = 0")
    c.execute("COMMIT")
    want = gsqtool.table_hashes(c)
    c.close()
    theirs = tool(peer_lib, "hashes", path)
    assert theirs["integrity"] == "ok"
    assert theirs["tables"] == want["tables"]


def _norm(sql):
    return re.sub(r"\s+", " ", sql or "").strip()


def test_outer_schema_same_as_peer(tmp_path, plain_db, peer_lib, peer_written):
    path = str(tmp_path / "ours_schema.db")
    gsqtool.vacuum_into(plain_db[0], path, {"inner_page_KiB": 4})
    def outer(p):
        o = outer_conn(p)
        try:
            return (o.execute("PRAGMA application_id").fetchone()[0],
                    sorted((t, n, _norm(s)) for t, n, s in
                           o.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")))
        finally:
            o.close()
    assert outer(path) == outer(peer_written)
