//! [`WebFile`]: a remote file read with cached, batched, retried HTTP range requests.

use super::cache::ChunkCache;
use super::dbi::{self, DbiSource};
use super::disk_cache::DiskCache;
use super::fork::PerFork;
use super::http::{Client, Fetched, Identity, Want};
use super::readahead::{Observed, StreamTracker};
use super::{display_url, Log, WebError, WebErrorKind, WebOptions};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Counters of one open file (all monotonic except `cached_bytes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebStats {
    /// Calls to `read_at`.
    pub reads: u64,
    /// Bytes returned by `read_at`.
    pub bytes_read: u64,
    /// HTTP requests sent, including the open request, retries, read-ahead and the .dbi.
    pub requests: u64,
    /// Body bytes received over HTTP.
    pub bytes_fetched: u64,
    /// Attempts that were retried (transient errors).
    pub retries: u64,
    /// Requests issued by background read-ahead.
    pub prefetch_requests: u64,
    /// Reads served entirely from memory (chunk cache) without this thread sending a request.
    pub cache_hits: u64,
    /// Reads served from the .dbi helper.
    pub dbi_hits: u64,
    /// Bytes currently held by the chunk cache.
    pub cached_bytes: u64,
}

/// Access streams followed at once.
const MAX_STREAMS: usize = 8;
/// A read continues a stream when it starts from two chunks before the stream's last chunk
/// (a re-read) to the chunk after it (an advance).
const STREAM_STEPS: std::ops::RangeInclusive<i64> = -2..=1;
/// Random reads that fetch a single chunk before requests start to grow (see [`WebFile`]),
/// without and with a .dbi carrying the pages queries read first: as many as a cold point
/// lookup through two indexes needs, so that one never reads ahead while a workload of many
/// grows from the same miss on. Measured on org.Hs.eg.db over a 50 ms link (one lookup / 2000
/// lookups / a join, against GenomicSQLite 0.9.4): 8 kept a lookup at 1.2 MB but left the join
/// at 1.04x the peer's time; 2 brought the join to 0.6x but a single lookup to 1.9 MB; 5 cost
/// the 2000 lookups and the join 6 requests and 0.2-0.3 s more than 3 did (`bench/run.sh --web
/// --delay-ms 50`). Such a lookup misses 4 times with a .dbi that lacks the inner b-trees'
/// roots (three inner leaves and the roots' page; without a .dbi, more), 3 with one that has
/// them: growing only after the 4th then cost the join a request more.
const RANDOM_MISSES_BEFORE_GROWTH: [u64; 2] = [4, 3];

struct State {
    cache: ChunkCache,
    streams: StreamTracker,
    /// Set once the file is known to have changed on the server: every later read fails.
    broken: Option<WebError>,
    /// Requests made for random (non-sequential) reads so far.
    random_misses: u64,
}

impl State {
    fn new(budget: usize) -> State {
        State {
            cache: ChunkCache::new(budget),
            streams: StreamTracker::new(MAX_STREAMS, STREAM_STEPS),
            broken: None,
            random_misses: 0,
        }
    }
}

struct Dbi {
    page_size: u64,
    pages: HashMap<u64, Vec<u8>>,
}

/// The locked state of a file, one per process (see [`WebFile`], "fork()").
struct Local {
    state: Mutex<State>,
    cond: Condvar,
    dbi: RwLock<Option<Arc<Dbi>>>,
    last_error: Mutex<String>,
}

impl Local {
    fn new(state: State) -> Local {
        Local {
            state: Mutex::new(state),
            cond: Condvar::new(),
            dbi: RwLock::new(None),
            last_error: Mutex::new(String::new()),
        }
    }

    /// A `fork()` child's, from its parent's `parent` as far as that can be read without
    /// waiting: a lock held at the fork by a thread of the parent stays held forever here, so
    /// what it guards is started afresh (an empty cache, no .dbi), never waited for. Transfers
    /// and read-ahead pending in the parent are not coming: their marks are dropped.
    fn inherit(parent: &Local, budget: usize) -> Local {
        let state = match parent.state.try_lock() {
            Ok(st) => {
                let mut cache = st.cache.clone();
                cache.clear_all_pending();
                State {
                    cache,
                    streams: StreamTracker::new(MAX_STREAMS, STREAM_STEPS),
                    broken: st.broken.clone(),
                    random_misses: st.random_misses,
                }
            }
            Err(_) => State::new(budget),
        };
        let local = Local::new(state);
        if let Ok(dbi) = parent.dbi.try_read() {
            *local.dbi.write().unwrap_or_else(|p| p.into_inner()) = dbi.clone();
        }
        local
    }
}

pub(crate) struct Inner {
    pub(crate) url: String,
    pub(crate) name: String,
    pub(crate) opts: WebOptions,
    size: u64,
    chunk: u64,
    /// Chunks per `small_kib`: the unit in which requests grow, so that page-sized chunks (see
    /// `chunk_size`) make a cold read smaller without slowing the ramp of many reads.
    block: u64,
    max_chunks: u64,
    identity: Identity,
    pub(crate) header: Vec<u8>,
    pub(crate) client: Client,
    pub(crate) log: Log,
    /// Everything behind a lock, per process (see [`WebFile`], "fork()").
    local: PerFork<Local>,
    pub(crate) dbi_warned: AtomicBool,
    /// The installed .dbi carries the pages queries read first (see [`WebFile::dbi_has_lead`]).
    pub(crate) dbi_lead: AtomicBool,
    reads: AtomicU64,
    bytes_read: AtomicU64,
    prefetch_requests: AtomicU64,
    cache_hits: AtomicU64,
    dbi_hits: AtomicU64,
    /// The persistent cache shared with other processes (`web_cache_dir`), if configured.
    pub(crate) disk: Option<DiskCache>,
}

/// A file on an HTTP(S) server, opened read-only.
///
/// # Design
/// * **Chunks.** The file is cut into aligned chunks of `small_kib` KiB (one page for SQLite
///   files with pages of 32 KiB or more, see `chunk_size`). A read needing a missing chunk
///   fetches it with one `Range` request, so an isolated page read costs about one chunk of
///   transfer no matter where it lands.
/// * **First request.** It fetches `small_kib` KiB, or 1 MiB when no .dbi will be read (see
///   `FIRST_REQUEST_NODBI`); every whole chunk of it is cached.
/// * **Many random reads.** After 4 random reads that needed a request (3 with a .dbi that
///   carries the inner b-trees' roots, see [`WebFile::dbi_has_lead`]), each
///   further one fetches the aligned block around it, twice as large as the previous (up to
///   `max_request_kib`): a workload of thousands of lookups then costs a few dozen round trips
///   and about one transfer of the file, instead of a round trip per page, while a single
///   lookup still costs a few small requests.
/// * **Sequential streams.** Up to 8 recent access streams are tracked. A read in the chunk after
///   a stream's last chunk advances it; after two advances the request size doubles with every
///   further advance (2, 4, 8 ... chunks) up to `max_request_kib`. While a stream is sequential,
///   background threads (`prefetch_threads`) fetch the next window ahead of the reader, so a scan
///   streams with few large requests while point lookups stay small.
/// * **Concurrency.** `read_at` takes `&self` and may be called from many threads. Chunks being
///   fetched are marked pending; other readers wait for that transfer instead of repeating it.
/// * **Memory bound.** Fetched chunks live in an LRU cache of at most `cache_mib` MiB (plus the
///   requests in flight, at most `prefetch_threads + readers` requests of at most
///   `max_request_kib`, itself capped at a quarter of the cache). .dbi pages are kept in addition
///   (bounded by the .dbi size limit `max_dbi_mib`).
/// * **Consistency.** Every response's size (Content-Range total), ETag and Last-Modified are
///   compared with those seen at open; any difference makes this and every later read fail with
///   [`WebErrorKind::Changed`], so bytes of two versions are never mixed. A file served without
///   ETag and Last-Modified has its header fetched again on every new connection.
/// * **Failures.** Timeouts, broken transfers, 5xx, 408 and 429 are retried with exponential
///   backoff within `retry_total_ms`; a refused connection or an unknown host name for at most
///   2 s; whatever went wrong on a kept-alive connection once more on a new one. Every read of
///   SQLite's is done within `read_timeout_ms`. The final error names the URL and what the
///   server did (status, curl error, the headers that do not fit the request).
/// * **Connections.** curl easy handles are pooled and reused (keep-alive; HTTP/2 over TLS when
///   offered; redirects followed). Dropping the file aborts its background transfers.
/// * **fork().** A `fork()` child (Python `multiprocessing`, job launchers) never touches a
///   lock, a thread or a connection of its parent: the parent's threads (read-ahead, other
///   readers) may have held a lock at the fork, which then stays held forever in the child.
///   Every lock of a file (its cache and stream state, .dbi pages, last error), its read-ahead
///   threads and its pool of connections are per process ([`PerFork`]); the child's first read
///   builds its own, starting from whatever of the parent's cache and .dbi it can read without
///   waiting (see `Local::inherit`). The parent's copies are left as they are (leaked in the
///   child): closing its connections could send a TLS close_notify on the parent's sockets.
pub struct WebFile {
    inner: Arc<Inner>,
    prefetch: PerFork<Prefetch>,
}

/// The read-ahead threads of a file and the channel feeding them, as started in one process.
struct Prefetch {
    jobs: Option<Sender<Vec<u64>>>,
    workers: Vec<JoinHandle<()>>,
}

impl Prefetch {
    fn start(inner: &Arc<Inner>) -> Prefetch {
        let mut workers = Vec::new();
        let mut jobs = None;
        let threads = inner.opts.prefetch_threads;
        if threads > 0 && inner.size > inner.chunk {
            let (tx, rx) = crossbeam_channel::bounded::<Vec<u64>>(threads as usize * 2);
            for i in 0..threads {
                let worker_inner = inner.clone();
                let rx: Receiver<Vec<u64>> = rx.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("gsq-web-prefetch-{i}"))
                    .spawn(move || prefetch_worker(worker_inner, rx));
                match spawned {
                    Ok(h) => workers.push(h),
                    Err(e) => inner
                        .log
                        .emit(1, || format!("cannot start a read-ahead thread: {e}")),
                }
            }
            if !workers.is_empty() {
                jobs = Some(tx);
            }
        }
        Prefetch { jobs, workers }
    }
}

/// What the first request fetches when no .dbi will be read: a compressed database keeps what
/// every reader needs first (the outer schema and b-tree root, the dictionaries' row page, the
/// first inner pages with the inner schema and the roots of its first b-trees) at the start of
/// the file, so one larger request replaces several small ones. Measured on org.Hs.eg.db
/// (`bench/run.sh --web --only lookup1_nodbi`): 64 KiB took 9 requests / 3.4 MB for a point
/// lookup, 1 MiB takes 6 / 1.2 MB (GenomicSQLite 0.9.4 reads the same first MiB).
const FIRST_REQUEST_NODBI: u64 = 1 << 20;

/// Bytes the request that opens a file asks for (size unknown): `small_kib` (the header and
/// the first pages, which also cover the file's identity and a .dbi's check), or
/// [`FIRST_REQUEST_NODBI`] when no .dbi will be read, which then supplies nothing of this
/// (but no more than `max_request_kib`, which e.g. `--download` sets to its block size).
fn first_request_len(opts: &WebOptions, url: &str) -> u64 {
    let small = opts.small_kib as u64 * 1024;
    if dbi::location(opts, url).is_none() {
        small.max(FIRST_REQUEST_NODBI.min(opts.max_request_kib as u64 * 1024))
    } else {
        small
    }
}

/// The request that opens a file.
fn first_request(opts: &WebOptions, url: &str) -> Want {
    Want::Range {
        start: 0,
        end: first_request_len(opts, url) - 1,
        total: None,
    }
}

/// The chunk size of a file whose first bytes are `first`: `small_kib`, except that a SQLite
/// file with pages of 32 KiB or more (the outer file of a compressed database) is read a page
/// at a time, since one such page already holds several inner pages and its neighbours are
/// rarely wanted together: a cold point lookup then moves half the bytes. Smaller pages keep
/// `small_kib` chunks, whose neighbouring pages a b-tree walk often needs next.
fn chunk_size(opts: &WebOptions, first: &[u8]) -> u64 {
    let small = opts.small_kib as u64 * 1024;
    match crate::format::DbHeader::parse(first) {
        Ok(h) if h.page_size >= 32 * 1024 => u64::from(h.page_size).min(small),
        _ => small,
    }
}

/// The open request is a read like any other (see `WebOptions::read_timeout_ms`).
fn open_deadline(opts: &WebOptions) -> Instant {
    Instant::now() + Duration::from_millis(opts.read_timeout_ms)
}

/// Check the options and the URL before any network access.
fn check_args(url: &str, opts: &WebOptions) -> Result<(), WebError> {
    opts.validate()?;
    if !is_http_url(url) {
        return Err(WebError::new(
            WebErrorKind::InvalidInput,
            format!(
                "web URL must start with http://, https:// or s3://, got {:?}",
                display_url(url)
            ),
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) || url.len() < 10 {
        return Err(WebError::new(
            WebErrorKind::InvalidInput,
            format!(
                "malformed web URL {:?} (spaces and control characters must be percent-encoded)",
                display_url(url)
            ),
        ));
    }
    Ok(())
}

/// http://, https:// or s3:// (any case).
pub(crate) fn is_http_url(url: &str) -> bool {
    let l = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://") || l.starts_with("s3://")
}

impl WebFile {
    /// Open `url` (http://, https:// or s3://bucket/key): one ranged GET of the first chunk learns the size,
    /// ETag and Last-Modified. Fails with a message naming the URL and the status for 404/403,
    /// a server ignoring `Range` (the transfer is aborted after the first chunk's worth of bytes),
    /// TLS verification failure (unless `opts.insecure`), or transport errors after retries.
    pub fn open(url: &str, opts: &WebOptions) -> Result<WebFile, WebError> {
        check_args(url, opts)?;
        let client = Client::new(opts, url)?;
        let disk = DiskCache::new(opts, url);
        let (warm, _open_lock) =
            DiskCache::open_warm(disk.as_ref(), &client, url, open_deadline(opts));
        let first = match warm {
            Some(first) => first,
            None => client.get(url, first_request(opts, url), Some(open_deadline(opts)))?,
        };
        WebFile::finish_open(url, opts, client, first, disk)
    }

    /// [`open`](Self::open) and [`fetch_dbi`](Self::fetch_dbi) at once: the .dbi is downloaded
    /// in a second thread while the first request is in flight, saving a round trip. An error
    /// opening the file wins over anything about the .dbi.
    pub fn open_with_dbi(
        url: &str,
        opts: &WebOptions,
    ) -> Result<(WebFile, Option<DbiSource>), WebError> {
        check_args(url, opts)?;
        let client = Client::new(opts, url)?;
        // With a disk cache, processes opening the URL together wait for the first one, and a
        // version already cached costs one small request; the .dbi then comes from the cache.
        let disk = DiskCache::new(opts, url);
        let (warm, _open_lock) =
            DiskCache::open_warm(disk.as_ref(), &client, url, open_deadline(opts));
        if let Some(first) = warm {
            let file = WebFile::finish_open(url, opts, client, first, disk)?;
            let dbi = file.fetch_dbi_cached()?;
            return Ok((file, dbi));
        }
        let name = display_url(url);
        let warned = AtomicBool::new(false);
        let loc = dbi::location(opts, url);
        let (first, dbi) = std::thread::scope(|s| {
            let job = || match &loc {
                Some(loc) => dbi::download(&client, opts, loc, &name, &warned),
                None => Ok(None),
            };
            let handle = std::thread::Builder::new()
                .name("gsq-web-dbi".to_string())
                .spawn_scoped(s, job);
            let first = client.get(url, first_request(opts, url), Some(open_deadline(opts)));
            // A probed .dbi is bounded by the main file's size, now known: a download still
            // running stops once past the bound.
            if let (Ok(f), false) = (&first, opts.dbi_url.is_some()) {
                if let Some(total) = f
                    .identity
                    .total
                    .or(f.whole_file.then_some(f.body.len() as u64))
                {
                    client
                        .whole_cap
                        .store(dbi::size_bound(total), Ordering::Relaxed);
                }
            }
            let dbi = match handle {
                Ok(h) => h.join().unwrap_or_else(|_| {
                    Err(WebError::new(
                        WebErrorKind::Dbi,
                        "the .dbi download thread failed",
                    ))
                }),
                // No thread to be had: download it now, in this thread.
                Err(_) => job(),
            };
            (first, dbi)
        });
        let file = WebFile::finish_open(url, opts, client, first?, disk)?;
        if warned.load(Ordering::Relaxed) {
            file.inner.dbi_warned.store(true, Ordering::Relaxed);
        }
        let dbi = dbi?.filter(|d| {
            let bound = dbi::size_bound(file.size());
            let fits = opts.dbi_url.is_some() || d.bytes.len() <= bound;
            if !fits {
                file.reject_dbi(
                    &d.origin,
                    &format!(
                        "it is {} bytes, more than a .dbi of a {}-byte file can be",
                        d.bytes.len(),
                        file.size()
                    ),
                );
            }
            fits
        });
        if let Some(s) = &dbi {
            file.remember_dbi(s);
        }
        Ok((file, dbi))
    }

    fn finish_open(
        url: &str,
        opts: &WebOptions,
        client: Client,
        f: Fetched,
        mut disk: Option<DiskCache>,
    ) -> Result<WebFile, WebError> {
        let name = display_url(url);
        let log = Log::new(opts.log_level).scoped("web: ");
        let chunk = chunk_size(opts, &f.body);
        let size = if f.whole_file {
            f.body.len() as u64
        } else {
            match f.identity.total {
                Some(t) => t,
                None => {
                    return Err(WebError::new(
                        WebErrorKind::RangeUnsupported,
                        format!("GET {name}: the server did not report the file size (Content-Range: bytes a-b/*)"),
                    ))
                }
            }
        };
        let first_len = size.min(opts.small_kib as u64 * 1024) as usize;
        if f.body.len() < first_len {
            return Err(WebError::new(
                WebErrorKind::Network,
                format!(
                    "GET {name}: short response at open ({} of {} bytes)",
                    f.body.len(),
                    first_len
                ),
            ));
        }
        let mut body = f.body;
        body.truncate(size.min(body.len() as u64) as usize);
        let identity = Identity {
            total: Some(size),
            ..f.identity
        };
        if let Some(d) = &mut disk {
            d.begin(&identity, &body[..first_len], chunk);
        }
        // The cache holds whole chunks only (the file's last chunk may be short).
        if (body.len() as u64) < size {
            body.truncate(body.len() - body.len() % chunk as usize);
        }
        let budget = opts.cache_mib as usize * 1024 * 1024;
        let max_req = (opts.max_request_kib as u64 * 1024)
            .min(budget as u64 / 4)
            .max(chunk);
        let max_chunks = (max_req / chunk).max(1);
        let mut cache = ChunkCache::new(budget);
        let header = body[..body.len().min(100)].to_vec();
        for (k, part) in body.chunks(chunk as usize).enumerate() {
            cache.insert(k as u64, part.to_vec());
        }
        log.emit(2, || {
            format!(
                "opened {name}: {size} bytes, ETag {}, Last-Modified {}, chunk {} KiB, max request {} KiB",
                identity.etag.as_deref().unwrap_or("-"),
                identity.last_modified.as_deref().unwrap_or("-"),
                chunk / 1024,
                max_chunks * chunk / 1024
            )
        });
        let inner = Arc::new(Inner {
            url: url.to_string(),
            name,
            opts: opts.clone(),
            size,
            chunk,
            block: (opts.small_kib as u64 * 1024 / chunk).max(1),
            max_chunks,
            identity,
            header,
            client,
            log,
            local: PerFork::with(Local::new(State {
                cache,
                ..State::new(budget)
            })),
            dbi_warned: AtomicBool::new(false),
            dbi_lead: AtomicBool::new(false),
            reads: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            prefetch_requests: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            dbi_hits: AtomicU64::new(0),
            disk,
        });
        let prefetch = PerFork::with(Prefetch::start(&inner));
        Ok(WebFile { inner, prefetch })
    }

    /// Size of the remote file in bytes (as reported at open).
    pub fn size(&self) -> u64 {
        self.inner.size
    }

    /// The URL given to `open`.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// ETag and Last-Modified reported at open (either may be absent).
    pub fn validators(&self) -> (Option<&str>, Option<&str>) {
        (
            self.inner.identity.etag.as_deref(),
            self.inner.identity.last_modified.as_deref(),
        )
    }

    /// Current counters.
    pub fn stats(&self) -> WebStats {
        let i = &self.inner;
        let cached = i.lock().cache.bytes() as u64;
        WebStats {
            reads: i.reads.load(Ordering::Relaxed),
            bytes_read: i.bytes_read.load(Ordering::Relaxed),
            requests: i.client.counters.requests.load(Ordering::Relaxed),
            bytes_fetched: i.client.counters.bytes.load(Ordering::Relaxed),
            retries: i.client.counters.retries.load(Ordering::Relaxed),
            prefetch_requests: i.prefetch_requests.load(Ordering::Relaxed),
            cache_hits: i.cache_hits.load(Ordering::Relaxed),
            dbi_hits: i.dbi_hits.load(Ordering::Relaxed),
            cached_bytes: cached,
        }
    }

    /// Fill `buf` with the bytes at `offset`. Thread-safe. A read extending past the end of the
    /// file fills what exists, zero-fills the rest and returns [`WebErrorKind::ShortRead`].
    ///
    /// Failures other than short reads are also logged as errors (SQLite itself would only say
    /// "disk I/O error"); the same message is not repeated back to back.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), WebError> {
        let r = self.read_at_quiet(offset, buf);
        if let Err(e) = &r {
            if e.kind() != WebErrorKind::ShortRead {
                let i = &self.inner;
                let mut last = i
                    .local()
                    .last_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if *last != e.message() {
                    *last = e.message().to_string();
                    i.log.emit(1, || format!("error: {e}"));
                }
            }
        }
        r
    }

    fn read_at_quiet(&self, offset: u64, buf: &mut [u8]) -> Result<(), WebError> {
        let i = &*self.inner;
        i.reads.fetch_add(1, Ordering::Relaxed);
        if buf.is_empty() {
            return Ok(());
        }
        let Some(end) = offset.checked_add(buf.len() as u64) else {
            return Err(WebError::new(
                WebErrorKind::InvalidInput,
                format!(
                    "read of {} bytes at offset {offset}: offset overflow",
                    buf.len()
                ),
            ));
        };
        let avail = end.min(i.size).saturating_sub(offset) as usize;
        let (head, tail) = buf.split_at_mut(avail);
        tail.fill(0);
        if !head.is_empty() {
            let jobs = self.jobs();
            if let Some(e) = &i.lock().broken {
                return Err(e.clone());
            }
            if i.read_dbi(offset, head) {
                i.dbi_hits.fetch_add(1, Ordering::Relaxed);
                i.log
                    .emit(5, || format!("read {} bytes at {offset}: .dbi", head.len()));
            } else {
                i.read_chunks(offset, head, jobs.as_ref())?;
            }
            i.bytes_read.fetch_add(head.len() as u64, Ordering::Relaxed);
        }
        if !tail.is_empty() {
            return Err(WebError::new(
                WebErrorKind::ShortRead,
                format!(
                    "read of {} bytes at offset {offset} past the end of {} ({} bytes)",
                    buf.len(),
                    i.name,
                    i.size
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Where to send read-ahead work, in this process: a `fork()` child's first read starts
    /// its own read-ahead threads.
    fn jobs(&self) -> Option<Sender<Vec<u64>>> {
        let p = self.prefetch.get(|_| {
            self.inner.log.emit(3, || {
                format!(
                    "{}: new connections and read-ahead threads after fork()",
                    self.inner.name
                )
            });
            Prefetch::start(&self.inner)
        });
        p.jobs.clone()
    }
}

impl Drop for WebFile {
    fn drop(&mut self) {
        self.inner.client.cancel.store(true, Ordering::Relaxed);
        // Only this process's threads: a parent's are left alone (see `PerFork`).
        if let Some(p) = self.prefetch.get_mut() {
            p.jobs = None; // disconnects the workers' channel
            for w in p.workers.drain(..) {
                let _ = w.join();
            }
        }
        let inner = &self.inner;
        if inner.log.on(3) {
            let s = self.stats();
            inner.log.emit(3, || {
                format!(
                    "closed {}: {} reads ({} bytes; {} from cache, {} from .dbi), {} requests ({} read-ahead, {} retries), {} bytes fetched",
                    inner.name, s.reads, s.bytes_read, s.cache_hits, s.dbi_hits, s.requests, s.prefetch_requests, s.retries, s.bytes_fetched
                )
            });
        }
    }
}

fn prefetch_worker(inner: Arc<Inner>, rx: Receiver<Vec<u64>>) {
    for chunks in rx.iter() {
        if inner.client.cancel.load(Ordering::Relaxed) {
            // Closing: release what this job had reserved.
            let mut st = inner.lock();
            for c in &chunks {
                st.cache.clear_pending(*c);
            }
            drop(st);
            inner.cond().notify_all();
            continue;
        }
        // Fetch each contiguous run (they are all marked pending by the scheduler).
        let mut k = 0;
        while k < chunks.len() {
            let mut j = k;
            while j + 1 < chunks.len()
                && chunks[j + 1] == chunks[j] + 1
                && (j + 1 - k) < inner.max_chunks as usize
            {
                j += 1;
            }
            let (first, last) = (chunks[k], chunks[j]);
            inner.prefetch_requests.fetch_add(1, Ordering::Relaxed);
            let res = inner.fetch_chunks(first, last, inner.read_deadline());
            let mut st = inner.lock();
            match res {
                Ok(parts) => {
                    for (n, data) in parts.into_iter().enumerate() {
                        st.cache.insert(first + n as u64, data);
                    }
                }
                Err(e) => {
                    inner.log.emit(2, || format!("read-ahead failed: {e}"));
                    if e.kind() == WebErrorKind::Changed && st.broken.is_none() {
                        st.broken = Some(e);
                    }
                }
            }
            for c in first..=last {
                st.cache.clear_pending(c);
            }
            drop(st);
            inner.cond().notify_all();
            k = j + 1;
        }
    }
}

impl Inner {
    /// This process's share of the file (see [`WebFile`], "fork()").
    fn local(&self) -> &Local {
        self.local.get(|parent| match parent {
            Some(parent) => Local::inherit(parent, self.cache_budget()),
            None => Local::new(State::new(self.cache_budget())),
        })
    }

    fn cache_budget(&self) -> usize {
        self.opts.cache_mib as usize * 1024 * 1024
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the cache inconsistent in a way that
        // matters (worst case: a chunk stays marked pending and is waited on with a timeout).
        self.local().state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Signalled whenever chunks arrive or pending marks are dropped (pairs with [`Self::lock`]).
    fn cond(&self) -> &Condvar {
        &self.local().cond
    }

    fn last_chunk(&self) -> u64 {
        (self.size.max(1) - 1) / self.chunk
    }

    /// Compare a response's identity with the one seen at open.
    fn check_identity(&self, id: &Identity) -> Result<(), WebError> {
        let mut why = Vec::new();
        if let Some(t) = id.total {
            if t != self.size {
                why.push(format!("size {} -> {}", self.size, t));
            }
        }
        if let (Some(a), Some(b)) = (&self.identity.etag, &id.etag) {
            if a != b {
                why.push(format!("ETag {a} -> {b}"));
            }
        }
        if let (Some(a), Some(b)) = (&self.identity.last_modified, &id.last_modified) {
            if a != b {
                why.push(format!("Last-Modified {a} -> {b}"));
            }
        }
        if why.is_empty() {
            Ok(())
        } else {
            Err(WebError::new(
                WebErrorKind::Changed,
                format!(
                    "{} changed on the server while open ({}); reopen it to read the new version",
                    self.name,
                    why.join(", ")
                ),
            ))
        }
    }

    /// For a file served without ETag and Last-Modified, the only sign of a replacement of the
    /// same size is its content: on every new connection (a server replacing files typically
    /// restarts, or closes connections), the 100-byte header, which SQLite changes on every
    /// write, is fetched again and compared with the one seen at open.
    fn check_header_unchanged(&self, deadline: Instant) -> Result<(), WebError> {
        if self.identity.etag.is_some() || self.identity.last_modified.is_some() {
            return Ok(());
        }
        let end = (self.header.len() as u64).min(self.size).saturating_sub(1);
        let f = self.client.get(
            &self.url,
            Want::Range {
                start: 0,
                end,
                total: Some(self.size),
            },
            Some(deadline),
        )?;
        self.check_identity(&f.identity)?;
        if f.body.get(..self.header.len()) != Some(&self.header[..]) {
            return Err(WebError::new(
                WebErrorKind::Changed,
                format!(
                    "{} changed on the server while open (its header differs; the server sends no ETag or Last-Modified); reopen it to read the new version",
                    self.name
                ),
            ));
        }
        Ok(())
    }

    /// When a read starting now must be done (see `WebOptions::read_timeout_ms`).
    fn read_deadline(&self) -> Instant {
        Instant::now() + Duration::from_millis(self.opts.read_timeout_ms)
    }

    /// Chunks `first..=last`, through the disk cache if there is one.
    fn fetch_chunks(
        &self,
        first: u64,
        last: u64,
        deadline: Instant,
    ) -> Result<Vec<Vec<u8>>, WebError> {
        match &self.disk {
            Some(d) => d.fetch_through(first, last, |a, b| self.fetch_chunks_net(a, b, deadline)),
            None => self.fetch_chunks_net(first, last, deadline),
        }
    }

    /// Fetch chunks `first..=last` in one request and split the body.
    fn fetch_chunks_net(
        &self,
        first: u64,
        last: u64,
        deadline: Instant,
    ) -> Result<Vec<Vec<u8>>, WebError> {
        let start = first * self.chunk;
        let end = ((last + 1) * self.chunk).min(self.size) - 1;
        let Fetched {
            body,
            identity,
            whole_file,
            new_connection,
        } = self.client.get(
            &self.url,
            Want::Range {
                start,
                end,
                total: Some(self.size),
            },
            Some(deadline),
        )?;
        self.check_identity(&identity)?;
        if new_connection && !whole_file && first > 0 {
            self.check_header_unchanged(deadline)?;
        }
        let body = if whole_file {
            // A tiny file served without Range support: the body is the whole file, whose size
            // check_identity just confirmed.
            match body.get(start as usize..=end as usize) {
                Some(b) => b.to_vec(),
                None => {
                    return Err(self
                        .check_identity(&Identity {
                            total: Some(body.len() as u64),
                            ..identity
                        })
                        .err()
                        .unwrap_or_else(|| {
                            WebError::new(
                                WebErrorKind::Changed,
                                format!("{} changed on the server while open", self.name),
                            )
                        }))
                }
            }
        } else {
            body
        };
        if body.len() as u64 != end - start + 1 {
            return Err(WebError::new(
                WebErrorKind::Network,
                format!(
                    "GET bytes={start}-{end} {}: got {} bytes",
                    self.name,
                    body.len()
                ),
            ));
        }
        Ok(body
            .chunks(self.chunk as usize)
            .map(|c| c.to_vec())
            .collect())
    }

    /// Serve a read from the .dbi pages if one page covers it.
    fn read_dbi(&self, offset: u64, out: &mut [u8]) -> bool {
        let Some(d) = self.local().dbi.read().ok().and_then(|g| g.clone()) else {
            return false;
        };
        let pno = offset / d.page_size;
        let within = (offset - pno * d.page_size) as usize;
        match d.pages.get(&pno) {
            Some(p) if within + out.len() <= p.len() => {
                out.copy_from_slice(&p[within..within + out.len()]);
                true
            }
            _ => false,
        }
    }

    /// The first `small_kib` KiB, fetched at open (one chunk or several), if still cached.
    pub(crate) fn first_bytes(&self) -> Option<Vec<u8>> {
        let want = self.size.min(self.opts.small_kib as u64 * 1024) as usize;
        let mut st = self.lock();
        let mut out = Vec::with_capacity(want);
        for c in 0..(want as u64).div_ceil(self.chunk) {
            out.extend_from_slice(&st.cache.get(c)?);
        }
        out.truncate(want);
        Some(out)
    }

    pub(crate) fn set_dbi(&self, page_size: u64, pages: HashMap<u64, Vec<u8>>) {
        if let Ok(mut g) = self.local().dbi.write() {
            *g = Some(Arc::new(Dbi { page_size, pages }));
        }
    }

    pub(crate) fn dbi_page_count(&self) -> usize {
        self.local()
            .dbi
            .read()
            .ok()
            .and_then(|g| g.as_ref().map(|d| d.pages.len()))
            .unwrap_or(0)
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Note a read of chunks c0..=c1 in the stream tracker; returns (request window in chunks,
    /// index of the stream).
    fn note_read(&self, st: &mut State, c0: u64, c1: u64) -> (u64, usize) {
        let seen = st.streams.observe(c0, c1);
        let idx = seen.index();
        let run = st.streams.get(idx).map_or(0, |s| s.run);
        if matches!(seen, Observed::Continued { advanced: true, .. }) && run == 2 {
            self.log.emit(3, || {
                format!("sequential reading detected at offset {}", c0 * self.chunk)
            });
        }
        let window = if run >= 2 {
            (self.block << (run - 1).min(30)).min(self.max_chunks)
        } else {
            1
        };
        (window, idx)
    }

    fn read_chunks(
        &self,
        offset: u64,
        out: &mut [u8],
        jobs: Option<&Sender<Vec<u64>>>,
    ) -> Result<(), WebError> {
        let c0 = offset / self.chunk;
        let c1 = (offset + out.len() as u64 - 1) / self.chunk;
        let mut got: Vec<Option<Arc<Vec<u8>>>> = vec![None; (c1 - c0 + 1) as usize];
        let deadline = self.read_deadline();
        let lead = self.dbi_lead.load(Ordering::Relaxed) && self.dbi_page_count() > 0;
        let misses_before_growth = RANDOM_MISSES_BEFORE_GROWTH[usize::from(lead)];
        let mut st = self.lock();
        let (window, sidx) = self.note_read(&mut st, c0, c1);
        let mut fetched_here = false;
        loop {
            if let Some(e) = &st.broken {
                return Err(e.clone());
            }
            let mut missing = None;
            let mut waiting = false;
            for c in c0..=c1 {
                let slot = &mut got[(c - c0) as usize];
                if slot.is_some() {
                    continue;
                }
                if let Some(d) = st.cache.get(c) {
                    *slot = Some(d);
                } else if st.cache.is_pending(c) {
                    waiting = true;
                } else if missing.is_none() {
                    missing = Some(c);
                }
            }
            if let Some(m) = missing {
                // A random read fetches the aligned block around it: one chunk at first, then,
                // once a file has seen RANDOM_MISSES_BEFORE_GROWTH of them, blocks doubling with
                // every further miss, so that a workload of many lookups ends up streaming the
                // file in large requests instead of paying a round trip per page.
                let block = if window == 1 {
                    let growth = st.random_misses.saturating_sub(misses_before_growth - 1);
                    st.random_misses += 1;
                    match growth {
                        0 => 1,
                        g => (self.block << g.min(30)).min(self.max_chunks),
                    }
                } else {
                    1
                };
                let mut first = m;
                let block_start = m - m % block;
                while first > block_start
                    && !st.cache.contains(first - 1)
                    && !st.cache.is_pending(first - 1)
                {
                    first -= 1;
                }
                let want_last = c1
                    .max(m + window - 1)
                    .max(block_start + block - 1)
                    .min(self.last_chunk());
                let mut last = m;
                while last < want_last
                    && !st.cache.contains(last + 1)
                    && !st.cache.is_pending(last + 1)
                {
                    last += 1;
                }
                let m = first;
                for c in m..=last {
                    st.cache.set_pending(c);
                }
                if let Some(s) = st.streams.get_mut(sidx) {
                    s.frontier = s.frontier.max(last + 1);
                }
                drop(st);
                fetched_here = true;
                let res = self.fetch_chunks(m, last, deadline);
                st = self.lock();
                for c in m..=last {
                    st.cache.clear_pending(c);
                }
                match res {
                    Ok(parts) => {
                        for (n, data) in parts.into_iter().enumerate() {
                            let c = m + n as u64;
                            st.cache.insert(c, data);
                            if (c0..=c1).contains(&c) {
                                got[(c - c0) as usize] = st.cache.get(c);
                            }
                        }
                        self.cond().notify_all();
                    }
                    Err(e) => {
                        if e.kind() == WebErrorKind::Changed && st.broken.is_none() {
                            st.broken = Some(e.clone());
                        }
                        self.cond().notify_all();
                        return Err(e);
                    }
                }
                continue;
            }
            if waiting {
                if Instant::now() >= deadline {
                    return Err(WebError::new(
                        WebErrorKind::Network,
                        format!(
                            "{}: read of {} bytes at offset {offset} timed out after {} ms waiting for another transfer (web_read_timeout_ms)",
                            self.name,
                            out.len(),
                            self.opts.read_timeout_ms
                        ),
                    ));
                }
                st = match self.cond().wait_timeout(st, Duration::from_millis(250)) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                };
                continue;
            }
            break;
        }
        // Read-ahead for a sequential stream: keep about one window requested beyond this read.
        if let (Some(tx), true) = (jobs, window > 1) {
            let frontier = st
                .streams
                .get(sidx)
                .map(|s| s.frontier)
                .unwrap_or(c1 + 1)
                .max(c1 + 1);
            let last_chunk = self.last_chunk();
            if frontier <= last_chunk && frontier - (c1 + 1) < window {
                let end = (frontier + window - 1).min(last_chunk);
                let todo: Vec<u64> = (frontier..=end)
                    .filter(|&c| !st.cache.contains(c) && !st.cache.is_pending(c))
                    .collect();
                if let Some(s) = st.streams.get_mut(sidx) {
                    s.frontier = end + 1;
                }
                if !todo.is_empty() {
                    for &c in &todo {
                        st.cache.set_pending(c);
                    }
                    if let Err(TrySendError::Full(todo) | TrySendError::Disconnected(todo)) =
                        tx.try_send(todo)
                    {
                        for c in todo {
                            st.cache.clear_pending(c);
                        }
                        if let Some(s) = st.streams.get_mut(sidx) {
                            s.frontier = frontier;
                        }
                    }
                }
            }
        }
        drop(st);
        if !fetched_here {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
        }
        // Copy out.
        let mut pos = 0usize;
        for (k, d) in got.iter().enumerate() {
            let Some(d) = d else {
                return Err(WebError::new(
                    WebErrorKind::Network,
                    format!("{}: internal error: chunk not loaded", self.name),
                ));
            };
            let c = c0 + k as u64;
            let cstart = c * self.chunk;
            let from = ((offset + pos as u64).max(cstart) - cstart) as usize;
            let n = d.len().saturating_sub(from).min(out.len() - pos);
            if let (Some(dst), Some(src)) = (out.get_mut(pos..pos + n), d.get(from..from + n)) {
                dst.copy_from_slice(src);
            }
            pos += n;
        }
        self.log.emit(5, || {
            format!(
                "read {} bytes at {offset}: {}",
                out.len(),
                if fetched_here { "fetched" } else { "cache" }
            )
        });
        if pos != out.len() {
            return Err(WebError::new(
                WebErrorKind::Network,
                format!("{}: internal error: short copy", self.name),
            ));
        }
        Ok(())
    }
}
