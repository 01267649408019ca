"""Load libgenomicsqlite into the very SQLite library that Python's ``sqlite3`` module uses.

Python's ``sqlite3`` module often lacks ``Connection.enable_load_extension`` (CPython built
without ``--enable-loadable-sqlite-extensions``, e.g. the default pyenv build). The SQLite
library underneath usually supports extensions all the same, so we reach it directly through
ctypes: we resolve ``sqlite3_open_v2``, ``sqlite3_enable_load_extension``,
``sqlite3_load_extension``, ``sqlite3_close`` and ``sqlite3_free`` in the libsqlite3 that
``_sqlite3`` is linked to and hand them to ``genomicsqlite_init()``, which makes that SQLite
load libgenomicsqlite as an extension. The extension registers itself as an auto-extension,
so every connection opened afterwards by ``sqlite3.connect`` has the ``zstd`` VFS and the
``genomicsqlite_*`` SQL functions.

Before binding the library to a candidate libsqlite3 we make sure it is the very instance behind
``sqlite3.connect`` (same version, and a probe auto-extension registered through it fires when
Python opens a connection); afterwards we check that a new ``sqlite3`` connection sees our SQL
functions. If no candidate qualifies and the ``sqlite3`` module can load extensions itself, we
use ``Connection.load_extension`` instead.

Every failure becomes an ``ImportError`` that says what went wrong and what to do.
"""

from __future__ import annotations

import ctypes
import os
import sqlite3
import sys
from typing import Iterator, List, Optional, Tuple

MIN_SQLITE_VERSION: Tuple[int, int, int] = (3, 31, 0)

_HERE = os.path.dirname(os.path.abspath(__file__))

# The wheel's copy is named like a stable-ABI extension (setup.py); a build tree has the plain name.
if sys.platform == "darwin":
    _LIB_NAMES = ("libgenomicsqlite.abi3.so", "libgenomicsqlite.dylib", "libgenomicsqlite.so")
else:
    _LIB_NAMES = ("libgenomicsqlite.abi3.so", "libgenomicsqlite.so")

_HOST_FUNCTIONS = (
    "sqlite3_open_v2",
    "sqlite3_enable_load_extension",
    "sqlite3_load_extension",
    "sqlite3_close",
    "sqlite3_free",
)

_ADVICE = (
    "genomicsqlite needs Python's sqlite3 module to use a SQLite library (>= 3.31) that it can "
    "reach and that can load extensions: a Python whose _sqlite3 module is linked to a shared "
    "libsqlite3 (e.g. Debian's /usr/bin/python3, or pyenv/CPython built against the system "
    "libsqlite3), or a Python built with --enable-loadable-sqlite-extensions."
)


class HostSQLite:
    """Entry points of the host SQLite library (the one Python's sqlite3 module uses)."""

    def __init__(self, description: str, handle: ctypes.CDLL) -> None:
        self.description = description
        self.handle = handle
        self.pointers = [ctypes.cast(getattr(handle, name), ctypes.c_void_p) for name in _HOST_FUNCTIONS]
        free = getattr(handle, "sqlite3_free")
        free.restype = None
        free.argtypes = [ctypes.c_void_p]
        self.free = free


def check_sqlite_version(version_info: Tuple[int, ...], version: str) -> None:
    """Raise ImportError if the SQLite version is older than the minimum we support."""
    if tuple(version_info[:3]) < MIN_SQLITE_VERSION:
        raise ImportError(
            "genomicsqlite requires SQLite >= %s, but Python's sqlite3 module uses SQLite %s. %s"
            % (".".join(map(str, MIN_SQLITE_VERSION)), version, _ADVICE)
        )


def library_path() -> str:
    """Path of libgenomicsqlite: $LIBGENOMICSQLITE, else the copy inside this package, else an
    in-tree build (<repo>/target/release) when running from a source checkout."""
    env = os.environ.get("LIBGENOMICSQLITE")
    if env:
        if not os.path.isfile(env):
            raise ImportError(
                "LIBGENOMICSQLITE is set to %r, which is not an existing file; point it at "
                "libgenomicsqlite.so or unset it to use the library shipped in the package" % env
            )
        return os.path.abspath(env)
    candidates = [os.path.join(_HERE, name) for name in _LIB_NAMES]
    # Source checkout: <repo>/bindings/python/genomicsqlite/_native.py
    repo = os.path.dirname(os.path.dirname(os.path.dirname(_HERE)))
    candidates += [os.path.join(repo, "target", "release", name) for name in _LIB_NAMES]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise ImportError(
        "libgenomicsqlite shared library not found (looked for %s); reinstall the package "
        "(pip install ./bindings/python) or set LIBGENOMICSQLITE to its path" % ", ".join(candidates)
    )


def _mapped_sqlite_libraries() -> List[str]:
    """Files named libsqlite3* mapped into this process (Linux /proc/self/maps)."""
    found: List[str] = []
    try:
        with open("/proc/self/maps", "r") as maps:
            for line in maps:
                parts = line.split(None, 5)
                if len(parts) == 6:
                    path = parts[5].strip()
                    if os.path.basename(path).startswith("libsqlite3") and path not in found:
                        found.append(path)
    except OSError:
        pass
    return found


def _host_candidates() -> Iterator[Tuple[str, Optional[ctypes.CDLL], str]]:
    """Yield (description, handle or None, reason if None) for places the host SQLite may be.

    First the _sqlite3 extension module itself: symbol lookup through its handle searches the
    module and then the libraries it is linked to, i.e. exactly the libsqlite3 it uses (or its
    own exported copy if SQLite is linked in statically). Then any libsqlite3 mapped in the
    process, which covers unusual link setups; a wrong pick is caught by the checks after it."""
    import _sqlite3  # the C module behind sqlite3

    module_file = getattr(_sqlite3, "__file__", None)
    if module_file:
        description = "the _sqlite3 module %s" % module_file
        try:
            yield description, ctypes.CDLL(module_file), ""
        except OSError as exc:
            yield description, None, str(exc)
    else:
        description = "the Python executable (built-in _sqlite3)"
        try:
            yield description, ctypes.CDLL(None), ""
        except OSError as exc:
            yield description, None, str(exc)
    for path in _mapped_sqlite_libraries():
        try:
            yield path, ctypes.CDLL(path), ""
        except OSError as exc:
            yield path, None, str(exc)


def _same_version(handle: ctypes.CDLL) -> bool:
    libversion = handle.sqlite3_libversion
    libversion.restype = ctypes.c_char_p
    libversion.argtypes = []
    version: bytes = libversion()
    return version.decode() == sqlite3.sqlite_version


_AUTO_EXTENSION = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


def _is_pythons_sqlite(handle: ctypes.CDLL) -> bool:
    """True if ``handle``'s SQLite is the very instance behind sqlite3.connect: register a
    (Python) auto-extension through it and see whether opening a sqlite3 connection calls it.
    This runs before libgenomicsqlite is bound to any SQLite, so a wrong library is never used."""
    calls = []

    def probe(db: Optional[int], errmsg: Optional[int], api: Optional[int]) -> int:
        calls.append(db)
        return 0

    callback = _AUTO_EXTENSION(probe)
    register = handle.sqlite3_auto_extension
    register.restype = ctypes.c_int
    register.argtypes = [ctypes.c_void_p]
    cancel = handle.sqlite3_cancel_auto_extension
    cancel.restype = ctypes.c_int
    cancel.argtypes = [ctypes.c_void_p]
    pointer = ctypes.cast(callback, ctypes.c_void_p)
    if register(pointer) != 0:
        return False
    try:
        sqlite3.connect(":memory:").close()
    finally:
        cancel(pointer)
    return bool(calls)


def _extension_active() -> bool:
    """True if a fresh sqlite3.connect() connection has our SQL functions."""
    try:
        conn = sqlite3.connect(":memory:")
    except sqlite3.Error:
        return False
    try:
        conn.execute("SELECT genomicsqlite_version()").fetchone()
        return True
    except sqlite3.Error:
        return False
    finally:
        conn.close()


class Library:
    """The loaded libgenomicsqlite plus the host SQLite it was loaded into."""

    def __init__(self, path: str, lib: ctypes.CDLL, host: Optional[HostSQLite]) -> None:
        self.path = path
        self.lib = lib
        self.host = host
        last = getattr(lib, "genomicsqlite_last_open_error", None)
        if last is not None:
            last.restype = ctypes.c_void_p
            last.argtypes = []
        self._last_open_error = last
        quiet = getattr(lib, "genomicsqlite_quiet_open_errors", None)
        if quiet is not None:
            quiet.restype = ctypes.c_int
            quiet.argtypes = [ctypes.c_int]
        self._quiet_open_errors = quiet

    def quiet_open_errors(self, quiet: bool) -> bool:
        """Stop (or resume) the library's printing of failed opens on stderr on this thread,
        for opens whose reason we raise ourselves; returns the previous setting."""
        if self._quiet_open_errors is None:
            return False
        return bool(self._quiet_open_errors(1 if quiet else 0))

    def last_open_error(self) -> str:
        """The library's reason for the last failed open on this thread ("" if none/unknown)."""
        if self._last_open_error is None or self.host is None:
            return ""
        ptr = self._last_open_error()
        if not ptr:
            return ""
        try:
            # "" = no failed open; "\0" + message would be an error of the call itself.
            return ctypes.string_at(ptr).decode("utf-8", "replace")
        finally:
            self.host.free(ptr)


def load() -> Library:
    """Load libgenomicsqlite into Python's SQLite. Raises ImportError with the reason on failure."""
    check_sqlite_version(sqlite3.sqlite_version_info, sqlite3.sqlite_version)
    path = library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        raise ImportError("cannot load libgenomicsqlite from %s: %s" % (path, exc)) from None
    try:
        init = lib.genomicsqlite_init
    except AttributeError:
        raise ImportError(
            "%s is not libgenomicsqlite (it has no genomicsqlite_init function); "
            "check LIBGENOMICSQLITE or reinstall the package" % path
        ) from None
    init.restype = ctypes.c_int
    init.argtypes = [ctypes.c_void_p] * len(_HOST_FUNCTIONS) + [ctypes.POINTER(ctypes.c_void_p)]

    problems: List[str] = []
    for description, handle, reason in _host_candidates():
        if handle is None:
            problems.append("%s: cannot open (%s)" % (description, reason))
            continue
        try:
            host = HostSQLite(description, handle)
        except AttributeError as exc:
            problems.append("%s: SQLite entry point not found (%s)" % (description, exc))
            continue
        try:
            if not _same_version(handle):
                problems.append("%s: a different SQLite version than Python's sqlite3 module" % description)
                continue
            if not _is_pythons_sqlite(handle):
                problems.append("%s: not the SQLite instance that Python's sqlite3 module uses" % description)
                continue
        except AttributeError as exc:
            problems.append("%s: SQLite entry point not found (%s)" % (description, exc))
            continue
        errmsg = ctypes.c_void_p()
        rc = init(*host.pointers, ctypes.byref(errmsg))
        if errmsg.value:
            message = ctypes.string_at(errmsg.value).decode("utf-8", "replace")
            host.free(errmsg.value)
        else:
            message = ""
        if rc != 0:
            problems.append("%s: genomicsqlite_init failed (code %d): %s" % (description, rc, message or "no message"))
            continue
        if _extension_active():
            return Library(path, lib, host)
        problems.append("%s: loaded, but sqlite3 connections do not see it (not the SQLite Python uses)" % description)

    # Last resort: a sqlite3 module that can load extensions itself.
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        try:
            conn = sqlite3.connect(":memory:")
            try:
                conn.enable_load_extension(True)
                conn.load_extension(path)
            finally:
                conn.close()
            if _extension_active():
                return Library(path, lib, None)
            problems.append("sqlite3 load_extension: loaded, but new connections do not see it")
        except sqlite3.Error as exc:
            problems.append("sqlite3 load_extension: %s" % exc)
    else:
        problems.append("sqlite3.Connection has no enable_load_extension")

    raise ImportError(
        "genomicsqlite cannot load %s into the SQLite %s used by Python's sqlite3 module:\n  %s\n%s"
        % (path, sqlite3.sqlite_version, "\n  ".join(problems), _ADVICE)
    )
