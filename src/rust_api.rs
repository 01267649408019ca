//! The Rust API: compressed databases as `rusqlite` connections.
//!
//! The first call registers the `zstd` VFS and the SQL functions in the SQLite that rusqlite
//! links (the same routine table the extension fills from its host), so connections opened
//! afterwards by any means can use them.

use crate::config::{self, Config};
use crate::error::Error;
use crate::extension;
use crate::sqlite_api;
use rusqlite::{Connection, OpenFlags};

/// The error of an operation that opened a database through the VFS: SQLite's, with the VFS's
/// reason for a failed open on this thread (taken here, so that it is reported once).
fn failed_open(source: rusqlite::Error) -> Error {
    Error::with_reason(source, crate::vfs::take_last_open_error())
}

/// Registers the VFS and SQL functions in the linked SQLite (once).
pub(crate) fn ensure_registered() -> Result<(), Error> {
    sqlite_api::install_linked()?;
    extension::register_process_wide().map_err(|e| Error::Init(e.message()))
}

/// Opens a compressed database (a path, or an http(s) URL) with `config`'s tuning applied.
///
/// `config` is checked first ([`Config::validate`]); a bad value is [`Error::Config`].
///
/// `flags` are rusqlite's open flags (`SQLITE_OPEN_URI` is added). On a failed open the error
/// says why (for example that the file is a plain SQLite database).
pub fn open(path: &str, flags: OpenFlags, config: &Config) -> Result<Connection, Error> {
    config.validate()?;
    config::check_path(path)?;
    ensure_registered()?;
    crate::vfs::take_last_open_error();
    let conn = crate::vfs::quiet_opens(|| {
        Connection::open_with_flags(
            config::uri(path, config),
            flags | OpenFlags::SQLITE_OPEN_URI,
        )
    })
    .map_err(failed_open)?;
    conn.execute_batch(&config::tuning_sql(config, None))
        .map_err(failed_open)?;
    Ok(conn)
}

/// The `file:` URI opening `path` through the `zstd` VFS with `config`.
pub fn uri(path: &str, config: &Config) -> String {
    config::uri(path, config)
}

/// The tuning pragmas for `config` (for an attached database with `schema`).
pub fn tuning_sql(config: &Config, schema: Option<&str>) -> String {
    config::tuning_sql(config, schema)
}

/// SQL that attaches a compressed database as `schema` and tunes it.
pub fn attach_sql(path: &str, schema: &str, config: &Config) -> String {
    config::attach_sql(path, schema, config)
}

/// SQL that writes a compressed copy of the main database of a connection to `dest`.
pub fn vacuum_into_sql(dest: &str, config: &Config) -> String {
    config::vacuum_into_sql(dest, config)
}

/// Attaches a compressed database to `conn` as `schema`.
///
/// ```
/// use genomicsqlite::{attach, open, Config};
/// use rusqlite::OpenFlags;
///
/// let dir = std::env::temp_dir().join(format!("gsq-doc-attach-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let (main, other) = (dir.join("main.db"), dir.join("other.db"));
/// let rwc = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
/// # let _ = (std::fs::remove_file(&main), std::fs::remove_file(&other));
/// let conn = open(main.to_str().unwrap(), rwc, &Config::default())?;
/// attach(&conn, other.to_str().unwrap(), "other", &Config::default())?;
/// conn.execute_batch("CREATE TABLE other.genes(name TEXT); INSERT INTO other.genes VALUES ('TP53')")?;
/// let n: i64 = conn.query_row("SELECT count(*) FROM other.genes", [], |r| r.get(0))?;
/// assert_eq!(n, 1);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn attach(conn: &Connection, path: &str, schema: &str, config: &Config) -> Result<(), Error> {
    config.validate()?;
    config::check_path(path)?;
    ensure_registered()?;
    crate::vfs::take_last_open_error();
    crate::vfs::quiet_opens(|| conn.execute_batch(&attach_sql(path, schema, config)))
        .map_err(failed_open)?;
    Ok(())
}

/// Writes a compressed copy of `conn`'s main database to `dest` (which must not exist).
///
/// Any SQLite connection works as the source, compressed or not:
///
/// ```
/// use genomicsqlite::{open, vacuum_into, Config};
/// use rusqlite::{Connection, OpenFlags};
///
/// let dir = std::env::temp_dir().join(format!("gsq-doc-vacuum-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let dest = dir.join("copy.db");
/// # let _ = std::fs::remove_file(&dest);
/// let plain = Connection::open_in_memory()?;
/// plain.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)")?;
/// vacuum_into(&plain, dest.to_str().unwrap(), &Config::default())?;
///
/// let copy = open(dest.to_str().unwrap(), OpenFlags::SQLITE_OPEN_READ_ONLY, &Config::default())?;
/// let sum: i64 = copy.query_row("SELECT sum(x) FROM t", [], |r| r.get(0))?;
/// assert_eq!(sum, 6);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn vacuum_into(conn: &Connection, dest: &str, config: &Config) -> Result<(), Error> {
    config.validate()?;
    config::check_path(dest)?;
    ensure_registered()?;
    crate::vfs::take_last_open_error();
    crate::vfs::quiet_opens(|| conn.execute_batch(&vacuum_into_sql(dest, config)))
        .map_err(failed_open)?;
    Ok(())
}

/// Writes the plain database file `src` as the new compressed database `dest` (which must not
/// exist), with a zstd dictionary per large b-tree of `src` and one for the rest, trained on
/// `src`'s own pages before any is written (see `store::pack_file`). Returns how many
/// dictionaries it stored.
///
/// This is what `genomicsqlite --compact` writes with, from a plain `VACUUM INTO` of its
/// input: knowing every page beforehand, it compresses org.Hs.eg.sqlite about 10% smaller than
/// [`vacuum_into`], whose dictionaries can only learn from the pages written before. The pages
/// are `src`'s, page for page (no VACUUM), so `src` should be freshly vacuumed. The file is
/// the same for the same `src`, and GenomicSQLite 0.9.4 reads it.
pub fn pack_plain_file(src: &str, dest: &str, config: &Config) -> Result<usize, Error> {
    config.validate()?;
    config::check_path(dest)?;
    ensure_registered()?;
    if std::path::Path::new(dest).exists() {
        return Err(Error::new(
            rusqlite::ffi::SQLITE_CANTOPEN,
            format!("{dest} already exists"),
        ));
    }
    let conn = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    // its pages would be stored as pages of the inner database: a valid file of wrong content
    let app_id: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if app_id == i64::from(crate::format::APPLICATION_ID) {
        return Err(Error::new(
            rusqlite::ffi::SQLITE_MISUSE,
            format!("{src} is a compressed database; pack_plain_file needs a plain one"),
        ));
    }
    // every page of every b-tree (overflow pages included), by b-tree
    let mut btrees = std::collections::BTreeMap::<String, Vec<u32>>::new();
    {
        let mut stmt = conn.prepare("SELECT name, pageno FROM dbstat")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            btrees.entry(row.get(0)?).or_default().push(row.get(1)?);
        }
    }
    drop(conn);
    let opts = crate::store::StoreOptions {
        outer_uri: format!("file:{}", config::percent_encode(dest, true)),
        outer_vfs: None,
        display_name: dest.to_string(),
        readonly: false,
        create: true,
        level: config.zstd_level,
        outer_page_size: Some(config.outer_page_KiB * 1024),
        outer_cache_size: Some(-64 * config.page_cache_MiB),
        outer_unsafe: true,
        use_dictionaries: true,
        no_dbi_indexes: config.web_nodbi,
        threads: config.effective_threads().max(1) as usize,
        prefetch: false,
        log: crate::web::Log::new(config.vfs_log),
    };
    crate::store::pack_file(
        std::path::Path::new(src),
        page_size as usize,
        btrees.into_values().collect(),
        opts,
    )
}
