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
from conftest import BIN, OURS, REPO

SERVER = os.path.join(REPO, "tests", "web", "fault_http.py")
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


def test_unsigned_dbi_is_checked_against_all_bytes_fetched_at_open(site, server, expected):
    """A .dbi without the digest (as 0.9.4 writes them) is checked against every byte the first
    request fetched (web_small_KiB = 64 KiB), also when the reader's chunks are single 32 KiB
    pages: a damaged copy of page 2 is refused, not served in place of the file's."""
    name = "dbi_first_bytes.db"
    shutil.copy(os.path.join(site, "comp.db"), os.path.join(site, name))
    dbi = os.path.join(site, name + ".dbi")
    shutil.copy(os.path.join(site, "comp.db.dbi"), dbi)
    with open(os.path.join(site, name), "rb") as f:
        head = f.read(65536)
    ps = int.from_bytes(head[16:18], "big") or 65536
    assert ps <= 32768, "page 2 must lie inside the first 64 KiB"
    page2 = bytearray(head[ps:2 * ps])
    page2[ps // 2] ^= 0xFF
    c = sqlite3.connect(dbi)
    c.execute("DELETE FROM web_dbi_meta WHERE key = 'genomicsqlite_pages_sha256'")
    c.execute("INSERT OR REPLACE INTO web_dbi_pages(offset, data) VALUES (?, ?)", (ps, bytes(page2)))
    c.commit()
    c.close()
    p, _ = run_shell(uri_of(server.url(name)), QUERIES)
    assert p.returncode == 0, p.stderr
    assert p.stdout == expected
    warnings = [ln for ln in p.stderr.splitlines() if "ignoring .dbi" in ln]
    assert len(warnings) == 1 and "offset %d differs" % ps in warnings[0], p.stderr


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
uri, start, queries = sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
c = sqlite3.connect(uri, uri=True)
# a partial scan: the reader sees sequential reads and leaves read-ahead transfers in flight
c.execute(start).fetchall()
pid = os.fork()
if pid == 0:
    try:
        got = [c.execute(q).fetchall() for q in queries]
        print(json.dumps(got), file=sys.stderr)
        os._exit(0 if json.dumps(got) == sys.argv[6] else 3)
    except BaseException as e:
        print("child:", e, file=sys.stderr)
        os._exit(4)
try:
    ok = json.dumps([c.execute(q).fetchall() for q in queries]) == sys.argv[6]
except sqlite3.Error as e:
    print("parent:", e, file=sys.stderr)
    ok = False
deadline = time.monotonic() + 30
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() > deadline:
        os.kill(pid, 9)
        print("child hung", file=sys.stderr)
        os.waitpid(pid, 0)
        status = 9
        break
    time.sleep(0.05)
print(json.dumps({"parent_ok": ok, "child_status": os.waitstatus_to_exitcode(status) if status != 9 else "hung"}))
"""


@pytest.mark.parametrize("kind", ["zstd", "web"])
def test_fork_with_url_open(site, server, kind):
    """Before: the child waited forever for its parent's read-ahead; when both queried over the
    shared kept-alive connections, the parent failed ("database disk image is malformed")."""
    import json
    import urllib.parse
    url = server.url("comp.db", "delay")
    if kind == "zstd":
        uri = uri_of(url)
        start = "SELECT * FROM ints LIMIT 4000"
    else:
        uri = "file:/__web__?vfs=web&mode=ro&immutable=1&web_url=" + urllib.parse.quote(url, safe="")
        QUERIES_WEB = ["SELECT count(*), sum(length(data)) FROM nested_vfs_zstd_pages",
                       "SELECT pageno, length(data) FROM nested_vfs_zstd_pages WHERE pageno = 100"]
        start = "SELECT pageno, length(data) FROM nested_vfs_zstd_pages LIMIT 60"
    queries = QUERIES if kind == "zstd" else QUERIES_WEB
    local = sqlite3.connect(os.path.join(site, "comp.db")) if kind == "web" else gsqtool.open_compressed(
        os.path.join(site, "comp.db"), readonly=True)
    want = json.dumps([[list(r) for r in local.execute(q).fetchall()] for q in queries])
    local.close()
    for _ in range(2):
        p = subprocess.run([sys.executable, "-c", FORK, os.path.dirname(__file__), OURS, uri, start,
                            json.dumps(queries), want], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        r = json.loads(p.stdout)
        assert r == {"parent_ok": True, "child_status": 0}, (r, p.stderr[-2000:])


# ---------------------------------------------------------------------------------------------
# defect 6: deadlines and messages that name what the server did

def _closed_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("case,url_of,pattern,limit_s", [
    ("refused", lambda srv: "http://127.0.0.1:%d/x.db" % _closed_port(), r"connect", 6),
    ("dns", lambda srv: "http://no-such-host.invalid/x.db", r"resolve", 6),
    ("star", lambda srv: srv.url("comp.db", "star"), r"no range in it.*bytes \*/", 6),
    ("absurd", lambda srv: srv.url("comp.db", "absurd"), r"impossible file size", 6),
    ("longer", lambda srv: srv.url("comp.db", "longer"), r"more than the \d+ bytes asked", 6),
    ("bigger", lambda srv: srv.url("comp.db", "bigger"), r"more than the \d+ bytes asked", 6),
])
def test_broken_server_fails_fast_with_a_clear_message(server, case, url_of, pattern, limit_s):
    """Before: refused connections and DNS failures were retried for 42 s, `bytes */N` too;
    a 2^62 total was "empty, not a compressed database yet"; a longer body was "truncated"."""
    p, took = run_shell(uri_of(url_of(server)) + "&vfs_log=2", QUERIES[:1])
    assert p.returncode != 0 and p.stdout == "", p.stdout
    assert re.search(pattern, p.stderr, re.I | re.S), p.stderr
    assert took < limit_s, "%s: failing took %.1f s" % (case, took)


def test_leftover_bytes_on_kept_alive_connection(server, expected):
    """Stray bytes after each response: the next request on that connection fails to parse,
    and is retried on a fresh connection (before: an error, no retry)."""
    p, _ = run_shell(uri_of(server.url("comp.db", "leftover")), QUERIES)
    assert p.returncode == 0, p.stderr
    assert p.stdout == expected


def test_read_deadline_bounds_a_trickling_server(server):
    """1500 bytes/s escapes the stall timeout; before, one light query ran for minutes."""
    uri = uri_of(server.url("comp.db", "slow")) + "&web_read_timeout_ms=3000&web_dbi_timeout_ms=1000"
    p, took = run_shell(uri, QUERIES[:1])
    assert p.returncode != 0, p.stdout
    assert took < 15, "took %.1f s" % took


def test_replaced_file_without_validators_is_detected(site, server):
    """A server sending no ETag/Last-Modified, and a file replaced by one of the same size while
    open: before, pages of both versions were mixed; now a new connection re-checks the header."""
    import urllib.parse
    path = os.path.join(site, "replaced.db")
    shutil.copy(os.path.join(site, "comp.db"), path)
    url = server.url("replaced.db", "noval+close")
    c = sqlite3.connect("file:/__web__?vfs=web&mode=ro&immutable=1&web_nodbi=1&web_url=" +
                        urllib.parse.quote(url, safe=""), uri=True)
    n = c.execute("SELECT count(*) FROM nested_vfs_zstd_dicts").fetchone()[0]
    size = os.path.getsize(path)
    o = sqlite3.connect(path)
    o.execute("UPDATE nested_vfs_zstd_pages SET btree_interior = NOT btree_interior WHERE pageno = 3")
    o.commit()
    o.close()
    assert os.path.getsize(path) == size
    with pytest.raises(sqlite3.Error) as ei:
        c.execute("SELECT count(*), sum(length(data)) FROM nested_vfs_zstd_pages").fetchone()
    c.close()
    assert n >= 0
    assert "disk I/O" in str(ei.value) or "changed" in str(ei.value), str(ei.value)
