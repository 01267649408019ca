"""fork() while threads read (issue 16, defect 1's known limit): a child must never hang on a lock
a thread of its parent held at the fork. Python `multiprocessing` with the fork start method and
job launchers fork processes whose other threads are busy in the library.

A fresh interpreter (so that pytest's own threads stay out of it) runs FORKER: threads query a
compressed database over the web (tests/web/fault_http.py on 127.0.0.1, which stops by itself)
and a local compressed file, each on its own connection, while the main thread keeps its own
connections to the same URL and to another local file busy (scans with read-ahead, idle
releases of the outer read transaction) and forks 200 times. Each child queries through the connections it inherited and through fresh
ones, checks the answers and exits; the parent gives each child 10 s and fails on one that
hangs, with its stack (gdb) in the message.

The deterministic reproduction of the web reader's lock hazard is web/tests/fork.rs (threads
sharing one file); this one checks the whole stack the way a Python user meets it.

The threads read a *copy* of the local file: SQLite's unix VFS keeps one lock mutex per file
(inode) for all connections of a process, so a child that locks a file which a parent's thread
was locking at the fork can hang inside SQLite, with or without this library (SQLite does not
support carrying connections across fork()). Over the web there is no such shared SQLite state:
the threads and the child read the same URL.
"""
import json
import os
import shutil
import subprocess
import sys

from conftest import OURS, REPO
from test_web_integrity import Server, uri_of

FORKER = r"""
import json, os, random, shutil, sqlite3, subprocess, sys, threading, time
sys.path.insert(0, sys.argv[1])
import gsqtool
gsqtool.load_extension(sys.argv[2])
web_uri, local_uri, copy_uri, want = sys.argv[3], sys.argv[4], sys.argv[5], json.loads(sys.argv[6])
forks = int(sys.argv[7])
SCAN = "SELECT count(*), sum(a), total(big) FROM ints"
RANGE = "SELECT count(*), sum(a), total(big) FROM ints WHERE id BETWEEN 20000 AND 20700"
LOOKUP = "SELECT * FROM ints WHERE id = ?"
stop = threading.Event()
errors = []

def hammer(uri, seed):
    rng = random.Random(seed)
    try:
        c = sqlite3.connect(uri, uri=True)
        while not stop.is_set():
            if rng.random() < 0.2:
                c.execute(SCAN).fetchall()
            else:
                c.execute(LOOKUP, (rng.randrange(1, 40000),)).fetchall()
    except BaseException as e:
        errors.append(repr(e))

threads = [threading.Thread(target=hammer, args=(u, k), daemon=True)
           for k, u in enumerate([web_uri, web_uri, copy_uri, copy_uri])]
for t in threads:
    t.start()

def answers(c):
    return [list(r) for r in c.execute(RANGE).fetchall()] + \
           [list(r) for r in c.execute(LOOKUP, (30001,)).fetchall()]

mine = [sqlite3.connect(u, uri=True) for u in (web_uri, local_uri)]
rng = random.Random(16)
hung, failed, done = [], [], 0
for i in range(forks):
    # Keep this thread's connections busy up to the fork: read-ahead in flight, and an outer
    # read transaction that the idle-release thread ends about 20 ms after the last read.
    for c in mine:
        c.execute("SELECT * FROM ints WHERE id > ? LIMIT 200", (rng.randrange(1, 40000),)).fetchall()
    time.sleep(rng.uniform(0, 0.025))
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            for c in mine:
                if answers(c) != want:
                    code = 3
            for u in (web_uri, local_uri):
                fresh = sqlite3.connect(u, uri=True)
                if answers(fresh) != want:
                    code = 3
                fresh.close()
        except BaseException as e:
            print("child:", repr(e), file=sys.stderr)
            code = 4
        os._exit(code)
    deadline = time.monotonic() + 10
    while True:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got:
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                failed.append((i, code))
            break
        if time.monotonic() > deadline:
            stack = ""
            if shutil.which("gdb"):
                stack = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                                       capture_output=True, text=True, timeout=60).stdout[-6000:]
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            hung.append((i, stack))
            break
        time.sleep(0.002)
    done += 1
    if hung or failed:
        break
stop.set()
for t in threads:
    t.join(30)
print(json.dumps({"forks": done, "hung": hung, "failed": failed, "thread_errors": errors}))
"""


def test_children_never_hang_while_threads_read(tmp_path, compressed_db):
    site = str(tmp_path)
    os.symlink(compressed_db, os.path.join(site, "comp.db"))
    copy = os.path.join(site, "copy.db")
    shutil.copy(compressed_db, copy)
    server = Server(site)
    try:
        web_uri = uri_of(server.url("comp.db"))
        local_uri = uri_of(compressed_db, mode="ro")
        import sqlite3
        c = sqlite3.connect(local_uri, uri=True)
        want = [list(r) for r in c.execute(
                    "SELECT count(*), sum(a), total(big) FROM ints WHERE id BETWEEN 20000 AND 20700")] + \
               [list(r) for r in c.execute("SELECT * FROM ints WHERE id = ?", (30001,))]
        c.close()
        p = subprocess.run([sys.executable, "-c", FORKER, os.path.dirname(__file__), OURS, web_uri,
                            local_uri, uri_of(copy, mode="ro"), json.dumps(want), "200"],
                           capture_output=True, text=True, timeout=300, cwd=REPO)
    finally:
        server.stop()
    assert p.returncode == 0, p.stderr[-3000:]
    r = json.loads(p.stdout)
    assert not r["hung"], "children hung (fork number, stack): %s" % (r["hung"],)
    assert not r["failed"], (r["failed"], p.stderr[-3000:])
    assert r["thread_errors"] == [], r["thread_errors"]
    assert r["forks"] == 200
