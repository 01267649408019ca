"""Child process of the cloud tests: open a database the way users do and run queries.

    python query.py MODE DATABASE CONFIG_JSON SQL...

MODE `connect`: the Python binding's genomicsqlite.connect(DATABASE, read_only=True, **CONFIG);
MODE `uri`: Python's sqlite3 with the extension loaded ($LIBGENOMICSQLITE) and
genomicsqlite_uri(DATABASE, CONFIG) opened; MODE `web`: the same with a `vfs=web` URI (the file
as plain SQLite; CONFIG's web_dbi_url and vfs_log become URI parameters). With
GSQ_TEST_OPENS=N the database is opened and queried N times in this process. Prints the rows of every query as one JSON list;
on failure prints the error on stderr and exits 1. A child per case, so that each sees exactly
the environment (credentials) the test gives it.
"""
import json
import os
import sqlite3
import sys
import urllib.parse


def main():
    mode, db, config_json, queries = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    config = json.loads(config_json)
    try:
        for _ in range(int(os.environ.get("GSQ_TEST_OPENS", "1"))):
            if mode == "connect":
                import genomicsqlite

                conn = genomicsqlite.connect(db, read_only=True, **config)
            else:
                mem = sqlite3.connect(":memory:")
                mem.enable_load_extension(True)
                mem.load_extension(os.environ["LIBGENOMICSQLITE"])
                if mode == "web":
                    uri = "file:/__web__?vfs=web&mode=ro&immutable=1&web_url=" + urllib.parse.quote(db, safe="")
                    for k, v in config.items():
                        uri += "&%s=%s" % (k, urllib.parse.quote(str(v), safe=""))
                else:
                    uri = mem.execute("SELECT genomicsqlite_uri(?, ?)", (db, config_json)).fetchone()[0]
                conn = sqlite3.connect(uri, uri=True)
            rows = [[list(r) for r in conn.execute(q).fetchall()] for q in queries]
            conn.close()
    except Exception as exc:  # the message is what the test checks
        print("ERROR: %s: %s" % (type(exc).__name__, exc), file=sys.stderr)
        sys.exit(1)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
