"""Minimal PEP 517 / PEP 660 build backend for the genomicsqlite Python package.

It needs nothing but the standard library (plus tomli on Python < 3.11). The wheel contains
the pure-Python package and a copy of libgenomicsqlite.so, taken from (first match):

1. $LIBGENOMICSQLITE (an existing file; an error if it does not exist),
2. <repo>/target/release/libgenomicsqlite.so (<repo> = two levels above this project),
3. otherwise ``cargo build --release`` is run in <repo> (needs the Rust toolchain), then 2.

The wheel is tagged py3-none-<platform>: the library does not depend on the Python ABI, only
on the SQLite that Python's sqlite3 module uses, which is loaded at import time.
An editable install (pip install -e) instead puts this directory on sys.path; the package then
finds the library through $LIBGENOMICSQLITE or <repo>/target/release at import time.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from typing import Any, Dict, List, Optional, Tuple

try:
    import tomllib  # Python >= 3.11
except ImportError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_DIR = os.path.dirname(os.path.dirname(PROJECT_DIR))
PACKAGE = "genomicsqlite"
LIB_NAME = "libgenomicsqlite.dylib" if sys.platform == "darwin" else "libgenomicsqlite.so"


class BuildError(RuntimeError):
    pass


# ----------------------------------------------------------------------------------------------
# metadata


def _pyproject() -> Dict[str, Any]:
    with open(os.path.join(PROJECT_DIR, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def _version() -> str:
    """Version from PKG-INFO when built from an sdist, else from the Rust crate (<repo>/Cargo.toml)."""
    pkg_info = os.path.join(PROJECT_DIR, "PKG-INFO")
    if os.path.isfile(pkg_info):
        with open(pkg_info, encoding="utf-8") as f:
            for line in f:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
    cargo = os.path.join(REPO_DIR, "Cargo.toml")
    if os.path.isfile(cargo):
        with open(cargo, "rb") as f:
            version = tomllib.load(f).get("package", {}).get("version")
        if isinstance(version, str) and version:
            return version
    raise BuildError("cannot determine the version: neither %s nor PKG-INFO exists" % cargo)


def _metadata() -> str:
    project = _pyproject()["project"]
    lines = [
        "Metadata-Version: 2.1",
        "Name: %s" % project["name"],
        "Version: %s" % _version(),
    ]
    if "description" in project:
        lines.append("Summary: %s" % project["description"])
    if "requires-python" in project:
        lines.append("Requires-Python: %s" % project["requires-python"])
    license_ = project.get("license", {})
    if isinstance(license_, dict) and "text" in license_:
        lines.append("License: %s" % license_["text"])
    for classifier in project.get("classifiers", []):
        lines.append("Classifier: %s" % classifier)
    for label, url in project.get("urls", {}).items():
        lines.append("Project-URL: %s, %s" % (label, url))
    readme = project.get("readme")
    body = ""
    if isinstance(readme, str) and os.path.isfile(os.path.join(PROJECT_DIR, readme)):
        lines.append("Description-Content-Type: text/markdown")
        with open(os.path.join(PROJECT_DIR, readme), encoding="utf-8") as f:
            body = "\n" + f.read()
    return "\n".join(lines) + "\n" + body


def _dist_name() -> str:
    return re.sub(r"[-_.]+", "_", _pyproject()["project"]["name"]).lower()


def _platform_tag() -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", sysconfig.get_platform())


# ----------------------------------------------------------------------------------------------
# the shared library


def _looks_like_library(path: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(4)
        data = head + f.read()
    magic_ok = head == b"\x7fELF" or head[:4] in (b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe")
    return magic_ok and b"genomicsqlite_init" in data


def _find_library() -> str:
    env = os.environ.get("LIBGENOMICSQLITE")
    if env:
        if not os.path.isfile(env):
            raise BuildError("LIBGENOMICSQLITE=%r does not exist" % env)
        path = env
    else:
        path = os.path.join(REPO_DIR, "target", "release", LIB_NAME)
        if not os.path.isfile(path):
            _cargo_build()
            target = os.environ.get("CARGO_TARGET_DIR") or "target"
            path = os.path.join(REPO_DIR, target, "release", LIB_NAME)  # join keeps an absolute target
            if not os.path.isfile(path):
                raise BuildError("cargo build finished but %s does not exist" % path)
    if not _looks_like_library(path):
        raise BuildError("%s is not libgenomicsqlite (no genomicsqlite_init in a shared library)" % path)
    return path


def _cargo_build() -> None:
    if not os.path.isfile(os.path.join(REPO_DIR, "Cargo.toml")):
        raise BuildError(
            "libgenomicsqlite not found: set LIBGENOMICSQLITE to the path of libgenomicsqlite.so, "
            "or build the package from a genomicsqlite source checkout (bindings/python)"
        )
    cargo = shutil.which("cargo") or os.path.expanduser("~/.cargo/bin/cargo")
    if not os.path.isfile(cargo):
        raise BuildError(
            "%s/target/release/%s does not exist and building it needs the Rust toolchain "
            "(cargo), which was not found: install Rust (https://rustup.rs) or set "
            "LIBGENOMICSQLITE to an existing libgenomicsqlite.so" % (REPO_DIR, LIB_NAME)
        )
    command = [cargo, "build", "--release"]
    if shutil.which("nice"):
        command = ["nice"] + command
    print("genomicsqlite: running %s in %s" % (" ".join(command), REPO_DIR), file=sys.stderr, flush=True)
    result = subprocess.run(command, cwd=REPO_DIR)
    if result.returncode != 0:
        raise BuildError("cargo build --release failed (exit status %d)" % result.returncode)


# ----------------------------------------------------------------------------------------------
# wheel writing


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "sha256=" + digest


def _write_wheel(wheel_directory: str, files: List[Tuple[str, bytes, int]]) -> str:
    """files: (archive name, content, unix mode). Adds dist-info and RECORD."""
    name, version = _dist_name(), _version()
    tag = "py3-none-" + _platform_tag()
    dist_info = "%s-%s.dist-info" % (name, version)
    wheel_meta = "Wheel-Version: 1.0\nGenerator: gsq_build_backend\nRoot-Is-Purelib: false\nTag: %s\n" % tag
    files = list(files) + [
        (dist_info + "/METADATA", _metadata().encode("utf-8"), 0o644),
        (dist_info + "/WHEEL", wheel_meta.encode(), 0o644),
        (dist_info + "/top_level.txt", (PACKAGE + "\n").encode(), 0o644),
    ]
    record = "".join("%s,%s,%d\n" % (arc, _record_hash(data), len(data)) for arc, data, _ in files)
    record += dist_info + "/RECORD,,\n"
    files.append((dist_info + "/RECORD", record.encode(), 0o644))
    filename = "%s-%s-%s.whl" % (name, version, tag)
    os.makedirs(wheel_directory, exist_ok=True)
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w", zipfile.ZIP_DEFLATED) as zf:
        for arc, data, mode in files:
            info = zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return filename


def _package_files() -> List[Tuple[str, bytes, int]]:
    out = []
    pkg_dir = os.path.join(PROJECT_DIR, PACKAGE)
    for entry in sorted(os.listdir(pkg_dir)):
        if entry.endswith(".py") or entry == "py.typed":
            with open(os.path.join(pkg_dir, entry), "rb") as f:
                out.append(("%s/%s" % (PACKAGE, entry), f.read(), 0o644))
    return out


# ----------------------------------------------------------------------------------------------
# PEP 517 / 660 hooks


def get_requires_for_build_wheel(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def get_requires_for_build_editable(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return []


def build_wheel(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None,
                metadata_directory: Optional[str] = None) -> str:
    library = _find_library()
    with open(library, "rb") as f:
        lib_data = f.read()
    print("genomicsqlite: bundling %s" % library, file=sys.stderr, flush=True)
    files = _package_files() + [("%s/%s" % (PACKAGE, LIB_NAME), lib_data, 0o755)]
    return _write_wheel(wheel_directory, files)


def build_editable(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None,
                   metadata_directory: Optional[str] = None) -> str:
    pth = (PROJECT_DIR + "\n").encode()
    return _write_wheel(wheel_directory, [("_genomicsqlite_editable.pth", pth, 0o644)])


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    """Source distribution of the Python part only; building a wheel from it needs
    LIBGENOMICSQLITE (it carries neither the Rust sources nor the library)."""
    base = "%s-%s" % (_dist_name(), _version())
    os.makedirs(sdist_directory, exist_ok=True)
    filename = base + ".tar.gz"
    members = ["pyproject.toml", "README.md", "_backend/gsq_build_backend.py"]
    members += ["%s/%s" % (PACKAGE, n) for n, _, _ in
                [(arc.split("/", 1)[1], d, m) for arc, d, m in _package_files()]]
    with tarfile.open(os.path.join(sdist_directory, filename), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            path = os.path.join(PROJECT_DIR, member)
            if os.path.isfile(path):
                tar.add(path, arcname="%s/%s" % (base, member))
        data = _metadata().encode("utf-8")
        info = tarfile.TarInfo("%s/PKG-INFO" % base)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    return filename
