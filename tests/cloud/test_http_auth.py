"""Credentials over plain HTTP, against nginx on 127.0.0.1 (tests/web/nginx.sh --include) that
checks them: a bearer token, an extra header (X-Api-Key), HTTP Basic from ~/.netrc, and
presigned URLs (nginx secure_link: an MD5 signature and expiry in the query string, refused
when wrong). A location that checks the token and redirects to another host
(localhost:PORT2) shows that the credentials stay with the host they were given for: the other
host logs the Authorization and X-Api-Key headers it receives. A small Python server answers
503 with Retry-After first, to show the wait is honoured and bounded.
"""
import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import REPO, free_port, assert_no_secret, child_env, query, requests_logged

NGINX_SH = os.path.join(REPO, "tests", "web", "nginx.sh")
TOKEN = "tok-7Hq2ZpX9rL4bearer"
API_KEY = "key-Vb81xQmZ0apikey"
NETRC_PASSWORD = "pw-3kTq9ZnetrcSecret"
LINK_SECRET = "link-secret-9QzT"


def _nginx_conf(root, other_port, log_dir):
    basic = base64.b64encode(b"alice:" + NETRC_PASSWORD.encode()).decode()
    return f"""
log_format gsqauth '$server_port $status "$request" auth="$http_authorization" key="$http_x_api_key"';
server {{
    listen 127.0.0.1:{other_port};
    access_log {log_dir}/other.log gsqauth;
    location /open/ {{ alias {root}/; }}
}}
map $http_authorization $bearer_ok {{ "Bearer {TOKEN}" 1; default 0; }}
map $http_authorization $basic_ok {{ "Basic {basic}" 1; default 0; }}
map $http_x_api_key $key_ok {{ "{API_KEY}" 1; default 0; }}
server {{
    listen 127.0.0.1:{{PORT}};
    access_log {log_dir}/private.log gsqauth;
    location /bearer/ {{ if ($bearer_ok = 0) {{ return 401; }} alias {root}/; }}
    location /header/ {{ if ($key_ok = 0) {{ return 403; }} alias {root}/; }}
    location /basic/ {{ if ($basic_ok = 0) {{ return 401; }} alias {root}/; }}
    location /signed/ {{
        secure_link $arg_md5,$arg_expires;
        secure_link_md5 "$secure_link_expires$uri {LINK_SECRET}";
        if ($secure_link = "") {{ return 403; }}
        if ($secure_link = "0") {{ return 410; }}
        alias {root}/;
    }}
    location /away/ {{
        if ($bearer_ok = 0) {{ return 401; }}
        rewrite ^/away/(.*)$ http://localhost:{other_port}/open/$1 redirect;
    }}
}}
"""


class Site:
    def __init__(self, root, tmp):
        self.other_port = free_port()
        self.port = free_port()
        self.logs = os.path.join(tmp, "logs")
        os.makedirs(self.logs)
        os.chmod(tmp, 0o755)
        os.chmod(self.logs, 0o777)
        conf = os.path.join(tmp, "auth.conf")
        with open(conf, "w") as f:
            f.write(_nginx_conf(root, self.other_port, self.logs).replace("{PORT}", str(self.port)))
        # The default server of nginx.sh serves `root` too (unused here).
        p = subprocess.run(["bash", NGINX_SH, "start", root, "--ttl", "600", "--include", conf],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, "nginx.sh: %s" % p.stderr
        info = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
        self.prefix = info["PREFIX"]
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)

    def url(self, path):
        return "http://127.0.0.1:%d/%s" % (self.port, path)

    def log(self, name):
        path = os.path.join(self.logs, name)
        return open(path).read() if os.path.exists(path) else ""

    def stop(self):
        subprocess.run(["bash", NGINX_SH, "stop", self.prefix], timeout=60)


@pytest.fixture(scope="module")
def site(tmp_path_factory, database):
    if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    gsq, dbi, _ = database
    root = tmp_path_factory.mktemp("www")
    os.chmod(root, 0o755)
    for name in (gsq, dbi):
        shutil.copy(name, root)
    s = Site(str(root), str(tmp_path_factory.mktemp("nginx")))
    yield s
    s.stop()


def _signed_link(path, expires):
    digest = hashlib.md5(("%d%s %s" % (expires, path, LINK_SECRET)).encode()).digest()
    md5 = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    return "%s?md5=%s&expires=%d" % (path, md5, expires)


def test_bearer_token(site, database, tmp_path):
    _, _, expected = database
    url = site.url("bearer/genes.gsq")
    p = query(url, env=child_env(tmp_path, SQLITE_WEB_BEARER_TOKEN=TOKEN))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == expected
    # From the configuration instead of the environment; the .dbi beside it got the token too.
    p = query(url, {"web_bearer_token": TOKEN, "vfs_log": 3}, env=child_env(tmp_path))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == expected
    assert "using .dbi" in p.stderr and requests_logged(p.stderr), p.stderr
    print("http:// with a bearer token: %d requests (vfs_log=3 summary)" % requests_logged(p.stderr))
    for token, want in ((None, "no bearer token was configured"), ("wrong-token", "refused the bearer token")):
        env = child_env(tmp_path, **({"SQLITE_WEB_BEARER_TOKEN": token} if token else {}))
        p = query(url, env=env)
        assert p.returncode == 1 and want in p.stderr and "HTTP 401" in p.stderr, p.stderr
        assert p.elapsed < 20


def test_extra_header(site, database, tmp_path):
    _, _, expected = database
    url = site.url("header/genes.gsq")
    p = query(url, {"web_headers": {"X-Api-Key": API_KEY}}, env=child_env(tmp_path))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == expected
    p = query(url, env=child_env(tmp_path, SQLITE_WEB_HEADERS="X-Api-Key: %s\nX-Other: 1" % API_KEY))
    assert p.returncode == 0, p.stderr
    p = query(url, env=child_env(tmp_path))
    assert p.returncode == 1 and "HTTP 403" in p.stderr, p.stderr
    p = query(url, {"web_headers": "not a header line " + API_KEY}, env=child_env(tmp_path))
    assert p.returncode == 1 and "web_headers" in p.stderr, p.stderr
    assert_no_secret([p.stderr], [API_KEY])


def test_netrc(site, database, tmp_path):
    _, _, expected = database
    url = site.url("basic/genes.gsq")
    p = query(url, env=child_env(tmp_path))
    assert p.returncode == 1 and "HTTP 401" in p.stderr, p.stderr
    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login alice password %s\n" % NETRC_PASSWORD)
    p = query(url, env=child_env(tmp_path))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == expected


def test_presigned_urls(site, database, tmp_path):
    _, _, expected = database
    expires = int(time.time()) + 600
    url = site.url(_signed_link("/signed/genes.gsq", expires).lstrip("/"))
    dbi = site.url(_signed_link("/signed/genes.gsq.dbi", expires).lstrip("/"))
    p = query(url, {"web_dbi_url": dbi, "vfs_log": 3}, env=child_env(tmp_path))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == expected
    assert "using .dbi" in p.stderr, p.stderr
    signature = url.split("md5=")[1].split("&")[0]
    assert_no_secret([p.stdout, p.stderr], [signature, dbi.split("md5=")[1].split("&")[0]])
    # nginx really checks the signature: a tampered one is refused at open.
    p = query(url.replace("expires=%d" % expires, "expires=%d" % (expires + 1)), env=child_env(tmp_path))
    assert p.returncode == 1 and "HTTP 403" in p.stderr, p.stderr


def test_redirect_to_another_host_keeps_credentials(site, database, tmp_path):
    _, _, expected = database
    url = site.url("away/genes.gsq")
    env = child_env(tmp_path, SQLITE_WEB_BEARER_TOKEN=TOKEN, SQLITE_WEB_HEADERS="X-Api-Key: " + API_KEY)
    p = query(url, {"vfs_log": 4}, env=env)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == expected
    assert "redirects to http://localhost:%d/open/genes.gsq" % site.other_port in p.stderr, p.stderr
    private, other = site.log("private.log"), site.log("other.log")
    assert 'auth="Bearer %s"' % TOKEN in private  # the host named got the token...
    assert "GET /open/genes.gsq" in other, other
    assert TOKEN not in other and API_KEY not in other, other  # ...the other host did not
    assert 'auth="-" key="-"' in other, other


class _Busy(http.server.BaseHTTPRequestHandler):
    """503 with Retry-After to the first request of each path, then a redirect to nginx."""
    seen = {}
    target = ""
    wait = "2"

    def do_GET(self):
        n = _Busy.seen.get(self.path, 0)
        _Busy.seen[self.path] = n + 1
        if n == 0 or _Busy.wait == "3600":
            self.send_response(503)
            self.send_header("Retry-After", _Busy.wait)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(302)
        self.send_header("Location", _Busy.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_retry_after(site, database, tmp_path):
    _, _, expected = database
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    _Busy.target = "http://localhost:%d/open" % site.other_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = "http://127.0.0.1:%d" % server.server_address[1]
        _Busy.wait = "2"
        p = query(base + "/genes.gsq", {"web_nodbi": True, "vfs_log": 2}, env=child_env(tmp_path))
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout) == expected
        assert p.elapsed >= 2.0, "Retry-After: 2 was not honoured (%.2f s)" % p.elapsed
        assert "HTTP 503" in p.stderr and "retrying in 2000 ms" in p.stderr, p.stderr
        # A wait beyond the bound ends the retries at once, with the status in the message.
        _Busy.wait = "3600"
        p = query(base + "/genes2.gsq", {"web_nodbi": True}, env=child_env(tmp_path))
        assert p.returncode == 1 and "HTTP 503" in p.stderr, p.stderr
        assert "the server asked to retry after 3600 s" in p.stderr, p.stderr
        assert p.elapsed < 15, "took %.1f s" % p.elapsed
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4, 5])
def test_no_secret_in_logs(site, tmp_path, level):
    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login alice password %s\n" % NETRC_PASSWORD)
    env = child_env(tmp_path, SQLITE_WEB_BEARER_TOKEN=TOKEN, SQLITE_WEB_HEADERS="X-Api-Key: " + API_KEY,
                    SQLITE_WEB_LOG=level)
    outputs = []
    expires = int(time.time()) + 600
    signed = [site.url(_signed_link("/signed/genes.gsq%s" % ext, expires).lstrip("/")) for ext in ("", ".dbi")]
    signatures = [u.split("md5=")[1].split("&")[0] for u in signed]
    for path in ("bearer/genes.gsq", "header/genes.gsq", "basic/genes.gsq", "away/genes.gsq", "bearer/missing.gsq"):
        p = query(site.url(path), {"vfs_log": level}, env=env)
        outputs += [p.stdout, p.stderr]
    # Presigned URLs, opened as a compressed database and as a plain file (vfs=web), twice in
    # one process (the second open runs at the level the first one set).
    for uri in ("uri", "web"):
        p = query(signed[0], {"vfs_log": level, "web_dbi_url": signed[1]}, env=env, mode=uri,
                  queries=["SELECT count(*) FROM sqlite_master"], opens=2)
        assert p.returncode == 0, p.stderr
        outputs += [p.stdout, p.stderr]
    # The token and headers in the configuration (they then travel in the URI), through the
    # Python binding and genomicsqlite_uri(), on success and on failure.
    cfg = {"vfs_log": level, "web_bearer_token": TOKEN, "web_headers": {"X-Api-Key": API_KEY}}
    for mode in ("connect", "uri"):
        for path in ("bearer/genes.gsq", "bearer/missing.gsq", "header/missing.gsq"):
            p = query(site.url(path), cfg, env=child_env(tmp_path, SQLITE_WEB_LOG=level), mode=mode)
            outputs += [p.stdout, p.stderr]
    bad = dict(env, SQLITE_WEB_BEARER_TOKEN=TOKEN + "x")
    p = query(site.url("bearer/genes.gsq"), {"vfs_log": level}, env=bad)
    assert p.returncode == 1
    outputs += [p.stdout, p.stderr]
    assert_no_secret(outputs, [TOKEN, API_KEY, NETRC_PASSWORD] + signatures)
