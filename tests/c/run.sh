#!/usr/bin/env bash
# tests/c/run.sh: compile and run the C and C++ interface tests of GenomicSQLite.
#
#   tests/c/run.sh                 # uses $LIBGENOMICSQLITE, else target/release/libgenomicsqlite.so
#
# What it does (every step counts as passed or failed; each PASS/FAIL line that a test program
# prints counts too):
#   1. installs missing Debian packages it needs (gcc g++ libsqlite3-dev libsqlitecpp-dev
#      valgrind pkg-config), when run as root;
#   2. checks that include/genomicsqlite.h compiles warning-free (-Wall -Wextra -pedantic -Werror)
#      as C (c99 c11 c17) and C++ (c++11 c++14 c++17 c++20), with and without SQLiteCpp;
#   3. compiles test_c.c (C: c11 c17), test_cxx.cc and test_sqlitecpp.cc (c++11 .. c++20) and
#      example.c with those flags, and runs each build against the library;
#   4. links SQLite statically (Debian's libsqlite3.a) into test_c.c and runs it, to prove that
#      GENOMICSQLITE_C_INIT loads the library into a program's private SQLite;
#   5. runs one build of each program under valgrind memcheck: any invalid access, or a leak
#      that is not suppressed by valgrind.supp (system libraries only), fails;
#   6. runs install.sh into a temporary prefix and builds example.c with pkg-config against it.
# Ends with the line "N passed, M failed" (", K skipped" when some were) and exits non-zero if
# anything failed.
#
# Environment: LIBGENOMICSQLITE (library to test), GSQ_C_NO_VALGRIND=1 (skip step 5),
# GSQ_C_KEEP=1 (keep the work directory), GSQ_STRICT_CONFIG=0/1 (see check.h: whether unknown
# configuration keys must be rejected; by default yes unless the library is 0.9.x),
# GSQ_VALGRIND_LEAK_KINDS (default "definite,possible").
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
lib=${LIBGENOMICSQLITE:-$repo/target/release/libgenomicsqlite.so}

passed=0
failed=0
skipped=0
failures=()

pass() {
    passed=$((passed + 1))
    echo "PASS $*"
}
fail() {
    failed=$((failed + 1))
    failures+=("$*")
    echo "FAIL $*"
}
skip() {
    skipped=$((skipped + 1))
    echo "SKIP $*"
}
finish() {
    echo
    if [ ${#failures[@]} -gt 0 ]; then
        echo "Failures:"
        printf '  %s\n' "${failures[@]}"
    fi
    if [ "$skipped" -gt 0 ]; then
        echo "$passed passed, $failed failed, $skipped skipped"
    else
        echo "$passed passed, $failed failed"
    fi
    [ "$failed" -eq 0 ]
    exit $?
}

# 1. tools and libraries
need=()
for pkg in gcc g++ libsqlite3-dev libsqlitecpp-dev valgrind pkg-config; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "run.sh: installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
            echo "run.sh: apt-get install ${need[*]} failed" >&2
    else
        echo "run.sh: missing packages (install them): ${need[*]}" >&2
    fi
fi
have_valgrind=0
command -v valgrind >/dev/null && have_valgrind=1
have_sqlitecpp=0
[ -f /usr/include/SQLiteCpp/SQLiteCpp.h ] && have_sqlitecpp=1

if [ ! -f "$lib" ]; then
    fail "library not found: $lib (build with 'cargo build --release' or set LIBGENOMICSQLITE)"
    finish
fi
lib=$(readlink -f "$lib")
echo "run.sh: testing $lib"

work=$(mktemp -d "${TMPDIR:-/tmp}/gsq-ctests.XXXXXX")
if [ "${GSQ_C_KEEP:-0}" = 1 ]; then
    echo "run.sh: work directory $work (kept)"
else
    trap 'rm -rf "$work"' EXIT
fi
# -lgenomicsqlite needs a file of that name; the library under test may be called otherwise
mkdir -p "$work/lib" "$work/bin" "$work/logs"
ln -s "$lib" "$work/lib/libgenomicsqlite.so"
export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

WARN=(-Wall -Wextra -pedantic -Werror)
INC=(-I"$repo/include")
LINK=(-L"$work/lib" -lgenomicsqlite)
C_STDS=(c11 c17)
CXX_STDS=(c++11 c++14 c++17 c++20)

# GenomicSQLite 0.9.4 (the reference library) exports the C++ symbols of its own, older, copy
# of SQLiteCpp; a program linking Debian's SQLiteCpp then interposes them and crashes inside
# 0.9.4's initialization. Only for such a library, keep the program's SQLiteCpp private.
SQLITECPP_EXTRA=()
if nm -D -C --defined-only "$lib" 2>/dev/null | grep -q ' SQLite::'; then
    echo "run.sh: note: the library exports SQLiteCpp symbols; building the SQLiteCpp test with hidden visibility"
    SQLITECPP_EXTRA=(-fvisibility=hidden -Wl,--exclude-libs,ALL)
fi

# compile NAME CMD...: one counted step
compile() {
    local name=$1
    shift
    if "$@" >"$work/logs/$name.compile.log" 2>&1; then
        pass "compile $name"
        return 0
    fi
    fail "compile $name: $*"
    sed 's/^/    /' "$work/logs/$name.compile.log" | head -n 40
    return 1
}

# run_prog NAME CMD...: runs a test program in its own directory, counts its PASS/FAIL/SKIP
# lines, and fails if it exits non-zero or prints no PASS line (e.g. it crashed first).
run_prog() {
    local name=$1
    shift
    local dir="$work/run/$name" log="$work/logs/$name.log" rc np nf ns
    mkdir -p "$dir"
    (cd "$dir" && GSQ_TEST_DIR="$dir" timeout 600 "$@") >"$log" 2>&1
    rc=$?
    np=$(grep -c '^PASS ' "$log")
    nf=$(grep -c '^FAIL ' "$log")
    ns=$(grep -c '^SKIP ' "$log")
    passed=$((passed + np))
    skipped=$((skipped + ns))
    if [ "$nf" -gt 0 ]; then
        failed=$((failed + nf))
        while IFS= read -r line; do failures+=("$name: ${line#FAIL }"); done < <(grep '^FAIL ' "$log")
        grep '^FAIL ' "$log" | sed "s/^/  [$name] /"
    fi
    if [ "$rc" -ne 0 ] || [ "$np" -eq 0 ]; then
        fail "run $name: exit code $rc (log: $log)"
        tail -n 25 "$log" | sed 's/^/    /'
        return 1
    fi
    echo "ok   $name: $np checks passed, $ns skipped"
    return 0
}

# 2. the header alone
printf '#include "genomicsqlite.h"\n#include "genomicsqlite.h"\nint main(void) { char *e = 0; int rc = GENOMICSQLITE_C_INIT(&e); sqlite3_free(e); return rc; }\n' >"$work/header.c"
printf '#include "genomicsqlite.h"\nint main() { GENOMICSQLITE_CXX_INIT(); return GenomicSQLiteVersion().empty(); }\n' >"$work/header.cc"
printf '#include <SQLiteCpp/SQLiteCpp.h>\n#include "genomicsqlite.h"\nint main() { GENOMICSQLITE_CXX_INIT(); std::unique_ptr<SQLite::Database> (*f)(const std::string &, int, const std::string &) = GenomicSQLiteOpen; return f == nullptr; }\n' >"$work/header_sqlitecpp.cc"
for std in c99 "${C_STDS[@]}"; do
    compile "header-$std" gcc -std="$std" "${WARN[@]}" -Wshadow "${INC[@]}" -c "$work/header.c" -o "$work/bin/header-$std.o"
done
for std in "${CXX_STDS[@]}"; do
    compile "header-$std" g++ -std="$std" "${WARN[@]}" -Wshadow "${INC[@]}" -c "$work/header.cc" -o "$work/bin/header-$std.o"
    compile "header-nonweak-$std" g++ -std="$std" "${WARN[@]}" -DGENOMICSQLITE_NO_WEAK "${INC[@]}" -c "$work/header.cc" -o "$work/bin/header-nw-$std.o"
    if [ "$have_sqlitecpp" = 1 ]; then
        compile "header-sqlitecpp-$std" g++ -std="$std" "${WARN[@]}" "${INC[@]}" -c "$work/header_sqlitecpp.cc" -o "$work/bin/header-scpp-$std.o"
    fi
done

# 3. the test programs, in every standard
for std in "${C_STDS[@]}"; do
    compile "test_c-$std" gcc -std="$std" "${WARN[@]}" "${INC[@]}" -o "$work/bin/test_c-$std" "$here/test_c.c" "${LINK[@]}" -lsqlite3 -ldl &&
        run_prog "test_c-$std" "$work/bin/test_c-$std"
done
for std in "${CXX_STDS[@]}"; do
    compile "test_cxx-$std" g++ -std="$std" "${WARN[@]}" "${INC[@]}" -o "$work/bin/test_cxx-$std" "$here/test_cxx.cc" "${LINK[@]}" -lsqlite3 &&
        run_prog "test_cxx-$std" "$work/bin/test_cxx-$std"
    compile "test_genomics-$std" g++ -std="$std" "${WARN[@]}" "${INC[@]}" -o "$work/bin/test_genomics-$std" "$here/test_genomics.cc" "${LINK[@]}" -lsqlite3 &&
        run_prog "test_genomics-$std" "$work/bin/test_genomics-$std"
    if [ "$have_sqlitecpp" = 1 ]; then
        compile "test_sqlitecpp-$std" g++ -std="$std" "${WARN[@]}" "${SQLITECPP_EXTRA[@]}" "${INC[@]}" -o "$work/bin/test_sqlitecpp-$std" "$here/test_sqlitecpp.cc" "${LINK[@]}" -lSQLiteCpp -lsqlite3 &&
            run_prog "test_sqlitecpp-$std" "$work/bin/test_sqlitecpp-$std"
    else
        fail "SQLiteCpp (libsqlitecpp-dev) not installed: SQLiteCpp form untested"
    fi
done

# the README example: its output is known, and a second run appends to the same database
expected_example=$'gene=BRCA2 exons=2 bases=266\ngene=TP53 exons=1 bases=114'
expected_example2=$'gene=BRCA2 exons=4 bases=532\ngene=TP53 exons=2 bases=228'
check_example() { # check_example NAME BINARY [LD_LIBRARY_PATH]
    local name=$1 bin=$2 dir="$work/run/$1" out1 out2
    mkdir -p "$dir"
    out1=$(cd "$dir" && "$bin" "$dir/example.db" 2>&1)
    out2=$(cd "$dir" && "$bin" "$dir/example.db" 2>&1)
    if [ "$(sed 1d <<<"$out1")" = "$expected_example" ] && [ "$(sed 1d <<<"$out2")" = "$expected_example2" ] &&
        [[ "$(head -n1 <<<"$out1")" == "GenomicSQLite v"* ]]; then
        pass "$name output"
    else
        fail "$name output: got: $(tr '\n' '|' <<<"$out1") then: $(tr '\n' '|' <<<"$out2")"
    fi
    # and it really is a compressed database
    if [ "$(sqlite3 "$dir/example.db" 'PRAGMA application_id' 2>&1)" = 2054386788 ]; then
        pass "$name wrote a compressed database"
    else
        fail "$name wrote a compressed database: application_id $(sqlite3 "$dir/example.db" 'PRAGMA application_id' 2>&1)"
    fi
}
compile example gcc -std=c11 "${WARN[@]}" "${INC[@]}" -o "$work/bin/example" "$here/example.c" "${LINK[@]}" -lsqlite3 &&
    check_example example "$work/bin/example"

# the README snippet shows example.c verbatim (from its #include on)
if diff <(sed -n '/^```c$/,/^```$/p' "$here/README-snippet.md" | sed '1d;$d') \
    <(sed -n '/^#include <stdio.h>/,$p' "$here/example.c") >"$work/logs/snippet.diff" 2>&1; then
    pass "README-snippet.md shows example.c verbatim"
else
    fail "README-snippet.md differs from example.c: $(head -n 5 "$work/logs/snippet.diff" | tr '\n' ' ')"
fi

# 4. a private, statically linked SQLite
static_sqlite=$(gcc -print-file-name=libsqlite3.a)
if [ -f "$static_sqlite" ] && [ "$static_sqlite" != libsqlite3.a ]; then
    compile test_c-static-sqlite gcc -std=c11 -DGSQ_EXPECT_PRIVATE_SQLITE "${WARN[@]}" "${INC[@]}" -o "$work/bin/test_c-static-sqlite" "$here/test_c.c" "${LINK[@]}" "$static_sqlite" -lm -ldl -lpthread &&
        {
            if ldd "$work/bin/test_c-static-sqlite" | grep -q libsqlite3; then
                fail "test_c-static-sqlite links a shared libsqlite3"
            else
                pass "test_c-static-sqlite has no shared libsqlite3"
            fi
            run_prog test_c-static-sqlite "$work/bin/test_c-static-sqlite"
        }
else
    fail "no static libsqlite3.a (libsqlite3-dev): private-SQLite path untested"
fi

# 5. valgrind memcheck
if [ "${GSQ_C_NO_VALGRIND:-0}" = 1 ]; then
    skip "valgrind (GSQ_C_NO_VALGRIND=1)"
elif [ "$have_valgrind" = 0 ]; then
    fail "valgrind not installed"
else
    leak_kinds=${GSQ_VALGRIND_LEAK_KINDS:-definite,possible}
    VG=(valgrind --tool=memcheck --error-exitcode=97 --leak-check=full
        --errors-for-leak-kinds="$leak_kinds" --show-leak-kinds="$leak_kinds"
        --suppressions="$here/valgrind.supp" --num-callers=30)
    for prog in test_c-c11 test_cxx-c++17 test_genomics-c++17 test_sqlitecpp-c++17 test_c-static-sqlite example; do
        [ -x "$work/bin/$prog" ] || continue
        dir="$work/run/valgrind-$prog"
        mkdir -p "$dir"
        args=()
        [ "$prog" = example ] && args=("$dir/example.db")
        vlog="$work/logs/valgrind-$prog.vg"
        log="$work/logs/valgrind-$prog.log"
        (cd "$dir" && GSQ_TEST_DIR="$dir" timeout 900 "${VG[@]}" --log-file="$vlog" "$work/bin/$prog" "${args[@]}") >"$log" 2>&1
        rc=$?
        errors=$(grep 'ERROR SUMMARY' "$vlog" 2>/dev/null | tail -n1 | sed 's/^==[0-9]*== //')
        if [ "$rc" = 0 ] && [[ "$errors" == "ERROR SUMMARY: 0 errors"* ]]; then
            pass "valgrind $prog: no memory errors or leaks"
        elif [ "$rc" = 97 ] || [[ "$errors" == "ERROR SUMMARY: "[1-9]* ]]; then
            fail "valgrind $prog: $errors (log: $vlog)"
            grep -E 'Invalid|uninitialised|Conditional jump|lost in loss record|^==[0-9]+==    (at|by) ' "$vlog" |
                head -n 60 | sed 's/^/    /'
        else
            fail "valgrind $prog: the program failed under valgrind, exit code $rc (log: $log)"
            grep '^FAIL ' "$log" | head -n 20 | sed 's/^/    /'
            tail -n 5 "$log" | sed 's/^/    /'
        fi
    done
fi

# 6. install.sh into a temporary prefix, then pkg-config
prefix="$work/prefix"
if LIBGENOMICSQLITE="$lib" "$repo/install.sh" --prefix "$prefix" >"$work/logs/install.log" 2>&1; then
    pass "install.sh --prefix"
    ok=1
    for f in lib/libgenomicsqlite.so include/genomicsqlite.h lib/pkgconfig/genomicsqlite.pc; do
        [ -f "$prefix/$f" ] || { ok=0; fail "install.sh did not install $f"; }
    done
    if [ -x "$repo/target/release/genomicsqlite" ] && [ ! -x "$prefix/bin/genomicsqlite" ]; then
        ok=0
        fail "install.sh did not install bin/genomicsqlite"
    fi
    cmp -s "$repo/include/genomicsqlite.h" "$prefix/include/genomicsqlite.h" || { ok=0; fail "installed header differs"; }
    [ "$ok" = 1 ] && pass "install.sh installed the files"
    pc_version=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --modversion genomicsqlite 2>&1)
    cargo_version=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' "$repo/Cargo.toml" | head -n1)
    if [ "$pc_version" = "$cargo_version" ]; then
        pass "pkg-config --modversion genomicsqlite = $pc_version"
    else
        fail "pkg-config --modversion genomicsqlite: '$pc_version', expected '$cargo_version'"
    fi
    flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs genomicsqlite sqlite3 2>&1)
    echo "  pkg-config --cflags --libs genomicsqlite sqlite3: $flags"
    # exactly as a user would: cc prog.c $(pkg-config --cflags --libs genomicsqlite sqlite3)
    # shellcheck disable=SC2086
    if (cd "$work" && cc -o "$work/bin/example-installed" "$here/example.c" $flags) >"$work/logs/example-installed.log" 2>&1; then
        pass "cc example.c \$(pkg-config --cflags --libs genomicsqlite sqlite3)"
        LD_LIBRARY_PATH="$prefix/lib" check_example example-installed "$work/bin/example-installed"
        if LD_LIBRARY_PATH="$prefix/lib" ldd "$work/bin/example-installed" | grep -q "$prefix/lib/libgenomicsqlite.so"; then
            pass "installed example uses the installed library"
        else
            fail "installed example uses the installed library: $(LD_LIBRARY_PATH="$prefix/lib" ldd "$work/bin/example-installed" | grep genomicsqlite)"
        fi
    else
        fail "cc example.c with pkg-config flags: $(cat "$work/logs/example-installed.log")"
    fi
else
    fail "install.sh --prefix $prefix: $(tail -n 5 "$work/logs/install.log")"
fi

finish
