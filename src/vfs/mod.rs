//! SQLite VFSes in safe Rust: the file objects behind the `zstd` VFS, and the trait the C glue
//! ([`glue`]) drives them through.
//!
//! A `zstd` database file is an [`InnerDbFile`] over a [`PageStore`]. Its rollback journal is a
//! [`MemoryJournal`]: the outer database already makes every inner transaction atomic and
//! durable, and a journal on disk would share its name with the outer database's own journal.
//! Temporary files and anything else go to the default VFS untouched.

pub mod glue;
pub mod idle;
pub mod web;

use crate::config::{Config, OpenUri, VFS_DEFAULT_LEVEL};
use crate::error::Error;
pub use crate::error::Result;
use crate::ffi::*;
use crate::flags::{LockLevel, OpenFlags};
use crate::store::{PageStore, StoreOptions};
use crate::web::Log;
use std::cell::RefCell;
use std::os::raw::c_int;
use std::sync::{Arc, Mutex, MutexGuard};

/// What SQLite is opening through one of our VFSes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    MainDb,
    MainJournal,
    Wal,
    /// Temp databases, sub-journals, super-journals: handled by the default VFS.
    Other,
}

impl FileKind {
    /// What xOpen is asked to open, from its flags and whether it got a name (SQLite opens
    /// a main database without a name for a temporary database).
    pub fn of(flags: OpenFlags, named: bool) -> FileKind {
        if flags.contains(OpenFlags::MAIN_DB) && named {
            FileKind::MainDb
        } else if flags.contains(OpenFlags::MAIN_JOURNAL) {
            FileKind::MainJournal
        } else if flags.contains(OpenFlags::WAL) {
            FileKind::Wal
        } else {
            FileKind::Other
        }
    }
}

/// An open file as SQLite sees it (the methods of `sqlite3_io_methods`, in safe terms).
pub trait VfsFile: Send {
    /// Fills `buf` from `offset`; `Ok(false)` = short read (the rest was zero-filled).
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<bool>;
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<()>;
    fn truncate(&mut self, size: u64) -> Result<()>;
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
    fn file_size(&mut self) -> Result<u64>;
    fn lock(&mut self, _level: LockLevel) -> Result<()> {
        Ok(())
    }
    fn unlock(&mut self, _level: LockLevel) -> Result<()> {
        Ok(())
    }
    fn lock_level(&self) -> LockLevel {
        LockLevel::None
    }
    /// Whether this file holds a RESERVED (write) lock.
    fn reserved(&self) -> bool {
        false
    }
    /// `SQLITE_FCNTL_COMMIT_PHASETWO`: the inner transaction committed.
    fn commit_phase_two(&mut self) -> Result<()> {
        Ok(())
    }
    /// Vets a PRAGMA before SQLite runs it; an error refuses it with that message.
    fn check_pragma(&mut self, _name: &str, _value: Option<&str>) -> Result<()> {
        Ok(())
    }
    fn vfs_name(&self) -> &'static str;
    fn device_characteristics(&self) -> c_int {
        0
    }
}

/// Opens the files of one VFS that are not left to the default VFS. Returns the file and
/// whether it is read-only.
pub trait Opener: Send + Sync {
    fn open(
        &self,
        kind: FileKind,
        path: &str,
        params: &glue::UriParams,
        flags: OpenFlags,
    ) -> Result<(Box<dyn VfsFile>, bool)>;
}

thread_local! {
    static LAST_OPEN_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
    static QUIET_OPENS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Remembers why the last open on this thread failed (SQLite itself can only report "unable
/// to open database file" or "file is not a database"), for [`take_last_open_error`].
pub fn record_open_error(e: &Error) {
    let message = with_nested_reason(Error::new(e.code(), e.message())).message();
    LAST_OPEN_ERROR.with(|m| *m.borrow_mut() = message);
}

/// `e` with the reason a nested open recorded on this thread (taken): a compressed database
/// read over the web opens its outer database through the `web` VFS, whose failure (say, a
/// certificate problem) is the real reason.
fn with_nested_reason(e: Error) -> Error {
    let nested = take_last_open_error();
    if nested.is_empty() || e.message().contains(&nested) {
        e
    } else {
        Error::new(e.code(), format!("{}: {nested}", e.message()))
    }
}

/// A failed open of one of our VFSes, with the nested reason, logged at the level of the open
/// (`log`), since for a user of plain SQLite (the `sqlite3` shell, Python's `sqlite3`) the log
/// is the only place to say why. Inside [`quiet_opens`] it is only returned (and remembered).
fn open_failed(e: Error, log: Log) -> Error {
    let e = with_nested_reason(e);
    if !QUIET_OPENS.with(|q| q.get()) {
        log.error(&e.message());
    }
    e
}

/// The start of a main database's open: the reason an earlier open on this thread left (not
/// taken by its caller) is dropped, so that it is not reported as this one's; the URI parsed;
/// the open's log, at its `vfs_log` (the default when the URI does not parse: its error is
/// what is logged then).
fn begin_open(path: &str, params: &glue::UriParams) -> (Result<OpenUri>, Log) {
    take_last_open_error();
    let uri = parse_uri(path, params);
    let log = uri
        .as_ref()
        .map_or_else(|_| Log::default(), |u| Log::new(u.config.vfs_log));
    (uri, log)
}

/// Runs `f` (an open by one of our APIs, which put the reason into their own error) without
/// logging open failures.
pub fn quiet_opens<T>(f: impl FnOnce() -> T) -> T {
    let before = QUIET_OPENS.with(|q| q.replace(true));
    let result = f();
    QUIET_OPENS.with(|q| q.set(before));
    result
}

/// Sets whether failed opens on this thread are logged (`quiet`: only remembered); returns the
/// previous setting. For a caller that reports [`take_last_open_error`] itself around an open
/// it does not make through our APIs (the Python package, through Python's `sqlite3`).
pub fn set_quiet_opens(quiet: bool) -> bool {
    QUIET_OPENS.with(|q| q.replace(quiet))
}

/// The reason the last failed open on this thread failed, taking it ("" if none).
pub fn take_last_open_error() -> String {
    LAST_OPEN_ERROR.with(|m| std::mem::take(&mut *m.borrow_mut()))
}

/// The `zstd` VFS's opener: compressed databases and their in-memory journals.
pub struct ZstdOpener;

impl Opener for ZstdOpener {
    fn open(
        &self,
        kind: FileKind,
        path: &str,
        params: &glue::UriParams,
        flags: OpenFlags,
    ) -> Result<(Box<dyn VfsFile>, bool)> {
        match kind {
            FileKind::MainDb => {
                let (uri, log) = begin_open(path, params);
                uri.and_then(|uri| open_main(path, &uri, flags, log))
                    .map_err(|e| open_failed(e, log))
            }
            FileKind::MainJournal => Ok((Box::new(MemoryJournal::default()), false)),
            FileKind::Wal => Err(Error::new(
                SQLITE_CANTOPEN,
                format!("{path}: WAL mode is not supported on a compressed database (it has its own transactions; use journal_mode=MEMORY)"),
            )),
            FileKind::Other => Err(Error::new(SQLITE_INTERNAL, "not ours to open")),
        }
    }
}

/// Opens a compressed database, local or over the web.
fn open_main(
    path: &str,
    uri: &OpenUri,
    flags: OpenFlags,
    log: Log,
) -> Result<(Box<dyn VfsFile>, bool)> {
    let Some(url) = uri.web_url.clone() else {
        let file = InnerDbFile::open(path, uri, flags, log)?;
        let readonly = file.store().readonly();
        return Ok((Box::new(file), readonly));
    };
    // Over the web: open the file once and look at its header. A plain SQLite file is served
    // as it is (it is read-only there, so nothing can turn it into a compressed database by
    // accident); a compressed one becomes the outer database, whose `web` open reuses this
    // very file.
    let mut remote = web::WebDbFile::open(uri)?;
    match remote.kind()? {
        web::RemoteKind::Plain => Ok((Box::new(remote), true)),
        web::RemoteKind::Compressed => {
            let file = web::with_handoff(&url, remote.shared(), || {
                InnerDbFile::open(path, uri, flags, log)
            })?;
            Ok((Box::new(file), true))
        }
    }
}

/// Percent-encodes a path for a `file:` URI.
fn uri_path(path: &str) -> String {
    crate::config::percent_encode(path, true)
}

/// Parses the URI of a database being opened, over the VFS-level defaults (zstd level
/// [`VFS_DEFAULT_LEVEL`], for 0.9.4's URIs) and the `SQLITE_WEB_*` environment.
pub fn parse_uri(path: &str, params: &glue::UriParams) -> Result<OpenUri> {
    let name = params.get("web_url").unwrap_or_else(|| path.to_string());
    let cantopen = |m: String| Error::new(SQLITE_CANTOPEN, format!("{name}: {m}"));
    let env = crate::web::WebOptions::from_env().map_err(|e| cantopen(e.to_string()))?;
    let base = Config {
        zstd_level: VFS_DEFAULT_LEVEL,
        web_insecure: env.insecure,
        web_nodbi: env.nodbi,
        ..Config::default()
    };
    OpenUri::parse(base, |key| params.get(key)).map_err(|e| cantopen(e.message()))
}

/// A compressed database as the inner SQLite sees it.
pub struct InnerDbFile {
    /// Shared only with the idle-release thread ([`idle`]), which may end the outer read
    /// transaction the store holds between inner ones.
    store: Arc<Mutex<PageStore>>,
    lock: LockLevel,
    immutable: bool,
    log: Log,
}

impl InnerDbFile {
    fn open(path: &str, uri: &OpenUri, flags: OpenFlags, log: Log) -> Result<InnerDbFile> {
        let config = &uri.config;
        let web_url = uri.web_url.as_ref();
        let immutable = web_url.is_some() || config.immutable;
        let readonly = web_url.is_some() || flags.contains(OpenFlags::READONLY) || immutable;
        let (outer_uri, outer_vfs, display_name) = match web_url {
            Some(url) => {
                // The outer database is read through the `web` VFS, which takes the same
                // web_* parameters.
                let mut outer_uri = format!(
                    "file:/__web__?web_url={}{}",
                    crate::config::percent_encode(url, false),
                    crate::config::web_params(config)
                );
                if config.vfs_log >= 0 {
                    outer_uri.push_str(&format!("&vfs_log={}", config.vfs_log));
                }
                outer_uri.push_str("&mode=ro&immutable=1");
                // Shown in messages and logs: without the query string (a signature).
                (
                    outer_uri,
                    Some("web".to_string()),
                    crate::web::display_url(url),
                )
            }
            None => {
                let mut outer_params = Vec::new();
                if readonly {
                    outer_params.push("mode=ro");
                }
                if immutable {
                    outer_params.push("immutable=1");
                }
                if uri.nolock {
                    outer_params.push("nolock=1");
                }
                let mut outer_uri = format!("file:{}", uri_path(path));
                if !outer_params.is_empty() {
                    outer_uri.push('?');
                    outer_uri.push_str(&outer_params.join("&"));
                }
                let exists = std::path::Path::new(path).exists();
                if !exists && readonly {
                    return Err(Error::new(
                        SQLITE_CANTOPEN,
                        format!("cannot open {path} read-only: no such file"),
                    ));
                }
                if !exists && !flags.contains(OpenFlags::CREATE) {
                    return Err(Error::new(
                        SQLITE_CANTOPEN,
                        format!("cannot open {path}: no such file"),
                    ));
                }
                let journal = format!("{path}-journal");
                if readonly && !immutable && std::fs::metadata(&journal).is_ok_and(|m| m.len() > 0)
                {
                    crate::store::recover_hot_journal(&format!("file:{}", uri_path(path)));
                }
                (outer_uri, None, path.to_string())
            }
        };
        let opts = StoreOptions {
            outer_uri,
            outer_vfs,
            display_name,
            readonly,
            create: flags.contains(OpenFlags::CREATE),
            level: config.zstd_level,
            outer_page_size: uri.outer_page_size,
            outer_cache_size: uri.outer_cache_size,
            outer_unsafe: uri.outer_unsafe,
            use_dictionaries: uri.dict,
            no_dbi_indexes: config.web_nodbi,
            // 0 and 1 both mean: no background threads.
            threads: config.effective_threads().max(1) as usize,
            prefetch: !uri.noprefetch,
            log,
        };
        // A nested open (the outer database over the web) reports through ours.
        let store = quiet_opens(|| PageStore::open(opts))?;
        Ok(InnerDbFile {
            store: Arc::new(Mutex::new(store)),
            lock: LockLevel::None,
            immutable,
            log,
        })
    }

    /// The store, locked. A panic while it was locked (caught at the FFI boundary) leaves it
    /// usable: its methods keep it consistent at every step that can fail.
    fn store(&self) -> MutexGuard<'_, PageStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs a failure (except the routine BUSY) and passes it on.
    fn logged<T>(&self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            if e.code() & 0xff != SQLITE_BUSY {
                self.log.error(&e.message());
            }
        }
        r
    }
}

impl VfsFile for InnerDbFile {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<bool> {
        let r = self.store().read(offset, buf);
        self.logged(r)
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        let r = self.store().write(offset, data);
        self.logged(r)
    }

    fn truncate(&mut self, size: u64) -> Result<()> {
        let r = self.store().truncate(size);
        self.logged(r)
    }

    fn file_size(&mut self) -> Result<u64> {
        let r = self.store().file_size();
        self.logged(r)
    }

    fn lock(&mut self, level: LockLevel) -> Result<()> {
        if level >= LockLevel::Shared && self.lock < LockLevel::Shared {
            let r = self.store().begin_read();
            self.logged(r)?;
            self.lock = LockLevel::Shared;
        }
        if level >= LockLevel::Reserved && self.lock < LockLevel::Reserved {
            let r = self.store().begin_write();
            self.logged(r)?;
        }
        self.lock = self.lock.max(level);
        Ok(())
    }

    fn unlock(&mut self, level: LockLevel) -> Result<()> {
        if level < self.lock {
            let schedule = self.store().unlock(level);
            self.lock = level;
            if schedule {
                idle::schedule(
                    Arc::downgrade(&self.store),
                    std::time::Instant::now() + crate::store::IDLE_RELEASE,
                );
            }
        }
        Ok(())
    }

    fn lock_level(&self) -> LockLevel {
        self.lock
    }

    fn reserved(&self) -> bool {
        self.store().in_write()
    }

    fn commit_phase_two(&mut self) -> Result<()> {
        let r = self.store().commit();
        self.logged(r)
    }

    fn check_pragma(&mut self, name: &str, value: Option<&str>) -> Result<()> {
        if name.eq_ignore_ascii_case("journal_mode")
            && value.is_some_and(|v| v.eq_ignore_ascii_case("wal"))
        {
            return Err(Error::new(
                SQLITE_ERROR,
                "journal_mode=WAL is not supported on a compressed database: its outer database already \
                 makes transactions atomic; use journal_mode=MEMORY (the default tuning)",
            ));
        }
        Ok(())
    }

    fn vfs_name(&self) -> &'static str {
        "zstd"
    }

    fn device_characteristics(&self) -> c_int {
        if self.immutable {
            SQLITE_IOCAP_IMMUTABLE
        } else {
            0
        }
    }
}

/// A rollback journal kept in memory (see the module docs for why that is safe here).
#[derive(Default)]
pub struct MemoryJournal {
    bytes: Vec<u8>,
}

impl VfsFile for MemoryJournal {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<bool> {
        let start = (offset as usize).min(self.bytes.len());
        let n = buf.len().min(self.bytes.len() - start);
        buf[..n].copy_from_slice(&self.bytes[start..start + n]);
        buf[n..].fill(0);
        Ok(n == buf.len())
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        let end = offset as usize + data.len();
        if self.bytes.len() < end {
            self.bytes.resize(end, 0);
        }
        self.bytes[offset as usize..end].copy_from_slice(data);
        Ok(())
    }

    fn truncate(&mut self, size: u64) -> Result<()> {
        self.bytes.truncate(size as usize);
        Ok(())
    }

    fn file_size(&mut self) -> Result<u64> {
        Ok(self.bytes.len() as u64)
    }

    fn vfs_name(&self) -> &'static str {
        "zstd"
    }
}
