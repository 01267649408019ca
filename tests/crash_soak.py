#!/usr/bin/env python3
"""Crash soak: SIGKILL a writer of numbered transactions N times (default 1,000) and count
lost commits and corrupt files. Needs a python whose sqlite3 module can load extensions
(Debian's /usr/bin/python3, e.g. .venv/debian/bin/python).

    .venv/debian/bin/python tests/crash_soak.py [--kills 1000] [--lib PATH] [--file PATH] [--seed N]

Library: --lib, else $LIBGENOMICSQLITE, else target/release/libgenomicsqlite.so.
Exit status 0 only when there were no lost commits, no corrupt files, no bad rounds.
"""
import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "py"))
import gsqtool  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=1000)
    ap.add_argument("--lib", default=os.environ.get("LIBGENOMICSQLITE") or
                    os.path.join(os.path.dirname(HERE), "target/release/libgenomicsqlite.so"))
    ap.add_argument("--file", help="database file (default: a new temporary file)")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--config", default='{"inner_page_KiB": 4}', help="configuration JSON")
    ap.add_argument("--max-delay", type=float, default=0.5, help="longest random delay before a kill (s)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    gsqtool.load_extension(os.path.abspath(a.lib))
    with tempfile.TemporaryDirectory() as td:
        path = a.file or os.path.join(td, "soak.db")
        t0 = time.time()
        last_report = [t0]

        def log(msg):
            if a.verbose or time.time() - last_report[0] > 30:
                last_report[0] = time.time()
                print("[%6.0fs] %s" % (time.time() - t0, msg), flush=True)

        st = gsqtool.crash_rounds(os.path.abspath(a.lib), path, a.kills, seed=a.seed,
                                  cfg=json.loads(a.config), max_delay=a.max_delay, log=log,
                                  stop_on_corrupt=False)
        for p in st["problems"][:50]:
            print("PROBLEM:", p)
        print("library: %s  seed: %d  time: %.0fs" % (a.lib, a.seed, time.time() - t0))
        print("kills: %d  reported commits: %d  lost commits: %d  corrupt files: %d  "
              "bad rounds: %d  writer errors: %d" % (
                  st["kills"], st["reported_commits"], st["lost_commits"], st["corrupt_files"],
                  st["bad_rounds"], st["writer_errors"]))
    bad = st["lost_commits"] or st["corrupt_files"] or st["bad_rounds"] or st["writer_errors"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
