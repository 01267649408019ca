//! Tests of the HTTP range reader against a fault-injecting HTTP server of our own
//! (test-support's `FaultServer`, bound to 127.0.0.1, stops by itself) and real SQLite files made
//! with the `sqlite3` shell for the .dbi helper.

use genomicsqlite_test_support::{random_bytes, temp_dir, Fault, FaultServer, Rng};
use genomicsqlite_web::{WebErrorKind, WebFile, WebOptions};
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(120);

fn quiet() -> WebOptions {
    WebOptions {
        log_level: 0,
        ..WebOptions::default()
    }
}

#[test]
fn random_reads_match_the_file() {
    let srv = FaultServer::start(TTL);
    let data = random_bytes(3 * 1024 * 1024 + 12345, 7);
    srv.put("/f.bin", data.clone());
    let f = WebFile::open(&srv.url("/f.bin"), &quiet()).unwrap();
    assert_eq!(f.size(), data.len() as u64);
    let (etag, lm) = f.validators();
    assert!(etag.unwrap().starts_with("\"v1-"), "{etag:?}");
    assert!(lm.is_some());
    let mut r = Rng(99);
    for _ in 0..400 {
        let len = 1 + r.below(70_000) as usize;
        let off = r.below(data.len() as u64 - len as u64 + 1);
        let mut buf = vec![0xAAu8; len];
        f.read_at(off, &mut buf).unwrap();
        assert!(
            buf == data[off as usize..off as usize + len],
            "mismatch at {off}+{len}"
        );
    }
    // Read crossing the end: filled + zero-filled, reported as a short read.
    let mut buf = vec![0xAAu8; 100];
    let off = data.len() as u64 - 40;
    let e = f.read_at(off, &mut buf).unwrap_err();
    assert_eq!(e.kind(), WebErrorKind::ShortRead);
    assert_eq!(&buf[..40], &data[data.len() - 40..]);
    assert!(buf[40..].iter().all(|&b| b == 0));
    let e = f.read_at(data.len() as u64 + 10, &mut buf).unwrap_err();
    assert_eq!(e.kind(), WebErrorKind::ShortRead);
    assert!(buf.iter().all(|&b| b == 0));
    let s = f.stats();
    assert_eq!(s.reads, 402);
    assert!(s.cached_bytes <= 64 * 1024 * 1024);
    // Everything the server sent was counted by the client.
    let sent: u64 = srv.log().iter().map(|l| l.sent).sum();
    assert_eq!(sent, s.bytes_fetched);
    assert_eq!(srv.log().len() as u64, s.requests);
}

#[test]
fn concurrent_readers_get_correct_bytes() {
    let srv = FaultServer::start(TTL);
    let data = std::sync::Arc::new(random_bytes(6 * 1024 * 1024, 11));
    srv.put("/c.bin", data.to_vec());
    let opts = WebOptions {
        cache_mib: 2,
        ..quiet()
    }; // small cache: forces evictions
    let f = std::sync::Arc::new(WebFile::open(&srv.url("/c.bin"), &opts).unwrap());
    let mut threads = Vec::new();
    for t in 0..4u64 {
        let (f, data) = (f.clone(), data.clone());
        threads.push(std::thread::spawn(move || {
            let mut r = Rng(1000 + t);
            for i in 0..150u64 {
                // Half the threads scan sequentially, half read at random.
                let (off, len) = if t % 2 == 0 {
                    (
                        (i * 4096 + t * 1_000_000) % (data.len() as u64 - 4096),
                        4096,
                    )
                } else {
                    let len = 1 + r.below(20_000);
                    (r.below(data.len() as u64 - len), len)
                };
                let mut buf = vec![0u8; len as usize];
                f.read_at(off, &mut buf).unwrap();
                assert!(
                    buf == data[off as usize..(off + len) as usize],
                    "thread {t} mismatch at {off}"
                );
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    assert!(f.stats().cached_bytes <= 2 * 1024 * 1024 + 64 * 1024);
}

#[test]
fn random_small_reads_fetch_about_small_kib() {
    let srv = FaultServer::start(TTL);
    let data = random_bytes(16 * 1024 * 1024, 3);
    srv.put("/r.bin", data.clone());
    let f = WebFile::open(
        &srv.url("/r.bin"),
        &WebOptions {
            small_kib: 32,
            ..quiet()
        },
    )
    .unwrap();
    srv.clear_log();
    // 20 page reads, each in a different, non-adjacent 32 KiB chunk.
    let mut r = Rng(5);
    let mut chunks = std::collections::BTreeSet::new();
    while chunks.len() < 20 {
        let c = 1 + r.below(500);
        if !chunks.contains(&(c - 1)) && !chunks.contains(&(c + 1)) {
            chunks.insert(c);
        }
    }
    let order: Vec<u64> = {
        let mut v: Vec<u64> = chunks.iter().copied().collect();
        v.sort_by_key(|c| (c * 7919) % 101); // not in file order
        v
    };
    for c in &order {
        let off = c * 32768 + 4096;
        let mut buf = vec![0u8; 4096];
        f.read_at(off, &mut buf).unwrap();
        assert!(buf == data[off as usize..off as usize + 4096]);
        // A second page in the same chunk needs no request.
        f.read_at(off + 8192, &mut buf).unwrap();
        assert!(buf == data[off as usize + 8192..off as usize + 8192 + 4096]);
    }
    let log = srv.log();
    assert!(
        log.len() <= 20,
        "at most one request per random chunk: {log:?}"
    );
    // The first 3 random reads fetch exactly their chunk (a point lookup drags no megabytes);
    // later ones fetch aligned blocks that at most double each time.
    for (i, l) in log.iter().enumerate() {
        let (a, b) = l.range.expect("ranged request");
        let len = b - a + 1;
        if i < 3 {
            assert_eq!(len, 32768, "request {i} size {l:?}");
        } else {
            assert!(len <= 32768 << (i - 2), "request {i} grew too fast: {l:?}");
        }
        assert_eq!(a % 32768, 0, "aligned {l:?}");
    }
    assert!(f.stats().cache_hits >= 20);
}

#[test]
fn many_random_reads_grow_into_large_requests() {
    let srv = FaultServer::start(TTL);
    let size = 16 * 1024 * 1024;
    let data = random_bytes(size, 4);
    srv.put("/g.bin", data.clone());
    let f = WebFile::open(
        &srv.url("/g.bin"),
        &WebOptions {
            small_kib: 32,
            ..quiet()
        },
    )
    .unwrap();
    srv.clear_log();
    let mut r = Rng(77);
    let mut buf = vec![0u8; 4096];
    for _ in 0..400 {
        let off = r.below(size as u64 / 4096) * 4096;
        f.read_at(off, &mut buf).unwrap();
        assert!(buf == data[off as usize..off as usize + 4096]);
    }
    let log = srv.log();
    let fetched: u64 = log
        .iter()
        .map(|l| l.range.map_or(0, |(a, b)| b - a + 1))
        .sum();
    // Without growth this would be ~400 requests of 32 KiB; with it, a few dozen requests
    // that together fetch about the file once.
    assert!(log.len() < 60, "{} requests", log.len());
    assert!(
        fetched <= 2 * size as u64,
        "{fetched} bytes fetched for a {size}-byte file"
    );
}

#[test]
fn sequential_scan_uses_few_large_requests() {
    let srv = FaultServer::start(TTL);
    let size = 24 * 1024 * 1024;
    let data = random_bytes(size, 21);
    srv.put("/s.bin", data.clone());
    let f = WebFile::open(&srv.url("/s.bin"), &quiet()).unwrap();
    let t0 = Instant::now();
    let mut buf = vec![0u8; 4096];
    let mut off = 0u64;
    while off < size as u64 {
        f.read_at(off, &mut buf).unwrap();
        assert!(
            buf == data[off as usize..off as usize + 4096],
            "mismatch at {off}"
        );
        off += 4096;
    }
    let s = f.stats();
    let log = srv.log();
    let biggest = log
        .iter()
        .filter_map(|l| l.range)
        .map(|(a, b)| b - a + 1)
        .max()
        .unwrap();
    eprintln!(
        "sequential scan of {} MiB: {} requests ({} read-ahead), {} bytes fetched, largest request {} KiB, {:?}",
        size >> 20,
        s.requests,
        s.prefetch_requests,
        s.bytes_fetched,
        biggest >> 10,
        t0.elapsed()
    );
    // 384 chunks of 64 KiB: a reader without batching would send 384 requests.
    assert!(s.requests <= 16, "too many requests: {}", s.requests);
    assert!(s.prefetch_requests >= 2, "read-ahead did not run: {s:?}");
    assert!(biggest >= 4 * 1024 * 1024, "largest request {biggest}");
    assert!(
        s.bytes_fetched <= size as u64 + 64 * 1024,
        "bytes fetched twice: {}",
        s.bytes_fetched
    );
    // No overlapping requests.
    let mut ranges: Vec<(u64, u64)> = log.iter().filter_map(|l| l.range).collect();
    ranges.sort();
    for w in ranges.windows(2) {
        assert!(w[0].1 < w[1].0, "overlap {:?}", w);
    }
}

#[test]
fn dropped_connections_are_retried() {
    let srv = FaultServer::start(TTL);
    let data = random_bytes(1 << 20, 8);
    srv.put("/d.bin", data.clone());
    srv.push_fault(Fault::Drop); // at open
    let f = WebFile::open(&srv.url("/d.bin"), &quiet()).unwrap();
    srv.push_fault(Fault::Drop);
    srv.push_fault(Fault::DropMidBody);
    let mut buf = vec![0u8; 1000];
    f.read_at(500_000, &mut buf).unwrap();
    assert!(buf == data[500_000..501_000]);
    assert_eq!(srv.pending_faults(), 0);
    // curl itself silently retries a request whose reused keep-alive connection was closed
    // before any answer; the others are our retries.
    let r = f.stats().retries;
    assert!((2..=3).contains(&r), "retries {r}");
    assert_eq!(srv.log().iter().filter(|l| l.fault.is_some()).count(), 3);
}

#[test]
fn slow_response_times_out_then_retry_succeeds() {
    let srv = FaultServer::start(TTL);
    let data = random_bytes(1 << 20, 9);
    srv.put("/slow.bin", data.clone());
    let opts = WebOptions {
        request_timeout_ms: 700,
        ..quiet()
    };
    let f = WebFile::open(&srv.url("/slow.bin"), &opts).unwrap();
    srv.push_fault(Fault::Delay(Duration::from_secs(4)));
    let t0 = Instant::now();
    let mut buf = vec![0u8; 4096];
    f.read_at(300_000, &mut buf).unwrap();
    let el = t0.elapsed();
    assert!(buf == data[300_000..304_096]);
    assert!(f.stats().retries >= 1, "{:?}", f.stats());
    assert!(
        el >= Duration::from_millis(700) && el < Duration::from_millis(3900),
        "{el:?}"
    );
}

#[test]
fn server_errors_then_success_and_bounded_failure() {
    let srv = FaultServer::start(TTL);
    let data = random_bytes(1 << 20, 10);
    srv.put("/e.bin", data.clone());
    for _ in 0..3 {
        srv.push_fault(Fault::Status(500));
    }
    let f = WebFile::open(&srv.url("/e.bin"), &quiet()).unwrap();
    assert_eq!(f.stats().retries, 3);
    let mut buf = vec![0u8; 10];
    f.read_at(200_000, &mut buf).unwrap();
    assert!(buf == data[200_000..200_010]);

    // Persistent 503: fails after the bounded retry time, naming the URL and the status.
    let opts = WebOptions {
        retry_total_ms: 1500,
        ..quiet()
    };
    let f = WebFile::open(&srv.url("/e.bin"), &opts).unwrap();
    for _ in 0..1000 {
        srv.push_fault(Fault::Status(503));
    }
    let t0 = Instant::now();
    let e = f.read_at(700_000, &mut buf).unwrap_err();
    let el = t0.elapsed();
    assert_eq!(e.kind(), WebErrorKind::Http);
    assert_eq!(e.status(), Some(503));
    let m = e.to_string();
    assert!(
        m.contains(&srv.url("/e.bin")) && m.contains("HTTP 503") && m.contains("attempts"),
        "{m}"
    );
    assert!(
        el >= Duration::from_millis(700) && el < Duration::from_secs(5),
        "{el:?}"
    );
    assert!(f.stats().retries >= 3, "{:?}", f.stats());
}

#[test]
fn open_errors_are_clear() {
    let srv = FaultServer::start(TTL);
    let e = WebFile::open(&srv.url("/missing.db"), &quiet())
        .err()
        .unwrap();
    assert_eq!(e.kind(), WebErrorKind::NotFound);
    assert!(
        e.to_string().contains(&srv.url("/missing.db")) && e.to_string().contains("404"),
        "{e}"
    );
    srv.push_fault(Fault::Status(403));
    srv.put("/secret.db", vec![1; 100]);
    let e = WebFile::open(&srv.url("/secret.db"), &quiet())
        .err()
        .unwrap();
    assert_eq!(e.kind(), WebErrorKind::Forbidden);
    assert!(
        e.to_string().contains("/secret.db") && e.to_string().contains("403"),
        "{e}"
    );
    // Bad URLs and options never reach the network.
    for bad in ["", "ftp://x/y", "/local/path.db", "http://exa mple/x"] {
        let e = WebFile::open(bad, &quiet()).err().unwrap();
        assert_eq!(e.kind(), WebErrorKind::InvalidInput, "{bad}: {e}");
    }
    let e = WebFile::open(
        &srv.url("/secret.db"),
        &WebOptions {
            small_kib: 0,
            ..quiet()
        },
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("web_small_KiB"), "{e}");
    // Nothing listening: connection refused, reported with the URL after bounded retries.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/x.db");
    let t0 = Instant::now();
    let e = WebFile::open(
        &url,
        &WebOptions {
            retry_total_ms: 800,
            ..quiet()
        },
    )
    .err()
    .unwrap();
    assert_eq!(e.kind(), WebErrorKind::Network);
    assert!(e.to_string().contains(&url), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    // Query strings (possibly credentials) are not shown.
    let e = WebFile::open(&format!("{}?sig=SECRET", srv.url("/missing.db")), &quiet())
        .err()
        .unwrap();
    assert!(
        !e.to_string().contains("SECRET") && e.to_string().contains("/missing.db?..."),
        "{e}"
    );
}

#[test]
fn server_ignoring_range_is_refused_without_downloading() {
    let srv = FaultServer::start(TTL);
    let size = 48 * 1024 * 1024;
    srv.put("/big.bin", random_bytes(size, 12));
    srv.set_ignore_range(true);
    let t0 = Instant::now();
    let e = WebFile::open(&srv.url("/big.bin"), &quiet()).err().unwrap();
    assert_eq!(e.kind(), WebErrorKind::RangeUnsupported);
    assert!(
        e.to_string().contains("ignores HTTP Range") && e.to_string().contains("/big.bin"),
        "{e}"
    );
    assert!(t0.elapsed() < Duration::from_secs(10));
    // The transfer was aborted: the server could not write the whole body.
    let log = srv.log();
    assert_eq!(log.len(), 1);
    assert!(log[0].sent < size as u64 / 2, "{:?}", log[0]);
    // A tiny file served whole is fine.
    let small = random_bytes(5000, 13);
    srv.put("/small.bin", small.clone());
    let f = WebFile::open(&srv.url("/small.bin"), &quiet()).unwrap();
    assert_eq!(f.size(), 5000);
    let mut buf = vec![0u8; 1000];
    f.read_at(4000, &mut buf).unwrap();
    assert!(buf == small[4000..]);
}

#[test]
fn file_replaced_mid_session_is_an_error() {
    let srv = FaultServer::start(TTL);
    let data = random_bytes(2 << 20, 14);
    srv.put("/m.bin", data.clone());
    let f = WebFile::open(&srv.url("/m.bin"), &quiet()).unwrap();
    let mut buf = vec![0u8; 4096];
    f.read_at(1 << 20, &mut buf).unwrap();
    // Same size, new content and ETag.
    let mut data2 = data.clone();
    data2[1_500_000] ^= 0xFF;
    srv.put("/m.bin", data2);
    let e = f.read_at(1_500_000, &mut buf).unwrap_err();
    assert_eq!(e.kind(), WebErrorKind::Changed);
    assert!(
        e.to_string().contains("ETag") && e.to_string().contains("/m.bin"),
        "{e}"
    );
    // Sticky: even cached bytes are no longer served.
    let e = f.read_at(1 << 20, &mut buf).unwrap_err();
    assert_eq!(e.kind(), WebErrorKind::Changed);

    // Only the size reveals it (validators kept).
    srv.put("/n.bin", data.clone());
    let f = WebFile::open(&srv.url("/n.bin"), &quiet()).unwrap();
    srv.put_same_validators("/n.bin", random_bytes(3 << 20, 15));
    let e = f.read_at(1 << 20, &mut buf).unwrap_err();
    assert_eq!(e.kind(), WebErrorKind::Changed);
    assert!(e.to_string().contains("size 2097152 -> 3145728"), "{e}");

    // The file removed: a clear 404 on read.
    srv.put("/o.bin", data.clone());
    let f = WebFile::open(&srv.url("/o.bin"), &quiet()).unwrap();
    srv.remove("/o.bin");
    let e = f.read_at(1 << 20, &mut buf).unwrap_err();
    assert_eq!(e.kind(), WebErrorKind::NotFound);
}

#[test]
fn options_from_env_and_uri() {
    let mut o = WebOptions::default();
    assert_eq!(
        (o.small_kib, o.log_level, o.insecure, o.nodbi),
        (64, 1, false, false)
    );
    let env = |k: &str| match k {
        "SQLITE_WEB_LOG" => Some("4".to_string()),
        "SQLITE_WEB_INSECURE" => Some("1".to_string()),
        "SQLITE_WEB_NODBI" => Some("".to_string()),
        _ => None,
    };
    o.merge_env(env).unwrap();
    assert_eq!((o.log_level, o.insecure, o.nodbi), (4, true, false));
    assert!(o.set_uri_param("web_insecure", "0").unwrap());
    assert!(o.set_uri_param("web_small_KiB", "16").unwrap());
    assert!(o.set_uri_param("web_dbi_url", "file:/tmp/x.dbi").unwrap());
    assert!(!o.set_uri_param("vfs", "zstd").unwrap());
    assert_eq!(
        (o.insecure, o.small_kib, o.dbi_url.as_deref()),
        (false, 16, Some("file:/tmp/x.dbi"))
    );
    let e = o.set_uri_param("web_small_KiB", "lots").unwrap_err();
    assert!(e.to_string().contains("web_small_KiB") && e.to_string().contains("lots"));
    let e = o
        .clone()
        .merge_env(|k| (k == "SQLITE_WEB_NODBI").then(|| "maybe".to_string()))
        .unwrap_err();
    assert!(e.to_string().contains("SQLITE_WEB_NODBI"), "{e}");
}

// ---- .dbi helper, with real SQLite files made by the sqlite3 shell ----

fn sqlite3(db: &std::path::Path, sql: &str) -> String {
    let out = std::process::Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .output()
        .expect("the sqlite3 shell is required (apt-get install sqlite3)");
    assert!(
        out.status.success(),
        "sqlite3 {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A main SQLite file (4 KiB pages, several MiB) and a .dbi holding copies of some of its pages,
/// built the way the format describes (application_id 0x646269, web_dbi_meta, web_dbi_pages).
fn make_db_and_dbi(dir: &std::path::Path) -> (Vec<u8>, Vec<u8>, Vec<u64>) {
    let db = dir.join("main.db");
    sqlite3(
        &db,
        "PRAGMA page_size=4096; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 3000)
         INSERT INTO t SELECT i, randomblob(1000) FROM n;",
    );
    let main = std::fs::read(&db).unwrap();
    let offsets: Vec<u64> = vec![0, 4096, 40960, 409600, 1_200_128];
    let dbi = dir.join("main.db.dbi");
    let mut sql = String::from(
        "PRAGMA page_size=1024; PRAGMA application_id=6578793;
         CREATE TABLE web_dbi_meta(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
         CREATE TABLE web_dbi_pages(offset INTEGER PRIMARY KEY, data BLOB NOT NULL);",
    );
    sql.push_str(&format!(
        "INSERT INTO web_dbi_meta VALUES('page_size', 4096), ('dbfile_size', {});",
        main.len()
    ));
    for o in &offsets {
        sql.push_str(&format!(
            "INSERT INTO web_dbi_pages VALUES({o}, substr(readfile('{}'), {}, 4096));",
            db.display(),
            o + 1
        ));
    }
    sqlite3(&dbi, &sql);
    (main, std::fs::read(&dbi).unwrap(), offsets)
}

/// What the VFS layer does with the .dbi bytes: read web_dbi_pages with SQLite.
fn dbi_pages_via_sqlite(dir: &std::path::Path, bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let p = dir.join("fetched.dbi");
    std::fs::write(&p, bytes).unwrap();
    sqlite3(
        &p,
        "SELECT offset, hex(data) FROM web_dbi_pages ORDER BY offset",
    )
    .lines()
    .map(|l| {
        let (o, h) = l.split_once('|').unwrap();
        let data = (0..h.len() / 2)
            .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        (o.parse().unwrap(), data)
    })
    .collect()
}

#[test]
fn dbi_probe_load_verify_and_serve() {
    let dir = temp_dir("web-dbi");
    let (main, dbi, offsets) = make_db_and_dbi(&dir);
    assert_eq!(
        u32::from_be_bytes(dbi[68..72].try_into().unwrap()),
        0x646269
    );
    let srv = FaultServer::start(TTL);
    srv.put("/main.db", main.clone());

    // No .dbi on the server: the probe is a quiet 404 -> None.
    let f = WebFile::open(&srv.url("/main.db"), &quiet()).unwrap();
    assert_eq!(f.dbi_location().unwrap(), srv.url("/main.db.dbi"));
    assert!(f.fetch_dbi().unwrap().is_none());
    assert!(srv
        .log()
        .iter()
        .any(|l| l.path == "/main.db.dbi" && l.status == 404));

    // With the .dbi: downloaded, parsed by SQLite, installed; its pages need no request.
    srv.put("/main.db.dbi", dbi.clone());
    let f = WebFile::open(
        &srv.url("/main.db"),
        &WebOptions {
            small_kib: 4,
            ..quiet()
        },
    )
    .unwrap();
    let src = f.fetch_dbi().unwrap().expect("dbi found");
    assert_eq!(src.bytes, dbi);
    let pages = dbi_pages_via_sqlite(&dir, &src.bytes);
    assert_eq!(pages.len(), offsets.len());
    assert_eq!(f.install_dbi(&src.origin, pages, None), offsets.len());
    let before = f.stats().requests;
    for o in &offsets[1..] {
        let mut buf = vec![0u8; 4096];
        f.read_at(*o, &mut buf).unwrap();
        assert!(buf == main[*o as usize..*o as usize + 4096]);
    }
    assert_eq!(
        f.stats().requests,
        before,
        "dbi pages must not cause requests"
    );
    assert_eq!(f.stats().dbi_hits, offsets.len() as u64 - 1);
    // Other pages still come from the server.
    let mut buf = vec![0u8; 4096];
    f.read_at(8192, &mut buf).unwrap();
    assert!(buf == main[8192..12288]);
    assert_eq!(f.stats().requests, before + 1);

    // open_with_dbi: the same, with the .dbi downloaded during the open request.
    srv.clear_log();
    let (f, src) = WebFile::open_with_dbi(&srv.url("/main.db"), &quiet()).unwrap();
    let src = src.expect("dbi found by open_with_dbi");
    assert_eq!(src.bytes, dbi);
    assert_eq!(f.stats().requests, 2);
    assert_eq!(srv.log().len(), 2);
    assert_eq!(
        f.install_dbi(&src.origin, dbi_pages_via_sqlite(&dir, &src.bytes), None),
        offsets.len()
    );
    // ... and an open error wins over the .dbi.
    let e = WebFile::open_with_dbi(&srv.url("/nothing.db"), &quiet())
        .err()
        .unwrap();
    assert_eq!(e.kind(), WebErrorKind::NotFound);
    assert!(e.to_string().contains("/nothing.db"), "{e}");

    // No probe when the URL has a query string or with nodbi.
    let f = WebFile::open(&format!("{}?x=1", srv.url("/main.db")), &quiet()).unwrap();
    assert!(f.dbi_location().is_none() && f.fetch_dbi().unwrap().is_none());
    let f = WebFile::open(
        &srv.url("/main.db"),
        &WebOptions {
            nodbi: true,
            ..quiet()
        },
    )
    .unwrap();
    srv.clear_log();
    assert!(f.fetch_dbi().unwrap().is_none());
    assert!(srv.log().is_empty());

    // dbi_url as a local file: path.
    std::fs::write(dir.join("copy.dbi"), &dbi).unwrap();
    let opts = WebOptions {
        dbi_url: Some(format!("file:{}", dir.join("copy.dbi").display())),
        ..quiet()
    };
    let f = WebFile::open(&srv.url("/main.db"), &opts).unwrap();
    let src = f.fetch_dbi().unwrap().unwrap();
    assert_eq!(src.bytes, dbi);
    // An explicit dbi_url that does not exist is an error naming it.
    let opts = WebOptions {
        dbi_url: Some("file:/nonexistent/x.dbi".into()),
        ..quiet()
    };
    let f = WebFile::open(&srv.url("/main.db"), &opts).unwrap();
    let e = f.fetch_dbi().unwrap_err();
    assert!(e.to_string().contains("/nonexistent/x.dbi"), "{e}");
    let opts = WebOptions {
        dbi_url: Some(srv.url("/nope.dbi")),
        ..quiet()
    };
    let f = WebFile::open(&srv.url("/main.db"), &opts).unwrap();
    let e = f.fetch_dbi().unwrap_err();
    assert!(
        e.to_string().contains("/nope.dbi") && e.to_string().contains("404"),
        "{e}"
    );

    // Something that is not a .dbi at URL.dbi: ignored (one warning).
    srv.put("/main.db.dbi", main.clone());
    let f = WebFile::open(&srv.url("/main.db"), &quiet()).unwrap();
    assert!(f.fetch_dbi().unwrap().is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A .dbi that carries the pages queries read first ([`WebFile::dbi_has_lead`]) lets random
/// requests grow from the 4th miss on; with any other .dbi the 4th still fetches one chunk.
#[test]
fn dbi_with_lead_pages_grows_one_miss_earlier() {
    let dir = temp_dir("web-lead");
    let (main, _, offsets) = make_db_and_dbi(&dir);
    let pages: Vec<(u64, Vec<u8>)> = offsets
        .iter()
        .map(|&o| (o, main[o as usize..o as usize + 4096].to_vec()))
        .collect();
    let srv = FaultServer::start(TTL);
    srv.put("/main.db", main.clone());
    let sizes = |lead: bool| -> Vec<u64> {
        let opts = WebOptions {
            small_kib: 4,
            ..quiet()
        };
        let f = WebFile::open(&srv.url("/main.db"), &opts).unwrap();
        assert_eq!(f.install_dbi("test", pages.clone(), None), pages.len());
        if lead {
            f.dbi_has_lead();
        }
        srv.clear_log();
        let mut buf = vec![0u8; 4096];
        let last = main.len() as u64 / 4096 - 1;
        for k in 0..5 {
            // far apart, backwards: random reads, never a stream
            let o = (last - 100 * k) * 4096;
            f.read_at(o, &mut buf).unwrap();
            assert!(buf == main[o as usize..o as usize + 4096]);
        }
        srv.log()
            .iter()
            .map(|l| l.range.map_or(0, |(a, b)| b - a + 1))
            .collect()
    };
    let without = sizes(false);
    assert_eq!(without[..4], [4096; 4], "{without:?}");
    let with = sizes(true);
    assert_eq!(with[..3], [4096; 3], "{with:?}");
    assert!(with[3] > 4096, "{with:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stale_or_corrupt_dbi_is_ignored() {
    let dir = temp_dir("web-stale");
    let (main, dbi, offsets) = make_db_and_dbi(&dir);
    let pages = dbi_pages_via_sqlite(&dir, &dbi);
    // The database is modified after the .dbi was made: its header changes.
    sqlite3(
        &dir.join("main.db"),
        "INSERT INTO t VALUES(NULL, 'one more');",
    );
    let main2 = std::fs::read(dir.join("main.db")).unwrap();
    assert_ne!(main[..100], main2[..100]);
    let srv = FaultServer::start(TTL);
    srv.put("/main.db", main2.clone());
    srv.put("/main.db.dbi", dbi.clone());
    let f = WebFile::open(&srv.url("/main.db"), &quiet()).unwrap();
    let src = f.fetch_dbi().unwrap().unwrap();
    assert_eq!(f.install_dbi(&src.origin, pages.clone(), None), 0);
    assert_eq!(f.dbi_pages(), 0);
    // Reads come from the server, with the new bytes.
    let mut buf = vec![0u8; 4096];
    let o = offsets[3];
    let before = f.stats().requests;
    f.read_at(o, &mut buf).unwrap();
    assert!(buf == main2[o as usize..o as usize + 4096]);
    assert!(f.stats().requests > before);
    // Corrupt: a page of the wrong size, or no page 1.
    srv.put("/main.db", main.clone());
    let f = WebFile::open(&srv.url("/main.db"), &quiet()).unwrap();
    let mut bad = pages.clone();
    bad[1].1.truncate(1000);
    assert_eq!(f.install_dbi("test", bad, None), 0);
    assert_eq!(f.install_dbi("test", pages[1..].to_vec(), None), 0);
    assert_eq!(f.install_dbi("test", pages.clone(), None), pages.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Messages on stderr, checked by running this test binary again as a child with
/// `--nocapture`: a .dbi probe answered 404 prints nothing at the default level, a stale .dbi
/// prints exactly one warning however often it is rejected, level 4 prints every request, a
/// failed read is printed once at level 1 and not at all at level 0.
#[test]
fn stderr_messages() {
    if std::env::var_os("GSQ_WEB_STDERR_CHILD").is_some() {
        let dir = temp_dir("web-stderr");
        let (main, dbi, _) = make_db_and_dbi(&dir);
        let pages = dbi_pages_via_sqlite(&dir, &dbi);
        let srv = FaultServer::start(TTL);
        srv.put("/plain.db", main.clone());
        let default = WebOptions::default();
        assert_eq!(default.log_level, 1);
        let f = WebFile::open(&srv.url("/plain.db"), &default).unwrap();
        assert!(f.fetch_dbi().unwrap().is_none());
        eprintln!("CHILD: probe done");
        let mut stale = main.clone();
        stale[24] ^= 1; // the file change counter differs from the .dbi's copy
        srv.put("/stale.db", stale);
        srv.put("/stale.db.dbi", dbi.clone());
        let f = WebFile::open(&srv.url("/stale.db"), &default).unwrap();
        let src = f.fetch_dbi().unwrap().unwrap();
        assert_eq!(f.install_dbi(&src.origin, pages.clone(), None), 0);
        assert_eq!(f.install_dbi(&src.origin, pages.clone(), None), 0);
        f.reject_dbi(&src.origin, "the caller could not read it either");
        eprintln!("CHILD: stale done");
        let f = WebFile::open(
            &srv.url("/plain.db"),
            &WebOptions {
                log_level: 4,
                ..WebOptions::default()
            },
        )
        .unwrap();
        let mut buf = vec![0u8; 100];
        f.read_at(200_000, &mut buf).unwrap();
        drop(f); // prints its counters at level >= 3
        eprintln!("CHILD: verbose done");
        // Level 1 (the default): a failed read is printed once, not at every retry of the caller.
        srv.put("/changing.db", main.clone());
        let f = WebFile::open(&srv.url("/changing.db"), &default).unwrap();
        srv.put("/changing.db", main[..main.len() - 4096].to_vec());
        for _ in 0..3 {
            let e = f.read_at(1_000_000, &mut buf).unwrap_err();
            assert_eq!(e.kind(), WebErrorKind::Changed);
        }
        // Level 0: silent, errors included (they are returned all the same).
        srv.put("/silent.db", main.clone());
        let f = WebFile::open(&srv.url("/silent.db"), &quiet()).unwrap();
        srv.put("/silent.db", main[..main.len() - 4096].to_vec());
        let e = f.read_at(1_000_000, &mut buf).unwrap_err();
        assert_eq!(e.kind(), WebErrorKind::Changed);
        // A short read is not an error worth printing.
        let e = f.read_at(f.size() + 5, &mut buf).unwrap_err();
        assert_eq!(e.kind(), WebErrorKind::ShortRead);
        eprintln!("CHILD: errors done");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "stderr_messages",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GSQ_WEB_STDERR_CHILD", "1")
        .env_remove("SQLITE_WEB_LOG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("[genomicsqlite] web:") || l.starts_with("CHILD:"))
        .collect();
    let pos = |m: &str| {
        lines
            .iter()
            .position(|l| *l == m)
            .unwrap_or_else(|| panic!("{m} missing: {err}"))
    };
    let (probe, stale, verbose, errors) = (
        pos("CHILD: probe done"),
        pos("CHILD: stale done"),
        pos("CHILD: verbose done"),
        pos("CHILD: errors done"),
    );
    let printed = &lines[verbose + 1..errors];
    assert_eq!(printed.len(), 1, "{printed:?}");
    assert!(
        printed[0].starts_with("[genomicsqlite] web: error: ")
            && printed[0].contains("/changing.db changed on the server"),
        "{printed:?}"
    );
    assert_eq!(
        probe,
        0,
        "the 404 probe must be quiet: {:?}",
        &lines[..probe]
    );
    let warnings = &lines[probe + 1..stale];
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("warning: ignoring .dbi")
            && warnings[0].contains("stale")
            && warnings[0].contains("/stale.db.dbi"),
        "{warnings:?}"
    );
    let requests = &lines[stale + 1..verbose];
    assert!(
        requests
            .last()
            .unwrap()
            .contains("closed http://127.0.0.1:")
            && requests.last().unwrap().contains("2 requests"),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|l| l.contains("GET bytes=0-65535 http://127.0.0.1:")
                && l.contains("/plain.db -> 206 65536 bytes")
                && l.ends_with(" ms")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|l| l.contains("GET bytes=196608-262143") && l.contains("-> 206 65536 bytes")),
        "{requests:?}"
    );
}
