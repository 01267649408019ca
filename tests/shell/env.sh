# Sourced by the scripts in tests/shell: where the command, the library and the GenomicSQLite
# 0.9.4 peer (for comparisons) are. Sets repo, BIN, LIBGENOMICSQLITE (exported) and PEER_PY.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${GENOMICSQLITE_BIN:-$repo/target/release/genomicsqlite}
export LIBGENOMICSQLITE=${LIBGENOMICSQLITE:-$repo/target/release/libgenomicsqlite.so}
PEER_PY=${GSQ_PEER_PYTHON:-}
if [ -z "$PEER_PY" ]; then
    for c in "$repo/.venv/peer/bin/python" /opt/gsq094/bin/python; do
        if [ -x "$c" ]; then PEER_PY=$c; break; fi
    done
fi
