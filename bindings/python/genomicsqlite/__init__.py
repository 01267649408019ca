"""GenomicSQLite for Python: Zstandard-compressed SQLite databases through the standard
``sqlite3`` module.

    import genomicsqlite
    conn = genomicsqlite.connect("data.db")          # an ordinary sqlite3.Connection
    conn.execute("CREATE TABLE t(x)")

Importing the package loads libgenomicsqlite into the SQLite library that Python's ``sqlite3``
module uses (see ``_native``), so afterwards every ``sqlite3`` connection has the ``zstd`` VFS
and the ``genomicsqlite_*`` SQL functions. The environment variable ``LIBGENOMICSQLITE``
overrides which shared library is loaded.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from typing import Any, Dict, FrozenSet, Tuple, Union

from . import _genomics, _native
from ._genomics import *  # noqa: F401,F403  (genomics helpers, 0.9.4's names)

__all__ = ["connect", "attach_sql", "vacuum_into_sql", "__version__", "LIBRARY_PATH", "CONFIG_KEYS"]
__all__ += _genomics.__all__

_LIB = _native.load()

#: Path of the libgenomicsqlite shared library in use.
LIBRARY_PATH: str = _LIB.path

_local = threading.local()


def _memconn() -> sqlite3.Connection:
    """A per-thread in-memory connection used to call the library's SQL functions."""
    conn = getattr(_local, "conn", None)
    if conn is None or getattr(_local, "pid", None) != os.getpid():  # not across fork()
        conn = sqlite3.connect(":memory:")
        _local.conn = conn
        _local.pid = os.getpid()
    return conn


def _sql1(conn: sqlite3.Connection, sql: str, params: Tuple[Any, ...] = ()) -> Any:
    return conn.execute(sql, params).fetchone()[0]


def _sql1_str(conn: sqlite3.Connection, sql: str, params: Tuple[Any, ...] = ()) -> str:
    value = _sql1(conn, sql, params)
    if not isinstance(value, str):
        raise sqlite3.InterfaceError("%s returned %r, not text" % (sql, value))
    return value


#: Library version, e.g. "v0.10.0".
__version__: str = _sql1_str(_memconn(), "SELECT genomicsqlite_version()")

_DEFAULT_CONFIG: Dict[str, Any] = json.loads(_sql1(_memconn(), "SELECT genomicsqlite_default_config_json()"))

#: Configuration keys understood by the library (connect() routes these kwargs to it).
CONFIG_KEYS: FrozenSet[str] = frozenset(_DEFAULT_CONFIG)

# Keyword parameters of sqlite3.connect (inspect.signature cannot read the builtin's).
_CONNECT_PARAMS: FrozenSet[str] = frozenset(
    ("timeout", "detect_types", "isolation_level", "check_same_thread", "factory",
     "cached_statements", "uri", "autocommit")
)

PathType = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def _path(value: PathType) -> str:
    path = os.fsdecode(os.fspath(value))
    if not path:
        raise sqlite3.ProgrammingError("database filename must not be empty")
    if "\x00" in path:
        # as sqlite3.connect: SQLite would open the file named by the part before the NUL
        raise ValueError("embedded null character in database filename %r" % path)
    return path


def _config_json(config: Dict[str, Any]) -> str:
    """Serialize user configuration; the library validates keys, types and ranges."""
    for key, value in config.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise sqlite3.ProgrammingError(
                "GenomicSQLite configuration key %r: value of type %s is not a JSON value"
                % (key, type(value).__name__)
            ) from None
    return json.dumps(config)


def _retold(exc: sqlite3.Error, message: str) -> sqlite3.Error:
    """An exception of the same class and SQLite error code as ``exc``, with ``message``."""
    new = type(exc)(message)
    for attr in ("sqlite_errorcode", "sqlite_errorname"):
        if hasattr(exc, attr):
            try:
                setattr(new, attr, getattr(exc, attr))
            except AttributeError:
                pass
    return new


def _with_open_error(exc: sqlite3.Error) -> sqlite3.Error:
    """The same exception class with the library's reason for the failed open appended."""
    reason = _LIB.last_open_error()
    if not reason or reason in str(exc):
        return exc
    return _retold(exc, "%s (%s)" % (exc, reason))


def _is_plain_sqlite(path: str) -> bool:
    """Whether ``path`` is an existing SQLite file that is not a compressed database."""
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError:
        return False
    return (len(header) == 100 and header.startswith(b"SQLite format 3\0")
            and header[68:72] != b"zstd")


def _open_error(exc: sqlite3.Error, path: str) -> sqlite3.Error:
    """The exception for a failed open: a plain SQLite file explained in Python's terms, else
    the library's reason appended to SQLite's message."""
    if _is_plain_sqlite(path):
        _LIB.last_open_error()  # taken: the message below says it better
        return _retold(exc, (
            "%s is a plain SQLite database, not a compressed one: open it with "
            "sqlite3.connect(%r) (genomicsqlite.connect() refuses it because its tuning, "
            "journal_mode=MEMORY, is safe only for compressed databases), or compress it "
            "with genomicsqlite.vacuum_into_sql() or `genomicsqlite %s --compact`"
        ) % (path, path, path))
    return _with_open_error(exc)


def connect(dbfile: PathType, read_only: bool = False, **kwargs: Any) -> sqlite3.Connection:
    """Open (creating if needed, unless ``read_only``) a compressed database.

    Keyword arguments that are sqlite3.connect parameters (``timeout``, ``isolation_level``,
    ``check_same_thread``, ``detect_types``, ``factory``, ``cached_statements``, ...) go to
    :func:`sqlite3.connect` (always with ``uri=True``); all others are GenomicSQLite
    configuration keys (``zstd_level``, ``page_cache_MiB``, ``inner_page_KiB``,
    ``outer_page_KiB``, ``threads``, ``unsafe_load``, ``immutable``, ...; see
    :data:`CONFIG_KEYS`) and go into the JSON configuration, which the library validates.

    The URI and the tuning pragmas are computed by the library's SQL functions
    ``genomicsqlite_uri`` and ``genomicsqlite_tuning_sql``; the pragmas (page_size first) are run
    on the new connection before it is returned.

    Errors are ``sqlite3.Error`` subclasses carrying the library's message (unknown key, wrong
    type, missing file, not a compressed database, ...); nothing is printed on stderr.

    A plain (uncompressed) SQLite file is refused with an ``sqlite3.OperationalError`` saying
    so: open it with ``sqlite3.connect()``. (The tuning that ``connect()`` applies,
    ``journal_mode=MEMORY``, is safe only for compressed databases, whose outer file keeps the
    real journal; the ``genomicsqlite`` command opens plain files without it.)
    """
    path = _path(dbfile)
    config: Dict[str, Any] = {}
    connect_kwargs: Dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in _CONNECT_PARAMS and key not in CONFIG_KEYS:
            connect_kwargs[key] = value
        else:
            config[key] = value
    if read_only:
        config["mode"] = "ro"
    config_json = _config_json(config)
    mem = _memconn()
    uri = _sql1_str(mem, "SELECT genomicsqlite_uri(?, ?)", (path, config_json))
    tuning_sql = _sql1_str(mem, "SELECT genomicsqlite_tuning_sql(?)", (config_json,))
    connect_kwargs["uri"] = True
    timeout = connect_kwargs.get("timeout", 5.0)
    deadline = time.monotonic() + (timeout if isinstance(timeout, (int, float)) else 5.0)
    delay = 0.001
    while True:
        _LIB.last_open_error()  # reading clears it: forget failures of earlier opens on this thread
        # The reason of a failed open goes into the exception, not (also) onto stderr.
        was_quiet = _LIB.quiet_open_errors(True)
        try:
            conn: sqlite3.Connection = sqlite3.connect(uri, **connect_kwargs)
            break
        except sqlite3.OperationalError as exc:
            # Opening the compressed file reads it, which fails while another connection
            # holds a write lock; wait up to `timeout` like sqlite3 does for locked databases.
            if _is_busy(exc) and time.monotonic() + delay < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
                continue
            raise _open_error(exc, path) from None
        except sqlite3.Error as exc:
            raise _open_error(exc, path) from None
        finally:
            _LIB.quiet_open_errors(was_quiet)
    try:
        conn.executescript(tuning_sql)
    except sqlite3.Error as exc:
        conn.close()
        raise _with_open_error(exc) from None
    return conn


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED
    return "database is locked" in str(exc) or "database table is locked" in str(exc)


def attach_sql(conn: sqlite3.Connection, dbfile: PathType, schema_name: str, **config: Any) -> str:
    """SQL that attaches the compressed database ``dbfile`` to ``conn`` as ``schema_name`` and
    tunes it; run it with ``conn.executescript(...)``. Keyword arguments are configuration keys
    (e.g. ``immutable=True``, ``page_cache_MiB=256``, ``mode="ro"`` to attach read-only)."""
    return _sql1_str(
        conn,
        "SELECT genomicsqlite_attach_sql(?, ?, ?)",
        (_path(dbfile), str(schema_name), _config_json(config)),
    )


def vacuum_into_sql(conn: sqlite3.Connection, destfile: PathType, **config: Any) -> str:
    """SQL that writes a compressed, defragmented copy of ``conn``'s main database into the new
    file ``destfile`` (``PRAGMA page_size``; ``VACUUM INTO``); run it with
    ``conn.executescript(...)``. Keyword arguments are configuration keys (e.g.
    ``zstd_level=9``, ``inner_page_KiB=64``)."""
    return _sql1_str(
        conn,
        "SELECT genomicsqlite_vacuum_into_sql(?, ?)",
        (_path(destfile), _config_json(config)),
    )
