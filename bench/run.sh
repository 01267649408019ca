#!/usr/bin/env bash
# One command for the benchmarks (see bench/README.md):
#   bench/run.sh [--quick] [--repeats N] [--only compact,load,scan,join,lookup] [--threads 1,2,8] ...
#   bench/run.sh --web [--quick] [--delay-ms 50] ...      (HTTP benchmarks through a loopback nginx)
# Engines: plain SQLite, GenomicSQLite 0.9.4 (the peer) and ours
#   ours  = $LIBGENOMICSQLITE, else <repo>/target/release/libgenomicsqlite.so (built here if
#           LIBGENOMICSQLITE is unset)
#   peer  = $PEER_LIBGENOMICSQLITE, else <repo>/.venv/peer (made by tests/setup.sh), else /opt/gsq094
# All other arguments go to bench/bench.py (or bench/web_bench.py with --web).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
py=/usr/bin/python3   # Debian's python: its sqlite3 module can load extensions

export BENCH_VIA_RUNSH=1  # the Python scripts then print the run.sh command line
web=0
args=()
for a in "$@"; do
    case "$a" in
        --web) web=1 ;;
        *) args+=("$a") ;;
    esac
done

if [ ! -x "$py" ] || ! "$py" -c 'import sqlite3; sqlite3.connect(":memory:").enable_load_extension(True)' 2>/dev/null; then
    echo "run.sh: $py with a sqlite3 module that can load extensions is required" >&2
    exit 1
fi

# 1. data
bash "$here/fetch_data.sh"

# 2. our library
if [ -z "${LIBGENOMICSQLITE:-}" ]; then
    if command -v cargo >/dev/null; then
        echo "run.sh: cargo build --release" >&2
        if ! (cd "$repo" && nice cargo build --release); then
            echo "run.sh: cargo build --release FAILED; ours = the existing target/release/libgenomicsqlite.so, if any (may be stale)" >&2
        fi
    else
        echo "run.sh: cargo not found; ours is measured only if target/release/libgenomicsqlite.so exists" >&2
    fi
    export LIBGENOMICSQLITE="$repo/target/release/libgenomicsqlite.so"
fi
if [ -z "${GENOMICSQLITE_BIN:-}" ] && [ -x "$repo/target/release/genomicsqlite" ]; then
    export GENOMICSQLITE_BIN="$repo/target/release/genomicsqlite"
fi

# 3. the peer (GenomicSQLite 0.9.4)
find_peer() {
    local v lib
    for v in "$repo/.venv/peer" /opt/gsq094; do
        lib="$(ls "$v"/lib/python3*/site-packages/genomicsqlite/libgenomicsqlite.so 2>/dev/null | head -n1 || true)"
        if [ -n "$lib" ]; then
            echo "$lib"
            return 0
        fi
    done
    return 1
}
if [ -z "${PEER_LIBGENOMICSQLITE:-}" ]; then
    if [ ! -d "$repo/.venv/peer" ] && [ -f "$repo/tests/setup.sh" ]; then
        echo "run.sh: bash tests/setup.sh (creates .venv/peer)" >&2
        bash "$repo/tests/setup.sh"
    fi
    if ! lib="$(find_peer)"; then
        echo "run.sh: creating $repo/.venv/peer with genomicsqlite==0.9.4" >&2
        "$py" -m venv "$repo/.venv/peer"
        "$repo/.venv/peer/bin/pip" install -q genomicsqlite==0.9.4
        lib="$(find_peer)"
    fi
    export PEER_LIBGENOMICSQLITE="$lib"
fi

# 4. tools used by the harness: fincore (util-linux) verifies cache eviction; nginx for --web
if [ "$web" = 1 ] && ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    echo "run.sh: apt-get install nginx-light" >&2
    apt-get install -y -q nginx-light >/dev/null || { apt-get update -qq && apt-get install -y -q nginx-light >/dev/null; }
fi

if [ "$web" = 1 ]; then
    exec nice "$py" "$here/web_bench.py" ${args[@]+"${args[@]}"}
else
    exec nice "$py" "$here/bench.py" ${args[@]+"${args[@]}"}
fi
