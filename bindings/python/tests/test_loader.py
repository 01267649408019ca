"""The loading mechanism: import in fresh interpreters, LIBGENOMICSQLITE override, ImportErrors."""
import ctypes
import ctypes.util
import os
import sqlite3
import subprocess
import sys

import pytest

from conftest import TESTS_DIR


def _run(code, **env_changes):
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=TESTS_DIR, timeout=120)


def test_fresh_interpreter_plain_sqlite3_connect(gsq, tmp_path):
    db = str(tmp_path / "fresh.db")
    code = (
        "import sqlite3, genomicsqlite\n"
        "uri = sqlite3.connect(':memory:').execute('SELECT genomicsqlite_uri(?)', (%r,)).fetchone()[0]\n"
        "c = sqlite3.connect(uri, uri=True)\n"
        "c.executescript(sqlite3.connect(':memory:').execute(\"SELECT genomicsqlite_tuning_sql('{}')\").fetchone()[0])\n"
        "c.execute('CREATE TABLE t(x)'); c.execute('INSERT INTO t VALUES (7)'); c.commit(); c.close()\n"
        "print(hasattr(sqlite3.Connection, 'enable_load_extension'))\n" % db
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    ro = gsq.connect(db, read_only=True)
    assert ro.execute("SELECT x FROM t").fetchall() == [(7,)]
    ro.close()


def test_libgenomicsqlite_override_used(gsq):
    result = _run("import genomicsqlite; print(genomicsqlite.LIBRARY_PATH)", LIBGENOMICSQLITE=gsq.LIBRARY_PATH)
    assert result.returncode == 0, result.stderr
    assert os.path.samefile(result.stdout.strip(), gsq.LIBRARY_PATH)


def _expect_import_error(result, *needles):
    assert result.returncode == 1, (result.returncode, result.stderr)  # a Python error, not a signal
    assert "ImportError" in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_override_missing_file():
    _expect_import_error(_run("import genomicsqlite", LIBGENOMICSQLITE="/nonexistent/libgenomicsqlite.so"),
                         "LIBGENOMICSQLITE", "/nonexistent/libgenomicsqlite.so")


def test_override_not_a_library(tmp_path):
    bogus = tmp_path / "libgenomicsqlite.so"
    bogus.write_text("not an ELF file\n")
    _expect_import_error(_run("import genomicsqlite", LIBGENOMICSQLITE=str(bogus)), "cannot load", str(bogus))


def test_override_other_library():
    libz = ctypes.util.find_library("z")
    assert libz, "zlib not found"
    path = None
    for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"):
        if os.path.exists(os.path.join(d, libz)):
            path = os.path.join(d, libz)
            break
    assert path, libz
    _expect_import_error(_run("import genomicsqlite", LIBGENOMICSQLITE=path), "genomicsqlite_init")


def test_sqlite_version_check(gsq):
    from genomicsqlite import _native

    with pytest.raises(ImportError, match="3.31"):
        _native.check_sqlite_version((3, 30, 1), "3.30.1")
    with pytest.raises(ImportError, match="3.7.17"):
        _native.check_sqlite_version((3, 7, 17), "3.7.17")
    _native.check_sqlite_version((3, 31, 0), "3.31.0")
    _native.check_sqlite_version(sqlite3.sqlite_version_info, sqlite3.sqlite_version)


def test_host_sqlite_is_pythons(gsq):
    """The host SQLite we loaded into reports the same version as Python's sqlite3 module and
    its sqlite3_open_v2 is resolvable in the process."""
    from genomicsqlite import _LIB

    assert _LIB.host is not None
    libversion = _LIB.host.handle.sqlite3_libversion
    libversion.restype = ctypes.c_char_p
    assert libversion().decode() == sqlite3.sqlite_version


def _find_sqlite_amalgamation():
    roots = [os.environ.get("CARGO_HOME") or os.path.expanduser("~/.cargo")]
    for root in roots:
        base = os.path.join(root, "registry", "src")
        if not os.path.isdir(base):
            continue
        for index in sorted(os.listdir(base)):
            for crate in sorted(os.listdir(os.path.join(base, index)), reverse=True):
                if crate.startswith("libsqlite3-sys-"):
                    candidate = os.path.join(base, index, crate, "sqlite3", "sqlite3.c")
                    if os.path.isfile(candidate):
                        return candidate
    return None


def test_sqlite_without_load_extension_gives_import_error(tmp_path):
    """Python running on a libsqlite3 built with SQLITE_OMIT_LOAD_EXTENSION: ImportError, no crash.

    Builds such a libsqlite3.so.0 from the SQLite amalgamation that cargo downloaded for the
    Rust crate and puts it first on LD_LIBRARY_PATH so that _sqlite3 links to it."""
    source = os.environ.get("SQLITE_AMALGAMATION") or _find_sqlite_amalgamation()
    if not source:
        pytest.skip("no SQLite amalgamation (sqlite3.c) found in the cargo registry; set SQLITE_AMALGAMATION")
    import _sqlite3

    if not getattr(_sqlite3, "__file__", None):
        pytest.skip("_sqlite3 is built into this Python")
    out = tmp_path / "libsqlite3.so.0"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O0", "-DSQLITE_OMIT_LOAD_EXTENSION", "-DSQLITE_THREADSAFE=1",
                    "-o", str(out), source, "-lpthread", "-lm"], check=True, timeout=600)
    probe = _run("import sqlite3; print(sqlite3.sqlite_version)", LD_LIBRARY_PATH=str(tmp_path))
    if probe.returncode != 0 and "sqlite3_enable_load_extension" in probe.stderr:
        pytest.skip("this Python's own sqlite3 module needs load-extension support (it cannot run on such a SQLite)")
    assert probe.returncode == 0, probe.stderr
    result = _run("import genomicsqlite", LD_LIBRARY_PATH=str(tmp_path))
    _expect_import_error(result, "sqlite3_enable_load_extension")


def test_installed_package_is_self_contained(gsq, tmp_path):
    """The installed package (built by setuptools-rust) carries its library: a copy of it far
    from the checkout, with no LIBGENOMICSQLITE, finds the library inside itself."""
    import shutil

    package = os.path.dirname(gsq.__file__)
    bundled = [n for n in os.listdir(package) if n.startswith("libgenomicsqlite") and n.endswith(".so")]
    if not bundled:
        pytest.skip("not an installed package (no library inside %s)" % package)
    site = tmp_path / "site"
    shutil.copytree(package, str(site / "genomicsqlite"), ignore=shutil.ignore_patterns("__pycache__"))
    db = str(tmp_path / "w.db")
    code = ("import genomicsqlite as g; c = g.connect(%r); c.execute('CREATE TABLE t(x)'); c.commit(); "
            "print(g.LIBRARY_PATH)" % db)
    env = {k: v for k, v in os.environ.items() if k != "LIBGENOMICSQLITE"}
    env["PYTHONPATH"] = str(site)
    result = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(site / "genomicsqlite" / bundled[0])


def test_unreachable_host_sqlite(gsq):
    """When the host SQLite cannot be reached through ctypes (simulated by finding no candidate
    library), a sqlite3 module with enable_load_extension still works through it; one without
    it gets an ImportError explaining what to do."""
    native = os.path.join(os.path.dirname(gsq.__file__), "_native.py")
    code = (
        "import importlib.util, sqlite3\n"
        "spec = importlib.util.spec_from_file_location('gsq_native_copy', %r)\n"
        "n = importlib.util.module_from_spec(spec); spec.loader.exec_module(n)\n"
        "n._host_candidates = lambda: iter(())\n"
        "lib = n.load()\n"
        "print(lib.host is None, sqlite3.connect(':memory:').execute('SELECT genomicsqlite_version()').fetchone()[0])\n"
        % native
    )
    result = _run(code, LIBGENOMICSQLITE=gsq.LIBRARY_PATH)
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["True", gsq.__version__]
    else:
        _expect_import_error(result, "enable_load_extension", "3.31")


def test_wrong_sqlite_instance_rejected(gsq, tmp_path):
    """A libsqlite3 of the same version that is NOT the one Python's sqlite3 uses (a private copy
    of it, loaded separately) is detected after loading and not used."""
    native = os.path.join(os.path.dirname(gsq.__file__), "_native.py")
    code = (
        "import ctypes, importlib.util, shutil, sqlite3, sys\n"
        "spec = importlib.util.spec_from_file_location('gsq_native_copy', %r)\n"
        "n = importlib.util.module_from_spec(spec); spec.loader.exec_module(n)\n"
        "mapped = n._mapped_sqlite_libraries()\n"
        "assert mapped, 'no libsqlite3 mapped'\n"
        "copy = shutil.copy(mapped[0], %r)\n"
        "n._host_candidates = lambda: iter([('private copy', ctypes.CDLL(copy), '')])\n"
        "try:\n"
        "    lib = n.load()\n"
        "    print('loaded', lib.host is None)\n"
        "except ImportError as exc:\n"
        "    print('ImportError', exc)\n"
        % (native, str(tmp_path / "libsqlite3-private-copy.so"))
    )
    result = _run(code, LIBGENOMICSQLITE=gsq.LIBRARY_PATH)
    assert result.returncode == 0, result.stderr
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        assert result.stdout.strip() == "loaded True", result.stdout  # fell back to load_extension
    else:
        assert result.stdout.startswith("ImportError"), result.stdout
        assert "private copy: not the SQLite instance that Python's sqlite3 module uses" in result.stdout, result.stdout
