#!/usr/bin/env bash
# tests/setup.sh -- install everything the test suite needs (idempotent).
#
# Runs as root on a fresh Debian 12 machine (CI) or on a developer machine where it has
# run before: each step checks first and does nothing when its work is already done.
# Output is quiet; any failure stops the script with a message saying which step failed.
#
#   apt packages : build-essential pkg-config libsqlite3-dev sqlite3 libcurl4-openssl-dev
#                  nginx-light libsqlitecpp-dev valgrind tmux python3-venv python3-pip zstd
#                  openssl; for the JDBC driver: openjdk-17-jdk-headless libxerial-sqlite-jdbc-java junit4
#   venvs        : <repo>/.venv/peer    Debian /usr/bin/python3 + genomicsqlite==0.9.4 + pytest
#                  <repo>/.venv/debian  Debian /usr/bin/python3 + pytest + pandas + auditwheel
#                  <repo>/.venv/default the default `python3` on PATH + pytest + pandas
#
# Our own Python binding (bindings/python) is pip-installed into debian/default by run.sh
# (see the marked place there), not here, because it must be reinstalled after every build.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENVS="$REPO/.venv"

step() { SETUP_STEP="$*"; }
trap 'rc=$?; echo "tests/setup.sh: FAILED (exit $rc) during: ${SETUP_STEP:-?}" >&2; exit $rc' ERR

APT_PACKAGES=(build-essential pkg-config libsqlite3-dev sqlite3 libcurl4-openssl-dev
              nginx-light libsqlitecpp-dev valgrind tmux python3-venv python3-pip zstd openssl
              openjdk-17-jdk-headless libxerial-sqlite-jdbc-java junit4)

# ---------------------------------------------------------------------------------------------
step "checking apt packages"
missing=()
for p in "${APT_PACKAGES[@]}"; do
    st="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
    [ "$st" = "installed" ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "tests/setup.sh: missing apt packages (${missing[*]}) and not root" >&2
        exit 1
    fi
    echo "setup: apt-get install ${missing[*]}"
    step "apt-get update"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/tmp/gsq-setup-apt.log 2>&1 || { cat /tmp/gsq-setup-apt.log >&2; false; }
    step "apt-get install ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/gsq-setup-apt.log 2>&1 \
        || { tail -n 40 /tmp/gsq-setup-apt.log >&2; false; }
fi
# nginx-light's postinst may start a system nginx on port 80; our tests start their own
# nginx instances on 127.0.0.1 with their own config, so the system one is left alone.

# ---------------------------------------------------------------------------------------------
# make_venv NAME PYTHON PIP-SPEC...
# (Re)creates .venv/NAME with PYTHON unless its stamp file says it already has exactly
# these packages for this interpreter.
make_venv() {
    local name="$1" py="$2"; shift 2
    local dir="$VENVS/$name" stamp want
    step "venv $name ($py)"
    local pyreal
    pyreal="$(command -v "$py")" || { echo "tests/setup.sh: interpreter $py not found" >&2; return 1; }
    want="$("$pyreal" -c 'import sys; print(sys.version)') | $pyreal | $*"
    stamp="$dir/.gsq-setup-stamp"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$dir/bin/python" ]; then
        return 0
    fi
    echo "setup: creating .venv/$name with $pyreal: $*"
    rm -rf "$dir"
    mkdir -p "$VENVS"
    "$pyreal" -m venv "$dir"
    step "pip install into .venv/$name: $*"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check --no-input "$@" \
        >"$VENVS/$name.pip.log" 2>&1 || { tail -n 40 "$VENVS/$name.pip.log" >&2; return 1; }
    echo "$want" >"$stamp"
}

make_venv peer    /usr/bin/python3 "genomicsqlite==0.9.4" pytest
make_venv debian  /usr/bin/python3 pytest pandas auditwheel
make_venv default python3          pytest pandas
# tests/cloud: moto's S3 server (checks SigV4 signatures with its IAM authentication on) and
# boto3 to upload and presign; Debian's python so the tests can load the extension.
make_venv s3      /usr/bin/python3 pytest "moto[server]==5.2.5" boto3

# ---------------------------------------------------------------------------------------------
step "checking the peer (GenomicSQLite 0.9.4) library"
PEER_SO="$(ls "$VENVS"/peer/lib/python3*/site-packages/genomicsqlite/libgenomicsqlite.so 2>/dev/null | head -n 1)"
if [ -z "$PEER_SO" ]; then
    echo "tests/setup.sh: .venv/peer has no genomicsqlite/libgenomicsqlite.so" >&2
    exit 1
fi
step "checking that Debian's python can load extensions"
"$VENVS/debian/bin/python" -c 'import sqlite3; sqlite3.connect(":memory:").enable_load_extension(True)'
exit 0
