"""Shared fixtures for the genomicsqlite Python binding tests.

The tests use whichever `genomicsqlite` is importable: the installed package (run_tests.sh), or
the source tree with PYTHONPATH=bindings/python and LIBGENOMICSQLITE=<path to the .so>.
"""

import os
import sqlite3
import sys

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(TESTS_DIR)))


def pytest_report_header(config):
    import genomicsqlite

    return [
        "python: %s (sqlite3 %s, enable_load_extension: %s)"
        % (sys.executable, sqlite3.sqlite_version, hasattr(sqlite3.Connection, "enable_load_extension")),
        "genomicsqlite %s from %s" % (genomicsqlite.__version__, os.path.dirname(genomicsqlite.__file__)),
        "library: %s" % genomicsqlite.LIBRARY_PATH,
    ]


@pytest.fixture
def gsq():
    import genomicsqlite

    return genomicsqlite


def outer_info(path):
    """Inspect a compressed database as the plain SQLite file it is (no zstd VFS)."""
    from urllib.parse import quote

    conn = sqlite3.connect("file:%s?mode=ro" % quote(path, safe="/"), uri=True)
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        pages = conn.execute("SELECT count(*) FROM nested_vfs_zstd_pages").fetchone()[0] if "nested_vfs_zstd_pages" in tables else 0
        return app_id, tables, pages
    finally:
        conn.close()


ZSTD_APPLICATION_ID = 0x7A737464


def assert_compressed(path):
    app_id, tables, pages = outer_info(path)
    assert app_id == ZSTD_APPLICATION_ID, "%s: application_id %#x is not 'zstd'" % (path, app_id)
    assert "nested_vfs_zstd_pages" in tables
    assert pages > 0
    return pages
