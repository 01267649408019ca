#!/usr/bin/python3
"""HTTP benchmarks: GenomicSQLite 0.9.4 (the peer) vs ours reading compacted org.Hs.eg databases
served by a loopback nginx (127.0.0.1 only), optionally through a delay proxy adding latency.

Each measurement runs in a fresh child process; requests and bytes are counted from nginx's
access log ($request_length, $bytes_sent). Results are checked against the same queries run
locally on the uncompressed database. Usually started by `bench/run.sh --web`. See bench/README.md.
"""

import argparse
import ctypes
import datetime
import json
import os
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no bench/__pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (bench/bench.py: engines, workloads, digests, compaction)

WORKLOADS = ["lookup1", "lookup1_nodbi", "lookups", "join", "scan"]
NGINX_CANDIDATES = ["nginx", "/usr/sbin/nginx"]


# --------------------------------------------------------------------------------------------
# child: open the web URI and run the queries (bench.child_queries does the work)
# --------------------------------------------------------------------------------------------

def child_main():
    spec = json.loads(sys.stdin.read())
    res = bench.child_queries(spec)
    sys.stdout.write("\n" + json.dumps(res) + "\n")


# --------------------------------------------------------------------------------------------
# loopback nginx and delay proxy
# --------------------------------------------------------------------------------------------

def _die_with_parent():
    # PR_SET_PDEATHSIG = 1: the server goes away with us even if we are killed
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Nginx:
    """nginx in the foreground (master_process off) on 127.0.0.1, serving ROOT, with a temp config."""

    def __init__(self, root):
        exe = next((shutil.which(c) for c in NGINX_CANDIDATES if shutil.which(c)), None)
        if not exe:
            raise RuntimeError("nginx not found (apt-get install nginx-light)")
        self.dir = tempfile.mkdtemp(prefix="gsq-bench-nginx-")
        self.log = os.path.join(self.dir, "access.log")
        for attempt in range(5):
            self.port = free_port()
            conf = os.path.join(self.dir, "nginx.conf")
            with open(conf, "w") as f:
                f.write(
                    """
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format bench '$status $request_length $bytes_sent "$request" "$http_range"';
    access_log {d}/access.log bench;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{ }}
    }}
}}
""".format(d=self.dir, port=self.port, root=root)
                )
            self.proc = subprocess.Popen([exe, "-p", self.dir, "-c", conf], preexec_fn=_die_with_parent,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.time() + 10
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    return
                except OSError:
                    time.sleep(0.05)
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
            self.stop()
            if "Address already in use" not in err:
                raise RuntimeError("nginx did not start: " + err)
        raise RuntimeError("nginx did not start (no free port)")

    def log_size(self):
        return os.path.getsize(self.log) if os.path.exists(self.log) else 0

    def entries_since(self, offset):
        """[(status, request_length, bytes_sent, request, range)] logged after OFFSET."""
        out = []
        if not os.path.exists(self.log):
            return out
        with open(self.log, "rb") as f:
            f.seek(offset)
            for line in f.read().decode(errors="replace").splitlines():
                parts = line.split(" ", 3)
                if len(parts) == 4:
                    out.append((int(parts[0]), int(parts[1]), int(parts[2]), parts[3]))
        return out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class DelayProxy:
    """TCP proxy on 127.0.0.1 adding DELAY seconds to every chunk sent client->server (so about
    DELAY per HTTP request round trip) and to every new connection (the TCP handshake)."""

    def __init__(self, upstream_port, delay):
        self.upstream_port = upstream_port
        self.delay = delay
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        time.sleep(self.delay)
        try:
            u = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            c.close()
            return
        for s in (c, u):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=self._pump, args=(u, c, 0), daemon=True).start()
        self._pump(c, u, self.delay)

    @staticmethod
    def _pump(src, dst, delay):
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                if delay:
                    time.sleep(delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def stop(self):
        self.stopping = True
        self.sock.close()


# --------------------------------------------------------------------------------------------
# parent
# --------------------------------------------------------------------------------------------

def run_web_child(spec, nginx, cold):
    bench.drop_cache(cold)
    off = nginx.log_size()
    with tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr:
        t0 = time.perf_counter()
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child"],
                             stdin=subprocess.PIPE, stdout=fout, stderr=ferr)
        p.stdin.write(json.dumps(spec).encode())
        p.stdin.close()
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
        p.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        out, err = fout.read(), ferr.read()
    time.sleep(0.2)  # let nginx finish logging connections the child just closed
    entries = nginx.entries_since(off)
    if p.returncode != 0:
        msg = err.decode(errors="replace").strip()
        raise RuntimeError("exit %d: %s" % (p.returncode, msg[-2000:] or "?"))
    res = json.loads(out.decode().strip().splitlines()[-1])
    res["process_s"] = t1 - t0
    res["maxrss_MB"] = ru.ru_maxrss / 1024.0
    res["requests"] = len(entries)
    res["bad_status"] = sorted({e[0] for e in entries if e[0] not in (200, 206)})
    res["MB_down"] = sum(e[2] for e in entries) / 1e6
    res["KB_up"] = sum(e[1] for e in entries) / 1e3
    res["dbi_requests"] = sum(1 for e in entries if ".dbi " in e[3])
    return res


def make_dbi(name, db, lib):
    """Write DB.dbi with the engine's own tool: the peer's `python -m genomicsqlite DB --dbi`, or
    our `genomicsqlite DB --dbi` ($GENOMICSQLITE_BIN or target/release/genomicsqlite)."""
    dbi = db + ".dbi"
    if os.path.exists(dbi) and os.path.getmtime(dbi) >= os.path.getmtime(db):
        return None
    if os.path.exists(dbi):
        os.unlink(dbi)
    if name == "peer":
        venv = lib
        for _ in range(5):  # .../VENV/lib/python3.X/site-packages/genomicsqlite/libgenomicsqlite.so
            venv = os.path.dirname(venv)
        cmd = [os.path.join(venv, "bin", "python"), "-m", "genomicsqlite", db, "--dbi"]
    else:
        exe = os.environ.get("GENOMICSQLITE_BIN") or os.path.join(bench.REPO, "target", "release", "genomicsqlite")
        cmd = [exe, db, "--dbi"]
    env = dict(os.environ, LIBGENOMICSQLITE=lib)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "%s: %s" % (" ".join(cmd), exc)
    if r.returncode != 0 or not os.path.exists(dbi):
        return "%s failed: %s" % (" ".join(cmd), (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1])
    return None


def local_digest(db, queries):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    d = bench.Digest()
    for sql, params_list in queries:
        for params in (params_list if params_list is not None else [()]):
            d.add(con.execute(sql, params))
    con.close()
    return d.hexdigest()


METRICS = ["requests", "MB_down", "time_s", "maxrss_MB"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small database, fewer lookups, 1 repeat")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per measurement (median; default 3, --quick 1)")
    ap.add_argument("--delay-ms", type=float, default=0.0, help="added latency per request via a loopback delay proxy (e.g. 50)")
    ap.add_argument("--lookups", type=int, default=None, help="random point lookups (default 2000, --quick 200)")
    ap.add_argument("--only", action="append", default=[], help="workloads (%s), comma-separated" % ",".join(WORKLOADS))
    ap.add_argument("--engines", default="peer,ours")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--output", default=None)
    ap.add_argument("--read-peer-file", action="store_true",
                    help="every engine reads the file (and .dbi) compacted by 0.9.4 (compares readers only)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child_main()
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    if repeats < 1:
        ap.error("--repeats must be at least 1")
    lookups = args.lookups if args.lookups is not None else (200 if args.quick else 2000)
    only = [w.strip() for o in args.only for w in o.split(",") if w.strip()] or list(WORKLOADS)
    for w in only:
        if w not in WORKLOADS:
            ap.error("unknown workload %r (choose from %s)" % (w, ", ".join(WORKLOADS)))
    only = [w for w in WORKLOADS if w in only]

    try:
        engines, unavailable, versions = bench.find_engines([e.strip() for e in args.engines.split(",") if e.strip()])
    except ValueError as exc:
        ap.error(str(exc))
    engines = [e for e in engines if e[1] != "plain"]
    source = bench.SOURCE_DB
    if not os.path.exists(source):
        sys.exit("%s missing: run bench/fetch_data.sh" % source)
    tag = "quick" if args.quick else "full"
    if args.quick:
        bench.make_small_db(source, bench.SMALL_DB)
        source = bench.SMALL_DB
    os.makedirs(bench.WORK, exist_ok=True)
    os.makedirs(bench.RESULTS, exist_ok=True)
    command = shlex.join([sys.executable] + sys.argv)
    if os.environ.get("BENCH_VIA_RUNSH"):  # set by run.sh
        command = "%s  (runs: %s)" % (shlex.join(["bench/run.sh"] + ["--web"] + sys.argv[1:]), command)
    print("web_bench: %s" % command, flush=True)

    # workloads (same generators as bench.py) and their expected results from the plain file
    wl_args = argparse.Namespace(seed=args.seed, lookups=lookups, scan_tables=1, warm_lookups=0)
    plan = bench.plan_queries(source, wl_args)
    workloads = {
        "lookup1": [[plan["lookup"][0][0], plan["lookup"][0][1][:1]]],
        "lookup1_nodbi": [[plan["lookup"][0][0], plan["lookup"][0][1][:1]]],
        "lookups": plan["lookup"],
        "join": plan["join"][1:],  # the selective join through three indexes
        "scan": plan["scan"][:1],  # full scan of the largest table
    }
    expected = {w: local_digest(source, workloads[w]) for w in only}

    # files to serve: each engine's own compacted database and .dbi
    www = tempfile.mkdtemp(prefix="gsq-bench-www-")
    notes = {}
    served = []
    if args.read_peer_file:
        engines.sort(key=lambda e: e[0] != "peer")  # the peer's file first
        if not engines or engines[0][0] != "peer":
            sys.exit("--read-peer-file needs the peer engine")
    for name, kind, lib, cfg in engines:
        if args.read_peer_file and name != "peer":
            db = bench.compacted_path("peer", source, tag)
            if not os.path.exists(db):
                unavailable[name] = "the peer's file is missing"
                continue
            os.symlink(db, os.path.join(www, "%s.db" % name))
            if os.path.exists(db + ".dbi"):
                os.symlink(db + ".dbi", os.path.join(www, "%s.db.dbi" % name))
            served.append((name, kind, lib, cfg, db))
            continue
        try:
            ok = bench.ensure_compacted(name, kind, lib, cfg, source, tag, lambda spec: bench.run_child(spec, []))
        except Exception as exc:
            print("web_bench: compacting with %s failed: %s" % (name, str(exc).strip().splitlines()[-1]), flush=True)
            ok = False
        if not ok:
            unavailable[name] = "compaction failed"
            continue
        db = bench.compacted_path(name, source, tag)
        err = make_dbi(name, db, lib)
        if err:
            notes[name] = "no .dbi: " + err
            print("web_bench: %s: %s" % (name, notes[name]), flush=True)
        os.symlink(db, os.path.join(www, "%s.db" % name))
        if os.path.exists(db + ".dbi"):
            os.symlink(db + ".dbi", os.path.join(www, "%s.db.dbi" % name))
        served.append((name, kind, lib, cfg, db))

    record = {"command": command, "started": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
              "source": source, "repeats": repeats, "lookups": lookups, "delay_ms": args.delay_ms, "read_peer_file": args.read_peer_file,
              "engines": {n: {"lib": l, "version": versions.get(n), "db": db, "db_bytes": os.path.getsize(db),
                              "dbi_bytes": os.path.getsize(db + ".dbi") if os.path.exists(db + ".dbi") else None}
                          for n, _, l, _, db in served},
              "unavailable": unavailable, "notes": notes, "expected": expected,
              "queries": {w: [q[0] for q in workloads[w]] for w in only}, "samples": {}, "median": {}, "errors": {}}
    nginx = Nginx(www)
    proxy = None
    failed = {}
    try:
        port = nginx.port
        if args.delay_ms > 0:
            proxy = DelayProxy(nginx.port, args.delay_ms / 1000.0)
            port = proxy.port
        print("web_bench: nginx on 127.0.0.1:%d%s" % (nginx.port, ", delay proxy +%g ms on 127.0.0.1:%d" % (args.delay_ms, port) if proxy else ""), flush=True)
        for w in only:
            for r in range(repeats):
                for name, kind, lib, cfg, db in served:
                    if name in failed:
                        continue
                    c = dict(cfg)
                    if w == "lookup1_nodbi":
                        c["web_nodbi"] = True
                    spec = {"bench": w, "engine": name, "engine_kind": "ext", "lib": lib, "config": c,
                            "db": "http://127.0.0.1:%d/%s.db" % (port, name), "queries": workloads[w]}
                    try:
                        res = run_web_child(spec, nginx, [db, db + ".dbi"])
                    except Exception as exc:
                        failed[name] = str(exc)
                        record["errors"].setdefault(w, {})[name] = str(exc)
                        print("  %-13s %-5s FAILED: %s" % (w, name, str(exc).strip().splitlines()[-1][:300]), flush=True)
                        continue
                    if res["digest"] != expected[w]:
                        res["wrong_result"] = True
                    record["samples"].setdefault(w, {}).setdefault(name, []).append(res)
                    print("  %-13s %-5s requests=%d (dbi %d) MB_down=%.3f time_s=%.3f maxrss_MB=%.1f%s%s" % (
                        w, name, res["requests"], res["dbi_requests"], res["MB_down"], res["time_s"], res["maxrss_MB"],
                        "  WRONG RESULT %s != %s" % (res["digest"], expected[w]) if res.get("wrong_result") else "",
                        "  HTTP status %s" % res["bad_status"] if res["bad_status"] else ""), flush=True)
    finally:
        if proxy:
            proxy.stop()
        nginx.cleanup()
        shutil.rmtree(www, ignore_errors=True)

    # table
    names = [n for n, *_ in served]
    table = [["workload.metric", "0.9.4", "ours", "ours/0.9.4"]]
    wrong = []
    for w in only:
        for m in METRICS:
            med = {}
            for n in names:
                vals = [s[m] for s in record["samples"].get(w, {}).get(n, [])]
                med[n] = statistics.median(vals) if vals else None
                if any(s.get("wrong_result") for s in record["samples"].get(w, {}).get(n, [])):
                    wrong.append("%s/%s" % (w, n))
            record["median"]["%s.%s" % (w, m)] = med
            p, o = med.get("peer"), med.get("ours")
            table.append(["%s.%s" % (w, m), bench.fmt(p), bench.fmt(o), bench.fmt(o / p) if o is not None and p else "n/a"])
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    lines = ["", "command: %s" % command,
             "medians of %d repeat(s); source %s served by nginx on 127.0.0.1%s; MB_down = sum of $bytes_sent"
             % (repeats, os.path.basename(source), " through a +%g ms delay proxy" % args.delay_ms if proxy else "")]
    for i, r in enumerate(table):
        lines.append("  ".join(c.rjust(widths[j]) if j else c.ljust(widths[j]) for j, c in enumerate(r)))
        if i == 0:
            lines.append("  ".join("-" * x for x in widths))
    for n, _, l, _, db in served:
        lines.append("%s = %s %s; serving %s (%d bytes) + .dbi (%s bytes)" % (
            n, l, versions.get(n, "?"), db, os.path.getsize(db), record["engines"][n]["dbi_bytes"]))
    for n, msg in list(unavailable.items()) + [(n, "web read failed: " + m.strip().splitlines()[-1][:300]) for n, m in failed.items()]:
        lines.append("%s: unavailable (%s)" % (n, msg))
    for n, msg in notes.items():
        lines.append("%s: %s" % (n, msg))
    if args.read_peer_file:
        lines.append("NOTE --read-peer-file: every engine read the file and .dbi made by 0.9.4")
    wrong = sorted(set(wrong))
    lines.append("results equal to the local plain-SQLite results: %s" % ("NO: " + ", ".join(wrong) if wrong else "yes"))
    text = "\n".join(lines)
    print(text)
    record["table"] = text
    out = args.output or os.path.join(bench.RESULTS, "web-%s-%s.json" % (tag, datetime.datetime.utcnow().strftime("%Y%m%d-%H%M%S")))
    with open(out, "w") as f:
        json.dump(record, f, indent=1)
    print("results written to %s" % out)
    if wrong or "peer" in failed:
        sys.exit(2)


if __name__ == "__main__":
    main()
