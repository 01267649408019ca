"""Where the compressed bytes of a GenomicSQLite file go, by b-tree of its inner database.

    python3 bench/size_by_btree.py LIBGENOMICSQLITE FILE [--min-pages 300]

Maps each inner page to its b-tree with the inner database's `dbstat` (read through the zstd
VFS) and sums the stored size of its row in the outer file's page table (`length(data)`).
B-trees of at least --min-pages pages (those `--compact` trains a dictionary for) are listed one
by one, the others summed in one line. Needs a Python whose sqlite3 module can load extensions
(Debian's /usr/bin/python3) and an SQLite built with dbstat.
"""

import argparse
import collections
import json
import sqlite3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lib", help="path of libgenomicsqlite.so")
    ap.add_argument("file", help="a compressed database")
    ap.add_argument("--min-pages", type=int, default=300)
    args = ap.parse_args()

    boot = sqlite3.connect(":memory:")
    boot.enable_load_extension(True)
    boot.load_extension(args.lib)
    uri = boot.execute("SELECT genomicsqlite_uri(?, ?)", (args.file, json.dumps({"mode": "ro"}))).fetchone()[0]
    inner = sqlite3.connect(uri, uri=True)
    btree_of = dict(inner.execute("SELECT pageno, name FROM dbstat"))
    outer = sqlite3.connect("file:%s?mode=ro" % args.file, uri=True)

    pages = collections.Counter()
    stored = collections.Counter()
    for pageno, n in outer.execute("SELECT pageno, length(data) FROM nested_vfs_zstd_pages"):
        name = btree_of.get(pageno, "(pages dbstat does not list)")
        pages[name] += 1
        stored[name] += n

    small = [name for name in pages if pages[name] < args.min_pages]
    for name in sorted(set(pages) - set(small), key=lambda k: -stored[k]):
        print("%-32s %7d pages %8.2f MB" % (name, pages[name], stored[name] / 1e6))
    print("%-32s %7d pages %8.2f MB" % (
        "%d b-trees of < %d pages" % (len(small), args.min_pages),
        sum(pages[k] for k in small), sum(stored[k] for k in small) / 1e6))
    print("%-32s %7d pages %8.2f MB" % ("total", sum(pages.values()), sum(stored.values()) / 1e6))


if __name__ == "__main__":
    main()
