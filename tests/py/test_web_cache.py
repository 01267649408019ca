"""The persistent disk cache of web reads (issue 13): nginx on 127.0.0.1, requests and bytes
counted from its access log, many processes sharing one cache directory, and a cache directory
that is full, read-only, damaged, deleted while in use, or left behind by a killed process."""

import os
import random
import resource
import shutil
import signal
import subprocess
import time

import pytest

import gsqtool
from test_web import nginx_serving, POINT_LOOKUP, QUERIES, local_uri, make_dbi, run_shell, traffic, zstd_uri

CHANGE = ("UPDATE ints SET a = a + 3 WHERE id % 5 = 0; DELETE FROM texts WHERE n % 3 = 0; "
          "UPDATE blobs SET data = zeroblob(7000) WHERE id = 42")


@pytest.fixture(scope="module")
def site(tmp_path_factory, compressed_db):
    d = str(tmp_path_factory.mktemp("web_cache_site"))
    v1, v2 = os.path.join(d, "v1.db"), os.path.join(d, "v2.db")
    shutil.copy(compressed_db, v1)
    shutil.copy(compressed_db, v2)
    c = gsqtool.open_compressed(v2)
    c.executescript(CHANGE)
    c.close()
    for v in (v1, v2):
        make_dbi(v)
    return d


@pytest.fixture(scope="module")
def nginx(site):
    with nginx_serving(site) as n:
        yield n


def serve(site, version, name):
    """Publish version v1 or v2 under `name` (the database, then its .dbi), as a server would."""
    for suffix in ("", ".dbi"):
        tmp = os.path.join(site, ".%s%s.tmp" % (name, suffix))
        shutil.copy(os.path.join(site, version + ".db" + suffix), tmp)
        os.replace(tmp, os.path.join(site, name + suffix))


def expected(site, version, queries=QUERIES):
    r = run_shell(local_uri(os.path.join(site, version + ".db")), queries)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return r.stdout


def query(nginx, name, cache, queries=QUERIES, **kw):
    env = {"SQLITE_WEB_CACHE_DIR": cache}
    env.update(kw)
    return run_shell(zstd_uri(nginx.url(name)), queries, env=env)


def check(r, want, warnings=0):
    assert r.returncode == 0, r.stderr
    assert r.stdout == want, "WRONG RESULTS:\n%s\nexpected:\n%s" % (r.stdout, want)
    assert r.stderr.count("warning") == warnings, r.stderr


def entries(cache):
    return [os.path.join(d, f) for d, _, fs in os.walk(cache) for f in fs if not f.endswith(".lock")]


def test_second_process_revalidates_with_one_small_request(site, nginx, tmp_path):
    serve(site, "v1", "a.db")
    cache = str(tmp_path / "cache")
    want = expected(site, "v1", [POINT_LOOKUP])
    cold, cold_log = nginx.measure(lambda: query(nginx, "a.db", cache, [POINT_LOOKUP]))
    check(cold, want)
    assert any(".dbi" in line for line in cold_log), cold_log
    warm, warm_log = nginx.measure(lambda: query(nginx, "a.db", cache, [POINT_LOOKUP]))
    check(warm, want)
    n, b = traffic(warm_log)
    print("point lookup: first process %d requests, %d bytes; second %d requests, %d bytes"
          % (traffic(cold_log) + (n, b)))
    assert n <= 1 and b < 64000, warm_log


def test_sixteen_processes_on_an_empty_cache_download_about_once(site, nginx, tmp_path):
    serve(site, "v1", "b.db")
    want = expected(site, "v1", [POINT_LOOKUP])
    one, one_log = nginx.measure(lambda: query(nginx, "b.db", str(tmp_path / "alone"), [POINT_LOOKUP]))
    check(one, want)
    cache = str(tmp_path / "shared")
    script = ".bail on\n.load %s\n.headers off\n.mode quote\n.open '%s'\n%s;\n" % (
        gsqtool_ours(), zstd_uri(nginx.url("b.db")), POINT_LOOKUP)

    def sixteen():
        env = dict(os.environ, SQLITE_WEB_CACHE_DIR=cache)
        procs = [subprocess.Popen(["sqlite3", "-batch", ":memory:"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env) for _ in range(16)]
        return [p.communicate(script, timeout=120) + (p.returncode,) for p in procs]

    outs, log = nginx.measure(sixteen)
    for out, err, rc in outs:
        assert rc == 0 and out == want and "warning" not in err, err
    (n1, b1), (n16, b16) = traffic(one_log), traffic(log)
    print("16 processes together: %d requests, %d bytes (one process alone: %d, %d; ratio %.2f)"
          % (n16, b16, n1, b1, b16 / b1))
    assert b16 <= 1.5 * b1, log


def gsqtool_ours():
    from conftest import OURS
    return OURS


def test_file_replaced_on_the_server_between_runs(site, nginx, tmp_path):
    cache = str(tmp_path / "cache")
    serve(site, "v1", "c.db")
    check(query(nginx, "c.db", cache), expected(site, "v1"))
    versions_before = set(os.listdir(os.path.dirname(entries(cache)[0])))
    serve(site, "v2", "c.db")
    r, log = nginx.measure(lambda: query(nginx, "c.db", cache))
    check(r, expected(site, "v2"))  # the new version's results, no mix with cached old pages
    assert expected(site, "v1") != expected(site, "v2")
    assert len(log) > 2  # the new pages were fetched
    url_dir = os.path.dirname(os.path.dirname([e for e in entries(cache) if os.path.basename(e).startswith("c")][0]))
    versions = [v for v in os.listdir(url_dir) if os.path.isdir(os.path.join(url_dir, v))]
    assert len(versions) == 1, "old version not reclaimed: %s" % versions
    assert not set(versions) & versions_before
    # and back: v1 again is served correctly (its entries were reclaimed, so fetched again)
    serve(site, "v1", "c.db")
    check(query(nginx, "c.db", cache), expected(site, "v1"))


def test_damaged_entries_are_refetched_with_one_warning(site, nginx, tmp_path):
    cache = str(tmp_path / "cache")
    serve(site, "v1", "d.db")
    want = expected(site, "v1")
    check(query(nginx, "d.db", cache), want)
    files = entries(cache)
    assert len(files) > 5
    for k, path in enumerate(files):
        with open(path, "r+b") as f:
            data = f.read()
            if k % 2:
                f.truncate(len(data) // 2)  # torn
            else:
                f.seek(random.randrange(len(data)))
                f.write(b"\xff\x00\xff")  # damaged
    r, log = nginx.measure(lambda: query(nginx, "d.db", cache))
    check(r, want, warnings=1)
    assert "damaged" in r.stderr
    assert len(log) > 2
    # rewritten: the next process is warm again
    r, log = nginx.measure(lambda: query(nginx, "d.db", cache))
    check(r, want)
    assert len(log) <= 2, log


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))


def test_full_cache_directory_degrades_to_web_reads(site, nginx, tmp_path):
    """A disk that is full: every write fails (EFBIG under RLIMIT_FSIZE, like ENOSPC)."""
    cache = str(tmp_path / "cache")
    serve(site, "v1", "e.db")
    want = expected(site, "v1")
    script = ".bail on\n.load %s\n.headers off\n.mode quote\n.open '%s'\n%s" % (
        gsqtool_ours(), zstd_uri(nginx.url("e.db")), "".join(q + ";\n" for q in QUERIES))
    p = subprocess.run(["sqlite3", "-batch", ":memory:"], input=script, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, SQLITE_WEB_CACHE_DIR=cache), preexec_fn=_limit_file_size)
    assert p.returncode == 0 and p.stdout == want, p.stderr
    # one warning about the cache (the .dbi, which cannot be staged either, may add its own)
    assert p.stderr.count("web cache") == 1 and "unusable" in p.stderr, p.stderr


def test_read_only_cache_directory_degrades_to_web_reads(site, nginx, tmp_path):
    serve(site, "v1", "f.db")
    want = expected(site, "v1")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory's parent should be")
    # a directory that cannot be created or written, whoever runs the test (root ignores modes)
    check(query(nginx, "f.db", str(blocker / "cache")), want, warnings=1)
    if os.geteuid() != 0:
        cache = tmp_path / "ro"
        cache.mkdir()
        cache.chmod(0o555)
        check(query(nginx, "f.db", str(cache)), want, warnings=1)
    # a populated cache that became read-only is still read (and still right) where permitted
    cache = str(tmp_path / "cache")
    check(query(nginx, "f.db", cache), want)
    if os.geteuid() != 0:
        for d, _, _ in os.walk(cache):
            os.chmod(d, 0o555)
        check(query(nginx, "f.db", cache), want, warnings=1)


def test_cache_directory_deleted_while_in_use(site, nginx, tmp_path):
    cache = str(tmp_path / "cache")
    serve(site, "v1", "g.db")
    want = expected(site, "v1")
    # one lookup fills the cache a little, then the directory goes, then the scans need more pages
    queries = [POINT_LOOKUP, ".shell rm -rf '%s'" % cache] + QUERIES
    r = run_shell(zstd_uri(nginx.url("g.db")), queries, env={"SQLITE_WEB_CACHE_DIR": cache})
    check(r, expected(site, "v1", [POINT_LOOKUP]) + want)
    assert os.path.isdir(cache)  # made again by the later reads
    check(query(nginx, "g.db", cache), want)


def test_processes_killed_while_writing_leave_nothing_trusted(site, nginx, tmp_path):
    cache = str(tmp_path / "cache")
    serve(site, "v1", "h.db")
    want = expected(site, "v1")
    script = ".load %s\n.open '%s'\n%s" % (gsqtool_ours(), zstd_uri(nginx.url("h.db")),
                                           "".join(q + ";\n" for q in QUERIES))
    rng = random.Random(13)
    env = dict(os.environ, SQLITE_WEB_CACHE_DIR=cache)
    for k in range(12):
        p = subprocess.Popen(["sqlite3", "-batch", ":memory:"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, text=True, env=env)
        p.stdin.write(script)
        p.stdin.flush()
        time.sleep(rng.uniform(0.0, 0.15))
        p.kill()
        p.wait()
        if k % 4 == 3:
            shutil.rmtree(os.path.join(cache), ignore_errors=True)
    # and one entry left as a killed writer on a filesystem without atomic rename would
    if os.path.isdir(cache):
        for path in entries(cache)[:3]:
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) - 10)
    r = query(nginx, "h.db", cache)
    assert r.returncode == 0 and r.stdout == want, r.stderr
    assert r.stderr.count("warning") <= 1 and ("warning" not in r.stderr or "damaged" in r.stderr), r.stderr


def test_size_bound_evicts_least_recently_used(site, nginx, tmp_path):
    cache = str(tmp_path / "cache")
    serve(site, "v1", "i.db")
    want = expected(site, "v1")
    check(query(nginx, "i.db", cache, SQLITE_WEB_CACHE_MIB="1"), want)
    sizes = [os.path.getsize(p) for p in entries(cache)]
    size = os.path.getsize(os.path.join(site, "i.db"))
    assert size > 2 << 20, size
    # trimmed to 90% whenever an eighth of the bound has been written, and once more at close:
    # the closed cache is within the bound
    assert sum(sizes) <= 1 << 20, "cache holds %d bytes over a 1 MiB bound" % sum(sizes)
    assert sum(sizes) < size / 2


def test_cache_keys_in_config_and_uri(nginx, site, tmp_path):
    cache = str(tmp_path / "viaconfig")
    uri = zstd_uri(nginx.url("a.db"), web_cache_dir=cache, web_cache_MiB=64)
    assert "web_cache_dir=" in uri and "web_cache_MiB=64" in uri, uri
    serve(site, "v1", "a.db")
    r = run_shell(uri, [POINT_LOOKUP])
    assert r.returncode == 0 and r.stdout == expected(site, "v1", [POINT_LOOKUP]), r.stderr
    assert entries(cache)
    with pytest.raises(Exception, match="web_cache_MiB"):
        zstd_uri(nginx.url("a.db"), web_cache_MiB=0)
