//! The HTTP range reader against a real nginx on 127.0.0.1, started by
//! tests/web/nginx.sh (temp prefix, stops by itself): plain HTTP with access-log request
//! counting, and HTTPS/HTTP2 with a self-signed certificate made by `openssl` at test time.

use genomicsqlite_test_support::{random_bytes, repo_root, temp_dir, Nginx};
use genomicsqlite_web::{WebErrorKind, WebFile, WebOptions};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// tests/web: the helper scripts.
fn web_dir() -> PathBuf {
    repo_root().join("tests/web")
}

/// Access log lines: (status, bytes, connection, protocol, range).
fn access_log(nginx: &Nginx) -> Vec<(u32, u64, u64, String, String)> {
    // nginx writes each line when the request ends; give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(200));
    nginx
        .log_lines()
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let range = l.split('"').nth(3).unwrap_or("").to_string();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].to_string(),
                range,
            )
        })
        .collect()
}

fn random_file(dir: &Path, name: &str, n: usize, seed: u64) -> Vec<u8> {
    let data = random_bytes(n, seed);
    std::fs::write(dir.join(name), &data).unwrap();
    data
}

#[test]
fn nginx_random_and_sequential_reads_with_request_counting() {
    let dir = temp_dir("webnginx-plain");
    let data = random_file(&dir, "data.bin", 20 * 1024 * 1024 + 777, 42);
    let ngx = Nginx::start(&dir, false, 300);
    let opts = WebOptions {
        log_level: 0,
        ..WebOptions::default()
    };
    let f = WebFile::open(&ngx.url("data.bin"), &opts).unwrap();
    assert_eq!(f.size(), data.len() as u64);
    assert!(
        f.validators().0.is_some() && f.validators().1.is_some(),
        "nginx sends ETag and Last-Modified"
    );

    // Random reads identical to the file.
    let mut x = 12345u64;
    for _ in 0..200 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = 1 + (x >> 50) as usize; // up to 16 KiB
        let off = (x >> 8) % (data.len() - len) as u64;
        let mut buf = vec![0u8; len];
        f.read_at(off, &mut buf).unwrap();
        assert!(
            buf == data[off as usize..off as usize + len],
            "mismatch at {off}+{len}"
        );
    }
    let s = f.stats();
    let log = access_log(&ngx);
    assert_eq!(
        log.len() as u64,
        s.requests,
        "client and access log disagree on the request count"
    );
    assert!(
        log.iter().all(|l| l.0 == 206),
        "all ranged: {:?}",
        log.iter().find(|l| l.0 != 206)
    );
    let sent: u64 = log.iter().map(|l| l.1).sum();
    assert_eq!(sent, s.bytes_fetched);
    // The first 3 random reads cost one 64 KiB chunk each; after that, miss i fetches at most
    // the aligned block of 2^(i-2) chunks around it (fewer where chunks are already cached);
    // a read straddling the block's end adds one chunk. So 200 reads take far fewer requests
    // than reads, and the bytes stay within a couple of transfers of the file.
    for (i, l) in log.iter().enumerate() {
        let block = 1u64 << i.saturating_sub(2).min(7);
        assert!(
            l.1 <= 64 * 1024 * (block + 1),
            "request {i}: {} bytes, more than its block of {block} chunks",
            l.1
        );
    }
    assert!(
        log.len() < 100,
        "{} requests for 200 random reads",
        log.len()
    );
    assert!(
        sent <= 2 * data.len() as u64 + 8 * 1024 * 1024,
        "{sent} bytes fetched"
    );
    // Keep-alive: far fewer connections than requests.
    let conns: HashSet<u64> = log.iter().map(|l| l.2).collect();
    assert!(
        conns.len() * 4 <= log.len(),
        "{} connections for {} requests",
        conns.len(),
        log.len()
    );
    drop(f);

    // A sequential scan of the whole file: few, large requests.
    let f = WebFile::open(&ngx.url("data.bin"), &opts).unwrap();
    let before = access_log(&ngx).len();
    let mut buf = vec![0u8; 16384];
    let mut off = 0u64;
    while off < data.len() as u64 {
        let n = buf.len().min(data.len() - off as usize);
        f.read_at(off, &mut buf[..n]).unwrap();
        assert!(buf[..n] == data[off as usize..off as usize + n]);
        off += n as u64;
    }
    let scan = access_log(&ngx)[before..].to_vec();
    eprintln!(
        "nginx: sequential scan of {} bytes took {} requests; stats {:?}",
        data.len(),
        scan.len(),
        f.stats()
    );
    assert!(
        scan.len() <= 14,
        "{} requests for a 20 MiB scan",
        scan.len()
    );
    let total: u64 = scan.iter().map(|l| l.1).sum();
    assert!(total <= data.len() as u64 + 64 * 1024, "fetched {total}");

    // The .dbi probe of a file without one is one quiet 404.
    let before = access_log(&ngx).len();
    assert!(f.fetch_dbi().unwrap().is_none());
    let probe = access_log(&ngx)[before..].to_vec();
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0].0, 404);
    drop(f);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn https_self_signed_refused_by_default_accepted_when_insecure() {
    let dir = temp_dir("webnginx-tls");
    let data = random_file(&dir, "t.bin", 3 * 1024 * 1024, 7);
    let ngx = Nginx::start(&dir, true, 300);
    let url = ngx.url("t.bin");
    assert!(url.starts_with("https://127.0.0.1:"));
    let opts = WebOptions {
        log_level: 0,
        retry_total_ms: 2000,
        ..WebOptions::default()
    };
    let e = WebFile::open(&url, &opts)
        .err()
        .expect("self-signed certificate must be refused");
    assert_eq!(e.kind(), WebErrorKind::Network);
    let m = e.to_string();
    assert!(m.contains(&url), "{m}");
    assert!(
        m.to_lowercase().contains("certificate") || m.contains("SSL"),
        "{m}"
    );
    assert!(
        access_log(&ngx).is_empty(),
        "no request may be served over an unverified connection"
    );

    let f = WebFile::open(
        &url,
        &WebOptions {
            insecure: true,
            ..opts.clone()
        },
    )
    .unwrap();
    let mut buf = vec![0u8; 10000];
    for off in [0u64, 1_000_000, 3 * 1024 * 1024 - 10000, 65530] {
        f.read_at(off, &mut buf).unwrap();
        assert!(buf == data[off as usize..off as usize + 10000]);
    }
    let log = access_log(&ngx);
    assert_eq!(log.len() as u64, f.stats().requests);
    assert!(
        log.iter().all(|l| l.3 == "HTTP/2.0"),
        "HTTP/2 expected over TLS: {log:?}"
    );

    // Verification with the certificate trusted via the standard environment works too? Not
    // configurable here: insecure is the documented switch, and env SQLITE_WEB_INSECURE=1 maps to it.
    let mut o = opts.clone();
    o.merge_env(|k| (k == "SQLITE_WEB_INSECURE").then(|| "1".to_string()))
        .unwrap();
    assert!(WebFile::open(&url, &o).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

/// tests/web/delay_proxy.py in front of nginx: every round trip costs about 2 x delay, so the
/// number of sequential round trips shows in the time; a scan must stay a few requests.
#[test]
fn through_delay_proxy_latency_and_batching() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};
    let dir = temp_dir("webnginx-proxy");
    let data = random_file(&dir, "p.bin", 8 * 1024 * 1024, 99);
    let ngx = Nginx::start(&dir, false, 300);
    let proxy_py = web_dir().join("delay_proxy.py");
    let mut child = Command::new("python3")
        .arg(&proxy_py)
        .args([
            "--target",
            &ngx.vars["PORT"],
            "--delay-ms",
            "25",
            "--ttl",
            "120",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 tests/web/delay_proxy.py");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("PORT=")
        .expect("PORT= line")
        .to_string();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "READY");
    let url = format!("http://127.0.0.1:{port}/p.bin");
    let opts = WebOptions {
        log_level: 0,
        ..WebOptions::default()
    };

    let t0 = Instant::now();
    let f = WebFile::open(&url, &opts).unwrap();
    let open_time = t0.elapsed();
    // TCP connect + request + response: at least two one-way delays each way.
    assert!(
        open_time >= Duration::from_millis(50),
        "open took {open_time:?}: the proxy adds no latency?"
    );
    let mut buf = vec![0u8; 4096];
    let t1 = Instant::now();
    f.read_at(5_000_000, &mut buf).unwrap();
    assert!(
        t1.elapsed() >= Duration::from_millis(50),
        "uncached read {:?}",
        t1.elapsed()
    );
    assert!(buf == data[5_000_000..5_004_096]);
    drop(f);

    let f = WebFile::open(&url, &opts).unwrap();
    let t2 = Instant::now();
    let mut off = 0u64;
    while off < data.len() as u64 {
        f.read_at(off, &mut buf).unwrap();
        assert!(buf == data[off as usize..off as usize + 4096]);
        off += 4096;
    }
    let scan = t2.elapsed();
    let s = f.stats();
    eprintln!("8 MiB scan through a 25 ms proxy: {scan:?}, {s:?}");
    // One request per 64 KiB chunk would be 127 round trips (over 6 s); batched it is ~10.
    assert!(s.requests <= 12, "{s:?}");
    assert!(scan < Duration::from_secs(4), "{scan:?}");
    drop(f);
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// GenomicSQLite 0.9.4 (the peer, installed by tests/setup.sh): (python, genomicsqlite command).
fn peer() -> (PathBuf, PathBuf) {
    let repo = repo_root();
    for dir in [
        repo.join(".venv/peer/bin"),
        PathBuf::from("/opt/gsq094/bin"),
    ] {
        if dir.join("genomicsqlite").exists() && dir.join("python3").exists() {
            return (dir.join("python3"), dir.join("genomicsqlite"));
        }
    }
    panic!("GenomicSQLite 0.9.4 not found in .venv/peer or /opt/gsq094: run tests/setup.sh");
}

/// A compressed database and its .dbi made by the peer, served by nginx: the .dbi is found by
/// the probe, verified, and serves its pages without requests; everything else is read through.
#[test]
fn peer_made_dbi_over_nginx() {
    let dir = temp_dir("webnginx-peerdbi");
    let (py, cli) = peer();
    let db = dir.join("x.db");
    let st = Command::new(&py)
        .arg("-c")
        .arg(
            "import sys, genomicsqlite\n\
             c = genomicsqlite.connect(sys.argv[1])\n\
             c.executescript('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); CREATE INDEX tv ON t(v)')\n\
             c.executemany('INSERT INTO t(v) VALUES(?)', [(('row %d ' % i) * 20,) for i in range(60000)])\n\
             c.commit()\n\
             c.close()\n",
        )
        .arg(&db)
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new(&cli).arg(&db).arg("--dbi").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let main = std::fs::read(&db).unwrap();
    let dbi = std::fs::read(dir.join("x.db.dbi")).unwrap();
    let ngx = Nginx::start(&dir, false, 300);
    let f = WebFile::open(
        &ngx.url("x.db"),
        &WebOptions {
            log_level: 0,
            ..WebOptions::default()
        },
    )
    .unwrap();
    let src = f.fetch_dbi().unwrap().expect("x.db.dbi found by the probe");
    assert_eq!(src.bytes, dbi);
    // What the VFS does: read web_dbi_pages with SQLite.
    let rows = Command::new("sqlite3")
        .arg(dir.join("x.db.dbi"))
        .arg("SELECT offset, hex(data) FROM web_dbi_pages")
        .output()
        .unwrap();
    let pages: Vec<(u64, Vec<u8>)> = String::from_utf8(rows.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (o, h) = l.split_once('|').unwrap();
            let bytes = (0..h.len() / 2)
                .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            (o.parse().unwrap(), bytes)
        })
        .collect();
    assert!(pages.len() >= 3, "{} pages", pages.len());
    assert_eq!(f.install_dbi(&src.origin, pages.clone(), None), pages.len());
    let before = access_log(&ngx).len();
    for (o, p) in &pages {
        let mut buf = vec![0u8; p.len()];
        f.read_at(*o, &mut buf).unwrap();
        assert!(buf == main[*o as usize..*o as usize + p.len()]);
    }
    assert_eq!(
        access_log(&ngx).len(),
        before,
        "pages from the .dbi must not be requested"
    );
    assert_eq!(f.stats().dbi_hits, pages.len() as u64);
    // A page not in the .dbi (nor in the first chunk, cached at open) is fetched.
    let ps = pages[0].1.len();
    let other = (1..main.len() / ps)
        .map(|k| (k * ps) as u64)
        .find(|o| *o >= 65536 && !pages.iter().any(|(p, _)| p == o))
        .unwrap();
    let mut buf = vec![0u8; ps];
    f.read_at(other, &mut buf).unwrap();
    assert!(buf == main[other as usize..other as usize + ps]);
    assert!(access_log(&ngx).len() > before);
    let _ = std::fs::remove_dir_all(&dir);
}
