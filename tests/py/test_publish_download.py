"""`genomicsqlite DB --publish DIR` and `genomicsqlite URL --download` (issue 13), against nginx
on 127.0.0.1: publish -> download -> open locally gives the original's results; an interrupted
download resumes; a corrupted byte on the server or a wrong manifest is refused with nothing left
behind; a missing manifest downloads with a clear warning."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO
from test_web import nginx_serving, BIN, QUERIES, local_uri, run_shell

DELAY_PROXY = os.path.join(REPO, "tests", "web", "delay_proxy.py")


@pytest.fixture(scope="module")
def published(tmp_path_factory, compressed_db, plain_db):
    """DIR with the compressed test database published, its source recorded."""
    d = str(tmp_path_factory.mktemp("published"))
    src = os.path.join(d, "..", "data.gsq")
    shutil.copy(compressed_db, src)
    p = subprocess.run([BIN, src, "--publish", d, "--source", plain_db[0]], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    return d


@pytest.fixture(scope="module")
def nginx(published):
    with nginx_serving(published) as n:
        yield n


def download(url, out, *extra, timeout=300):
    return subprocess.run([BIN, url, "--download", "-o", out] + list(extra), capture_output=True, text=True,
                          timeout=timeout)


def leftovers(directory):
    return sorted(f for f in os.listdir(directory) if "genomicsqlite" in f)


def test_manifest_records_provenance(published, plain_db):
    with open(os.path.join(published, "data.gsq.manifest.json")) as f:
        m = json.load(f)
    db = os.path.join(published, "data.gsq")
    with open(db, "rb") as f:
        data = f.read()
    assert m["size"] == len(data) and m["sha256"] == hashlib.sha256(data).hexdigest()
    assert m["identity"].startswith("sha256:") and m["compressed"] is True
    with open(plain_db[0], "rb") as f:
        assert m["source"] == {"name": os.path.basename(plain_db[0]), "sha256": hashlib.sha256(f.read()).hexdigest()}
    import sqlite3
    c = sqlite3.connect(plain_db[0])
    for table, n in m["tables"].items():
        assert c.execute('SELECT count(*) FROM "%s"' % table).fetchone()[0] == n, table
    c.close()
    outer = int.from_bytes(data[16:18], "big")
    assert m["outer_page_size"] == (65536 if outer == 1 else outer)
    import gsqtool
    inner = gsqtool.open_compressed(db, readonly=True)
    assert inner.execute("PRAGMA page_size").fetchone()[0] == m["page_size"]
    inner.close()
    dbi = sqlite3.connect(os.path.join(published, "data.gsq.dbi"))
    assert dbi.execute("SELECT value FROM web_dbi_meta WHERE key = 'genomicsqlite_identity'").fetchone()[0] == m["identity"]
    dbi.close()
    assert m["tool"].startswith("genomicsqlite ") and m["created"].endswith("Z")


def test_publish_download_open_gives_the_same_results(published, nginx, tmp_path):
    out = str(tmp_path / "copy.gsq")
    r, log = nginx.measure(lambda: download(nginx.url("data.gsq"), out, "-@", "3", "--block-KiB", "256"))
    assert r.returncode == 0, r.stderr
    assert "verified against" in r.stderr, r.stderr
    size = os.path.getsize(os.path.join(published, "data.gsq"))
    assert sum(int(line.split()[1]) for line in log if "manifest" not in line) == size
    want = run_shell(local_uri(os.path.join(published, "data.gsq")), QUERIES)
    got = run_shell(local_uri(out), QUERIES)
    assert want.returncode == 0 and got.returncode == 0 and got.stdout == want.stdout, got.stderr
    assert leftovers(str(tmp_path)) == []
    # FILE exists now: refused without -f
    again = download(nginx.url("data.gsq"), out)
    assert again.returncode != 0 and "already exists" in again.stderr


def test_interrupted_download_resumes(published, nginx, tmp_path):
    proxy = subprocess.Popen([sys.executable, DELAY_PROXY, "--target", nginx.vars["PORT"], "--delay-ms", "20",
                              "--ttl", "120"], stdout=subprocess.PIPE, text=True)
    try:
        port = proxy.stdout.readline().strip().split("=")[1]
        assert proxy.stdout.readline().strip() == "READY"
        slow_url = "http://127.0.0.1:%s/data.gsq" % port
        out = str(tmp_path / "resumed.gsq")
        p = subprocess.Popen([BIN, slow_url, "--download", "-o", out, "-@", "1", "--block-KiB", "64", "-q"])
        state = out + ".genomicsqlite-download.json"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with open(state) as f:
                    if json.load(f)["done"].count("1") >= 3:
                        break
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        p.send_signal(signal.SIGKILL)
        p.wait()
        time.sleep(0.5)  # nginx logs the request the kill cut short
        assert not os.path.exists(out)
        with open(state) as f:
            had = json.load(f)["done"].count("1")
        assert had >= 3
        # the same command again (same URL) resumes
        r, log = nginx.measure(lambda: download(slow_url, out, "--block-KiB", "64"))
    finally:
        proxy.terminate()
        proxy.wait()
    assert r.returncode == 0, r.stderr
    assert "resuming" in r.stderr and "verified" in r.stderr, r.stderr
    size = os.path.getsize(os.path.join(published, "data.gsq"))
    fetched = sum(int(line.split()[1]) for line in log if "manifest" not in line)
    # everything but the blocks already here (the open request fetches the first block again)
    assert fetched <= size - (had - 1) * 65536, (fetched, size, had)
    with open(out, "rb") as a, open(os.path.join(published, "data.gsq"), "rb") as b:
        assert a.read() == b.read()
    assert leftovers(str(tmp_path)) == []


def test_corrupted_byte_on_the_server_is_refused(published, nginx, tmp_path):
    bad = os.path.join(published, "corrupt.gsq")
    shutil.copy(os.path.join(published, "data.gsq"), bad)
    shutil.copy(os.path.join(published, "data.gsq.manifest.json"), bad + ".manifest.json")
    with open(bad, "r+b") as f:
        f.seek(os.path.getsize(bad) // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0x20]))
    out = str(tmp_path / "corrupt.gsq")
    r = download(nginx.url("corrupt.gsq"), out, "--block-KiB", "128")
    assert r.returncode == 1, r.stderr
    assert "verification" in r.stderr and "SHA-256" in r.stderr, r.stderr
    assert not os.path.exists(out) and leftovers(str(tmp_path)) == []


def test_wrong_manifest_is_refused(published, nginx, tmp_path):
    name = "wrong.gsq"
    shutil.copy(os.path.join(published, "data.gsq"), os.path.join(published, name))
    with open(os.path.join(published, "data.gsq.manifest.json")) as f:
        m = json.load(f)
    m["sha256"] = hashlib.sha256(b"another release").hexdigest()
    with open(os.path.join(published, name + ".manifest.json"), "w") as f:
        json.dump(m, f)
    out = str(tmp_path / name)
    r = download(nginx.url(name), out)
    assert r.returncode == 1 and "verification" in r.stderr, r.stderr
    assert not os.path.exists(out) and leftovers(str(tmp_path)) == []
    # a manifest for a file of another size is refused before anything is downloaded
    m["size"] += 1
    with open(os.path.join(published, name + ".manifest.json"), "w") as f:
        json.dump(m, f)
    r, log = nginx.measure(lambda: download(nginx.url(name), out))
    assert r.returncode == 1 and "manifest" in r.stderr, r.stderr
    assert not os.path.exists(out) and leftovers(str(tmp_path)) == []


def test_missing_manifest_downloads_unverified(published, nginx, tmp_path):
    name = "nomanifest.gsq"
    shutil.copy(os.path.join(published, "data.gsq"), os.path.join(published, name))
    out = str(tmp_path / name)
    r = download(nginx.url(name), out)
    assert r.returncode == 0, r.stderr
    assert "WITHOUT verification" in r.stderr, r.stderr
    with open(out, "rb") as a, open(os.path.join(published, name), "rb") as b:
        assert a.read() == b.read()


def test_download_usage_errors(tmp_path):
    r = subprocess.run([BIN, "not-a-url", "--download"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "URL" in r.stderr
    r = subprocess.run([BIN, "http://127.0.0.1:9/x.db", "--download", "-@", "0"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "-@" in r.stderr


def test_peer_reads_a_published_compaction_with_our_identity(published, nginx, plain_db, peer_lib, tmp_path):
    """0.9.4 reads a file compacted by our command (random outer user_version) over the web,
    with the .dbi that --publish wrote (its extra identity row)."""
    from test_web import POINT_LOOKUP, _local_repr, peer_query
    comp = str(tmp_path / "peercheck.gsq")
    p = subprocess.run([BIN, plain_db[0], "--compact", "-q", "-o", comp], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    with open(comp, "rb") as f:
        assert int.from_bytes(f.read(64)[60:64], "big") != 0  # the identity stamp
    p = subprocess.run([BIN, comp, "--publish", published, "-q"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    r, log = nginx.measure(lambda: peer_query(nginx.url("peercheck.gsq"), POINT_LOOKUP, peer_lib))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == _local_repr(comp, POINT_LOOKUP)
    assert any("peercheck.gsq.dbi" in line for line in log), log
