"""Build of the genomicsqlite Python package with setuptools-rust (see pyproject.toml).

The wheel holds the pure-Python package, the library as ``genomicsqlite/libgenomicsqlite.abi3.so``
(loaded by _native.py into the SQLite that Python's sqlite3 uses; it does not depend on the
Python ABI, hence the ``abi3`` tag), built from the library crate at the repository's root, and
the ``genomicsqlite`` command as a script, built from the crate in ``cli/``. Cargo builds in the
repository's own target/ directory, so a build after ``cargo build --release`` only relinks.
The version is the Cargo workspace's.

Wheels are tagged manylinux_2_34 on Linux: the library and the command need glibc 2.34 or newer
and otherwise only libz, libgcc_s, libm and libc (tests/run.sh checks the built wheel with
``auditwheel show``).
"""
import os
import platform
import sys

from setuptools import setup
from setuptools_rust import Binding, RustBin, RustExtension

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..", "..")
CARGO_TOML = os.path.join(REPO, "Cargo.toml")
CLI_CARGO_TOML = os.path.join(REPO, "cli", "Cargo.toml")


def crate_version():
    with open(CARGO_TOML, "rb") as f:
        return tomllib.load(f)["workspace"]["package"]["version"]


bdist_wheel = {"py_limited_api": "cp38"}
if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
    bdist_wheel["plat_name"] = "manylinux_2_34_" + platform.machine()

setup(
    version=crate_version(),
    rust_extensions=[
        RustExtension(
            "genomicsqlite.libgenomicsqlite",
            path=CARGO_TOML,
            binding=Binding.NoBinding,
            py_limited_api=True,
        ),
        RustBin("genomicsqlite", path=CLI_CARGO_TOML),
    ],
    options={"bdist_wheel": bdist_wheel},
)
