//! A small fault-injecting HTTP/1.1 file server for the web reader's tests (std only).
//!
//! Binds 127.0.0.1 on an ephemeral port, serves in-memory files with `Range` support, ETag and
//! Last-Modified, logs every request, and injects faults queued by the test (dropped connections,
//! truncated bodies, delays, error statuses, ignoring `Range`). It stops when dropped or when its
//! time limit passes, whichever comes first.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub enum Fault {
    /// Close the connection without answering.
    Drop,
    /// Send the headers and half of the body, then close.
    DropMidBody,
    /// Wait this long before answering normally.
    Delay(Duration),
    /// Answer with this status and a short body.
    Status(u16),
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub path: String,
    pub range: Option<(u64, u64)>,
    pub status: u16,
    /// Body bytes the server managed to write.
    pub sent: u64,
    pub fault: Option<String>,
}

struct Served {
    body: Arc<Vec<u8>>,
    etag: String,
    last_modified: String,
}

struct State {
    files: HashMap<String, Served>,
    faults: VecDeque<Fault>,
    ignore_range: bool,
    log: Vec<Logged>,
    version: u64,
    /// Requests read but not yet logged (their response is being written).
    in_flight: usize,
}

pub struct FaultServer {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    pub connections: Arc<AtomicU64>,
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

impl FaultServer {
    /// Start; the server stops by itself after `ttl`.
    pub fn start(ttl: Duration) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let state = Arc::new(Mutex::new(State {
            files: HashMap::new(),
            faults: VecDeque::new(),
            ignore_range: false,
            log: Vec::new(),
            version: 0,
            in_flight: 0,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicU64::new(0));
        let (st, sp, conns) = (state.clone(), stop.clone(), connections.clone());
        let deadline = Instant::now() + ttl;
        let accept = std::thread::spawn(move || {
            let mut workers = Vec::new();
            while !sp.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((sock, _)) => {
                        conns.fetch_add(1, Ordering::Relaxed);
                        let (st, sp) = (st.clone(), sp.clone());
                        workers.push(std::thread::spawn(move || {
                            serve_connection(sock, st, sp, deadline)
                        }));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            sp.store(true, Ordering::Relaxed);
            for w in workers {
                let _ = w.join();
            }
        });
        FaultServer {
            port,
            state,
            stop,
            accept: Some(accept),
            connections,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Serve `body` at `path` with a fresh ETag and Last-Modified.
    pub fn put(&self, path: &str, body: Vec<u8>) {
        let mut s = lock(&self.state);
        s.version += 1;
        let v = s.version;
        s.files.insert(
            path.to_string(),
            Served {
                etag: format!("\"v{v}-{:x}\"", body.len()),
                last_modified: format!("Mon, 02 Jan 2023 03:04:{:02} GMT", v % 60),
                body: Arc::new(body),
            },
        );
    }

    /// Replace the body but keep the previous ETag and Last-Modified (a server without validators
    /// that change: only the size can reveal the change).
    pub fn put_same_validators(&self, path: &str, body: Vec<u8>) {
        let mut s = lock(&self.state);
        if let Some(f) = s.files.get_mut(path) {
            f.body = Arc::new(body);
        }
    }

    pub fn remove(&self, path: &str) {
        lock(&self.state).files.remove(path);
    }

    pub fn push_fault(&self, f: Fault) {
        lock(&self.state).faults.push_back(f);
    }

    pub fn pending_faults(&self) -> usize {
        lock(&self.state).faults.len()
    }

    pub fn set_ignore_range(&self, yes: bool) {
        lock(&self.state).ignore_range = yes;
    }

    /// The requests answered so far (waits up to 2 s for responses being written, so that a
    /// client that has its answer also sees it logged).
    pub fn log(&self) -> Vec<Logged> {
        let t0 = Instant::now();
        loop {
            let s = lock(&self.state);
            if s.in_flight == 0 || t0.elapsed() > Duration::from_secs(2) {
                return s.log.clone();
            }
            drop(s);
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Forget the requests answered so far (after waiting for those in flight, like `log`).
    pub fn clear_log(&self) {
        let _ = self.log();
        lock(&self.state).log.clear();
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn parse_range(v: &str, len: u64) -> Option<(u64, u64)> {
    let r = v.trim().strip_prefix("bytes=")?;
    let (a, b) = r.split_once('-')?;
    let a: u64 = a.trim().parse().ok()?;
    let b: u64 = if b.trim().is_empty() {
        len.saturating_sub(1)
    } else {
        b.trim().parse().ok()?
    };
    Some((a, b.min(len.saturating_sub(1))))
}

fn serve_connection(
    sock: TcpStream,
    st: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    deadline: Instant,
) {
    let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = sock.set_nodelay(true);
    let mut w = match sock.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut r = BufReader::new(sock);
    'conn: loop {
        // Read one request head.
        let mut head: Vec<String> = Vec::new();
        let mut line = Vec::new();
        loop {
            if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                break 'conn;
            }
            match r.read_until(b'\n', &mut line) {
                Ok(0) => break 'conn,
                Ok(_) if line.ends_with(b"\n") => {
                    let l = String::from_utf8_lossy(&line).trim_end().to_string();
                    line.clear();
                    if l.is_empty() {
                        if head.is_empty() {
                            continue;
                        }
                        break;
                    }
                    head.push(l);
                }
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(_) => break 'conn,
            }
        }
        let mut parts = head[0].split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts
            .next()
            .unwrap_or("/")
            .split('?')
            .next()
            .unwrap_or("/")
            .to_string();
        let mut range_hdr = None;
        let mut close = false;
        for h in &head[1..] {
            if let Some((k, v)) = h.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "range" => range_hdr = Some(v.trim().to_string()),
                    "connection" => close = v.trim().eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
        }
        let (fault, file, ignore_range) = {
            let mut s = lock(&st);
            s.in_flight += 1;
            let fault = s.faults.pop_front();
            let file = s
                .files
                .get(&path)
                .map(|f| (f.body.clone(), f.etag.clone(), f.last_modified.clone()));
            (fault, file, s.ignore_range)
        };
        let record = |status: u16, range: Option<(u64, u64)>, sent: u64, fault: &Option<Fault>| {
            let mut s = lock(&st);
            s.in_flight -= 1;
            s.log.push(Logged {
                path: path.clone(),
                range,
                status,
                sent,
                fault: fault.as_ref().map(|f| format!("{f:?}")),
            });
        };
        match &fault {
            Some(Fault::Drop) => {
                record(0, None, 0, &fault);
                break 'conn;
            }
            Some(Fault::Delay(d)) => std::thread::sleep(*d),
            Some(Fault::Status(code)) => {
                let body = format!("injected {code}\n");
                let _ = write!(w, "HTTP/1.1 {code} Injected\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{body}", body.len());
                record(*code, None, body.len() as u64, &fault);
                continue;
            }
            _ => {}
        }
        let Some((body, etag, lm)) = file else {
            let msg = "not found\n";
            let _ = write!(
                w,
                "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n{msg}",
                msg.len()
            );
            record(404, None, msg.len() as u64, &fault);
            continue;
        };
        let len = body.len() as u64;
        let range = if ignore_range {
            None
        } else {
            range_hdr.as_deref().and_then(|v| parse_range(v, len))
        };
        let (status, a, b) = match range {
            Some((a, _)) if a >= len => {
                let _ = write!(w, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\n\r\n");
                record(416, range, 0, &fault);
                continue;
            }
            Some((a, b)) if b >= a => (206u16, a, b),
            _ => (200u16, 0, len.saturating_sub(1)),
        };
        let n = if len == 0 { 0 } else { b - a + 1 };
        let mut hdr = format!(
            "HTTP/1.1 {status} {}\r\nContent-Length: {n}\r\nETag: {etag}\r\nLast-Modified: {lm}\r\nAccept-Ranges: bytes\r\n",
            if status == 206 { "Partial Content" } else { "OK" }
        );
        if status == 206 {
            hdr.push_str(&format!("Content-Range: bytes {a}-{b}/{len}\r\n"));
        }
        hdr.push_str("\r\n");
        if w.write_all(hdr.as_bytes()).is_err() {
            record(status, range, 0, &fault);
            break 'conn;
        }
        if method == "HEAD" || n == 0 {
            record(status, range, 0, &fault);
            continue;
        }
        let slice = &body[a as usize..=b as usize];
        let limit = if matches!(fault, Some(Fault::DropMidBody)) {
            slice.len() / 2
        } else {
            slice.len()
        };
        let mut sent = 0usize;
        for piece in slice[..limit].chunks(64 * 1024) {
            if w.write_all(piece).is_err() {
                break;
            }
            sent += piece.len();
        }
        let _ = w.flush();
        record(status, range, sent as u64, &fault);
        if sent < slice.len() || close {
            break 'conn;
        }
    }
    let _ = w.shutdown(std::net::Shutdown::Both);
}
