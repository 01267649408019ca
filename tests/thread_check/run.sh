#!/usr/bin/env bash
# tests/thread_check/run.sh -- data-race check of the library under valgrind (helgrind or drd)
# with a C stress driver (stress.c: one writer, several readers, the worker pool busy).
#
#   bash tests/thread_check/run.sh [helgrind|drd] [READERS] [ROUNDS]
#
# Prints valgrind's error summary and the library functions its reports point at (the first
# frame inside libgenomicsqlite). helgrind and drd do not model C11/Rust atomics, so reports on
# lock-free code (crossbeam channels, rayon, Arc counts) are expected and listed for a reader
# to judge; a report whose stack holds only the library's mutex-protected state is the kind
# that matters. Exit status: 1 if the driver itself failed (crash, inconsistent read).
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tool="${1:-helgrind}"
readers="${2:-3}"
rounds="${3:-6}"
lib="${LIBGENOMICSQLITE:-$repo/target/release/libgenomicsqlite.so}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lib"
ln -s "$(readlink -f "$lib")" "$work/lib/libgenomicsqlite.so"
cc -O1 -g -pthread -I"$repo/include" -o "$work/stress" "$repo/tests/thread_check/stress.c" \
    -L"$work/lib" -lgenomicsqlite -lsqlite3 || exit 1
log="$work/valgrind.log"
LD_LIBRARY_PATH="$work/lib" timeout 1800 valgrind --tool="$tool" --log-file="$log" \
    "$work/stress" "$work/stress.db" "$readers" "$rounds"
rc=$?
grep -m1 "ERROR SUMMARY" "$log"
# Each report block: "atomic" when its first frame is an atomic operation (not modelled by the
# tool), else the first frame that names a function, counted by site.
python3 - "$log" <<'PY'
import collections, re, sys
blocks, cur = [], None
for line in open(sys.argv[1], errors="replace"):
    body = re.sub(r"^==\d+== ?", "", line.rstrip("\n"))
    if re.match(r"(Possible data race|Lock at|Thread #\d+ unlocked|Thread #\d+: lock order|Conflicting|.*is not the owner)", body):
        cur = [body]
        blocks.append(cur)
    elif cur is not None and body.strip():
        cur.append(body.strip())
    else:
        cur = None
sites = collections.Counter()
atomic = 0
for b in blocks:
    frames = [f for f in b[1:] if re.match(r"(at|by) 0x", f)]
    if frames and re.search(r"atomic", frames[0]):
        atomic += 1
        continue
    named = [re.sub(r"^(at|by) 0x[0-9A-F]+: ", "", f) for f in frames if "???" not in f]
    sites[(b[0].split(" at 0x")[0].split(" by thread")[0], named[0] if named else "?")] += 1
print("reports on atomic operations (not modelled by the tool): %d" % atomic)
print("other reports: %d, by kind and first frame:" % sum(sites.values()))
for (kind, site), n in sites.most_common(25):
    print("  %5d  %s: %s" % (n, kind, site[:160]))
PY
cp "$log" "${THREAD_CHECK_LOG:-/tmp/genomicsqlite-thread-check.log}"
echo "full log: ${THREAD_CHECK_LOG:-/tmp/genomicsqlite-thread-check.log}"
exit $(( rc != 0 ))
