#!/usr/bin/env bash
# tests/shell/bench_compact.sh: time and size of `genomicsqlite DB --compact` (ours) vs the
# GenomicSQLite 0.9.4 peer's `python -m genomicsqlite DB --compact`, same settings (level 6,
# inner page 16 KiB, outer page 64 KiB, defragmentation on, default threads), on a generated
# plain database of about 50 MB (GSQ_BENCH_ROWS rows, default 500000). Each tool runs
# GSQ_BENCH_REPS times (default 3, alternating); the best time is reported, with both outputs
# checked for the same row count and integrity_check. Prints a side-by-side table.
set -eu
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/env.sh"
[ -n "$PEER_PY" ] || { echo "peer python not found (tests/setup.sh)" >&2; exit 1; }
ROWS=${GSQ_BENCH_ROWS:-500000}
REPS=${GSQ_BENCH_REPS:-3}
W=$(mktemp -d "${TMPDIR:-/tmp}/gsq-bench-compact.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"

sqlite3 in.db "PRAGMA page_size=4096;
  CREATE TABLE variants(id INTEGER PRIMARY KEY, chrom TEXT NOT NULL, pos INTEGER NOT NULL,
    ref TEXT, alt TEXT, qual REAL, info TEXT);
  WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < $ROWS)
  INSERT INTO variants SELECT i, 'chr' || (1 + i % 22), i * 37 + abs(random()) % 30,
    substr('ACGT', 1 + abs(random()) % 4, 1), substr('ACGTN', 1 + abs(random()) % 5, 1 + i % 3),
    (abs(random()) % 10000) / 100.0,
    printf('DP=%d;AF=%.3f;GENE=G%05d;NOTE=%s', abs(random()) % 100,
           (abs(random()) % 1000) / 1000.0, i / 500, hex(randomblob(6)))
  FROM c;
  CREATE INDEX variants_pos ON variants(chrom, pos);"
insize=$(stat -c %s in.db)
echo "input: $ROWS rows, $insize bytes; $(nproc) processors; load: $(cut -d' ' -f1-3 /proc/loadavg)"

best_ours=""; best_peer=""
now() { date +%s.%N; }
for ((r = 1; r <= REPS; r++)); do
    rm -f ours.db peer.db
    t0=$(now); "$BIN" in.db --compact -o ours.db -q; t1=$(now)
    "$PEER_PY" -m genomicsqlite in.db --compact -o peer.db -q >/dev/null 2>&1; t2=$(now)
    to=$(awk "BEGIN{printf \"%.2f\", $t1 - $t0}"); tp=$(awk "BEGIN{printf \"%.2f\", $t2 - $t1}")
    echo "run $r: ours ${to}s, peer ${tp}s"
    if [ -z "$best_ours" ] || awk "BEGIN{exit !($to < $best_ours)}"; then best_ours=$to; fi
    if [ -z "$best_peer" ] || awk "BEGIN{exit !($tp < $best_peer)}"; then best_peer=$tp; fi
done
so=$(stat -c %s ours.db); sp=$(stat -c %s peer.db)
for f in ours.db peer.db; do
    n=$("$BIN" "$f" -noheader "SELECT count(*) FROM variants; PRAGMA integrity_check" | tr '\n' ' ')
    [ "$n" = "$ROWS ok " ] || { echo "$f: bad output: $n" >&2; exit 1; }
done
printf '\n%-28s %14s %14s\n' "" "ours" "peer 0.9.4"
printf '%-28s %14s %14s\n' "input bytes" "$insize" "$insize"
printf '%-28s %14s %14s\n' "output bytes" "$so" "$sp"
printf '%-28s %14.2f %14.2f\n' "ratio (input/output)" "$(awk "BEGIN{print $insize / $so}")" "$(awk "BEGIN{print $insize / $sp}")"
printf '%-28s %14.2f %14.2f\n' "best time of $REPS (s)" "$best_ours" "$best_peer"
