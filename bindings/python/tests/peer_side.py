"""Run by GenomicSQLite 0.9.4's Python (the peer) in a subprocess: uses the peer's own
genomicsqlite.connect. Usage:
  peer_side.py write DB FIRST COUNT    append rows FIRST..FIRST+COUNT-1 to table t (created if needed)
  peer_side.py read DB                 print JSON {"version", "count", "sum", "digest", "page_size"}
"""

import hashlib
import json
import sys

import genomicsqlite


def row(i):
    return (i, "row %d %s" % (i, "abcdefgh" * (i % 7)), i * 0.5)


def main():
    command, db = sys.argv[1], sys.argv[2]
    if command == "write":
        first, count = int(sys.argv[3]), int(sys.argv[4])
        conn = genomicsqlite.connect(db)
        conn.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, s TEXT, f REAL)")
        conn.executemany("INSERT INTO t VALUES (?,?,?)", (row(i) for i in range(first, first + count)))
        conn.commit()
        conn.close()
        print(json.dumps({"version": genomicsqlite.__version__}))
    elif command == "read":
        conn = genomicsqlite.connect(db, read_only=True)
        digest = hashlib.sha256()
        count = 0
        total = 0
        for i, s, f in conn.execute("SELECT id, s, f FROM t ORDER BY id"):
            digest.update(("%d|%s|%r\n" % (i, s, f)).encode())
            count += 1
            total += i
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        conn.close()
        print(json.dumps({"version": genomicsqlite.__version__, "count": count, "sum": total,
                          "digest": digest.hexdigest(), "page_size": page_size}))
    else:
        sys.exit("unknown command " + command)


if __name__ == "__main__":
    main()
