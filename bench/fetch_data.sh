#!/usr/bin/env bash
# Obtain the real-world benchmark database: org.Hs.eg.sqlite (~344 MB), the Bioconductor
# human gene annotation database, as packaged by Debian (r-bioc-org.hs.eg.db).
# Result: bench/data/org.Hs.eg.sqlite. Idempotent; bench/data is gitignored.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="$here/data"
target="$data/org.Hs.eg.sqlite"
mkdir -p "$data"

if [ -s "$target" ] && [ "$(head -c 15 "$target")" = "SQLite format 3" ]; then
    echo "fetch_data: $target already present ($(stat -c %s "$target") bytes)"
    exit 0
fi

if ! command -v apt-get >/dev/null || ! command -v dpkg >/dev/null; then
    echo "fetch_data: apt-get and dpkg are required (Debian/Ubuntu) to download r-bioc-org.hs.eg.db" >&2
    exit 1
fi

cd "$data"
deb="$(ls -1 r-bioc-org.hs.eg.db_*.deb 2>/dev/null | head -n1 || true)"
if [ -z "$deb" ]; then
    # apt-get download needs the package lists; refresh them only if the package is unknown.
    if ! apt-cache show r-bioc-org.hs.eg.db >/dev/null 2>&1; then
        echo "fetch_data: apt-get update" >&2
        apt-get update -qq
    fi
    echo "fetch_data: apt-get download r-bioc-org.hs.eg.db" >&2
    # apt-get download runs as the _apt user when possible; make the directory writable for it
    chmod 0777 "$data" 2>/dev/null || true
    apt-get download -q r-bioc-org.hs.eg.db
    deb="$(ls -1 r-bioc-org.hs.eg.db_*.deb | head -n1)"
fi

rm -rf "$data/extract"
mkdir -p "$data/extract"
echo "fetch_data: dpkg -x $deb" >&2
dpkg -x "$deb" "$data/extract"
found="$(find "$data/extract" -name 'org.Hs.eg.sqlite' -type f | head -n1)"
if [ -z "$found" ]; then
    echo "fetch_data: org.Hs.eg.sqlite not found inside $deb" >&2
    exit 1
fi
mv -f "$found" "$target.tmp"
mv -f "$target.tmp" "$target"
rm -rf "$data/extract"
# keep the .deb (about 90 MB) so a rerun after deleting the sqlite file needs no network
if [ "$(head -c 15 "$target")" != "SQLite format 3" ]; then
    echo "fetch_data: $target is not an SQLite database" >&2
    exit 1
fi
echo "fetch_data: $target ($(stat -c %s "$target") bytes)"
