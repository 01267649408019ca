#!/usr/bin/env bash
# bindings/jdbc/build.sh -- build the JDBC driver jar and run its tests.
#
#   bash bindings/jdbc/build.sh [--no-test] [TestClass ...]
#
# Builds bindings/jdbc/genomicsqlite-jdbc-VERSION.jar (VERSION from Cargo.toml): the classes of
# package net.mlin.genomicsqlite, META-INF/services/java.sql.Driver and, at the root,
# libgenomicsqlite.so (a copy of target/release/libgenomicsqlite.so without debug info; built
# with `cargo build --release -p genomicsqlite --lib` if missing). Then compiles and runs the
# JUnit 4 tests (all, or the named classes) with LIBGENOMICSQLITE pointing at the library under
# test; the output ends with "N passed, M failed, K skipped". The tests run twice: on the system
# SQLite (as Debian's sqlite-jdbc links it) and on another SQLite (see the end of this script).
#
# Needs only Debian packages: a JDK (javac, jar; 11 or later), libxerial-sqlite-jdbc-java,
# junit4 (which brings hamcrest), binutils (strip), and for the tests nginx-light, openssl and
# the peer venv of tests/setup.sh (GenomicSQLite 0.9.4, for interoperability).
# Environment:
#   LIBGENOMICSQLITE   library to bundle and test [<repo>/target/release/libgenomicsqlite.so]
#   SQLITE_JDBC_JAR    the sqlite-jdbc jar to compile and test against
#                      [/usr/share/java/sqlite-jdbc.jar, Debian's, on the system SQLite]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
BUILD="$HERE/build"

RUN_TESTS=1
if [ "${1:-}" = "--no-test" ]; then
    RUN_TESTS=0
    shift
fi

die() { echo "bindings/jdbc/build.sh: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

VERSION="$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$REPO/Cargo.toml" | head -n 1)"
[ -n "$VERSION" ] || die "no version in Cargo.toml"
JAR="$HERE/genomicsqlite-jdbc-$VERSION.jar"
SQLITE_JDBC_JAR="${SQLITE_JDBC_JAR:-/usr/share/java/sqlite-jdbc.jar}"
JUNIT_CP="/usr/share/java/junit4.jar:/usr/share/java/hamcrest-core.jar"
for f in "$SQLITE_JDBC_JAR" /usr/share/java/junit4.jar /usr/share/java/hamcrest-core.jar; do
    [ -f "$f" ] || die "$f not found (apt-get install libxerial-sqlite-jdbc-java junit4)"
done
command -v javac >/dev/null || die "javac not found (apt-get install default-jdk-headless)"

LIB="${LIBGENOMICSQLITE:-$REPO/target/release/libgenomicsqlite.so}"
if [ ! -f "$LIB" ]; then
    [ -z "${LIBGENOMICSQLITE:-}" ] || die "LIBGENOMICSQLITE=$LIBGENOMICSQLITE is not a file"
    echo "== cargo build --release -p genomicsqlite --lib (no $LIB yet)"
    (cd "$REPO" && cargo build --release -p genomicsqlite --lib) || die "cargo build failed"
fi
LIB="$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")"

echo "== building $JAR"
rm -rf "$BUILD"
mkdir -p "$BUILD/classes" "$BUILD/test-classes"
javac --release 11 -Xlint:all -Werror -encoding UTF-8 -d "$BUILD/classes" -cp "$SQLITE_JDBC_JAR" \
    "$HERE"/src/main/java/net/mlin/genomicsqlite/*.java || die "javac failed"
cp -r "$HERE/src/main/resources/." "$BUILD/classes/"
strip --strip-debug -o "$BUILD/classes/libgenomicsqlite.so" "$LIB" || die "strip failed"
cat >"$BUILD/MANIFEST.MF" <<MF
Implementation-Title: genomicsqlite-jdbc
Implementation-Version: $VERSION
Automatic-Module-Name: net.mlin.genomicsqlite
MF
rm -f "$HERE"/genomicsqlite-jdbc-*.jar
jar --create --file "$JAR" --manifest "$BUILD/MANIFEST.MF" -C "$BUILD/classes" . || die "jar failed"
ls -l "$JAR"
[ "$RUN_TESTS" = 1 ] || exit 0

echo "== compiling the tests"
javac --release 11 -encoding UTF-8 -d "$BUILD/test-classes" -cp "$JAR:$SQLITE_JDBC_JAR:$JUNIT_CP" \
    "$HERE"/src/test/java/net/mlin/genomicsqlite/*.java || die "javac (tests) failed"

# run_tests LABEL [ENV=VALUE ...]: one run of the test classes; adds its counts to the totals.
PASSED=0 FAILED=0 SKIPPED=0
run_tests() {
    local label="$1"; shift
    local log="$BUILD/test-$label.log" line
    echo "== running the tests on $label (sqlite-jdbc: $SQLITE_JDBC_JAR; library: $LIB)"
    env "$@" LIBGENOMICSQLITE="$LIB" java -Dgsq.repo="$REPO" -Dgsq.jar="$JAR" -Dgsq.version="$VERSION" \
        -cp "$JAR:$SQLITE_JDBC_JAR:$JUNIT_CP:$BUILD/test-classes" net.mlin.genomicsqlite.TestMain \
        "${TEST_CLASSES[@]}" 2>&1 | tee "$log" || true   # failures are counted below
    line="$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1 || true)"
    if [ -z "$line" ]; then
        FAILED=$((FAILED + 1))
        return
    fi
    read -r p _ f _ k _ <<<"$line"
    PASSED=$((PASSED + p)) FAILED=$((FAILED + f)) SKIPPED=$((SKIPPED + k))
}
TEST_CLASSES=("$@")

SYSTEM_SQLITE="$(sqlite3 --version 2>/dev/null | cut -d' ' -f1 || true)"
[ -n "$SYSTEM_SQLITE" ] || die "the sqlite3 shell is missing (apt-get install sqlite3)"
run_tests "system-SQLite-$SYSTEM_SQLITE" GSQ_EXPECT_SQLITE="$SYSTEM_SQLITE"

# The upstream sqlite-jdbc jar runs on its own SQLite instead of the system's. Maven Central is
# out of reach here, so run the same tests once more with the driver on another SQLite: the
# amalgamation that rusqlite bundles (a cargo dependency), built as a libsqlite3.so.0 that
# Debian's JNI library then binds to through LD_LIBRARY_PATH.
AMALGAMATION="$(cd "$REPO" && cargo metadata --format-version 1 --offline 2>/dev/null | python3 -c '
import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "libsqlite3-sys":
        print(os.path.join(os.path.dirname(p["manifest_path"]), "sqlite3", "sqlite3.c")); break
' || true)"
if [ -n "$AMALGAMATION" ] && [ -f "$AMALGAMATION" ]; then
    OTHER="$REPO/target/jdbc-test-sqlite"
    if [ ! -f "$OTHER/libsqlite3.so.0" ] || [ "$AMALGAMATION" -nt "$OTHER/libsqlite3.so.0" ]; then
        echo "== building $AMALGAMATION as $OTHER/libsqlite3.so.0"
        mkdir -p "$OTHER"
        # COLUMN_METADATA and UNLOCK_NOTIFY: routines that sqlite-jdbc's JNI library calls.
        gcc -O1 -fPIC -shared -DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_ENABLE_UNLOCK_NOTIFY \
            -Wl,-soname,libsqlite3.so.0 -o "$OTHER/libsqlite3.so.0.tmp" "$AMALGAMATION" -lm -lpthread \
            && mv "$OTHER/libsqlite3.so.0.tmp" "$OTHER/libsqlite3.so.0" || die "cannot build $AMALGAMATION"
    fi
    OTHER_VERSION="$(sed -n 's/^#define SQLITE_VERSION  *"\([^"]*\)".*/\1/p' "$(dirname "$AMALGAMATION")/sqlite3.h")"
    run_tests "bundled-SQLite-$OTHER_VERSION" GSQ_EXPECT_SQLITE="$OTHER_VERSION" \
        LD_LIBRARY_PATH="$OTHER${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
    echo "SKIP the run on another SQLite: no libsqlite3-sys amalgamation found by cargo metadata"
    SKIPPED=$((SKIPPED + 1))
fi

echo
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
