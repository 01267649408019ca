//! The .dbi helper: locating and downloading it (here) and verifying and serving its pages
//! (here), while reading the SQLite table inside it is left to the caller, which has SQLite.
//! See the module docs of `web` for the reasons of this split.
//!
//! # Why a .dbi is trusted, and how far
//! A .dbi supplies pages in place of the main file's, so a damaged or foreign one would give
//! wrong answers without an error. Before any of its pages is used, [`WebFile::install_dbi`]
//! checks, and ignores the whole .dbi with one warning when a check fails:
//! 1. **Digest** (files written by `genomicsqlite DB --dbi` from this version on): the row
//!    [`DIGEST_KEY`](super::format::DIGEST_KEY) of `web_dbi_meta` holds the SHA-256 ([`pages_digest`]) of every page it
//!    carries with its offset; any damage to a page, or a page added, lost or moved, changes it.
//!    0.9.4 reads only the keys it knows, so it still uses such a .dbi.
//! 2. **Header**: the page at offset 0 must begin with the main file's 100-byte header, which
//!    holds the change counter, page count and schema cookie: a .dbi of another file or of
//!    another version of this one is caught (this is all 0.9.4 checks).
//! 3. **Bytes already at hand**: every .dbi page inside the main file's first chunk (fetched at
//!    open anyway, page 1 among them) must equal it byte for byte.
//! 4. **Shape**: every page has the main file's page size, is aligned and lies inside it.
//!
//! A .dbi without the digest (published with 0.9.4) gets checks 2-4 only: damage to its other
//! pages is not seen here. For a compressed database those are outer b-tree pages, and what they
//! lead to is still verified: every inner page row carries its own checksum (see `codec`), so
//! a wrong outer page shows up as a missing page or a checksum error, not as other rows.

pub use super::dbi_check::pages_digest;
use super::dbi_check::{check_dbi_bytes, verify_pages, MainFile};
use super::file::WebFile;
use super::http::{Client, Want};
use super::{display_url, Log, WebError, WebErrorKind, WebOptions};
use std::sync::atomic::{AtomicBool, Ordering};

/// The raw bytes of a .dbi file (a SQLite database) and where they came from.
#[derive(Debug, Clone)]
pub struct DbiSource {
    /// The URL (query string hidden) or local path it was read from, for messages.
    pub origin: String,
    /// The whole file. Checked: SQLite magic and `application_id` 0x646269.
    pub bytes: Vec<u8>,
}

/// The largest probed .dbi worth reading for a main file of `size` bytes: it holds a few
/// pages per b-tree level, far less than the file itself, so a larger one is not a .dbi of
/// this file (and reading it would cost more than it could save).
pub(crate) fn size_bound(size: u64) -> usize {
    (size / 4).max(4 << 20).min(usize::MAX as u64) as usize
}

/// Where the .dbi for `url` would be read from: `dbi_url` if set, else `URL.dbi` unless the URL
/// has a query string; `None` if `nodbi`.
pub(crate) fn location(opts: &WebOptions, url: &str) -> Option<String> {
    if opts.nodbi {
        return None;
    }
    match &opts.dbi_url {
        Some(u) => Some(u.clone()),
        None if url.contains('?') => None,
        None => Some(format!("{}.dbi", url.split('#').next().unwrap_or(url))),
    }
}

/// Log the one warning about an unusable .dbi (only the first call per file warns).
pub(crate) fn warn_once(log: &Log, warned: &AtomicBool, origin: &str, main: &str, reason: &str) {
    if !warned.swap(true, Ordering::Relaxed) {
        log.emit(1, || {
            format!("warning: ignoring .dbi {origin} for {main}: {reason}")
        });
    }
}

/// Download the .dbi from `loc` (see [`WebFile::fetch_dbi`] for the outcomes).
pub(crate) fn download(
    client: &Client,
    opts: &WebOptions,
    loc: &str,
    main: &str,
    warned: &AtomicBool,
) -> Result<Option<DbiSource>, WebError> {
    let log = &client.log;
    let explicit = opts.dbi_url.is_some();
    let limit = opts.max_dbi_mib as usize * 1024 * 1024;
    let (origin, bytes) = if super::file::is_http_url(loc) {
        let origin = display_url(loc);
        match client.get(
            loc,
            Want::Whole {
                limit,
                probe: !explicit,
            },
            None,
        ) {
            Ok(f) => (origin, f.body),
            Err(e) if explicit => {
                return Err(WebError::new(
                    e.kind(),
                    format!("cannot read the .dbi given by web_dbi_url: {e}"),
                ))
            }
            Err(e) if matches!(e.kind(), WebErrorKind::NotFound | WebErrorKind::Forbidden) => {
                log.emit(3, || format!("no .dbi at {origin} ({e})"));
                return Ok(None);
            }
            Err(e) => {
                warn_once(log, warned, &origin, main, &e.to_string());
                return Ok(None);
            }
        }
    } else {
        let path = loc
            .strip_prefix("file://")
            .or_else(|| loc.strip_prefix("file:"))
            .unwrap_or(loc);
        let io_err = |e: std::io::Error| {
            WebError::new(
                WebErrorKind::Io,
                format!("cannot read the .dbi given by web_dbi_url {path:?}: {e}"),
            )
        };
        let meta = std::fs::metadata(path).map_err(io_err)?;
        if meta.len() > limit as u64 {
            return Err(WebError::new(
                WebErrorKind::Dbi,
                format!(
                    "the .dbi {path:?} is {} bytes, over the {} MiB limit",
                    meta.len(),
                    opts.max_dbi_mib
                ),
            ));
        }
        (path.to_string(), std::fs::read(path).map_err(io_err)?)
    };
    if let Err(why) = check_dbi_bytes(&bytes) {
        warn_once(log, warned, &origin, main, why.message());
        return Ok(None);
    }
    log.emit(3, || {
        format!("downloaded .dbi {origin}: {} bytes", bytes.len())
    });
    Ok(Some(DbiSource { origin, bytes }))
}

impl WebFile {
    /// Where the .dbi would be read from: `dbi_url` if set, else `URL.dbi` unless the URL has a
    /// query string; `None` if `nodbi`.
    pub fn dbi_location(&self) -> Option<String> {
        let i = self.inner();
        location(&i.opts, &i.url)
    }

    /// Download the .dbi (whole file, at most `max_dbi_mib`). `Ok(None)` when there is none to
    /// use: `nodbi`, a URL with a query string, a probe of `URL.dbi` answered 404/403/410 (quietly),
    /// or a probe that failed otherwise or returned something that is not a .dbi (one warning).
    /// An explicit `dbi_url` that cannot be read is an error (the user asked for it).
    /// [`WebFile::open_with_dbi`] does the same concurrently with the open request.
    pub fn fetch_dbi(&self) -> Result<Option<DbiSource>, WebError> {
        let i = self.inner();
        let Some(loc) = self.dbi_location() else {
            i.log.emit(3, || format!("no .dbi probe for {}", i.name));
            return Ok(None);
        };
        if i.opts.dbi_url.is_none() {
            i.client
                .whole_cap
                .store(size_bound(i.size()), Ordering::Relaxed);
        }
        download(&i.client, &i.opts, &loc, &i.name, &i.dbi_warned)
    }

    /// Install the pages the caller read from the .dbi (`SELECT offset, data FROM web_dbi_pages
    /// ORDER BY offset`), with the digest it records (`SELECT value FROM web_dbi_meta WHERE key
    /// = DIGEST_KEY`, `None` if it has none). They are verified first (see the module docs:
    /// digest, header, the bytes of the first chunk, shape). Returns the number of pages
    /// installed; on failure the .dbi is ignored with one warning and 0 is returned. Installing
    /// again replaces the pages.
    pub fn install_dbi<I>(&self, origin: &str, pages: I, digest: Option<&str>) -> usize
    where
        I: IntoIterator<Item = (u64, Vec<u8>)>,
    {
        let i = self.inner();
        let first_bytes = i.first_bytes();
        let main = MainFile {
            header: &i.header,
            size: i.size(),
            first_chunk: first_bytes.as_deref(),
        };
        let limit = i.opts.max_dbi_mib as usize * 1024 * 1024;
        match verify_pages(&main, pages, digest, limit) {
            Ok((ps, map)) => {
                let n = map.len();
                i.set_dbi(ps, map);
                i.log.emit(2, || {
                    format!("using .dbi {origin}: {n} pages of {ps} bytes")
                });
                n
            }
            Err(reason) => {
                self.reject_dbi(origin, reason.message());
                0
            }
        }
    }

    /// Tell the reader the .dbi could not be used (e.g. the caller's SQLite could not read it):
    /// logs one warning (only the first call per file warns) and keeps reading without it.
    pub fn reject_dbi(&self, origin: &str, reason: &str) {
        let i = self.inner();
        warn_once(&i.log, &i.dbi_warned, origin, &i.name, reason);
    }

    /// Tell the reader that the installed .dbi carries the pages queries read first (it
    /// records [`LEAD_KEY`](super::format::LEAD_KEY)): a cold point lookup then misses only
    /// its leaves, so random requests start to grow one miss earlier (see [`WebFile`]).
    pub fn dbi_has_lead(&self) {
        self.inner().dbi_lead.store(true, Ordering::Relaxed);
    }

    /// Pages currently served from the .dbi.
    pub fn dbi_pages(&self) -> usize {
        self.inner().dbi_page_count()
    }
}
