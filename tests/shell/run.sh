#!/usr/bin/env bash
# tests/shell/run.sh: tests of the `genomicsqlite` command (crate cli/).
#
#   tests/shell/run.sh      # uses $GENOMICSQLITE_BIN, else target/release/genomicsqlite, and
#                           # $LIBGENOMICSQLITE, else target/release/libgenomicsqlite.so
#
# Runs the real command against the real sqlite3 shell, tmux, and the GenomicSQLite 0.9.4 peer
# (python in $GSQ_PEER_PYTHON, else <repo>/.venv/peer, else /opt/gsq094; see tests/setup.sh):
#   - --help texts, and that cli/README-snippet.md holds each of them verbatim
#   - SQL-argument mode on compressed and plain files; exit statuses; headers; --readonly;
#     --create; one-line errors for a missing file, a directory, a non-database, bad options
#   - the interactive shell driven through tmux (banner, prompt, a query, .quit)
#   - --compact of a plain and of a compressed file: same content (.dump), integrity_check ok
#     (inner and outer), the requested page sizes, no temporary files left
#   - --compact refuses to overwrite without -f; -f overwrites
#   - --compact twice on the same input: byte-identical files; another input, another stamp
#   - a --compact killed with SIGKILL leaves no OUT, an intact DB (sha256) and at most its
#     clearly named temporary file; with SIGTERM / SIGINT it leaves nothing at all
#   - --dbi of plain and compressed files checked page by page against the main file, and its
#     page selection compared with the peer's --dbi on the same files
#   - the peer reads our --compact output; we read the peer's
# Ends with "N passed, M failed" and exits non-zero if anything failed.
# GSQ_SHELL_KEEP=1 keeps the work directory.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/env.sh"
PY=${GSQ_PYTHON:-python3}

passed=0
failed=0
skipped=0
failures=()
MOUNTED=""
pass() { local m="$*"; m=${m//$'\n'/\\n}; passed=$((passed + 1)); echo "PASS $m"; }
fail() { local m="$*"; m=${m//$'\n'/\\n}; failed=$((failed + 1)); failures+=("$m"); echo "FAIL $m"; }
# check NAME COMMAND...: pass if the command succeeds
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n"; fi; }

W=$(mktemp -d "${TMPDIR:-/tmp}/gsq-shell-test.XXXXXX")
TMUX_SOCK="gsqshelltest$$-0"
cleanup() {
    if [ -n "$MOUNTED" ]; then umount "$MOUNTED" 2>/dev/null; fi
    local i
    for ((i = 0; i <= ${nsession:-0}; i++)); do
        tmux -L "gsqshelltest$$-$i" kill-server >/dev/null 2>&1
        rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/gsqshelltest$$-$i"
    done
    if [ "${GSQ_SHELL_KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
cd "$W" || exit 1

for f in "$BIN" "$LIBGENOMICSQLITE"; do
    if [ ! -f "$f" ]; then
        echo "tests/shell/run.sh: $f not found (build with cargo build --release)" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
done
echo "binary: $BIN"
echo "library: $LIBGENOMICSQLITE"
echo "peer python: ${PEER_PY:-none}"

G() { "$BIN" "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# gen_db FILE NROWS [PAGE_SIZE]: a plain SQLite file with variant-like rows and an index
gen_db() {
    sqlite3 "$1" "PRAGMA page_size=${3:-4096};
      CREATE TABLE variants(id INTEGER PRIMARY KEY, chrom TEXT NOT NULL, pos INTEGER NOT NULL,
        ref TEXT, alt TEXT, qual REAL, info TEXT, extra BLOB);
      WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < $2)
      INSERT INTO variants SELECT i, 'chr' || (1 + i % 22), i * 37 + abs(random()) % 30,
        substr('ACGT', 1 + abs(random()) % 4, 1), substr('ACGTN', 1 + abs(random()) % 5, 1 + i % 3),
        (abs(random()) % 10000) / 100.0,
        printf('DP=%d;AF=%.3f;GENE=G%05d;NOTE=%s', abs(random()) % 100,
               (abs(random()) % 1000) / 1000.0, i / 500, hex(randomblob(6))),
        CASE WHEN i % 1000 = 0 THEN CAST(zeroblob(9000) || randomblob(100) AS BLOB) ELSE NULL END
      FROM c;
      CREATE INDEX variants_pos ON variants(chrom, pos);
      CREATE TABLE genes(name TEXT PRIMARY KEY, descr TEXT) WITHOUT ROWID;
      INSERT INTO genes SELECT printf('G%05d', id / 500), 'gene ' || id FROM variants WHERE id % 500 = 0;
      CREATE VIEW v_chr1 AS SELECT * FROM variants WHERE chrom = 'chr1';
      CREATE TABLE seq(id INTEGER PRIMARY KEY AUTOINCREMENT, x); INSERT INTO seq(x) VALUES (1), (2);
      ANALYZE;"
}
# dump FILE: canonical content (.dump) of a database through our command
dump() { G "$1" --readonly -noheader .dump; }
# one_line_error NAME EXPECTED_STATUS PATTERN COMMAND...: exit status and a single stderr line
one_line_error() {
    local n=$1 want=$2 pat=$3; shift 3
    local out err st
    out=$("$@" 2>"$W/err.txt" </dev/null); st=$?
    err=$(cat "$W/err.txt")
    if [ "$st" = "$want" ] && [ "$(wc -l <"$W/err.txt")" = 1 ] && grep -q -- "$pat" "$W/err.txt" && [ -z "$out" ]; then
        pass "$n"
    else
        fail "$n (status $st, stdout [$out], stderr [$err])"
    fi
}
no_temp_files() { ! ls "$W"/*incomplete* >/dev/null 2>&1; }

# ---------------------------------------------------------------------------------------------
echo "== help"
G --help >help.txt; st=$?
check "--help exits 0" test "$st" = 0
for o in --readonly --create --compact --dbi --help LIBGENOMICSQLITE; do
    check "--help mentions $o" grep -q -- "$o" help.txt
done
G x.db --compact --help >help_compact.txt; st=$?
check "--compact --help exits 0" test "$st" = 0
for o in -o --level --inner-page-KiB --outer-page-KiB --no-defrag -@ -f -q; do
    check "--compact --help mentions $o" grep -q -- "$o" help_compact.txt
done
G x.db --dbi --help >help_dbi.txt; st=$?
check "--dbi --help exits 0" test "$st" = 0
for o in -o -f; do check "--dbi --help mentions $o" grep -q -- "$o" help_dbi.txt; done
G x.db --publish --help >help_publish.txt; st=$?
check "--publish --help exits 0" test "$st" = 0 -a -s help_publish.txt
G http://127.0.0.1:9/x.db --download --help >help_download.txt; st=$?
check "--download --help exits 0" test "$st" = 0 -a -s help_download.txt
readme="$repo/cli/README-snippet.md"
for h in help.txt help_compact.txt help_dbi.txt help_publish.txt help_download.txt; do
    check "README-snippet.md contains $h verbatim" "$PY" - "$readme" "$h" <<'EOF'
import sys
readme = open(sys.argv[1]).read(); h = open(sys.argv[2]).read()
sys.exit(0 if h.strip() and h.rstrip("\n") in readme else 1)
EOF
done

# ---------------------------------------------------------------------------------------------
echo "== generating test databases"
gen_db plain.db 60000
check "generated plain.db" test -s plain.db
G plain.db --compact -o comp.db -q; st=$?
check "--compact plain.db exits 0" test "$st" = 0

echo "== SQL-argument mode"
# as in sqlite3 and 0.9.4, headers only interactively: n=$(genomicsqlite db "SELECT ...") works
n=$(G comp.db "SELECT count(*) AS n FROM variants"); st=$?
check "compressed: SQL argument prints the value only, no header (status $st, [$n])" test "$st" = 0 -a "$n" = 60000
n=$(G plain.db "SELECT count(*) AS n FROM variants"); st=$?
check "plain: SQL argument prints the value only, no header (status $st, [$n])" test "$st" = 0 -a "$n" = 60000
n=$(script -qec "$BIN comp.db 'SELECT count(*) AS n FROM variants'" /dev/null </dev/null | tr -d '\r'); st=$?
check "SQL argument with a terminal: still no header or banner (status $st, [$n])" test "$st" = 0 -a "$n" = 60000
out=$(G comp.db -header "SELECT count(*) AS n FROM variants"); st=$?
check "-header passes through (status $st, [$out])" test "$st" = 0 -a "$out" = "$(printf 'n\n60000')"
out=$(G comp.db -cmd ".separator +" -readonly "SELECT 1, 2"); st=$?
check "-readonly among sqlite3 options, -cmd value not taken for SQL (status $st, [$out])" test "$st" = 0 -a "$out" = "1+2"
out=$(G comp.db -noheader -csv "SELECT chrom, count(*) FROM variants GROUP BY chrom ORDER BY 1 LIMIT 2"); st=$?
check "sqlite3 options pass through (-noheader -csv) [$out]" test "$st" = 0 -a "$out" = "$(printf 'chr1,2727\nchr10,2727')"
out=$(G comp.db "SELECT 1 FROM no_such_table" 2>&1); st=$?
check "SQL error -> non-zero status ($st) and message" test "$st" != 0
echo "$out" | grep -q "no such table" && pass "SQL error message shown" || fail "SQL error message shown [$out]"
out=$(G comp.db -noheader "SELECT 1" "SELECT 2"); st=$?
check "several SQL arguments run in order" test "$st" = 0 -a "$out" = "$(printf '1\n2')"
out=$(echo "SELECT max(id) FROM variants;" | G comp.db -noheader); st=$?
check "SQL on stdin (non-interactive) [$out]" test "$st" = 0 -a "$out" = 60000
out=$(G comp.db -noheader "PRAGMA journal_mode; PRAGMA page_size"); st=$?
check "compressed db opened with the default tuning (journal_mode memory, page 16K) [$out]" \
    test "$st" = 0 -a "$out" = "$(printf 'memory\n16384')"
out=$(G comp.db -noheader "SELECT genomicsqlite_version() <> ''"); st=$?
check "extension loaded (genomicsqlite_version) [$out]" test "$st" = 0 -a "$out" = 1
h0=$(sha comp.db)
G comp.db --readonly "INSERT INTO seq(x) VALUES (3)" >/dev/null 2>&1; st=$?
check "--readonly: write fails (status $st)" test "$st" != 0
check "--readonly: file unchanged" test "$(sha comp.db)" = "$h0"
hp=$(sha plain.db)
G plain.db --readonly "INSERT INTO seq(x) VALUES (3)" >/dev/null 2>&1; st=$?
check "--readonly plain: write fails (status $st)" test "$st" != 0
check "--readonly plain: file unchanged" test "$(sha plain.db)" = "$hp"
cp plain.db plainw.db
out=$(G plainw.db -noheader "INSERT INTO seq(x) VALUES (3); SELECT count(*) FROM seq"); st=$?
check "plain file writable and stays plain [$out]" test "$st" = 0 -a "$out" = 3 -a "$(sqlite3 plainw.db 'PRAGMA application_id')" = 0
cp comp.db compw.db
out=$(G compw.db -noheader "INSERT INTO seq(x) VALUES (3); SELECT count(*) FROM seq"); st=$?
check "compressed file writable [$out]" test "$st" = 0 -a "$out" = 3
out=$(G compw.db -noheader "SELECT count(*) FROM seq; PRAGMA integrity_check"); st=$?
check "write persisted, integrity ok [$out]" test "$st" = 0 -a "$out" = "$(printf '3\nok')"

cp comp.db "odd name 'q\"x#?%.db"
out=$(G "odd name 'q\"x#?%.db" -noheader "SELECT count(*) FROM variants"); st=$?
check "compressed file with spaces, quotes, #?% in its name [$out]" test "$st" = 0 -a "$out" = 60000
cp plain.db "file:plain odd?.db"
out=$(G "file:plain odd?.db" -noheader "SELECT count(*) FROM variants"); st=$?
check "plain file named file:...? [$out]" test "$st" = 0 -a "$out" = 60000
echo "== errors"
one_line_error "missing file -> status 1, one line" 1 "no such file" G missing.db "SELECT 1"
check "missing file not created" test ! -e missing.db
one_line_error "missing file --readonly -> status 1" 1 "no such file" G missing.db --readonly "SELECT 1"
mkdir adir
one_line_error "directory -> status 1" 1 "directory" G adir "SELECT 1"
echo "just text, not a database at all; long enough to have a header of one hundred bytes........" >notdb.txt
one_line_error "not a database -> status 1" 1 "not a SQLite database" G notdb.txt "SELECT 1"
printf 'short' >short.bin
one_line_error "short non-database -> status 1" 1 "not a SQLite database" G short.bin "SELECT 1"
one_line_error "bad --compact option -> status 2" 2 "unexpected argument '--bogus'" G plain.db --compact --bogus
one_line_error "bad --dbi option -> status 2" 2 "unexpected argument '--level'" G plain.db --dbi --level 3
one_line_error "--compact option without its value -> status 2" 2 "'-o <OUT>'" G plain.db --compact -o
one_line_error "bad -@ -> status 2" 2 "^genomicsqlite: -@: " G plain.db --compact -@ 5000
one_line_error "bad --level -> status 2" 2 "level" G plain.db --compact --level 99
one_line_error "bad --inner-page-KiB -> status 2" 2 "inner-page-KiB" G plain.db --compact --inner-page-KiB 3
one_line_error "--compact of missing file -> status 1" 1 "no such file" G missing.db --compact
one_line_error "--dbi of non-database -> status 1" 1 "not a SQLite database" G notdb.txt --dbi
one_line_error "LIBGENOMICSQLITE missing -> status 1" 1 "LIBGENOMICSQLITE" env LIBGENOMICSQLITE=/nonexistent.so "$BIN" comp.db "SELECT 1"
one_line_error "option before DB -> status 2" 2 "first argument" G -csv comp.db
# a file that claims to be compressed (application_id) but isn't: the open fails inside sqlite3;
# the command must stop, not give a shell on an empty in-memory database
sqlite3 fake.db "PRAGMA application_id = 2054386788; CREATE TABLE x(a)"
one_line_error "failed open -> status 1, one line saying why" 1 "fake.db: cannot open: .*not a compressed" G fake.db "SELECT 'still running'"
check "failed open: no sqlite3 guard message" bash -c "! grep -q 'JSON path' '$W/err.txt'"
out=$(echo "SELECT 'still running';" | G fake.db 2>/dev/null); st=$?
check "failed open, SQL on stdin -> non-zero status, no SQL run (status $st, [$out])" test "$st" != 0 -a -z "$out"
one_line_error "--compact of a file that fails to open -> status 1" 1 "cannot open" G fake.db --compact -o fake.out
# an http URL with nothing listening (loopback, discard port)
out=$(G http://127.0.0.1:9/nothing.db "SELECT 'still running'" 2>/dev/null </dev/null); st=$?
check "URL that cannot be read -> non-zero status, no SQL run (status $st, [$out])" test "$st" != 0 -a -z "$out"
# an unreadable file: as root, run the command as user nobody (root reads any file)
P=$(mktemp -d "${TMPDIR:-/tmp}/gsq-shell-perm.XXXXXX"); chmod 755 "$P"
cp "$BIN" "$LIBGENOMICSQLITE" "$P"/; cp comp.db "$P/secret.db"; chmod 600 "$P/secret.db"
if [ "$(id -u)" = 0 ]; then
    one_line_error "unreadable file -> status 1" 1 "Permission denied" runuser -u nobody -- "$P/$(basename "$BIN")" "$P/secret.db" "SELECT 1"
    one_line_error "--compact of an unreadable file -> status 1" 1 "Permission denied" runuser -u nobody -- "$P/$(basename "$BIN")" "$P/secret.db" --compact -o "$P/x.db"
else
    chmod 000 "$P/secret.db"
    one_line_error "unreadable file -> status 1" 1 "Permission denied" "$P/$(basename "$BIN")" "$P/secret.db" "SELECT 1"
fi
rm -rf "$P"

echo "== finding the extension"
mkdir -p inst/bin inst/lib side
cp "$BIN" inst/bin/genomicsqlite; cp "$LIBGENOMICSQLITE" inst/lib/libgenomicsqlite.so
cp "$BIN" side/genomicsqlite; cp "$LIBGENOMICSQLITE" side/libgenomicsqlite.so
out=$(env -u LIBGENOMICSQLITE inst/bin/genomicsqlite comp.db -noheader "SELECT count(*) FROM variants"); st=$?
check "install layout (bin/ + lib/) without LIBGENOMICSQLITE [$out]" test "$st" = 0 -a "$out" = 60000
out=$(env -u LIBGENOMICSQLITE side/genomicsqlite comp.db -noheader "SELECT count(*) FROM variants"); st=$?
check "extension next to the executable [$out]" test "$st" = 0 -a "$out" = 60000
mkdir -p lonely; cp "$BIN" lonely/genomicsqlite
one_line_error "no extension anywhere -> status 1" 1 "cannot find the extension" env -u LIBGENOMICSQLITE lonely/genomicsqlite comp.db "SELECT 1"

echo "== --create"
out=$(G new.db --create -noheader "CREATE TABLE t(a); INSERT INTO t VALUES (42); SELECT a FROM t"); st=$?
check "--create makes a new database [$out]" test "$st" = 0 -a "$out" = 42
check "--create: new file is compressed (application_id zstd)" test "$(sqlite3 new.db 'PRAGMA application_id')" = 2054386788
out=$(G new.db -noheader "SELECT a FROM t"); st=$?
check "--create: reopened [$out]" test "$st" = 0 -a "$out" = 42
one_line_error "--create on an existing file -> status 1" 1 "already exists" G new.db --create "SELECT 1"
: >empty.db
out=$(G empty.db -noheader "CREATE TABLE t(a); INSERT INTO t VALUES (7); SELECT a FROM t"); st=$?
check "existing 0-byte file opens as a new compressed database [$out]" \
    test "$st" = 0 -a "$out" = 7 -a "$(sqlite3 empty.db 'PRAGMA application_id')" = 2054386788

# ---------------------------------------------------------------------------------------------
echo "== interactive (tmux)"
# wait_pane PATTERN SECONDS: wait until the tmux pane shows PATTERN
wait_pane() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        tmux -L "$TMUX_SOCK" capture-pane -p -t gsq >"$W/pane.txt" 2>/dev/null
        if grep -q -- "$1" "$W/pane.txt"; then return 0; fi
        sleep 0.1
    done
    echo "--- pane:"; cat "$W/pane.txt"; return 1
}
# start_session ARGS...: the command in a tmux pane, then "EXITED:status"
nsession=0
start_session() {
    tmux -L "$TMUX_SOCK" kill-server >/dev/null 2>&1
    # a fresh tmux server (socket) per session: no race with the previous one's exit
    nsession=$((nsession + 1)); TMUX_SOCK="gsqshelltest$$-$nsession"
    tmux -L "$TMUX_SOCK" new-session -d -s gsq -x 160 -y 40 \
        "cd '$W' && LIBGENOMICSQLITE='$LIBGENOMICSQLITE' '$BIN' $*; echo \"EXITED:\$?\"; sleep 60"
}
type_line() {
    tmux -L "$TMUX_SOCK" send-keys -t gsq -l "$1"
    tmux -L "$TMUX_SOCK" send-keys -t gsq Enter
}
start_session comp.db
check "interactive: banner and prompt" wait_pane "^GenomicSQLite>" 20
check "interactive: GenomicSQLite banner line" grep -q "^GenomicSQLite [0-9]" "$W/pane.txt"
check "interactive: sqlite3 banner" grep -q "SQLite version" "$W/pane.txt"
type_line 'SELECT count(*) AS nvariants, 6*7 AS answer FROM variants\;'
check "interactive: query result shown" wait_pane "^60000|42" 20
check "interactive: header line" grep -q "^nvariants|answer" "$W/pane.txt"
type_line '.quit'
check "interactive: .quit exits with status 0" wait_pane "EXITED:0" 20
start_session plain.db --readonly
check "interactive (plain, --readonly): prompt" wait_pane "^GenomicSQLite>" 20
type_line 'SELECT * FROM no_such_table\;'
check "interactive: error shown, shell goes on" wait_pane "no such table" 20
type_line 'SELECT name FROM genes ORDER BY name LIMIT 1\;'
check "interactive: query after an error" wait_pane "^G00001" 20
type_line '.quit'
# sqlite3 itself exits with status 1 after a session in which a statement failed
check "interactive: .quit exits with sqlite3's status (1 after an error)" wait_pane "EXITED:1" 20
tmux -L "$TMUX_SOCK" kill-server >/dev/null 2>&1
start_session fake.db
check "interactive, failed open: exits with status 1" wait_pane "EXITED:1" 20
check "interactive, failed open: no prompt shown" bash -c "! grep -q 'GenomicSQLite>' '$W/pane.txt'"

# ---------------------------------------------------------------------------------------------
echo "== --compact"
dump plain.db >plain.dump
check "dump of plain input is non-trivial" test "$(grep -c INSERT plain.dump)" -gt 60000
dump comp.db >comp.dump
check "compact of plain: same content (.dump)" cmp -s plain.dump comp.dump
check "compact of plain: inner integrity_check ok" test "$(G comp.db -noheader 'PRAGMA integrity_check')" = ok
check "compact of plain: outer integrity_check ok" test "$(sqlite3 comp.db 'PRAGMA integrity_check')" = ok
check "compact of plain: outer page size 64 KiB" test "$(sqlite3 comp.db 'PRAGMA page_size')" = 65536
check "compact of plain: outer application_id zstd" test "$(sqlite3 comp.db 'PRAGMA application_id')" = 2054386788
check "compact of plain: inner page size 16 KiB" test "$(G comp.db -noheader 'PRAGMA page_size')" = 16384
check "compact of plain: output smaller than input" test "$(stat -c %s comp.db)" -lt "$(stat -c %s plain.db)"
check "compact: input untouched" test "$(sha plain.db)" = "$hp"
check "compact: no temporary files left" no_temp_files
check "compact: default output name" bash -c "'$BIN' '$W/plain.db' --compact -q && test -f '$W/plain.db.compact'"
out=$(G comp.db --compact -o recomp.db --level 1 --inner-page-KiB 4 --outer-page-KiB 8 -@ 1 --no-defrag 2>recomp.err); st=$?
check "recompress a compressed file exits 0 ($(cat recomp.err))" test "$st" = 0
check "recompress: summary on stderr" grep -q "recomp.db" recomp.err
check "recompress: same content (.dump)" cmp -s plain.dump <(dump recomp.db)
check "recompress: inner page size 4 KiB" test "$(G recomp.db -noheader 'PRAGMA page_size')" = 4096
check "recompress: outer page size 8 KiB" test "$(sqlite3 recomp.db 'PRAGMA page_size')" = 8192
check "recompress: inner integrity ok" test "$(G recomp.db -noheader 'PRAGMA integrity_check')" = ok
check "recompress: outer integrity ok" test "$(sqlite3 recomp.db 'PRAGMA integrity_check')" = ok
check "recompress: input untouched" test "$(sha comp.db)" = "$h0"
out=$(G plain.db --compact -o q.db -q 2>&1); st=$?
check "-q prints nothing [$out]" test "$st" = 0 -a -z "$out"
G plain.db --compact -o level19.db --level 19 -q
check "--level 19 smaller than --level 1" test "$(stat -c %s level19.db)" -lt "$(stat -c %s recomp.db)"

echo "== overwrite protection"
hq=$(sha q.db)
one_line_error "--compact refuses to overwrite" 1 "already exists" G plain.db --compact -o q.db
check "refused: OUT unchanged" test "$(sha q.db)" = "$hq"
G comp.db --compact -o q.db -q -f --level 1; st=$?
check "-f overwrites (status $st)" test "$st" = 0 -a "$(sha q.db)" != "$hq"
check "-f result has the content" cmp -s plain.dump <(dump q.db)
one_line_error "--compact refuses OUT = DB" 1 "overwrite the input" G plain.db --compact -o plain.db -f
one_line_error "--compact into a missing directory" 1 "directory" G plain.db --compact -o nodir/x.db
check "failed runs leave no temporary files" no_temp_files

echo "== interrupted --compact"
gen_db big.db 400000
hb=$(sha big.db)
# The same input and settings give the same bytes (every dictionary after the first is trained
# on a sample of the pages written since the one before, drawn with a fixed seed; pages are
# stored in order whatever the threads; the identity stamp in the outer user_version is derived
# from the content, cli/src/identity.rs), and a different input gets a different stamp.
G big.db --compact -o same1.db -q
G big.db --compact -o same2.db -q
check "compact of big: several dictionaries" test "$(sqlite3 same1.db 'SELECT count(*) FROM nested_vfs_zstd_dicts')" -ge 2
check "compact twice: byte-identical output" cmp -s same1.db same2.db
check "compact: identity stamp set" test "$(sqlite3 same1.db 'PRAGMA user_version')" != 0
cp big.db other_src.db
sqlite3 other_src.db "CREATE TABLE stamp_probe(x); INSERT INTO stamp_probe VALUES(1)"
G other_src.db --compact -o other.db -q
check "compact of changed input: another identity stamp" \
    test "$(sqlite3 same1.db 'PRAGMA user_version')" != "$(sqlite3 other.db 'PRAGMA user_version')"
rm -f other.db other_src.db
rm -f same1.db same2.db
# start_compact OUT: runs --compact in the background; waits for its temporary file
start_compact() {
    rm -f "$1"
    "$BIN" big.db --compact -o "$1" -q --level 12 -@ 1 &
    cpid=$!
    local i
    for ((i = 0; i < 300; i++)); do
        ls "$W"/"$1".genomicsqlite-compact-incomplete-* >/dev/null 2>&1 && break
        sleep 0.02
    done
    sleep 0.3
}
for sig in KILL TERM INT; do
    start_compact "killed_$sig.db"
    if kill -0 "$cpid" 2>/dev/null; then
        kill -s "$sig" "$cpid"; wait "$cpid" 2>/dev/null
        check "SIG$sig: no OUT" test ! -e "killed_$sig.db"
        check "SIG$sig: DB intact (sha256)" test "$(sha big.db)" = "$hb"
        left=$(ls "$W" | grep -c "^killed_$sig.db" || true)
        if [ "$sig" = KILL ]; then
            # the temporary file, and the zstd VFS's journal of it, all named OUT.genomicsqlite-compact-incomplete-PID*
            named=$(ls "$W" | grep -c "^killed_$sig.db.genomicsqlite-compact-incomplete-$cpid" || true)
            check "SIGKILL: only the named temporary file(s) left ($(ls "$W" | grep "^killed_" | tr '\n' ' '))" test "$left" = "$named"
            rm -f "$W"/killed_KILL.db.genomicsqlite-*
        else
            check "SIG$sig: temporary files removed" test "$left" = 0
        fi
    else
        wait "$cpid"
        fail "SIG$sig: --compact finished before the signal; test inconclusive"
    fi
done
check "after interruptions: no temporary files" no_temp_files

echo "== full disk"
# a small tmpfs as the output directory (needs root and mount permission; skipped otherwise)
mkdir -p "$W/small"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=1m tmpfs "$W/small" 2>/dev/null; then
    MOUNTED="$W/small"
    one_line_error "full disk while compressing -> status 1" 1 "full" G big.db --compact -o small/out.db -q
    check "full disk while compressing: no OUT, no temporary files" test -z "$(ls -A small)"
    umount "$W/small"
    # room for the compressed copy but not for the defragmented one as well
    G big.db --compact -o sized.db -q
    sz=$(( $(stat -c %s sized.db) * 3 / 2 / 1024 + 64 ))
    mount -t tmpfs -o size=${sz}k tmpfs "$W/small"
    one_line_error "full disk while defragmenting -> status 1" 1 "full" G big.db --compact -o small/out.db -q
    check "full disk while defragmenting: no OUT, no temporary files" test -z "$(ls -A small)"
    umount "$W/small"; MOUNTED=""
    check "full disk: DB intact (sha256)" test "$(sha big.db)" = "$hb"
else
    skipped=$((skipped + 1)); echo "SKIP full disk tests (cannot mount a tmpfs)"
fi

echo "== progress display"
"$BIN" big.db --compact -o prog1.db --level 12 -@ 1 2>prog1.err; st=$?
check "stderr not a terminal: summary but no progress line (status $st)" \
    bash -c "grep -q 'wrote prog1.db' prog1.err && ! grep -q 'compressing:' prog1.err"
start_session big.db --compact -o prog2.db --level 12 -@ 1
check "stderr a terminal (tmux): progress line with pages, MB/s and ETA" wait_pane "compressing: .*% .*pages .*MB/s .*ETA" 60
check "stderr a terminal: summary after progress" wait_pane "wrote prog2.db: .*ratio" 120
check "stderr a terminal: exit status 0" wait_pane "EXITED:0" 20
tmux -L "$TMUX_SOCK" kill-server >/dev/null 2>&1
check "progress runs: same content as each other" cmp -s <(dump prog1.db) <(dump prog2.db)

# ---------------------------------------------------------------------------------------------
echo "== --dbi"
# check_dbi DB DBI: every web_dbi_pages row equals the bytes at its offset; meta rows; page 1
check_dbi() {
    "$PY" - "$1" "$2" <<'EOF'
import sqlite3, sys, os
db, dbi = sys.argv[1], sys.argv[2]
data = open(db, "rb").read()
c = sqlite3.connect(dbi)
ok = True
def bad(m):
    global ok; ok = False; print("  ", m)
if c.execute("PRAGMA application_id").fetchone()[0] != 0x646269: bad("application_id")
if c.execute("PRAGMA page_size").fetchone()[0] != 1024: bad("dbi page size")
meta = dict(c.execute("SELECT key, value FROM web_dbi_meta"))
ps = int.from_bytes(data[16:18], "big"); ps = 65536 if ps == 1 else ps
if meta.get("page_size") != ps: bad("page_size %r" % meta.get("page_size"))
if meta.get("dbfile_size") != len(data): bad("dbfile_size %r" % meta.get("dbfile_size"))
names = ["main.sqlite_master"] + ["main." + r[0] for r in sqlite3.connect("file:%s?mode=ro" % db, uri=True).execute("SELECT name FROM sqlite_master")]
if sorted(k for k in meta if k.startswith("main.")) != sorted(names): bad("main.* keys")
n = 0
for off, blob in c.execute("SELECT offset, data FROM web_dbi_pages"):
    n += 1
    if off % ps or len(blob) != ps or data[off:off + ps] != blob: bad("page at offset %d differs" % off)
row = c.execute("SELECT data FROM web_dbi_pages WHERE offset = 0").fetchone()
if not row or row[0][:100] != data[:100]: bad("page 1 missing or header differs")
print("  %d pages checked" % n)
sys.exit(0 if ok and n > 0 else 1)
EOF
}
# same_selection_as_peer DB: our --dbi chooses the peer's offsets except where issue 12 made
# it differ: ours adds offset 0 where the peer omits page 1, the pages of nested_vfs_zstd_dicts,
# the first and last leaves of nested_vfs_zstd_pages and at most 8 more of its leaves (those
# holding the inner schema and b-tree roots); ours leaves out pages inside the first 64 KiB
# (other than page 1: every reader's first request has them), the other pages of the last
# 64 KiB, sqlite_sequence and the two indexes nested_vfs_zstd_pages_btree_interior* (our reader
# reads none of them; a 0.9.4 reader fetches them from the file). The meta rows are the same
# (ours adds genomicsqlite_* rows: the pages' digest and the database's identity, issue 13).
same_selection_as_peer() {
    local db=$1
    rm -f "$db.peer.dbi" "$db.ours.dbi"
    "$PEER_PY" -m genomicsqlite "$db" --dbi -o "$db.peer.dbi" >/dev/null 2>&1 || { echo "  peer --dbi failed"; return 1; }
    G "$db" --dbi -o "$db.ours.dbi" -q || return 1
    "$PY" - "$db.peer.dbi" "$db.ours.dbi" <<'EOF'
import sqlite3, sys
p = sqlite3.connect(sys.argv[1]); o = sqlite3.connect(sys.argv[2])
po = set(r[0] for r in p.execute("SELECT offset FROM web_dbi_pages"))
oo = set(r[0] for r in o.execute("SELECT offset FROM web_dbi_pages"))
pm = sorted(p.execute("SELECT key, quote(value) FROM web_dbi_meta"))
om = sorted(o.execute("SELECT key, quote(value) FROM web_dbi_meta WHERE key NOT LIKE 'genomicsqlite%'"))
if not o.execute("SELECT value FROM web_dbi_meta WHERE key = 'genomicsqlite_identity' AND value LIKE 'sha256:%'").fetchone():
    print("  our .dbi records no identity"); sys.exit(1)
digest = o.execute("SELECT value FROM web_dbi_meta WHERE key = 'genomicsqlite_pages_sha256'").fetchone()
if not digest: print("  our .dbi records no digest of its pages")
m = sqlite3.connect(sys.argv[1].rsplit(".peer.dbi", 1)[0])
ps = m.execute("PRAGMA page_size").fetchone()[0]
off = lambda rows: set((r[0] - 1) * ps for r in rows)
dicts = off(m.execute("SELECT pageno FROM dbstat WHERE name = 'nested_vfs_zstd_dicts'"))
left_out = off(m.execute("SELECT pageno FROM dbstat WHERE name IN ('nested_vfs_zstd_pages_btree_interior', "
                         "'nested_vfs_zstd_pages_btree_interior_pageno', 'sqlite_sequence')"))
first = set(o for o in po | oo if 0 < o and o + ps <= 65536)
size = m.execute("PRAGMA page_count").fetchone()[0] * ps
last = set(o for o in po if o + 65536 >= size)
tree = m.execute("SELECT path, pageno, pagetype FROM dbstat WHERE name = 'nested_vfs_zstd_pages'").fetchall()
leaves = sorted(r[0] for r in tree if r[2] == "leaf")
ends = [leaves[0], leaves[-1]] if leaves else []
# the two leaves and their overflow pages (whose dbstat paths extend the leaf's)
edges = off([(r[1],) for r in tree if any(r[0].startswith(e) for e in ends) and r[2] != "internal"]) - first
lead = set(o for o in oo - po - dicts - edges if (o // ps + 1) in set(r[1] for r in tree if r[2] == "leaf"))
extra = oo - po - dicts - edges - lead; missing = po - oo - left_out - first - last
print("  peer %d pages, ours %d; only ours: %s; only peer: %s" % (len(po), len(oo), sorted(extra)[:5], sorted(missing)[:5]))
ok = not missing and extra <= {0} and len(lead) <= 8 and pm == om and digest and edges <= oo and not (oo & first)
if len(lead) > 8: print("  more than 8 leaves for the inner pages read first: %d" % len(lead))
# a compressed file's .dbi says how many such leaves it carries (readers then expect fewer misses)
recorded = o.execute("SELECT value FROM web_dbi_meta WHERE key = 'genomicsqlite_lead_leaves'").fetchone()
if tree and (not recorded or recorded[0] < len(lead)):
    ok = False; print("  genomicsqlite_lead_leaves %r, %d lead leaves" % (recorded, len(lead)))
if pm != om: print("  meta differs")
if not edges <= oo: print("  first/last leaves of the page rows missing: %s" % sorted(edges - oo))
if oo & first: print("  pages inside the first 64 KiB: %s" % sorted(oo & first))
sys.exit(0 if ok else 1)
EOF
}
G plain.db --dbi -q; st=$?
check "--dbi plain exits 0" test "$st" = 0 -a -f plain.db.dbi
check "--dbi plain: pages equal the main file's bytes" check_dbi plain.db plain.db.dbi
G comp.db --dbi -o comp.dbi -q
check "--dbi compressed: pages equal the outer file's bytes" check_dbi comp.db comp.dbi
one_line_error "--dbi refuses to overwrite" 1 "already exists" G plain.db --dbi
G plain.db --dbi -f -q; st=$?
check "--dbi -f overwrites" test "$st" = 0
check "--dbi: no temporary files" no_temp_files
# interior pages (from sqlite's own dbstat) are all in the .dbi, except those inside the first
# 64 KiB, which a reader's first request fetches
check "--dbi: every interior page (per dbstat) past 64 KiB present" "$PY" - plain.db plain.db.dbi <<'EOF'
import sqlite3, sys
m = sqlite3.connect(sys.argv[1]); d = sqlite3.connect(sys.argv[2])
try:
    interior = [r[0] for r in m.execute("SELECT pageno FROM dbstat WHERE pagetype = 'internal'")]
except sqlite3.OperationalError:
    interior = None
ps = m.execute("PRAGMA page_size").fetchone()[0]
have = set(r[0] for r in d.execute("SELECT offset FROM web_dbi_pages"))
if interior is None:
    # no dbstat in this python's sqlite: use the sqlite3 shell's
    import subprocess
    out = subprocess.run(["sqlite3", sys.argv[1], "SELECT pageno FROM dbstat WHERE pagetype = 'internal'"], capture_output=True, text=True, check=True).stdout
    interior = [int(x) for x in out.split()]
interior = [p for p in interior if p * ps > 65536]
print("  %d interior pages past 64 KiB" % len(interior))
sys.exit(0 if interior and all((p - 1) * ps in have for p in interior) else 1)
EOF
if [ -n "$PEER_PY" ]; then
    # a variety of files: page sizes, big schema, overflow, system tables, compressed outer files
    gen_db p1k.db 20000 1024
    gen_db p64k.db 20000 65536
    "$PEER_PY" -m genomicsqlite plain.db --compact -o peercomp.db >/dev/null 2>&1
    # a compressed file with 1 KiB outer pages: multi-level *_btree_interior indexes, dictionaries
    G big.db --compact -o big1k.db -q --outer-page-KiB 1 --inner-page-KiB 4
    check "--dbi of a compressed file with 1 KiB outer pages checks page by page" \
        bash -c "'$BIN' big1k.db --dbi -q && $(declare -f check_dbi); PY='$PY' check_dbi big1k.db big1k.db.dbi"
    for f in plain.db p1k.db p64k.db comp.db recomp.db peercomp.db big.db big1k.db; do
        check "--dbi selects the same pages as the peer's: $f" same_selection_as_peer "$f"
    done
    check "--dbi of the peer's compressed file checks page by page" check_dbi peercomp.db peercomp.db.ours.dbi

    echo "== interoperability with the peer"
    check "peer reads our --compact output" "$PEER_PY" - comp.db plain.db <<'EOF'
import sys, sqlite3, genomicsqlite
ours = genomicsqlite.connect(sys.argv[1], read_only=True)
plain = sqlite3.connect(sys.argv[2])
q = "SELECT id, chrom, pos, ref, alt, qual, info, extra FROM variants ORDER BY id"
a = ours.execute(q).fetchall(); b = plain.execute(q).fetchall()
ok = len(a) == 60000 and a == b and ours.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
sys.exit(0 if ok else 1)
EOF
    check "peer reads our recompressed output (4K inner, 8K outer)" "$PEER_PY" - recomp.db <<'EOF'
import sys, genomicsqlite
c = genomicsqlite.connect(sys.argv[1], read_only=True)
sys.exit(0 if c.execute("SELECT count(*) FROM variants").fetchone()[0] == 60000 and c.execute("PRAGMA integrity_check").fetchone()[0] == "ok" else 1)
EOF
    check "we read the peer's --compact output" cmp -s plain.dump <(dump peercomp.db)
    G peercomp.db --compact -o frompeer.db -q; st=$?
    check "we recompress the peer's output (status $st)" test "$st" = 0
    check "recompressed peer output has the content" cmp -s plain.dump <(dump frompeer.db)
else
    fail "peer GenomicSQLite 0.9.4 not found (run tests/setup.sh or set GSQ_PEER_PYTHON)"
fi

# ---------------------------------------------------------------------------------------------
echo
if [ "$failed" -gt 0 ]; then
    echo "failures:"
    for f in "${failures[@]}"; do echo "  $f"; done
fi
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ]
