"""The web reader never answers wrong and never hangs (issue 16): fork with a URL open, damaged
or foreign .dbi files, a failing or bloated .dbi probe, servers that misbehave.

Files are served by tests/web/fault_http.py (127.0.0.1, stops by itself), whose URL path
chooses the misbehaviour: http://127.0.0.1:PORT/MODES/NAME (see its docstring).
"""
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest

import gsqtool
from conftest import OURS, REPO

SERVER = os.path.join(REPO, "tests", "web", "fault_http.py")
BIN = os.environ.get("GENOMICSQLITE_BIN") or os.path.join(REPO, "target", "release", "genomicsqlite")
QUERIES = [
    "SELECT count(*), sum(a), total(big) FROM ints",
    "SELECT count(*), sum(length(v)), sum(n) FROM texts",
    "SELECT count(*), sum(length(data)) FROM blobs",
    "SELECT * FROM ints WHERE id = 30001",
]


class Server:
    def __init__(self, root):
        self.proc = subprocess.Popen([sys.executable, SERVER, "--dir", root, "--ttl", "900"],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("PORT="), line
        self.base = "http://127.0.0.1:%s" % line.strip().split("=")[1]

    def url(self, name, modes="ok"):
        return "%s/%s/%s" % (self.base, modes, name)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def site(tmp_path_factory, compressed_db):
    d = str(tmp_path_factory.mktemp("web_integrity"))
    shutil.copy(compressed_db, os.path.join(d, "comp.db"))
    p = subprocess.run([BIN, os.path.join(d, "comp.db"), "--dbi", "-f", "-q"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return d


@pytest.fixture(scope="module")
def server(site):
    s = Server(site)
    yield s
    s.stop()


def run_shell(uri, queries, timeout=120):
    script = ".bail on\n.load %s\n.headers off\n.mode quote\n.open '%s'\n%s" % (
        OURS, uri, "".join(q + ";\n" for q in queries))
    t0 = time.monotonic()
    p = subprocess.run(["sqlite3", "-batch", ":memory:"], input=script, capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode >= 0, "sqlite3 crashed: signal %d\n%s" % (-p.returncode, p.stderr)
    return p, time.monotonic() - t0


def uri_of(url, **cfg):
    import json
    return gsqtool.sqlfunc("genomicsqlite_uri", url, json.dumps(cfg))


@pytest.fixture(scope="module")
def expected(site):
    p, _ = run_shell(uri_of(os.path.join(site, "comp.db"), mode="ro"), QUERIES)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    return p.stdout


# ---------------------------------------------------------------------------------------------
# defect 2: a damaged or foreign .dbi is detected and ignored with one warning

def dbi_pages(path):
    c = sqlite3.connect(path)
    rows = c.execute("SELECT offset, length(data) FROM web_dbi_pages ORDER BY offset").fetchall()
    c.close()
    return rows


def damage_dbi(site, name, sql):
    """comp.db served as NAME with a copy of its .dbi changed by SQL."""
    shutil.copy(os.path.join(site, "comp.db"), os.path.join(site, name))
    dbi = os.path.join(site, name + ".dbi")
    shutil.copy(os.path.join(site, "comp.db.dbi"), dbi)
    c = sqlite3.connect(dbi)
    c.executescript(sql)
    c.commit()
    c.close()


def flip_sql(offsets):
    return "".join(
        "UPDATE web_dbi_pages SET data = substr(data, 1, length(data) / 2) || "
        "(CASE WHEN substr(data, length(data) / 2 + 1, 1) = x'00' THEN x'37' ELSE x'00' END) || "
        "substr(data, length(data) / 2 + 2) WHERE offset = %d;" % o for o in offsets)


def dbi_cases(site):
    pages = [o for o, _ in dbi_pages(os.path.join(site, "comp.db.dbi"))]
    # the outer file's dictionary pages: those of nested_vfs_zstd_dicts's b-tree (by dbstat)
    c = sqlite3.connect(os.path.join(site, "comp.db"))
    ps = c.execute("PRAGMA page_size").fetchone()[0]
    try:
        dict_pages = [(r[0] - 1) * ps for r in c.execute(
            "SELECT pageno FROM dbstat WHERE name = 'nested_vfs_zstd_dicts'")]
    except sqlite3.OperationalError:
        dict_pages = []
    c.close()
    dict_pages = [o for o in dict_pages if o in pages] or pages[-3:]
    return {
        "page1-body": flip_sql([0]),
        "dictionary-pages": flip_sql(dict_pages),
        "every-page": flip_sql([o for o in pages if o > 0]),
        "page-removed": "DELETE FROM web_dbi_pages WHERE offset = %d;" % pages[len(pages) // 2],
        "page-moved": "UPDATE web_dbi_pages SET offset = offset + %d WHERE offset = %d;" % (ps, pages[-1])
        if pages[-1] + ps not in pages else "UPDATE web_dbi_pages SET offset = %d WHERE offset = %d;" % (
            pages[-1] + 2 * ps, pages[-1]),
    }


@pytest.mark.parametrize("case", ["page1-body", "dictionary-pages", "every-page", "page-removed", "page-moved"])
def test_damaged_dbi_is_ignored(site, server, expected, case):
    name = "dbi_%s.db" % case
    damage_dbi(site, name, dbi_cases(site)[case])
    p, _ = run_shell(uri_of(server.url(name)), QUERIES)
    assert p.returncode == 0, p.stderr
    assert p.stdout == expected, "WRONG RESULTS with a damaged .dbi (%s)" % case
    warnings = [ln for ln in p.stderr.splitlines() if "ignoring .dbi" in ln]
    assert len(warnings) == 1 and name + ".dbi" in warnings[0], p.stderr


def test_good_dbi_is_used_and_quiet(site, server, expected):
    p, _ = run_shell(uri_of(server.url("comp.db")) + "&vfs_log=2", QUERIES)
    assert p.returncode == 0 and p.stdout == expected, p.stderr
    assert "using .dbi" in p.stderr and "ignoring" not in p.stderr, p.stderr


# ---------------------------------------------------------------------------------------------
# defect 5: a broken .dbi probe costs little

@pytest.mark.parametrize("modes,limit_s", [("dbi500", 5), ("dbislow", 10), ("dbihuge", 10)])
def test_broken_dbi_probe_costs_little(site, server, expected, modes, limit_s):
    """Before: 500 delayed each open by 42 s, a slow .dbi by 61 s, a huge one took 1 GB."""
    script = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], input=sys.stdin.read(), "
              "capture_output=True, text=True); sys.stdout.write(p.stdout); sys.stderr.write(p.stderr); "
              "print('MAXRSS_KB=%d' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)")
    uri = uri_of(server.url("comp.db", modes))
    stdin = ".bail on\n.load %s\n.headers off\n.mode quote\n.open '%s'\n%s" % (
        OURS, uri, "".join(q + ";\n" for q in QUERIES))
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-c", script, "sqlite3", "-batch", ":memory:"], input=stdin,
                       capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    assert p.stdout == expected, p.stderr
    rss = int(re.search(r"MAXRSS_KB=(\d+)", p.stderr).group(1))
    assert took < limit_s, "open with a broken .dbi (%s) took %.1f s" % (modes, took)
    assert rss < 300_000, "open with a broken .dbi (%s) used %d KB" % (modes, rss)


# ---------------------------------------------------------------------------------------------
# defect 1: fork with a web database open

FORK = r"""
import os, sys, sqlite3, time, json
sys.path.insert(0, sys.argv[1])
import gsqtool
gsqtool.load_extension(sys.argv[2])
uri, queries = sys.argv[3], json.loads(sys.argv[4])
c = sqlite3.connect(uri, uri=True)
def run():
    return [c.execute(q).fetchall() for q in queries]
first = run()
# the child and the parent both query at once, several times (read-ahead threads busy)
pid = os.fork()
if pid == 0:
    try:
        ok = all(run() == first for _ in range(3))
        os._exit(0 if ok else 3)
    except BaseException as e:
        print("child:", e, file=sys.stderr)
        os._exit(4)
ok = all(run() == first for _ in range(3))
deadline = time.monotonic() + 60
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() > deadline:
        os.kill(pid, 9)
        print("child hung", file=sys.stderr)
        sys.exit(5)
    time.sleep(0.05)
print(json.dumps({"parent_ok": ok, "child_status": os.waitstatus_to_exitcode(status)}))
"""


@pytest.mark.parametrize("kind", ["zstd", "web"])
def test_fork_with_url_open(site, server, kind):
    import json
    import urllib.parse
    if kind == "zstd":
        uri = uri_of(server.url("comp.db"))
    else:
        uri = "file:/__web__?vfs=web&mode=ro&immutable=1&web_url=" + urllib.parse.quote(server.url("comp.db"), safe="")
    queries = QUERIES if kind == "zstd" else [
        "SELECT count(*), sum(length(data)) FROM nested_vfs_zstd_pages",
        "SELECT pageno, length(data) FROM nested_vfs_zstd_pages WHERE pageno = 1000"]
    for _ in range(3):
        p = subprocess.run([sys.executable, "-c", FORK, os.path.dirname(__file__), OURS, uri, json.dumps(queries)],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        r = json.loads(p.stdout)
        assert r == {"parent_ok": True, "child_status": 0}, (r, p.stderr)
