//! Read-only access to a database file served by an ordinary web server (issue #7).
//!
//! # Why this module exists
//! GenomicSQLite databases are often published as plain files on HTTP(S) servers or object
//! stores. Downloading a multi-gigabyte file to answer a query that touches a few pages is wasteful,
//! so the `web` VFS (and the `zstd` VFS in web mode) reads the file *in place* with HTTP `Range`
//! requests. SQLite asks for one page at a time; issuing one HTTP request per page would be slow
//! (one round trip each) and issuing huge requests would drag megabytes for a point lookup. This
//! module sits between the two: it turns page reads into well-sized, cached, retried range requests.
//!
//! The module is self-contained and safe Rust (but for [`fork`], the lowest layer of the whole
//! project: `pthread_atfork` and lock-free per-process cells): it depends on `curl` (libcurl)
//! and `crossbeam-channel`, never on SQLite, and never panics on bad input (every failure is a
//! [`WebError`] value whose message names the URL and the HTTP status or curl error).
//!
//! # How the VFS uses it
//! 1. `let opts = WebOptions::from_env()?;` then apply URI parameters with
//!    [`WebOptions::set_uri_param`] (`web_insecure`, `web_nodbi`, `web_small_KiB`, `web_dbi_url`,
//!    `web_log`), so URI/config settings override the environment.
//! 2. `let (file, dbi) = WebFile::open_with_dbi(url, &opts)?;` (xOpen), or `WebFile::open` and
//!    later `file.fetch_dbi()`. One ranged GET learns the size, ETag and Last-Modified and caches
//!    the first chunk (the .dbi download runs beside it). 404/403, a server that ignores `Range`,
//!    bad TLS certificates (unless `insecure`) fail here with a clear message.
//! 3. Optional .dbi helper (see [the .dbi helper](self#the-dbi-helper)): `dbi` is the raw
//!    bytes of the `.dbi` SQLite file (or `None`); the VFS opens those bytes with SQLite
//!    (e.g. `sqlite3_deserialize` into an in-memory database), runs
//!    `SELECT offset, data FROM web_dbi_pages`, and hands the rows to [`WebFile::install_dbi`], which
//!    verifies them against the main file and then serves those pages without network requests.
//!    If the VFS cannot read the .dbi it calls [`WebFile::reject_dbi`] (one warning, then ignored).
//! 4. xFileSize -> [`WebFile::size`]; xRead -> [`WebFile::read_at`] (thread-safe, `&self`; map
//!    `WebErrorKind::ShortRead` to `SQLITE_IOERR_SHORT_READ`, the buffer is already zero-filled,
//!    and every other error to `SQLITE_IOERR_READ` after recording `err.to_string()` for
//!    `genomicsqlite_last_open_error`/logging).
//! 5. Dropping the `WebFile` (xClose) stops its read-ahead threads (in-flight transfers are
//!    aborted) and, at log level >= 3, prints its counters.
//!
//! # The .dbi helper
//! The `.dbi` file is itself a SQLite database; parsing SQLite files is SQLite's job, and the VFS
//! layer has SQLite at hand while this module must not depend on it. So the split is: this module
//! *locates and downloads* the .dbi ([`WebFile::fetch_dbi`], probing `URL.dbi` quietly unless the URL
//! has a query string or `nodbi` is set, or using `dbi_url`, an `http(s)://` URL or a `file:` path),
//! checks its SQLite magic and `application_id` (0x646269), and later *verifies and serves* the
//! pages the VFS extracted ([`WebFile::install_dbi`]; the checks are described in `dbi.rs`: the
//! digest the .dbi records, the header, the bytes of the main file's first chunk, the shape).
//! A stale, foreign or damaged .dbi produces exactly one warning (log level >= 1) and is
//! ignored. Probing `URL.dbi` costs little when it is broken: one attempt limited to
//! `dbi_timeout_ms`, retries for at most 1 s, and at most a quarter of the main file's size.
//!
//! # Batching, read-ahead and memory
//! See [`WebFile`] for the design: aligned chunks (`small_kib`, or one page of 32 KiB or more), the
//! size of the first request, sequential-stream detection with
//! doubling request sizes up to `max_request_kib`, background read-ahead threads, and an LRU chunk
//! cache bounded by `cache_mib`.
//!
//! # Private and cloud storage
//! `s3://bucket/key` URLs are mapped to the store's HTTPS URL and signed with AWS Signature
//! Version 4 by libcurl; bearer tokens, extra headers and `~/.netrc` serve other private
//! servers. Credentials come from the environment, the AWS files and [`WebOptions`] (see
//! `auth.rs`, and `s3.rs` for the URLs and S3's error codes), and reach only the origins of
//! the file and its .dbi: redirects are followed here, not by curl, so another host gets none.
//! No message or log line shows a credential or a URL's query string.
//!
//! # Logging (stderr, prefix `[genomicsqlite] web:`)
//! Through the crate's one [`Log`], at the open file's level. Errors are returned as values; a
//! failed read is also printed (once per distinct message), since SQLite itself reports only
//! "disk I/O error". Open errors are only returned (the VFS reports them). Levels: 0: silent;
//! 1 (default): errors and warnings (an unusable .dbi); 2: + open summary, retries and giving up,
//! .dbi loaded, read-ahead failures;
//! 3: + sequential streams detected, counters at close; 4: + every HTTP request with range,
//! status, bytes and milliseconds; 5: + every read with its offset and how it was served.

// Unsafe code (only in `fork`) says why it holds; both lints keep it that way.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod auth;
pub mod base;
mod cache;
mod dbi;
mod dbi_check;
mod disk_cache;
mod error;
mod file;
pub mod fork;
pub mod format;
mod http;
mod identity;
pub mod readahead;
mod response;
mod s3;

pub use dbi::{pages_digest, DbiSource};
pub use format::{DIGEST_KEY, IDENTITY_KEY, LEAD_KEY};

use crate::base::{parse_bool, Secret};
pub use error::{Detail, WebError, WebErrorKind};
pub use file::{WebFile, WebStats};
pub use identity::{identity_digest, IDENTITY_SPAN};

/// Settings of the web reader. `Default` gives the documented defaults; [`WebOptions::from_env`]
/// merges the `SQLITE_WEB_*` environment variables over them.
#[derive(Debug, Clone, PartialEq)]
pub struct WebOptions {
    /// Skip TLS certificate and host name verification (`web_insecure`, `SQLITE_WEB_INSECURE=1`).
    pub insecure: bool,
    /// Size in KiB of the aligned chunk fetched for an isolated (random) read (`web_small_KiB`).
    /// 1..=65536, default 64.
    pub small_kib: u32,
    /// Where to get the .dbi helper: `http(s)://...`, `file:PATH` or a plain local path
    /// (`web_dbi_url`). `None`: probe `URL.dbi` unless the URL has a query string.
    pub dbi_url: Option<String>,
    /// Never use a .dbi helper (`web_nodbi`, `SQLITE_WEB_NODBI=1`).
    pub nodbi: bool,
    /// 0..=5, the scale of [`Log`] and `vfs_log` (`SQLITE_WEB_LOG`). Default 1.
    pub log_level: i32,
    /// Memory budget of the chunk cache in MiB (default 64, minimum 1). The cache never holds
    /// more than this plus the chunks of requests in flight.
    pub cache_mib: u32,
    /// Largest single request in KiB for sequential read-ahead (default 8192; at least small_kib).
    pub max_request_kib: u32,
    /// Background read-ahead threads per open file (0 disables background read-ahead; default 2).
    pub prefetch_threads: u32,
    /// Connection timeout per attempt in ms (default 10000).
    pub connect_timeout_ms: u64,
    /// Hard time limit of one attempt (one HTTP request) in ms (default 120000;
    /// `web_request_timeout_ms`).
    pub request_timeout_ms: u64,
    /// Hard time limit of one read of the file by SQLite in ms, whatever it takes: requests,
    /// retries, waiting for another thread's transfer (default 60000; `web_read_timeout_ms`).
    /// A server trickling bytes just fast enough to escape the stall timeout cannot hold a
    /// query up for longer than this per read.
    pub read_timeout_ms: u64,
    /// An attempt receiving under 1 KiB/s for this many seconds is aborted (default 20).
    pub stall_timeout_s: u64,
    /// Retries (connection errors, timeouts, 5xx, 408, 429) stop once this much time in ms has
    /// passed since the first attempt (default 45000); 0 = a single attempt.
    pub retry_total_ms: u64,
    /// Largest .dbi accepted, in MiB (default 1024). A probed `URL.dbi` is also refused once
    /// larger than a quarter of the main file (at least 4 MiB): see `dbi::size_bound`.
    pub max_dbi_mib: u32,
    /// Time limit in ms of the probe of `URL.dbi` (one attempt; transient failures are retried
    /// for at most 1 s): a slow or failing optional helper delays an open by at most about
    /// this much (`web_dbi_timeout_ms`, default 5000).
    pub dbi_timeout_ms: u64,
    /// Directory of the persistent cache shared by processes (`web_cache_dir`,
    /// `SQLITE_WEB_CACHE_DIR`); `None` or empty: no disk cache.
    pub cache_dir: Option<String>,
    /// Size bound of the disk cache in MiB (`web_cache_MiB`, `SQLITE_WEB_CACHE_MIB`; default
    /// 1024), kept by deleting the least recently used entries.
    pub disk_cache_mib: u64,
    /// Sent as `Authorization: Bearer ...` to the file's and the .dbi's hosts
    /// (`web_bearer_token`, `SQLITE_WEB_BEARER_TOKEN`).
    pub bearer_token: Option<Secret>,
    /// Extra request headers (`Name: value`) for the file's and the .dbi's hosts
    /// (`web_headers`, `SQLITE_WEB_HEADERS`: one header per line).
    pub headers: Vec<Secret>,
    /// Endpoint of an S3-compatible store for `s3://` URLs, addressed path-style
    /// (`web_s3_endpoint`; default from `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`).
    pub s3_endpoint: Option<String>,
    /// Region `s3://` requests are signed for (`web_s3_region`; default from `AWS_REGION`...).
    pub s3_region: Option<String>,
}

impl Default for WebOptions {
    fn default() -> WebOptions {
        WebOptions {
            insecure: false,
            small_kib: 64,
            dbi_url: None,
            nodbi: false,
            log_level: 1,
            cache_mib: 64,
            max_request_kib: 8192,
            prefetch_threads: 2,
            connect_timeout_ms: 10_000,
            request_timeout_ms: crate::base::DEFAULT_REQUEST_TIMEOUT_MS,
            read_timeout_ms: crate::base::DEFAULT_READ_TIMEOUT_MS,
            stall_timeout_s: 20,
            retry_total_ms: 45_000,
            max_dbi_mib: 1024,
            dbi_timeout_ms: crate::base::DEFAULT_DBI_TIMEOUT_MS,
            cache_dir: None,
            disk_cache_mib: 1024,
            bearer_token: None,
            headers: Vec::new(),
            s3_endpoint: None,
            s3_region: None,
        }
    }
}

fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, WebError> {
    value.trim().parse::<T>().map_err(|_| {
        WebError::new(
            WebErrorKind::InvalidInput,
            format!("{key}: expected a number, got {value:?}"),
        )
    })
}

impl WebOptions {
    /// Defaults merged with the environment: `SQLITE_WEB_LOG=N`, `SQLITE_WEB_INSECURE=1`,
    /// `SQLITE_WEB_NODBI=1`, `SQLITE_WEB_CACHE_DIR=DIR`, `SQLITE_WEB_CACHE_MIB=N`. Empty variables are ignored; a malformed value is an error naming it.
    pub fn from_env() -> Result<WebOptions, WebError> {
        let mut o = WebOptions::default();
        o.merge_env(|k| std::env::var(k).ok())?;
        Ok(o)
    }

    /// Like [`from_env`](Self::from_env) over `self`, with a custom lookup (for tests).
    pub fn merge_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), WebError> {
        if let Some(v) = get("SQLITE_WEB_LOG").filter(|v| !v.trim().is_empty()) {
            self.set_uri_param("SQLITE_WEB_LOG", &v)?;
        }
        if let Some(v) = get("SQLITE_WEB_INSECURE").filter(|v| !v.trim().is_empty()) {
            self.insecure = parse_bool("SQLITE_WEB_INSECURE", &v)?;
        }
        if let Some(v) = get("SQLITE_WEB_NODBI").filter(|v| !v.trim().is_empty()) {
            self.nodbi = parse_bool("SQLITE_WEB_NODBI", &v)?;
        }
        for (var, key) in [
            ("SQLITE_WEB_CACHE_DIR", "web_cache_dir"),
            ("SQLITE_WEB_CACHE_MIB", "web_cache_MiB"),
            ("SQLITE_WEB_BEARER_TOKEN", "web_bearer_token"),
            ("SQLITE_WEB_HEADERS", "web_headers"),
        ] {
            if let Some(v) = get(var).filter(|v| !v.trim().is_empty()) {
                self.set_uri_param(key, &v)?;
            }
        }
        Ok(())
    }

    /// Apply one URI / configuration parameter. Returns `Ok(false)` for a key this module does
    /// not know (the caller decides whether that is an error). Keys (case-insensitive):
    /// `web_insecure`, `web_nodbi`, `web_small_KiB`, `web_dbi_url` (empty = none), `web_log`
    /// (also `SQLITE_WEB_LOG`), `web_cache_dir` (empty = none), `web_cache_MiB` (of the disk
    /// cache), `web_memory_MiB` (of the in-memory chunk cache), `web_max_request_KiB`,
    /// `web_prefetch_threads`, `web_retry_ms`, `web_dbi_timeout_ms`, `web_request_timeout_ms`,
    /// `web_read_timeout_ms`, `web_bearer_token`, `web_headers`, `web_s3_endpoint`,
    /// `web_s3_region`.
    pub fn set_uri_param(&mut self, key: &str, value: &str) -> Result<bool, WebError> {
        match key.to_ascii_lowercase().as_str() {
            "web_insecure" => self.insecure = parse_bool(key, value)?,
            "web_nodbi" => self.nodbi = parse_bool(key, value)?,
            "web_small_kib" => self.small_kib = parse_num(key, value)?,
            "web_dbi_url" => {
                self.dbi_url = if value.is_empty() {
                    None
                } else {
                    Some(value.to_string())
                }
            }
            "web_log" | "sqlite_web_log" => {
                let n: i32 = parse_num(key, value)?;
                self.log_level = n.clamp(0, 5);
            }
            "web_memory_mib" => self.cache_mib = parse_num(key, value)?,
            "web_cache_dir" => self.cache_dir = Some(value.to_string()).filter(|v| !v.is_empty()),
            "web_cache_mib" => self.disk_cache_mib = parse_num(key, value)?,
            "web_max_request_kib" => self.max_request_kib = parse_num(key, value)?,
            "web_prefetch_threads" => self.prefetch_threads = parse_num(key, value)?,
            "web_retry_ms" => self.retry_total_ms = parse_num(key, value)?,
            "web_dbi_timeout_ms" => self.dbi_timeout_ms = parse_num(key, value)?,
            "web_request_timeout_ms" => self.request_timeout_ms = parse_num(key, value)?,
            "web_read_timeout_ms" => self.read_timeout_ms = parse_num(key, value)?,
            "web_bearer_token" => {
                self.bearer_token = Some(Secret::new(value.trim())).filter(|_| !value.is_empty())
            }
            "web_headers" => self.headers = auth::parse_headers(key, value)?,
            "web_s3_endpoint" => {
                self.s3_endpoint = Some(value.to_string()).filter(|v| !v.is_empty())
            }
            "web_s3_region" => self.s3_region = Some(value.to_string()).filter(|v| !v.is_empty()),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Check ranges; called by [`WebFile::open`].
    pub fn validate(&self) -> Result<(), WebError> {
        let bad = |m: String| Err(WebError::new(WebErrorKind::InvalidInput, m));
        if self.small_kib == 0 || self.small_kib > 65536 {
            return bad(format!(
                "web_small_KiB must be 1..65536, got {}",
                self.small_kib
            ));
        }
        if self.cache_mib == 0 || self.cache_mib > 1 << 20 {
            return bad(format!(
                "web cache must be 1..1048576 MiB, got {}",
                self.cache_mib
            ));
        }
        if self.disk_cache_mib == 0 || self.disk_cache_mib > 1 << 30 {
            return bad(format!(
                "web_cache_MiB must be 1..1073741824, got {}",
                self.disk_cache_mib
            ));
        }
        if self.max_request_kib > 1 << 20 {
            return bad(format!(
                "web max request must be at most 1048576 KiB, got {}",
                self.max_request_kib
            ));
        }
        if self.prefetch_threads > 64 {
            return bad(format!(
                "web prefetch threads must be 0..64, got {}",
                self.prefetch_threads
            ));
        }
        if self.max_dbi_mib > 65536 {
            return bad(format!(
                "web .dbi size limit must be at most 65536 MiB, got {}",
                self.max_dbi_mib
            ));
        }
        if [
            self.connect_timeout_ms,
            self.request_timeout_ms,
            self.dbi_timeout_ms,
            self.read_timeout_ms,
        ]
        .contains(&0)
        {
            return bad("web timeouts must be positive".to_string());
        }
        Ok(())
    }
}

// The VFS shares one WebFile between SQLite connections' threads.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<WebFile>();
    send_sync::<WebError>();
};

/// The crate's one log: lines on standard error, `[genomicsqlite] ` and the scope, kept or
/// dropped by the level of the open file they concern (so two databases opened with different
/// `vfs_log` each log at their own). The scale is `vfs_log`'s: 0 = silent, 1 (the default, also
/// for -1) = errors and warnings, 2 = notable events (opens, retries, .dbi loaded), 3 = streams
/// and counters at close, 4 = every request, 5 = every read. It lives in the web reader, the
/// lowest layer, so that the reader and the library above it share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Log {
    level: i32,
    scope: &'static str,
}

impl Default for Log {
    fn default() -> Log {
        Log::new(-1)
    }
}

impl Log {
    /// A log at `level` (-1 = the default, 1; values above 5 act as 5).
    pub fn new(level: i32) -> Log {
        Log {
            level: if level < 0 { 1 } else { level.min(5) },
            scope: "",
        }
    }
    /// The same level, with `scope` (e.g. `"web: "`) before every message.
    pub fn scoped(self, scope: &'static str) -> Log {
        Log { scope, ..self }
    }
    /// Whether messages at `level` are shown.
    pub fn on(&self, level: i32) -> bool {
        self.level >= level
    }
    /// Prints the message at `level` if shown (built only then), in one `write(2)` (see
    /// [`fork::write_stderr`]).
    pub fn emit(&self, level: i32, msg: impl FnOnce() -> String) {
        if self.on(level) {
            fork::write_stderr(&format!("[genomicsqlite] {}{}", self.scope, msg()));
        }
    }
    /// An error (level 1).
    pub fn error(&self, msg: &str) {
        self.emit(1, || msg.to_string());
    }
}

/// The URL as shown in messages: a query string (which may hold credentials such as a
/// pre-signed signature) is replaced by `?...`; user:password@ is removed.
pub fn display_url(url: &str) -> String {
    let mut s = match url.find('?') {
        Some(i) => format!("{}?...", &url[..i]),
        None => url.to_string(),
    };
    if let Some(scheme_end) = s.find("://") {
        let rest_start = scheme_end + 3;
        let host_end = s[rest_start..]
            .find('/')
            .map(|i| rest_start + i)
            .unwrap_or(s.len());
        if let Some(at) = s[rest_start..host_end].rfind('@') {
            s.replace_range(rest_start..rest_start + at + 1, "");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_messages_hide_credentials() {
        assert_eq!(display_url("https://h/x.db"), "https://h/x.db");
        assert_eq!(
            display_url("https://h/x.db?X-Sig=abc&e=1"),
            "https://h/x.db?..."
        );
        assert_eq!(
            display_url("http://user:pw@h:8080/x.db"),
            "http://h:8080/x.db"
        );
        assert_eq!(display_url("http://h/p@q"), "http://h/p@q");
        assert_eq!(display_url("not a url"), "not a url");
    }

    #[test]
    fn errors_read_as_their_message_and_keep_kind_and_status() {
        let e = WebError::with_status(WebErrorKind::NotFound, 404, "GET http://h/x.db: 404");
        assert!(matches!(&e, WebError::NotFound(d) if d.status == Some(404)));
        assert_eq!((e.kind(), e.status()), (WebErrorKind::NotFound, Some(404)));
        assert_eq!(e.to_string(), "GET http://h/x.db: 404");
        let e = e.with_message("retried".into());
        assert_eq!(
            (e.kind(), e.status(), e.message()),
            (WebErrorKind::NotFound, Some(404), "retried")
        );
        assert_eq!(WebError::new(WebErrorKind::Io, "x").status(), None);
    }

    #[test]
    fn option_validation() {
        assert!(WebOptions::default().validate().is_ok());
        for bad in [
            WebOptions {
                small_kib: 0,
                ..WebOptions::default()
            },
            WebOptions {
                small_kib: 65537,
                ..WebOptions::default()
            },
            WebOptions {
                cache_mib: 0,
                ..WebOptions::default()
            },
            WebOptions {
                prefetch_threads: 65,
                ..WebOptions::default()
            },
            WebOptions {
                connect_timeout_ms: 0,
                ..WebOptions::default()
            },
        ] {
            let e = bad.validate().unwrap_err();
            assert_eq!(e.kind(), WebErrorKind::InvalidInput, "{e}");
        }
        let mut o = WebOptions::default();
        assert!(o.set_uri_param("WEB_LOG", "9").unwrap());
        assert_eq!(o.log_level, 5);
        assert!(o.set_uri_param("web_nodbi", "").unwrap());
        assert!(o.nodbi);
        assert!(o.set_uri_param("web_insecure", "maybe").is_err());
    }
}
