"""Child process for the genomics tests: loads one libgenomicsqlite (ours or the peer) and runs
a JSON list of operations read from stdin, printing the JSON list of results.

Operations: ["open", path] (a plain SQLite file, ":memory:" by default), ["exec", script],
["query", sql, params]. Results of a query are rows, or {"error": message}. BLOBs travel as
{"hex": "..."} both ways.
"""
import json
import sqlite3
import sys


def decode(v):
    return bytes.fromhex(v["hex"]) if isinstance(v, dict) else v


def encode(v):
    return {"hex": v.hex()} if isinstance(v, bytes) else v


def run_ops(ops, conn=None):
    """Runs the operations on `conn` (a new in-memory connection by default) with whichever
    library this process has loaded; returns their results (rows as lists, or {"error": ...})."""
    conn = conn or sqlite3.connect(":memory:", isolation_level=None)
    out = []
    for op in ops:
        try:
            if op[0] == "open":
                conn.close()
                conn = sqlite3.connect(op[1], isolation_level=None)
                out.append(None)
            elif op[0] == "exec":
                conn.executescript(op[1])
                out.append(None)
            else:
                params = [decode(p) for p in (op[2] if len(op) > 2 else [])]
                out.append([list(r) for r in conn.execute(op[1], params).fetchall()])
        except sqlite3.Error as e:
            out.append({"error": str(e)})
    return out


def run(lib, ops):
    boot = sqlite3.connect(":memory:")
    boot.enable_load_extension(True)
    boot.load_extension(lib)
    return [[[encode(v) for v in row] for row in res] if isinstance(res, list) else res
            for res in run_ops(ops)]


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], json.load(sys.stdin))))
