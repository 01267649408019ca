//! HTTP transfers: pooled curl easy handles (each keeps its connections alive; HTTP/2 over TLS
//! when the server offers it), one GET per call, classification of the response, and retries with
//! exponential backoff within a bounded total time.

use super::auth::Auth;
use super::fork::PerFork;
use super::response::{check_partial, parse_content_range, Partial};
use super::{display_url, Log, WebError, WebErrorKind, WebOptions};
use curl::easy::{Easy2, Handler, HttpVersion, List, WriteError};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Collects one response. Bodies larger than `limit` are refused by aborting the transfer, so a
/// server that ignores `Range` is never streamed into memory.
pub(crate) struct Collector {
    status: u32,
    content_range: Option<String>,
    content_length: Option<u64>,
    etag: Option<String>,
    last_modified: Option<String>,
    retry_after: Option<String>,
    bucket_region: Option<String>,
    body: Vec<u8>,
    limit: usize,
    /// Whether `limit` may be lowered during the transfer by the client's `whole_cap`.
    capped: bool,
    overflow: bool,
    cancel: Arc<AtomicBool>,
    whole_cap: Arc<AtomicUsize>,
}

impl Collector {
    fn new(cancel: Arc<AtomicBool>, whole_cap: Arc<AtomicUsize>) -> Collector {
        Collector {
            status: 0,
            content_range: None,
            content_length: None,
            etag: None,
            last_modified: None,
            retry_after: None,
            bucket_region: None,
            body: Vec::new(),
            limit: 0,
            capped: false,
            overflow: false,
            cancel,
            whole_cap,
        }
    }
    fn reset(&mut self, limit: usize, capped: bool) {
        self.capped = capped;
        self.status = 0;
        self.content_range = None;
        self.content_length = None;
        self.etag = None;
        self.last_modified = None;
        self.retry_after = None;
        self.bucket_region = None;
        self.body = Vec::new();
        self.limit = limit;
        self.overflow = false;
    }
}

impl Handler for Collector {
    fn header(&mut self, data: &[u8]) -> bool {
        let line = String::from_utf8_lossy(data);
        let line = line.trim_end_matches(&['\r', '\n'][..]);
        if line
            .as_bytes()
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case(b"HTTP/"))
        {
            // A new response (e.g. after a redirect or a 100 Continue): forget the previous one.
            let (limit, capped) = (self.limit, self.capped);
            self.reset(limit, capped);
            self.status = line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            return true;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_string();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-range" => self.content_range = Some(value),
                "content-length" => self.content_length = value.parse().ok(),
                "etag" => self.etag = Some(value),
                "last-modified" => self.last_modified = Some(value),
                "retry-after" => self.retry_after = Some(value),
                "x-amz-bucket-region" => self.bucket_region = Some(value),
                _ => {}
            }
        }
        true
    }

    fn write(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        if self.capped {
            self.limit = self.limit.min(self.whole_cap.load(Ordering::Relaxed));
        }
        if self.body.len().saturating_add(data.len()) > self.limit {
            self.overflow = true;
            return Ok(0); // makes curl abort the transfer
        }
        if self.body.is_empty() {
            let want = match self.content_length {
                Some(n) if (n as usize) <= self.limit => n as usize,
                _ => data.len(),
            };
            self.body.reserve_exact(want.max(data.len()));
        }
        self.body.extend_from_slice(data);
        Ok(data.len())
    }

    fn progress(&mut self, _dltotal: f64, _dlnow: f64, _ultotal: f64, _ulnow: f64) -> bool {
        !self.cancel.load(Ordering::Relaxed)
    }
}

/// The validators and size reported by one response.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Identity {
    pub total: Option<u64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A successful body.
pub(crate) struct Fetched {
    pub body: Vec<u8>,
    pub identity: Identity,
    /// The server answered 200 with the whole file instead of 206.
    pub whole_file: bool,
    /// The request went over a connection made for it (not one kept alive).
    pub new_connection: bool,
}

/// What a GET asks for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want {
    /// `bytes=start-end` (inclusive). `total` = size known from open (None at open).
    Range {
        start: u64,
        end: u64,
        total: Option<u64>,
    },
    /// The whole resource, at most `limit` bytes (the .dbi), and at most the client's
    /// `whole_cap`. A `probe` (of an optional helper) gets short time limits: see
    /// [`PROBE_RETRY_MS`] and `WebOptions::dbi_timeout_ms`.
    Whole { limit: usize, probe: bool },
}

/// Counters shared by all transfers of one file.
#[derive(Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub bytes: AtomicU64,
    pub retries: AtomicU64,
}

/// Idle curl handles, each set up for origins that get credentials (`true`) or not.
type IdleHandles = Vec<(bool, Easy2<Collector>)>;

pub(crate) struct Client {
    /// Idle handles, per process: a `fork()` child neither reuses the parent's connections
    /// (their sockets are shared with it) nor closes them (that could send a TLS close_notify
    /// on the parent's connection), and never waits for the lock a parent's thread may have
    /// held at the fork (see [`PerFork`]).
    pool: PerFork<Mutex<IdleHandles>>,
    opts: WebOptions,
    auth: Auth,
    pub log: Log,
    pub cancel: Arc<AtomicBool>,
    /// A bound on whole-file bodies that may be lowered while one is being received (the .dbi
    /// download starts before the main file's size, which bounds it, is known).
    pub whole_cap: Arc<AtomicUsize>,
    pub counters: Counters,
}

/// How long transient failures of a probe (see [`Want::Whole`]) are retried: an optional
/// helper that is failing is not worth waiting for.
pub(crate) const PROBE_RETRY_MS: u64 = 1_000;

enum Outcome {
    Done(Fetched),
    Retry(WebError),
    /// Worth a retry only for a moment: nothing listens at the address, or the name does not
    /// resolve (a server restarting answers within [`UNREACHABLE_RETRY_MS`]).
    RetryBriefly(WebError),
    /// A retryable answer whose server said when to come back (`Retry-After`).
    RetryAfter(WebError, Duration),
    /// A redirect to this absolute URL (followed by [`Client::get`], which decides what
    /// credentials the next hop gets).
    Redirect(String),
    Fatal(WebError),
}

/// What an error response said, for [`Client::attempt`] to explain.
#[derive(Default)]
struct Failure {
    status: u32,
    body: Vec<u8>,
    bucket_region: Option<String>,
    retry_after: Option<Duration>,
}

/// Redirects followed per request.
const MAX_REDIRECTS: u32 = 8;
/// The longest `Retry-After` wait honoured; a longer one ends the retries at once.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

fn is_http(url: &str) -> bool {
    super::auth::origin(url).is_some()
}

/// `Retry-After: SECONDS` or `Retry-After: HTTP-DATE` (a date in the past means now).
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    match v.parse::<u64>() {
        Ok(secs) => Some(Duration::from_secs(secs)),
        Err(_) => {
            let when = httpdate::parse_http_date(v).ok()?;
            Some(
                when.duration_since(std::time::SystemTime::now())
                    .unwrap_or_default(),
            )
        }
    }
}

/// How long a refused connection or a failed name resolution is retried.
pub(crate) const UNREACHABLE_RETRY_MS: u64 = 2_000;
/// curl's code for a response that does not parse as HTTP (CURLE_WEIRD_SERVER_REPLY).
const CURLE_WEIRD_SERVER_REPLY: u32 = 8;

fn curl_err(url: &str, what: &str, e: &curl::Error) -> WebError {
    let mut m = format!("{} {}: {}", what, display_url(url), e.description());
    if let Some(extra) = e.extra_description() {
        m.push_str(&format!(" ({})", extra.trim()));
    }
    WebError::new(WebErrorKind::Network, m)
}

fn retryable_curl(e: &curl::Error) -> bool {
    e.is_operation_timedout()
        || e.is_partial_file()
        || e.is_got_nothing()
        || e.is_send_error()
        || e.is_recv_error()
        || e.is_http2_error()
        || e.is_http2_stream_error()
        || e.is_again()
}

impl Client {
    /// A client for the file `url` (and its .dbi), with the credentials for them resolved.
    pub(crate) fn new(opts: &WebOptions, url: &str) -> Result<Client, WebError> {
        Ok(Client {
            pool: PerFork::with(Mutex::new(Vec::new())),
            opts: opts.clone(),
            auth: Auth::new(opts, url)?,
            log: Log::new(opts.log_level).scoped("web: "),
            cancel: Arc::new(AtomicBool::new(false)),
            whole_cap: Arc::new(AtomicUsize::new(usize::MAX)),
            counters: Counters::default(),
        })
    }

    fn handle(&self, trusted: bool) -> Result<Easy2<Collector>, curl::Error> {
        if let Some(h) = self.pool().lock().ok().and_then(|mut p| {
            let i = p.iter().rposition(|(t, _)| *t == trusted)?;
            Some(p.swap_remove(i).1)
        }) {
            return Ok(h);
        }
        let mut h = Easy2::new(Collector::new(self.cancel.clone(), self.whole_cap.clone()));
        h.useragent(concat!(
            "genomicsqlite/",
            env!("CARGO_PKG_VERSION"),
            " (web reader)"
        ))?;
        // Redirects are followed by `get`, which gives credentials only to trusted origins.
        h.follow_location(false)?;
        self.auth.configure(&mut h, trusted)?;
        h.tcp_keepalive(true)?;
        h.low_speed_limit(1024)?;
        h.low_speed_time(Duration::from_secs(self.opts.stall_timeout_s.max(1)))?;
        h.progress(true)?; // lets a closing file abort its transfers
        h.signal(false)?; // no SIGALRM: we run in several threads of a host program
        if self.opts.insecure {
            h.ssl_verify_peer(false)?;
            h.ssl_verify_host(false)?;
        } else if let Some(bundle) = ca_bundle() {
            // Our libcurl is built with rustls, which verifies against a CA file it is given
            // (there is no compiled-in default): the system's bundle.
            h.cainfo(bundle)?;
        }
        // HTTP/2 when the TLS server offers it (ALPN); HTTP/1.1 keep-alive otherwise. An old
        // libcurl without HTTP/2 refuses the option: then HTTP/1.1 it is.
        let _ = h.http_version(HttpVersion::V2TLS);
        Ok(h)
    }

    /// This process's pool of idle handles.
    fn pool(&self) -> &Mutex<IdleHandles> {
        self.pool.get(|_| Mutex::new(Vec::new()))
    }

    fn give_back(&self, trusted: bool, h: Easy2<Collector>) {
        if let Ok(mut p) = self.pool().lock() {
            if p.len() < 16 {
                p.push((trusted, h));
            }
        }
    }

    /// One attempt, given at most `time_left`: a GET of `url` (an HTTP(S) URL) for the file or
    /// .dbi the user named `named`, with failures explained where the server (S3) or the
    /// credentials say what is wrong, and the server's `Retry-After` kept.
    fn attempt(&self, named: &str, url: &str, want: Want, time_left: Duration) -> Outcome {
        let mut f = Failure::default();
        let explained = |e: WebError, f: &Failure| match self.auth.explain(
            named,
            f.status,
            &f.body,
            f.bucket_region.as_deref(),
        ) {
            Some(message) => e.with_message(message),
            None => e,
        };
        match self.transfer(url, want, time_left, &mut f) {
            Outcome::Fatal(e) if f.status >= 300 => Outcome::Fatal(explained(e, &f)),
            Outcome::Retry(e) if matches!(f.status, 429 | 503) => match f.retry_after {
                Some(wait) => Outcome::RetryAfter(e, wait),
                None => Outcome::Retry(e),
            },
            o => o,
        }
    }

    /// One transfer; `failure` receives what an error response said.
    fn transfer(
        &self,
        url: &str,
        want: Want,
        time_left: Duration,
        failure: &mut Failure,
    ) -> Outcome {
        let what = match want {
            Want::Range { start, end, .. } => format!("GET bytes={start}-{end}"),
            Want::Whole { .. } => "GET".to_string(),
        };
        let trusted = self.auth.trusts(url);
        let mut h = match self.handle(trusted) {
            Ok(h) => h,
            Err(e) => return Outcome::Fatal(curl_err(url, &what, &e)),
        };
        let (limit, probe) = match want {
            Want::Range { start, end, .. } => ((end - start + 1) as usize, false),
            Want::Whole { limit, probe } => (limit, probe),
        };
        h.get_mut().reset(limit, matches!(want, Want::Whole { .. }));
        let mut headers = List::new();
        let setup = (|| -> Result<(), curl::Error> {
            h.url(url)?;
            // Set per request: handles are pooled between probes and ordinary requests.
            let (connect, total) = if probe {
                let t = self.opts.dbi_timeout_ms;
                (self.opts.connect_timeout_ms.min(t), t)
            } else {
                (self.opts.connect_timeout_ms, self.opts.request_timeout_ms)
            };
            let left = time_left.max(Duration::from_millis(1));
            h.connect_timeout(Duration::from_millis(connect).min(left))?;
            h.timeout(Duration::from_millis(total).min(left))?;
            if let Want::Range { start, end, .. } = want {
                headers.append(&format!("Range: bytes={start}-{end}"))?;
            }
            self.auth.add_headers(trusted, &mut headers)?;
            h.http_headers(headers)?;
            Ok(())
        })();
        if let Err(e) = setup {
            return Outcome::Fatal(curl_err(url, &what, &e));
        }
        let t0 = Instant::now();
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let result = h.perform();
        let ms = t0.elapsed().as_millis();
        // No new connection was made: the request went over one kept alive from before.
        let reused = h.num_connects().is_ok_and(|n| n == 0);
        let c = h.get_mut();
        let body = std::mem::take(&mut c.body);
        self.counters
            .bytes
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        let status = c.status;
        let overflow = c.overflow;
        let identity_hdrs = (c.etag.clone(), c.last_modified.clone());
        let content_range = c.content_range.clone();
        let content_length = c.content_length;
        let retry_after = c.retry_after.as_deref().and_then(parse_retry_after);
        let bucket_region = c.bucket_region.take();
        let redirect = match status {
            301 | 302 | 303 | 307 | 308 => h.redirect_url().ok().flatten().map(str::to_string),
            _ => None,
        };
        self.log.emit(4, || {
            format!(
                "{what} {} -> {} {} bytes {} ms{}",
                display_url(url),
                if status == 0 {
                    "-".to_string()
                } else {
                    status.to_string()
                },
                body.len(),
                ms,
                match &result {
                    Err(e) if !overflow => format!(" (curl: {})", e.description()),
                    _ => String::new(),
                }
            )
        });
        match &result {
            Ok(()) => self.give_back(trusted, h),
            // A handle whose transfer failed may hold a broken connection: drop it.
            Err(_) => drop(h),
        }
        if self.cancel.load(Ordering::Relaxed) {
            return Outcome::Fatal(WebError::new(
                WebErrorKind::Network,
                format!("{what} {}: file closed", display_url(url)),
            ));
        }
        let name = display_url(url);
        if let Err(e) = &result {
            if !(overflow || (e.is_write_error() && status != 0)) {
                let mut err = curl_err(url, &what, e);
                return if e.is_couldnt_connect() || e.is_couldnt_resolve_host() {
                    Outcome::RetryBriefly(err)
                } else if retryable_curl(e) {
                    Outcome::Retry(err)
                } else if reused {
                    // Whatever went wrong may be the kept-alive connection's (say, stray bytes
                    // left on it by the previous response): the retry uses a new one.
                    if e.code() == CURLE_WEIRD_SERVER_REPLY {
                        let message = format!(
                            "{} (the server's reply on a reused connection did not parse as \
                             HTTP: stray bytes after the previous response?)",
                            err.message()
                        );
                        err = err.with_message(message);
                    }
                    Outcome::Retry(err)
                } else {
                    Outcome::Fatal(err)
                };
            }
            // We aborted the body on purpose (too large); classify by the status below.
        }
        if let Some(next) = redirect {
            return Outcome::Redirect(next);
        }
        *failure = Failure {
            body: if (200..300).contains(&status) {
                Vec::new()
            } else {
                body.clone()
            },
            status,
            bucket_region,
            retry_after,
        };
        let identity = |total| Identity {
            total,
            etag: identity_hdrs.0.clone(),
            last_modified: identity_hdrs.1.clone(),
        };
        match status {
            206 => {
                let Want::Range { start, end, total } = want else {
                    return Outcome::Fatal(WebError::with_status(
                        WebErrorKind::Http, 206, format!("GET {name}: unexpected HTTP 206 (partial content) for a whole-file request"),
                    ));
                };
                let fail = |kind, why: String| {
                    WebError::with_status(kind, 206, format!("{what} {name}: {why}"))
                };
                let verdict = check_partial(
                    start,
                    end,
                    total,
                    content_range.as_deref(),
                    content_length,
                    body.len(),
                    overflow,
                );
                let rtotal = match verdict {
                    Partial::Good { total } => total,
                    // Let the caller report it (it knows what was opened).
                    Partial::SizeChanged { total } => Some(total),
                    Partial::RangeUnsupported(why) => {
                        return Outcome::Fatal(fail(WebErrorKind::RangeUnsupported, why))
                    }
                    Partial::Invalid(why) => return Outcome::Fatal(fail(WebErrorKind::Http, why)),
                    Partial::Truncated(why) => {
                        return Outcome::Retry(fail(WebErrorKind::Network, why))
                    }
                };
                Outcome::Done(Fetched {
                    body,
                    identity: identity(rtotal),
                    whole_file: false,
                    new_connection: !reused,
                })
            }
            200 => match want {
                Want::Whole { .. } => {
                    if overflow {
                        return Outcome::Fatal(WebError::with_status(
                            WebErrorKind::Http,
                            200,
                            format!("GET {name}: response larger than the {limit}-byte limit"),
                        ));
                    }
                    if content_length.is_some_and(|n| n != body.len() as u64) {
                        return Outcome::Retry(WebError::with_status(
                            WebErrorKind::Network,
                            200,
                            format!("GET {name}: truncated response"),
                        ));
                    }
                    let n = body.len() as u64;
                    Outcome::Done(Fetched {
                        body,
                        identity: identity(Some(n)),
                        whole_file: true,
                        new_connection: !reused,
                    })
                }
                Want::Range { start, .. } => {
                    // The server ignored Range. Acceptable only if the whole file fit in what we
                    // asked for (a tiny file); otherwise refuse without downloading the rest.
                    let complete = !overflow
                        && content_length.unwrap_or(body.len() as u64) == body.len() as u64;
                    if start == 0 && complete {
                        let n = body.len() as u64;
                        return Outcome::Done(Fetched {
                            body,
                            identity: identity(Some(n)),
                            whole_file: true,
                            new_connection: !reused,
                        });
                    }
                    Outcome::Fatal(WebError::with_status(
                        WebErrorKind::RangeUnsupported, 200,
                        format!(
                            "{what} {name}: the server ignores HTTP Range requests (answered 200 with the whole {}file); \
                             reading a database over the web needs a server that supports byte ranges",
                            content_length.map(|n| format!("{n}-byte ")).unwrap_or_default()
                        ),
                    ))
                }
            },
            416 => {
                let rtotal = content_range
                    .as_deref()
                    .and_then(parse_content_range)
                    .and_then(|(_, t)| t);
                match (want, rtotal) {
                    (Want::Range { .. }, Some(t)) => Outcome::Done(Fetched {
                        body: Vec::new(),
                        identity: identity(Some(t)),
                        whole_file: false,
                        new_connection: !reused,
                    }),
                    _ => Outcome::Fatal(WebError::with_status(
                        WebErrorKind::Http,
                        416,
                        format!("{what} {name}: HTTP 416 (range not satisfiable)"),
                    )),
                }
            }
            404 | 410 => Outcome::Fatal(WebError::with_status(
                WebErrorKind::NotFound,
                status,
                format!("{what} {name}: HTTP {status} (not found)"),
            )),
            401 | 403 => Outcome::Fatal(WebError::with_status(
                WebErrorKind::Forbidden,
                status,
                format!(
                    "{what} {name}: HTTP {status} ({})",
                    if status == 401 {
                        "unauthorized"
                    } else {
                        "forbidden"
                    }
                ),
            )),
            412 => Outcome::Fatal(WebError::with_status(
                WebErrorKind::Changed,
                status,
                format!("{what} {name}: HTTP 412 (precondition failed: the file changed)"),
            )),
            408 | 425 | 429 | 500..=599 => Outcome::Retry(WebError::with_status(
                WebErrorKind::Http,
                status,
                format!("{what} {name}: HTTP {status}"),
            )),
            0 => Outcome::Retry(WebError::new(
                WebErrorKind::Network,
                format!("{what} {name}: no HTTP response"),
            )),
            _ => Outcome::Fatal(WebError::with_status(
                WebErrorKind::Http,
                status,
                format!("{what} {name}: unexpected HTTP {status}"),
            )),
        }
    }

    /// GET of `url` (http(s):// or s3://) with retries of transient failures (exponential
    /// backoff from 100 ms, doubling up to 5 s, with jitter, or the server's `Retry-After` up
    /// to 30 s), until `retry_total_ms` has passed since the first attempt (shorter for probes
    /// and unreachable servers), and never past `deadline`. Redirects are followed (at most 8
    /// per attempt), with credentials only for trusted origins.
    pub(crate) fn get(
        &self,
        url: &str,
        want: Want,
        deadline: Option<Instant>,
    ) -> Result<Fetched, WebError> {
        let t0 = Instant::now();
        let mut budget = Duration::from_millis(match want {
            Want::Whole { probe: true, .. } => self.opts.retry_total_ms.min(PROBE_RETRY_MS),
            _ => self.opts.retry_total_ms,
        });
        let deadline = deadline.unwrap_or_else(|| t0 + Duration::from_secs(86_400));
        let mut backoff = Duration::from_millis(100);
        let mut attempts = 0u32;
        let start = self.auth.http_url(url)?;
        loop {
            attempts += 1;
            let mut target = start.clone();
            let mut hops = 0;
            let outcome = loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.attempt(url, &target, want, left) {
                    Outcome::Redirect(next) if hops < MAX_REDIRECTS && is_http(&next) => {
                        self.log.emit(4, || {
                            format!(
                                "{} redirects to {}",
                                display_url(&target),
                                display_url(&next)
                            )
                        });
                        hops += 1;
                        target = next;
                    }
                    o => break o,
                }
            };
            let (err, asked) = match outcome {
                Outcome::Done(f) => return Ok(f),
                Outcome::Fatal(e) => return Err(e),
                Outcome::Retry(e) => (e, None),
                Outcome::RetryBriefly(e) => {
                    budget = budget.min(Duration::from_millis(UNREACHABLE_RETRY_MS));
                    (e, None)
                }
                Outcome::RetryAfter(e, wait) => (e, Some(wait)),
                Outcome::Redirect(next) => {
                    return Err(WebError::new(
                        WebErrorKind::Http,
                        if is_http(&next) {
                            format!(
                                "GET {}: more than {MAX_REDIRECTS} redirects",
                                display_url(url)
                            )
                        } else {
                            format!(
                                "GET {}: redirected to a URL that is not http(s) ({}), refused",
                                display_url(url),
                                display_url(&next)
                            )
                        },
                    ))
                }
            };
            let jitter = Duration::from_millis((t0.elapsed().subsec_nanos() % 97) as u64);
            let sleep = match asked {
                Some(wait) if wait > MAX_RETRY_AFTER => budget, // gives up below
                Some(wait) => wait.max(backoff),
                None => backoff + jitter,
            };
            if self.cancel.load(Ordering::Relaxed)
                || t0.elapsed() + sleep > budget
                || Instant::now() + sleep >= deadline
            {
                let msg = format!(
                    "{} (gave up after {} attempt{} in {:.1} s{})",
                    err.message(),
                    attempts,
                    if attempts == 1 { "" } else { "s" },
                    t0.elapsed().as_secs_f64(),
                    match asked {
                        Some(wait) if sleep >= budget =>
                            format!("; the server asked to retry after {} s", wait.as_secs()),
                        _ => String::new(),
                    }
                );
                self.log.emit(2, || msg.clone());
                return Err(err.with_message(msg));
            }
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            self.log.emit(2, || {
                format!("{} -- retrying in {} ms", err.message(), sleep.as_millis())
            });
            // Sleep in slices so that closing the file is not held up by a backoff.
            let wake = Instant::now() + sleep;
            while Instant::now() < wake && !self.cancel.load(Ordering::Relaxed) {
                std::thread::sleep(
                    wake.saturating_duration_since(Instant::now())
                        .min(Duration::from_millis(50)),
                );
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}

/// Environment variables that name a CA certificate bundle, in order of precedence.
const CA_BUNDLE_VARS: [&str; 2] = ["SSL_CERT_FILE", "CURL_CA_BUNDLE"];
/// Where Linux distributions keep the system CA bundle (Debian/Ubuntu/Alpine, Fedora/RHEL,
/// openSUSE, older RHEL, macOS/BSD).
const CA_BUNDLE_PATHS: [&str; 5] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/ssl/cert.pem",
];

/// The CA certificate bundle TLS connections are verified against (found once per process;
/// a [`PerFork`], unlike a OnceLock, never waits for a parent's thread that was looking at the
/// fork). `None` when the system has none: connections then fail with curl's message.
fn ca_bundle() -> Option<&'static str> {
    static BUNDLE: PerFork<Option<String>> = PerFork::new();
    BUNDLE
        .get(|_| {
            CA_BUNDLE_VARS
                .iter()
                .filter_map(|v| std::env::var(v).ok())
                .chain(CA_BUNDLE_PATHS.iter().map(|p| p.to_string()))
                .find(|p| !p.is_empty() && std::path::Path::new(p).is_file())
        })
        .as_deref()
}

#[cfg(test)]
mod tests {
    use super::parse_retry_after;
    use std::time::{Duration, SystemTime};

    #[test]
    fn retry_after() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(20));
        let d = parse_retry_after(&soon).unwrap();
        assert!(
            d > Duration::from_secs(15) && d <= Duration::from_secs(20),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
