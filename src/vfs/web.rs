//! The `web` VFS: a SQLite file read in place over HTTP(S) through [`crate::web::WebFile`].
//!
//! It serves plain SQLite files (`vfs=web`) and the outer database of a compressed file read
//! over the web (`vfs=zstd&web_url=...`, whose outer connection uses this VFS). Files are
//! read-only and immutable; the optional `.dbi` helper is read here with SQLite and handed to the
//! web reader, which checks it against the main file and then serves its pages without requests.

use super::{
    begin_open, glue::UriParams, open_failed, FileKind, MemoryJournal, Opener, Result, VfsFile,
};
use crate::config::{Config, OpenUri};
use crate::error::Error;
use crate::ffi::*;
use crate::flags::OpenFlags;
use crate::format;
use crate::sqlite_api::Connection;
use crate::web::{display_url, DbiSource, Log, WebErrorKind, WebFile, WebOptions};
use std::cell::RefCell;
use std::os::raw::c_int;
use std::sync::Arc;

/// The `web` VFS's opener.
pub struct WebOpener;

impl Opener for WebOpener {
    fn open(
        &self,
        kind: FileKind,
        path: &str,
        params: &UriParams,
        _flags: OpenFlags,
    ) -> Result<(Box<dyn VfsFile>, bool)> {
        match kind {
            FileKind::MainDb => {
                let (uri, log) = begin_open(path, params);
                let file = uri.and_then(|uri| WebDbFile::open(&uri));
                Ok((Box::new(file.map_err(|e| open_failed(e, log))?), true))
            }
            FileKind::MainJournal => Ok((Box::new(MemoryJournal::default()), false)),
            FileKind::Wal | FileKind::Other => Err(Error::new(
                SQLITE_CANTOPEN,
                "databases read over the web are read-only: no WAL or journal files",
            )),
        }
    }
}

/// A remote SQLite file.
pub struct WebDbFile {
    file: Arc<WebFile>,
}

thread_local! {
    /// A file the `zstd` VFS already opened, waiting for the `web` VFS open it is about to
    /// cause on this thread (its outer database), so the file is not fetched twice.
    static HANDOFF: RefCell<Option<(String, Arc<WebFile>)>> = const { RefCell::new(None) };
}

/// Lends `file` to the next `web` open of `url` on this thread, for the duration of `f`.
pub fn with_handoff<T>(url: &str, file: Arc<WebFile>, f: impl FnOnce() -> T) -> T {
    HANDOFF.with(|h| *h.borrow_mut() = Some((url.to_string(), file)));
    let result = f();
    HANDOFF.with(|h| h.borrow_mut().take());
    result
}

fn take_handoff(url: &str) -> Option<Arc<WebFile>> {
    HANDOFF.with(|h| {
        let mut slot = h.borrow_mut();
        match slot.as_ref() {
            Some((u, _)) if u == url => slot.take().map(|(_, file)| file),
            _ => None,
        }
    })
}

/// What a remote file turned out to be, from its header.
pub enum RemoteKind {
    /// A compressed database (application_id "zstd").
    Compressed,
    /// Any other SQLite database.
    Plain,
}

/// The web reader's settings: its defaults and the `SQLITE_WEB_*` environment, then every
/// `web_*` key of the (already parsed and validated) configuration, and `vfs_log`. A bad
/// setting fails the open.
fn web_options(config: &Config) -> Result<WebOptions> {
    let mut opts = WebOptions::from_env().map_err(open_error)?;
    for (key, value) in config.web_entries() {
        if !opts.set_uri_param(&key, &value).map_err(open_error)? {
            return Err(open_error(format!(
                "the web reader does not know the setting {key}"
            )));
        }
    }
    if config.vfs_log >= 0 {
        opts.log_level = config.vfs_log.min(5);
    }
    opts.validate().map_err(open_error)?;
    Ok(opts)
}

fn open_error(message: impl std::fmt::Display) -> Error {
    Error::new(SQLITE_CANTOPEN, message.to_string())
}

impl WebDbFile {
    /// Opens the file named by the `web_url` URI parameter, with its .dbi unless disabled.
    pub fn open(uri: &OpenUri) -> Result<WebDbFile> {
        let url = uri
            .web_url
            .clone()
            .ok_or_else(|| open_error("a web database URI needs web_url=URL"))?;
        if let Some(file) = take_handoff(&url) {
            return Ok(WebDbFile { file });
        }
        let opts = web_options(&uri.config)?;
        let (file, dbi) = WebFile::open_with_dbi(&url, &opts).map_err(open_error)?;
        if let Some(source) = dbi {
            match read_dbi_pages(&source) {
                Ok((pages, digest, identity, lead)) => {
                    if file.dbi_identity_matches(&source.origin, identity.as_deref()) {
                        let n = file.install_dbi(&source.origin, pages, digest.as_deref());
                        if n > 0 && lead {
                            file.dbi_has_lead();
                        }
                        Log::new(opts.log_level).emit(2, || {
                            format!("{}: {n} pages from {}", display_url(&url), source.origin)
                        });
                    }
                }
                Err(reason) => file.reject_dbi(&source.origin, &reason.message()),
            }
        }
        Ok(WebDbFile {
            file: Arc::new(file),
        })
    }

    /// The open file, to lend to the outer database's open (see [`with_handoff`]).
    pub fn shared(&self) -> Arc<WebFile> {
        self.file.clone()
    }

    /// Tells a compressed database from a plain one by the header (already fetched at open).
    pub fn kind(&mut self) -> Result<RemoteKind> {
        let mut header = [0u8; format::HEADER_LEN];
        // A file shorter than a header was read zero-filled: parse only its bytes.
        let parsed = if self.read(0, &mut header)? {
            format::DbHeader::parse(&header)
        } else {
            let size = (self.file.size() as usize).min(header.len());
            format::DbHeader::parse(&header[..size])
        };
        let header = parsed.map_err(|e| {
            Error::new(
                SQLITE_NOTADB,
                format!("{}: {e}", display_url(self.file.url())),
            )
        })?;
        Ok(if header.application_id == format::APPLICATION_ID {
            RemoteKind::Compressed
        } else {
            RemoteKind::Plain
        })
    }
}

/// The pages a .dbi holds, the digest it records, the identity of its database and whether
/// it carries the pages queries read first.
type DbiContent = (Vec<(u64, Vec<u8>)>, Option<String>, Option<String>, bool);

/// Reads `(offset, data)` of every page a .dbi holds, the digest it records (see
/// [`format::DIGEST_KEY`]), the identity of its database (see [`format::IDENTITY_KEY`]) and
/// whether it records [`format::LEAD_KEY`], with SQLite (from a private temporary copy of the
/// downloaded bytes, which SQLite needs as a file). An error says why the .dbi is unusable.
fn read_dbi_pages(source: &DbiSource) -> Result<DbiContent> {
    let tmp = TempFile::with_bytes(&source.bytes)
        .map_err(|e| Error::new(SQLITE_IOERR, format!("cannot stage the .dbi: {e}")))?;
    let uri = format!(
        "file:{}?mode=ro&immutable=1",
        super::uri_path(&tmp.path.to_string_lossy())
    );
    let read = || -> Result<DbiContent> {
        let conn = Connection::open(&uri, OpenFlags::READONLY, None)?;
        let meta = |key: &str| -> Result<Option<String>> {
            let mut stmt = conn.prepare(&format!(
                "SELECT value FROM {} WHERE key = '{key}'",
                format::DBI_META_TABLE
            ))?;
            Ok(if stmt.step()? {
                Some(String::from_utf8_lossy(stmt.column_blob(0)).into_owned())
            } else {
                None
            })
        };
        let digest = meta(format::DIGEST_KEY)?;
        let identity = meta(format::IDENTITY_KEY)?;
        let lead = meta(format::LEAD_KEY)?.is_some();
        let mut stmt = conn.prepare(&format!(
            "SELECT offset, data FROM {} ORDER BY offset",
            format::DBI_PAGES_TABLE
        ))?;
        let mut pages = Vec::new();
        while stmt.step()? {
            let offset = stmt.column_i64(0);
            if offset < 0 {
                return Err(Error::new(
                    SQLITE_CORRUPT,
                    format!("negative offset {offset}"),
                ));
            }
            pages.push((offset as u64, stmt.column_blob(1).to_vec()));
        }
        Ok((pages, digest, identity, lead))
    };
    read().map_err(|e| Error::new(e.code(), format!("cannot read it: {}", e.message())))
}

/// A file in the temporary directory, deleted on drop.
struct TempFile {
    path: std::path::PathBuf,
}

impl TempFile {
    fn with_bytes(bytes: &[u8]) -> std::io::Result<TempFile> {
        use std::io::Write;
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "genomicsqlite-dbi-{}-{}.sqlite",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let staged = TempFile { path };
        f.write_all(bytes)?;
        Ok(staged)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl VfsFile for WebDbFile {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<bool> {
        match self.file.read_at(offset, buf) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == WebErrorKind::ShortRead => Ok(false),
            // The web reader has logged it.
            Err(e) => Err(Error::new(SQLITE_IOERR_READ, e.to_string())),
        }
    }

    fn write(&mut self, _offset: u64, _data: &[u8]) -> Result<()> {
        Err(Error::new(
            SQLITE_READONLY,
            format!(
                "{} is read-only (read over the web)",
                display_url(self.file.url())
            ),
        ))
    }

    fn truncate(&mut self, _size: u64) -> Result<()> {
        Err(Error::new(
            SQLITE_READONLY,
            format!(
                "{} is read-only (read over the web)",
                display_url(self.file.url())
            ),
        ))
    }

    fn file_size(&mut self) -> Result<u64> {
        Ok(self.file.size())
    }

    fn vfs_name(&self) -> &'static str {
        "web"
    }

    fn device_characteristics(&self) -> c_int {
        SQLITE_IOCAP_IMMUTABLE
    }
}
