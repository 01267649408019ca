#!/usr/bin/env python3
"""A small HTTP/1.1 file server on 127.0.0.1 that misbehaves on request, for the web reader's
integrity tests (tests/py/test_web_integrity.py) and the mutation campaign (tests/mutation_campaign.py).

    python3 tests/web/fault_http.py --dir DIR [--ttl SECONDS]   # prints PORT=N, then serves

GET /MODES/NAME serves DIR/NAME (single byte ranges, keep-alive, ETag and Last-Modified from the
file's size and mtime) and misbehaves as MODES says, a '+'-separated list ("ok" for none):
  dbi500     requests for *.dbi answer 500
  dbislow    *.dbi bodies trickle at 1500 bytes/s
  dbihuge    *.dbi answers 200 with a 2 GiB body of zeros
  slow       every body trickles at 1500 bytes/s
  bigger     206 answers carry 10 bytes more than asked (and say so in Content-Range)
  longer     206 answers carry 10 bytes more than their Content-Range says
  absurd     Content-Range announces a total of 2^62 bytes
  star       206 answers say `Content-Range: bytes */SIZE`
  leftover   after every response, 7 stray bytes follow on the kept-alive connection
  noval      no ETag and no Last-Modified
  close      every response closes its connection (each request needs a new one)
  delay      every response waits 0.3 s (so that transfers are in flight when a client forks)
It exits after --ttl seconds (default 600) or on SIGTERM.
"""
import argparse
import email.utils
import os
import re
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TRICKLE = 1500


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        parts = self.path.lstrip("/").split("/", 1)
        if len(parts) != 2:
            return self.fail(404)
        modes, name = set(parts[0].split("+")), parts[1]
        path = os.path.join(self.server.root, name)
        if "/" in name or not os.path.isfile(path):
            return self.fail(404)
        is_dbi = name.endswith(".dbi")
        if "delay" in modes:
            time.sleep(0.3)
        if is_dbi and "dbi500" in modes:
            return self.fail(500)
        if is_dbi and "dbihuge" in modes:
            return self.huge()
        with open(path, "rb") as f:
            data = f.read()
        st = os.stat(path)
        size = len(data)
        headers = {}
        if "noval" not in modes:
            headers["ETag"] = '"%x-%x"' % (st.st_mtime_ns, size)
            headers["Last-Modified"] = email.utils.formatdate(st.st_mtime, usegmt=True)
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if m:
            start = int(m.group(1))
            end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
            if start >= size:
                headers["Content-Range"] = "bytes */%d" % size
                return self.send(416, b"", headers, modes)
            if "bigger" in modes:
                end = min(end + 10, size - 1)
            body = data[start:end + 1]
            if "longer" in modes:
                body += bytes(10)
            total = 2 ** 62 if "absurd" in modes else size
            headers["Content-Range"] = ("bytes */%d" % total) if "star" in modes else (
                "bytes %d-%d/%d" % (start, end, total))
            return self.send(206, body, headers, modes, trickle=("slow" in modes or (is_dbi and "dbislow" in modes)))
        return self.send(200, data, headers, modes, trickle=("slow" in modes or (is_dbi and "dbislow" in modes)))

    def send(self, status, body, headers, modes, trickle=False):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        if "close" in modes:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            if trickle:
                for i in range(0, len(body), TRICKLE // 10):
                    self.wfile.write(body[i:i + TRICKLE // 10])
                    self.wfile.flush()
                    time.sleep(0.1)
            else:
                self.wfile.write(body)
            if "leftover" in modes:
                self.wfile.write(b"garbage")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def huge(self):
        n = 2 << 30
        self.send_response(200)
        self.send_header("Content-Length", str(n))
        self.end_headers()
        block = bytes(1 << 16)
        sent = 0
        try:
            while sent < n:
                self.wfile.write(block)
                sent += len(block)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.server.huge_sent.append(sent)
        self.close_connection = True

    def fail(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # clients abort transfers on purpose (too large, too slow, the file closed)
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ttl", type=float, default=600)
    a = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.root = os.path.abspath(a.dir)
    srv.huge_sent = []
    threading.Timer(a.ttl, lambda: os._exit(0)).start()
    print("PORT=%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    socketserver.TCPServer.allow_reuse_address = True
    sys.exit(main())
