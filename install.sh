#!/usr/bin/env bash
# install.sh: install GenomicSQLite for C/C++ programs (and the genomicsqlite command).
#
#   ./install.sh [--prefix DIR] [--lib FILE] [--no-build]
#
# Installs, under PREFIX (default /usr/local):
#   lib/libgenomicsqlite.so           the library (also a loadable SQLite extension)
#   include/genomicsqlite.h           the C/C++ header
#   lib/pkgconfig/genomicsqlite.pc    for: cc prog.c $(pkg-config --cflags --libs genomicsqlite sqlite3)
#   bin/genomicsqlite                 the command-line shell, if it was built
# The library is target/release/libgenomicsqlite.so, built first with `cargo build --release`
# if it is missing or older than the sources; --lib FILE (or $LIBGENOMICSQLITE) installs that
# file instead, without building. $DESTDIR, if set, is prepended to every destination (staging
# for packagers). Installing into /usr or /usr/local as root runs ldconfig.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prefix=/usr/local
lib_src=${LIBGENOMICSQLITE:-}
build=1

usage() { sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
die() {
    echo "install.sh: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --lib) [ $# -ge 2 ] || die "--lib needs a file"; lib_src=$2; shift 2 ;;
    --lib=*) lib_src=${1#--lib=}; shift ;;
    --no-build) build=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[ -n "$prefix" ] || die "--prefix must not be empty"
case "$prefix" in
/*) ;;
*) prefix=$(cd "$(dirname "$prefix")" 2>/dev/null && pwd)/$(basename "$prefix") ||
    die "the parent of --prefix $prefix does not exist" ;;
esac
prefix=${prefix%/}
[ -n "$prefix" ] || prefix=/

version=$(sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' "$here/Cargo.toml" | head -n1)
[ -n "$version" ] || die "cannot read the version from $here/Cargo.toml"

release=$here/target/release
cli_src=$release/genomicsqlite
if [ -z "$lib_src" ]; then
    lib_src=$release/libgenomicsqlite.so
    need_build=0
    if [ ! -f "$lib_src" ]; then
        need_build=1
    elif [ -n "$(find "$here/Cargo.toml" "$here/Cargo.lock" "$here/src" "$here/web" "$here/cli" \
        -newer "$lib_src" -type f 2>/dev/null | head -n1)" ]; then
        need_build=1
    fi
    if [ "$need_build" = 1 ]; then
        [ "$build" = 1 ] || die "$lib_src is missing or out of date, and --no-build was given"
        command -v cargo >/dev/null || die "cargo not found: install Rust, or pass --lib FILE"
        echo "install.sh: building: cargo build --release" >&2
        (cd "$here" && nice cargo build --release) || die "cargo build --release failed"
    fi
fi
[ -f "$lib_src" ] || die "library not found: $lib_src"

dest=${DESTDIR:-}$prefix
installed=()
put() { # put MODE SRC DEST
    install -D -m "$1" "$2" "$3"
    installed+=("$3")
}

put 0755 "$lib_src" "$dest/lib/libgenomicsqlite.so"
put 0644 "$here/include/genomicsqlite.h" "$dest/include/genomicsqlite.h"
pc_tmp=$(mktemp)
trap 'rm -f "$pc_tmp"' EXIT
# prefix goes in as given; escape sed's special characters in it
prefix_sed=$(printf '%s' "$prefix" | sed 's/[&|\\]/\\&/g')
sed -e "s|@PREFIX@|$prefix_sed|g" -e "s|@VERSION@|$version|g" "$here/genomicsqlite.pc.in" >"$pc_tmp"
put 0644 "$pc_tmp" "$dest/lib/pkgconfig/genomicsqlite.pc"
if [ -x "$cli_src" ]; then
    put 0755 "$cli_src" "$dest/bin/genomicsqlite"
else
    echo "install.sh: note: $cli_src not built; the genomicsqlite command was not installed" >&2
fi

ran_ldconfig=0
if [ -z "${DESTDIR:-}" ] && [ "$(id -u)" = 0 ] && { [ "$prefix" = /usr ] || [ "$prefix" = /usr/local ]; }; then
    if command -v ldconfig >/dev/null; then
        ldconfig && ran_ldconfig=1
    elif [ -x /sbin/ldconfig ]; then
        /sbin/ldconfig && ran_ldconfig=1
    fi
fi

echo "Installed GenomicSQLite $version:"
for f in "${installed[@]}"; do
    echo "  $f"
done
[ "$ran_ldconfig" = 1 ] && echo "Ran ldconfig."
if [ "$prefix" != /usr ] && [ "$prefix" != /usr/local ]; then
    cat <<EOF
To build and run programs against it:
  export PKG_CONFIG_PATH=$prefix/lib/pkgconfig\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}
  cc prog.c \$(pkg-config --cflags --libs genomicsqlite sqlite3)
  LD_LIBRARY_PATH=$prefix/lib ./a.out      (or link with -Wl,-rpath,$prefix/lib)
EOF
else
    echo "Build programs with: cc prog.c \$(pkg-config --cflags --libs genomicsqlite sqlite3)"
fi
