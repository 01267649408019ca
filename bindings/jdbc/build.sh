#!/usr/bin/env bash
# bindings/jdbc/build.sh -- build the JDBC driver jar and run its tests.
#
#   bash bindings/jdbc/build.sh [--no-test] [TestClass ...]
#
# Builds bindings/jdbc/genomicsqlite-jdbc-VERSION.jar (VERSION from Cargo.toml): the classes of
# package net.mlin.genomicsqlite, META-INF/services/java.sql.Driver and, at the root,
# libgenomicsqlite.so (a copy of target/release/libgenomicsqlite.so without debug info; built
# with `cargo build --release --lib` if missing). Then compiles and runs the JUnit 4 tests
# (all, or the named classes) with LIBGENOMICSQLITE pointing at the library under test; the
# output ends with "N passed, M failed, K skipped".
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
    echo "== cargo build --release --lib (no $LIB yet)"
    (cd "$REPO" && cargo build --release --lib) || die "cargo build failed"
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

echo "== running the tests (sqlite-jdbc: $SQLITE_JDBC_JAR; library: $LIB)"
export LIBGENOMICSQLITE="$LIB"
exec java -Dgsq.repo="$REPO" -Dgsq.jar="$JAR" -Dgsq.version="$VERSION" \
    -cp "$JAR:$SQLITE_JDBC_JAR:$JUNIT_CP:$BUILD/test-classes" net.mlin.genomicsqlite.TestMain "$@"
