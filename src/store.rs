//! The nested page store: the inner database's pages kept as rows of the outer database.
//!
//! Outer schema (byte-for-byte that of GenomicSQLite 0.9.4):
//! `nested_vfs_zstd_pages(pageno INTEGER PRIMARY KEY, data BLOB NOT NULL, meta1 BLOB, meta2 BLOB,
//! btree_interior BOOLEAN)` with one row per inner page 1..page_count (page 1 stored as is; the row
//! `pageno = -100` mirrors page 1's 100-byte header), two partial indexes over the b-tree interior
//! pages (they let a web reader's `.dbi` find them), and `nested_vfs_zstd_dicts` for dictionaries.
//!
//! Transactions: the inner database's locks map onto the outer connection, so that every inner
//! transaction is exactly one outer transaction and rollback and crash recovery are the outer
//! database's:
//! - inner SHARED: a long-lived "snapshot" statement is stepped once, which holds the outer
//!   read transaction (and its SHARED lock) for as long as the inner one lasts, even across the
//!   COMMIT of an inner write transaction;
//! - inner RESERVED: `BEGIN IMMEDIATE` on the outer;
//! - inner commit (`SQLITE_FCNTL_COMMIT_PHASETWO`, sent after the inner journal is finalized):
//!   outer `COMMIT`; an inner rollback or failure ends in an outer `ROLLBACK` when the inner lock
//!   drops;
//! - inner NONE: the outer read transaction is kept ("held") for the next inner transaction,
//!   which then needs no lock, hot-journal check or change-counter read of the outer file, and
//!   finds the pages read ahead and the outer page cache still valid. No other connection can
//!   commit while we hold the outer SHARED lock, so the held snapshot is as current as a fresh
//!   one. It is released (the snapshot statement reset) as soon as a transaction starts while
//!   another connection holds the outer RESERVED lock (one `fcntl` to find out, at most every
//!   [`WRITER_CHECK_INTERVAL`]), after [`MAX_HOLD`] in any case, and by a background thread once the connection has
//!   been idle for [`IDLE_RELEASE`]: so a writer's commit waits at most about that long.

use crate::background::{CompressPipeline, Prefetcher, RawPage};
use crate::codec::{self, CompressionDict, Decoder, EncodedPage, Encoder, StoredPage};
use crate::ffi::*;
use crate::flags::{LockLevel, OpenFlags};
use crate::sqlite_api::{Connection, Result, SqliteError, Statement};
use std::os::raw::c_int;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `PRAGMA application_id` of a compressed database: "zstd".
pub const APPLICATION_ID: i64 = 0x7a73_7464;
/// Row holding a copy of the inner header (first 100 bytes of page 1).
const HEADER_ROW: i64 = -100;
/// The largest page number SQLite can use.
const MAX_PAGENO: i64 = 4_294_967_294;
/// How long an inner COMMIT waits for outer readers to finish (it cannot be retried by SQLite
/// once the inner journal is finalized).
const COMMIT_BUSY_TIMEOUT_MS: c_int = 60_000;
/// How long opening waits for another connection's commit to finish (commits hold the lock
/// briefly). An open cannot see the connection's own busy timeout, so this stays short and
/// callers that want to wait longer retry (as the Python `connect()` does, up to its `timeout`).
const OPEN_BUSY_TIMEOUT_MS: c_int = 2_000;
/// How long an idle connection keeps its outer read transaction between inner transactions.
pub const IDLE_RELEASE: Duration = Duration::from_millis(20);
/// How long an outer read transaction is kept across inner ones at most, even while reads keep
/// coming: bounds the wait of a process that needs the outer lock without first announcing it
/// with RESERVED (rolling back a crashed writer's journal takes PENDING directly).
const MAX_HOLD: Duration = Duration::from_millis(100);
/// How often a held outer read transaction asks whether a writer waits, at most: a waiting
/// writer's busy handler sleeps for milliseconds between tries anyway, and a lookup served from
/// the cache takes microseconds, so asking once per transaction would be much of its cost.
const WRITER_CHECK_INTERVAL: Duration = Duration::from_millis(1);

const SCHEMA_PAGES: &str = "CREATE TABLE nested_vfs_zstd_pages (pageno INTEGER PRIMARY KEY, data BLOB NOT NULL, meta1 BLOB, meta2 BLOB, btree_interior BOOLEAN)";
const SCHEMA_INDEXES: &str = "CREATE INDEX nested_vfs_zstd_pages_btree_interior ON nested_vfs_zstd_pages (pageno,data,meta1,meta2) WHERE btree_interior; \
     CREATE INDEX nested_vfs_zstd_pages_btree_interior_pageno ON nested_vfs_zstd_pages (pageno) WHERE btree_interior";
const SCHEMA_DICTS: &str = "CREATE TABLE nested_vfs_zstd_dicts (id INTEGER PRIMARY KEY AUTOINCREMENT, dict BLOB NOT NULL, page_count INTEGER NOT NULL)";

/// How to open the outer database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// SQLite URI of the outer file (mode/immutable/nolock already in it).
    pub outer_uri: String,
    /// Name of the VFS for the outer file (`None` = the default VFS).
    pub outer_vfs: Option<String>,
    /// Human-readable name for messages (the path or URL).
    pub display_name: String,
    pub readonly: bool,
    pub create: bool,
    /// zstd level for new pages.
    pub level: i32,
    /// Page size for a new outer file.
    pub outer_page_size: Option<u32>,
    /// `PRAGMA cache_size` for the outer database.
    pub outer_cache_size: Option<i64>,
    /// No outer journal or sync (bulk loads that may be thrown away on a crash).
    pub outer_unsafe: bool,
    /// Train and use zstd dictionaries for new pages.
    pub use_dictionaries: bool,
    /// Create the database without the interior-page indexes.
    pub no_dbi_indexes: bool,
    /// Worker threads for compression and prefetch (1 = all work on SQLite's thread).
    pub threads: usize,
    /// Decode pages ahead of sequential reads on the workers.
    pub prefetch: bool,
}

/// The transaction state of the outer connection, mirroring the inner lock level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OuterTxn {
    None,
    Read,
    Write,
}

/// The dictionary new pages are compressed with, and when to train the next one.
#[derive(Default)]
struct DictState {
    current: Option<Arc<CompressionDict>>,
    /// `page_count` recorded with the current dictionary.
    recorded_pages: i64,
    /// Pages written since the current dictionary was made (by this connection).
    written_since: i64,
    loaded: bool,
    /// A uniform sample of the pages written since the current dictionary was made: the next
    /// dictionary is trained on them, as they predict the pages still to come (say, the rest of
    /// the table being loaded) better than pages from all over the file.
    reservoir: codec::Samples,
    rng: u64,
}

impl DictState {
    /// Offers a written page to the reservoir (Algorithm R).
    fn sample(&mut self, page: &[u8]) {
        let seen = self.written_since as u64;
        if self.reservoir.len() < codec::DICT_SAMPLE_PAGES {
            self.reservoir.push(page);
            return;
        }
        if self.rng == 0 {
            self.rng = SAMPLING_SEED;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let slot = self.rng % seen.max(1);
        if slot < codec::DICT_SAMPLE_PAGES as u64 {
            self.reservoir.replace(slot as usize, page);
        }
    }
}

/// The page store of one open compressed database.
pub struct PageStore {
    // Statements are declared before the connection so they are finalized before it closes.
    snapshot: Statement,
    select_page: Statement,
    select_range: Statement,
    upsert_page: Option<Statement>,
    max_pageno: Statement,
    page1_len: Statement,
    data_version: Statement,
    conn: Connection,
    opts: StoreOptions,
    txn: OuterTxn,
    /// Inner page size, known once page 1 exists.
    page_size: Option<usize>,
    /// Inner page count as of the current transaction.
    page_count: u64,
    encoder: Encoder,
    decoder: Decoder,
    dict: DictState,
    /// Background compression (None with a single thread).
    pipeline: Option<CompressPipeline>,
    /// Read-ahead (None with a single thread or `noprefetch`).
    prefetcher: Option<Prefetcher>,
    /// Page 1 was written in the current transaction (its page size may have changed).
    page1_written: bool,
    /// The outer `PRAGMA data_version` our cached state (page count and size, header,
    /// pages read ahead) is valid for: it changes when another connection commits.
    seen_version: Option<i64>,
    /// The inner database header (first 100 bytes of page 1), which SQLite reads at the start
    /// of every transaction to see whether its cache is still valid.
    header: Option<[u8; 100]>,
    /// The outer read transaction is held between inner transactions (inner lock NONE).
    held: bool,
    /// A release of the held transaction is scheduled with [`crate::vfs::idle`].
    release_scheduled: bool,
    /// Another connection wanted to write when this outer read transaction began: do not hold
    /// it past the inner transaction.
    contended: bool,
    /// When the current outer read transaction began.
    read_since: Instant,
    /// When the last inner transaction ended.
    last_used: Instant,
    /// When we last asked whether another connection wants to write.
    last_check: Instant,
}

fn corrupt(name: &str, what: impl std::fmt::Display) -> SqliteError {
    SqliteError::new(SQLITE_CORRUPT, format!("{name}: {what}"))
}

/// True for valid SQLite page sizes.
fn valid_page_size(n: usize) -> bool {
    (512..=65536).contains(&n) && n.is_power_of_two()
}

/// Whether an inner page is a b-tree interior page (flag byte 0x05 or 0x02).
pub fn is_btree_interior(pageno: u64, page: &[u8]) -> bool {
    let at = if pageno == 1 { 100 } else { 0 };
    matches!(page.get(at), Some(0x05 | 0x02))
}

/// Rolls back a hot journal the outer database may have from a writer that crashed, by
/// touching it once through a read-write connection. A read-only connection cannot do that
/// (SQLite refuses with SQLITE_READONLY_ROLLBACK), so read-only opens call this first; without
/// write permission it quietly does nothing and the read-only open reports the problem.
pub fn recover_hot_journal(outer_uri_rw: &str) {
    if let Ok(conn) = Connection::open(outer_uri_rw, OpenFlags::READWRITE, None) {
        conn.set_busy_timeout(COMMIT_BUSY_TIMEOUT_MS);
        let _ = conn.query_i64("SELECT count(*) FROM sqlite_master");
    }
}

impl PageStore {
    /// Opens (creating when allowed and empty) the outer database and checks that it is one.
    pub fn open(opts: StoreOptions) -> Result<PageStore> {
        let name = opts.display_name.clone();
        let flags = if opts.readonly {
            OpenFlags::READONLY
        } else if opts.create {
            OpenFlags::READWRITE | OpenFlags::CREATE
        } else {
            OpenFlags::READWRITE
        } | OpenFlags::NOMUTEX;
        let conn =
            Connection::open(&opts.outer_uri, flags, opts.outer_vfs.as_deref()).map_err(|e| {
                SqliteError::new(
                    if e.code & 0xff == SQLITE_CANTOPEN {
                        SQLITE_CANTOPEN
                    } else {
                        e.code
                    },
                    format!("cannot open {name}: {}", e.message),
                )
            })?;
        // Opening reads the outer schema, which a writer's commit may hold up for a moment
        // (plain SQLite reads nothing at open, so it never fails there for that).
        conn.set_busy_timeout(OPEN_BUSY_TIMEOUT_MS);
        if opts.outer_unsafe && !opts.readonly {
            conn.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")?;
        }
        Self::check_or_create_schema(&conn, &opts)?;
        // Only now that the outer page size is known: SQLite turns a cache size in KiB into a
        // page count for its spill threshold when the pragma runs, so set before the header
        // was read (assuming 4 KiB pages) the cache grew to 8x its budget before spilling.
        if let Some(size) = opts.outer_cache_size {
            conn.exec(&format!("PRAGMA cache_size = {size}"))?;
        }
        let snapshot = conn
            .prepare("SELECT 1 UNION ALL SELECT 2 FROM nested_vfs_zstd_pages WHERE pageno = 1")?;
        let select_page =
            conn.prepare("SELECT data, meta1, meta2 FROM nested_vfs_zstd_pages WHERE pageno = ?")?;
        let select_range = conn.prepare(
            "SELECT pageno, data, meta1, meta2 FROM nested_vfs_zstd_pages WHERE pageno BETWEEN ? AND ? ORDER BY pageno",
        )?;
        // The largest page number, and the smallest other than the header row (each one probe of
        // the rowid b-tree): a page number outside 1..=MAX_PAGENO, or a stray row below, is
        // corruption, not a smaller or empty database.
        let max_pageno = conn.prepare(&format!(
            "SELECT max(pageno), (SELECT min(pageno) FROM nested_vfs_zstd_pages WHERE pageno <> {HEADER_ROW}) FROM nested_vfs_zstd_pages"
        ))?;
        let page1_len =
            conn.prepare("SELECT length(data) FROM nested_vfs_zstd_pages WHERE pageno = 1")?;
        let data_version = conn.prepare("PRAGMA data_version")?;
        let upsert_page = if opts.readonly {
            None
        } else {
            // An upsert rather than INSERT OR REPLACE: a REPLACE on a table with indexes may
            // write several rows and may abort (data is NOT NULL), so SQLite gives each one a
            // statement journal, which inside the outer transaction soon spills to a temporary
            // file: every page written cost a copy of the outer leaf page it lands on (creating
            // a GRI on 4 M rows wrote 500 MB to /var/tmp that way). The upsert needs none.
            Some(conn.prepare(
                "INSERT INTO nested_vfs_zstd_pages (pageno, data, meta1, meta2, btree_interior) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (pageno) DO UPDATE SET data = excluded.data, meta1 = excluded.meta1, \
                 meta2 = excluded.meta2, btree_interior = excluded.btree_interior",
            )?)
        };
        // From here on, lock waits are the inner connection's busy handler's to decide.
        conn.set_busy_timeout(0);
        let pipeline = (opts.threads > 1).then(|| CompressPipeline::new(opts.threads));
        let prefetcher = (opts.threads > 1 && opts.prefetch).then(Prefetcher::new);
        Ok(PageStore {
            page1_written: false,
            held: false,
            release_scheduled: false,
            contended: false,
            read_since: Instant::now(),
            last_used: Instant::now(),
            last_check: Instant::now(),
            seen_version: None,
            header: None,
            page1_len,
            data_version,
            pipeline,
            prefetcher,
            snapshot,
            select_page,
            select_range,
            upsert_page,
            max_pageno,
            encoder: Encoder::new(opts.level),
            conn,
            opts,
            txn: OuterTxn::None,
            page_size: None,
            page_count: 0,
            decoder: Decoder::default(),
            dict: DictState::default(),
        })
    }

    fn check_or_create_schema(conn: &Connection, opts: &StoreOptions) -> Result<()> {
        let name = &opts.display_name;
        let classify = |e: SqliteError| {
            if matches!(e.code & 0xff, SQLITE_NOTADB | SQLITE_CORRUPT) {
                SqliteError::new(
                    SQLITE_NOTADB,
                    format!(
                        "{name} is not a compressed database: it is not a SQLite file at all ({})",
                        e.message
                    ),
                )
            } else {
                SqliteError::new(e.code, format!("{name}: {}", e.message))
            }
        };
        let tables = conn
            .query_i64("SELECT count(*) FROM sqlite_master")
            .map_err(classify)?
            .unwrap_or(0);
        let has_pages = conn
            .query_i64("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'nested_vfs_zstd_pages'")
            .map_err(classify)?
            .unwrap_or(0)
            > 0;
        if has_pages {
            return Ok(());
        }
        if tables > 0 {
            return Err(SqliteError::new(
                SQLITE_NOTADB,
                format!(
                    "{name} is a plain SQLite database, not a compressed one; open it without vfs=zstd \
                     (or compress it with `genomicsqlite {name} --compact`)"
                ),
            ));
        }
        if opts.readonly {
            return Err(SqliteError::new(
                SQLITE_CANTOPEN,
                format!(
                    "{name} is empty, not a compressed database yet; open it read-write to create one"
                ),
            ));
        }
        // The page size of an empty database can only be set before a transaction starts.
        if let Some(size) = opts.outer_page_size {
            conn.exec(&format!("PRAGMA page_size = {size}"))?;
        }
        conn.exec("BEGIN IMMEDIATE")?;
        let created = (|| {
            // Another process may have created it between our check and the lock.
            if conn
                .query_i64("SELECT count(*) FROM sqlite_master")?
                .unwrap_or(0)
                > 0
            {
                return Ok(());
            }
            conn.exec(SCHEMA_PAGES)?;
            if !opts.no_dbi_indexes {
                conn.exec(SCHEMA_INDEXES)?;
            }
            conn.exec(SCHEMA_DICTS)?;
            conn.exec(&format!("PRAGMA application_id = {APPLICATION_ID}"))
        })();
        match created {
            Ok(()) => conn.exec("COMMIT"),
            Err(e) => {
                let _ = conn.exec("ROLLBACK");
                Err(SqliteError::new(
                    e.code,
                    format!("cannot create {name}: {}", e.message),
                ))
            }
        }
        // A page_size pragma issued before any table exists takes effect at CREATE TABLE; if the
        // outer file had a different page size from a previous empty life, VACUUM would be
        // needed, which never happens for a zero-length file.
        .and_then(|()| {
            let still_plain = conn
                .query_i64(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'nested_vfs_zstd_pages'",
                )?
                .unwrap_or(0)
                == 0;
            if still_plain {
                Err(SqliteError::new(
                    SQLITE_NOTADB,
                    format!("{name} is a plain SQLite database, not a compressed one"),
                ))
            } else {
                Ok(())
            }
        })
    }

    pub fn readonly(&self) -> bool {
        self.opts.readonly
    }

    /// Inner database size in bytes.
    pub fn file_size(&mut self) -> Result<u64> {
        if self.txn == OuterTxn::None {
            // SQLite asks for the size outside a transaction only in edge cases (e.g. on open);
            // answer from a fresh look.
            self.refresh()?;
        }
        Ok(self.page_count * self.page_size.unwrap_or(0) as u64)
    }

    /// Re-reads the page count and page size (at the start of each transaction: another
    /// connection may have changed them).
    fn refresh(&mut self) -> Result<()> {
        self.header = None;
        if let Some(p) = self.prefetcher.as_mut() {
            p.clear();
        }
        let (max, min) = {
            let stmt = &mut self.max_pageno;
            let r = stmt.step().map(|row| {
                let int = |col| {
                    (row && stmt.column_type(col) != SQLITE_NULL).then(|| stmt.column_i64(col))
                };
                (int(0), int(1))
            });
            stmt.reset();
            r?
        };
        if let Some(bad) = [max, min]
            .into_iter()
            .flatten()
            .find(|&p| p != HEADER_ROW && !(1..=MAX_PAGENO).contains(&p))
        {
            return Err(corrupt(
                &self.opts.display_name,
                format!("page number {bad} is out of range (pages are numbered 1 to {MAX_PAGENO})"),
            ));
        }
        let max = max.unwrap_or(0).max(0) as u64;
        if max == 0 {
            self.page_count = 0;
            self.page_size = None;
            return Ok(());
        }
        let size = {
            let stmt = &mut self.page1_len;
            let r = stmt.step().map(|row| row.then(|| stmt.column_i64(0)));
            stmt.reset();
            r?
        }
        .ok_or_else(|| corrupt(&self.opts.display_name, "page 1 is missing"))?
            as usize;
        if !valid_page_size(size) {
            return Err(corrupt(
                &self.opts.display_name,
                format!("page 1 has an invalid size of {size} bytes"),
            ));
        }
        self.page_size = Some(size);
        self.page_count = max;
        Ok(())
    }

    /// Inner lock level rose from NONE to SHARED: start the outer read transaction, or carry
    /// on with the held one if nobody else wants to write.
    pub fn begin_read(&mut self) -> Result<()> {
        if std::mem::take(&mut self.held) {
            let now = Instant::now();
            if now.duration_since(self.read_since) < MAX_HOLD
                && (now.duration_since(self.last_check) < WRITER_CHECK_INTERVAL
                    || !self.writer_waiting(now))
            {
                return Ok(());
            }
            self.end_read();
        }
        if self.txn != OuterTxn::None {
            return Ok(());
        }
        // Checked before our own SHARED lock exists, so that it can only be another's.
        self.contended = self.writer_waiting(Instant::now());
        match self.snapshot.step() {
            Ok(_) => {}
            Err(e) => {
                self.snapshot.reset();
                return Err(e);
            }
        }
        self.txn = OuterTxn::Read;
        self.read_since = Instant::now();
        // What we know of the database (and pages read ahead) stays valid unless another
        // connection committed since: SQLite counts those commits in PRAGMA data_version.
        let checked = self.outer_data_version().and_then(|version| {
            if self.seen_version != Some(version) {
                self.refresh()?;
                self.seen_version = Some(version);
            }
            Ok(())
        });
        if let Err(e) = checked {
            self.end_read();
            return Err(e);
        }
        Ok(())
    }

    /// Whether another connection wants to write (asked of the outer file's VFS; should that
    /// fail, as if one did, so that we let go).
    fn writer_waiting(&mut self, now: Instant) -> bool {
        self.last_check = now;
        self.conn.writer_waiting().unwrap_or(true)
    }

    fn outer_data_version(&mut self) -> Result<i64> {
        let stmt = &mut self.data_version;
        let r = stmt.step().map(|_| stmt.column_i64(0));
        stmt.reset();
        r
    }

    /// Inner lock rose to RESERVED: start the outer write transaction.
    pub fn begin_write(&mut self) -> Result<()> {
        if self.opts.readonly {
            return Err(SqliteError::new(
                SQLITE_READONLY,
                format!("{} is open read-only", self.opts.display_name),
            ));
        }
        match self.txn {
            OuterTxn::Write => return Ok(()),
            OuterTxn::None => self.begin_read()?,
            OuterTxn::Read => {}
        }
        self.conn.exec("BEGIN IMMEDIATE")?;
        self.txn = OuterTxn::Write;
        // No read-ahead while writing: a page read ahead could be overtaken by a write.
        if let Some(p) = self.prefetcher.as_mut() {
            p.clear();
        }
        // Nothing to re-read: our read snapshot held SHARED since begin_read checked
        // data_version, so no other connection can have committed in between.
        Ok(())
    }

    /// Inner transaction committed: commit the outer one, keeping the read snapshot.
    pub fn commit(&mut self) -> Result<()> {
        if self.txn != OuterTxn::Write {
            return Ok(());
        }
        if std::mem::take(&mut self.page1_written) {
            self.recut_to_header_page_size()?;
        }
        self.flush()?;
        self.conn.set_busy_timeout(COMMIT_BUSY_TIMEOUT_MS);
        let r = self.conn.exec("COMMIT");
        self.conn.set_busy_timeout(0);
        r?;
        self.txn = OuterTxn::Read;
        Ok(())
    }

    /// Inner lock dropped to `level` (SHARED or NONE): a write transaction that was not
    /// committed is rolled back; at NONE the read snapshot is held for the next transaction
    /// (or, after a rollback or when a writer waits, ends). Returns true when the caller must
    /// schedule [`PageStore::release_if_idle`] (at [`IDLE_RELEASE`] from now).
    pub fn unlock(&mut self, level: LockLevel) -> bool {
        let mut rolled_back = false;
        if self.txn == OuterTxn::Write {
            rolled_back = true;
            if !self.conn.autocommit() {
                let _ = self.conn.exec("ROLLBACK");
            }
            self.txn = OuterTxn::Read;
            if let Some(p) = self.pipeline.as_mut() {
                p.abandon();
            }
            self.page1_written = false;
            self.seen_version = None;
            // A dictionary trained in the rolled-back transaction is gone from the outer
            // database, and its id may be handed out again: forget every dictionary.
            self.dict = DictState::default();
            self.decoder = Decoder::default();
            // Anything cached about the outer state may now be wrong.
            let _ = self.refresh();
            if level > LockLevel::None {
                // ROLLBACK may have aborted the snapshot statement; take a fresh one.
                self.snapshot.reset();
                if self.snapshot.step().is_err() {
                    self.snapshot.reset();
                    self.txn = OuterTxn::None;
                }
            }
        }
        if level != LockLevel::None {
            return false;
        }
        if rolled_back || self.contended || self.txn != OuterTxn::Read {
            self.end_read();
            return false;
        }
        self.held = true;
        self.last_used = Instant::now();
        !std::mem::replace(&mut self.release_scheduled, true)
    }

    /// Called by the idle-release thread at the time [`PageStore::unlock`] asked for: ends the
    /// held read transaction if it has been idle for [`IDLE_RELEASE`]. Returns when to look
    /// again (`None`: nothing held, the next [`PageStore::unlock`] schedules anew).
    pub fn release_if_idle(&mut self, now: Instant) -> Option<Instant> {
        if !self.held {
            self.release_scheduled = false;
            return None;
        }
        let due = self.last_used + IDLE_RELEASE;
        if now < due {
            return Some(due);
        }
        self.held = false;
        self.release_scheduled = false;
        self.end_read();
        None
    }

    fn end_read(&mut self) {
        self.snapshot.reset();
        self.txn = OuterTxn::None;
    }

    /// Whether this connection holds an outer write transaction.
    pub fn in_write(&self) -> bool {
        self.txn == OuterTxn::Write
    }

    /// Reads `buf.len()` bytes at `offset` of the inner database. Returns `Ok(false)` for a
    /// short read (past the end; the rest of `buf` is zero-filled).
    pub fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<bool> {
        let Some(page_size) = self.page_size else {
            buf.fill(0);
            return Ok(buf.is_empty());
        };
        let end = offset as usize + buf.len();
        if end <= 100 && self.page_count > 0 {
            let header = match self.header {
                Some(header) => header,
                None => {
                    let mut page = vec![0u8; page_size];
                    self.read_page(1, &mut page)?;
                    let mut header = [0u8; 100];
                    header.copy_from_slice(&page[..100]);
                    self.header = Some(header);
                    header
                }
            };
            buf.copy_from_slice(&header[offset as usize..end]);
            return Ok(true);
        }
        let mut done = 0usize;
        let mut page_buf = Vec::new();
        while done < buf.len() {
            let pos = offset + done as u64;
            let pageno = pos / page_size as u64 + 1;
            let within = (pos % page_size as u64) as usize;
            let take = (page_size - within).min(buf.len() - done);
            if pageno > self.page_count {
                buf[done..].fill(0);
                return Ok(false);
            }
            let dest = &mut buf[done..done + take];
            if within == 0 && take == page_size {
                self.read_page(pageno, dest)?;
            } else {
                page_buf.resize(page_size, 0);
                self.read_page(pageno, &mut page_buf)?;
                dest.copy_from_slice(&page_buf[within..within + take]);
            }
            done += take;
        }
        Ok(true)
    }

    /// Reads and decodes one page into `out` (exactly one page long): a page still on its way
    /// to the outer database, one decoded ahead, or one fetched now.
    fn read_page(&mut self, pageno: u64, out: &mut [u8]) -> Result<()> {
        if let Some(page) = self.pipeline.as_ref().and_then(|p| p.pending_page(pageno)) {
            out.copy_from_slice(page);
            return Ok(());
        }
        if self.txn != OuterTxn::Write {
            if let Some(prefetcher) = self.prefetcher.as_mut() {
                let ahead = prefetcher.take(pageno);
                if let Some((from, to)) = prefetcher.observe(pageno, out.len()) {
                    self.read_ahead(from, to)?;
                }
                if let Some(page) = ahead {
                    let page = page.map_err(|e| {
                        corrupt(&self.opts.display_name, format!("page {pageno}: {e}"))
                    })?;
                    out.copy_from_slice(&page);
                    return Ok(());
                }
            }
        }
        self.fetch_page(pageno, out)
    }

    /// Starts decoding pages `from..=to` on the workers.
    fn read_ahead(&mut self, from: u64, to: u64) -> Result<()> {
        let to = to.min(self.page_count);
        crate::log::debug(4, || {
            format!(
                "{}: reading ahead pages {from}..={to}",
                self.opts.display_name
            )
        });
        let mut raw = Vec::new();
        {
            let stmt = &mut self.select_range;
            stmt.bind_i64(1, from as i64)?;
            stmt.bind_i64(2, to as i64)?;
            loop {
                match stmt.step() {
                    Ok(true) => {
                        // A row with invalid metadata is left to fetch_page, which reports it.
                        if let (Ok(meta1), Ok(meta2)) = (int_column(stmt, 2), int_column(stmt, 3)) {
                            raw.push(RawPage {
                                pageno: stmt.column_i64(0) as u64,
                                data: stmt.column_blob(1).to_vec(),
                                meta1,
                                meta2,
                                dict: None,
                            });
                        }
                    }
                    Ok(false) => break,
                    Err(e) => {
                        stmt.reset();
                        return Err(e);
                    }
                }
            }
            stmt.reset();
        }
        for page in &mut raw {
            if let Some(id) = page.meta1.filter(|&id| id >= 0) {
                page.dict = Some(self.decompression_dict(id)?);
            }
        }
        if let Some(prefetcher) = self.prefetcher.as_mut() {
            prefetcher.start(raw);
        }
        Ok(())
    }

    /// The prepared dictionary `id`, loading it from the outer database the first time.
    fn decompression_dict(&mut self, id: i64) -> Result<codec::DecompressionDict> {
        if let Some(dict) = self.decoder.dict(id) {
            return Ok(dict);
        }
        let bytes = self.load_dict(id)?;
        self.decoder
            .add_dict(id, &bytes)
            .map_err(|e| corrupt(&self.opts.display_name, e))
    }

    /// Fetches and decodes one page from the outer database.
    fn fetch_page(&mut self, pageno: u64, out: &mut [u8]) -> Result<()> {
        crate::log::debug(5, || {
            format!("{}: fetching page {pageno}", self.opts.display_name)
        });
        let name = &self.opts.display_name;
        let stmt = &mut self.select_page;
        stmt.bind_i64(1, pageno as i64)?;
        let found = match stmt.step() {
            Ok(found) => found,
            Err(e) => {
                stmt.reset();
                return Err(e);
            }
        };
        if !found {
            stmt.reset();
            return Err(corrupt(
                name,
                format!("page {pageno} is missing (the page numbers have a gap)"),
            ));
        }
        let (meta1, meta2) = match (int_column(stmt, 1), int_column(stmt, 2)) {
            (Ok(meta1), Ok(meta2)) => (meta1, meta2),
            (bad1, _) => {
                stmt.reset();
                return Err(corrupt(
                    name,
                    format!(
                        "page {pageno} has an invalid {} column",
                        if bad1.is_err() { "meta1" } else { "meta2" }
                    ),
                ));
            }
        };
        if let Some(id) = meta1.filter(|&id| id >= 0) {
            if self.decoder.dict(id).is_none() {
                // Load outside the borrowed row; reset first so the page statement is idle.
                stmt.reset();
                self.decompression_dict(id)?;
                return self.fetch_page(pageno, out);
            }
        }
        let r = self
            .decoder
            .decode(
                StoredPage {
                    pageno,
                    data: stmt.column_blob(0),
                    meta1,
                    meta2,
                },
                out,
            )
            .map_err(|e| corrupt(name, format!("page {pageno}: {e}")));
        stmt.reset();
        r
    }

    fn load_dict(&self, id: i64) -> Result<Vec<u8>> {
        let mut stmt = self
            .conn
            .prepare("SELECT dict FROM nested_vfs_zstd_dicts WHERE id = ?")?;
        stmt.bind_i64(1, id)?;
        if stmt.step()? {
            Ok(stmt.column_blob(0).to_vec())
        } else {
            Err(corrupt(
                &self.opts.display_name,
                format!("zstd dictionary {id} is missing"),
            ))
        }
    }

    /// Writes `data` at `offset` of the inner database. SQLite writes one page at a time, but
    /// while VACUUM changes the page size it writes the new image in pieces of the old size
    /// (see [`PageStore::recut_to_header_page_size`]), so any byte range is accepted.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        // SQLite writes only under a write lock, but in exclusive locking mode (or with nolock)
        // it takes that lock once and keeps it across transactions: start the outer one here.
        self.begin_write()?;
        let page_size = match self.page_size {
            Some(size) => size,
            // The first write to a new database (VACUUM INTO writes page 1 last, so it may be
            // any page) tells the page size.
            None if valid_page_size(data.len()) && offset.is_multiple_of(data.len() as u64) => {
                self.page_size = Some(data.len());
                data.len()
            }
            None => {
                return Err(SqliteError::new(
                    SQLITE_IOERR_WRITE,
                    format!(
                        "{}: first write of {} bytes at offset {offset} is not a page",
                        self.opts.display_name,
                        data.len()
                    ),
                ))
            }
        };
        let mut done = 0usize;
        while done < data.len() {
            let pos = offset + done as u64;
            let pageno = pos / page_size as u64 + 1;
            let within = (pos % page_size as u64) as usize;
            let take = (page_size - within).min(data.len() - done);
            // Writing past the end leaves no gap: the pages in between read as zeros, as they
            // would in an ordinary file.
            if pageno > self.page_count + 1 {
                let zeros = vec![0u8; page_size];
                for gap in self.page_count + 1..pageno {
                    self.put_page(gap, &zeros)?;
                }
            }
            if take == page_size {
                self.put_page(pageno, &data[done..done + take])?;
            } else {
                let mut page = vec![0u8; page_size];
                if pageno <= self.page_count {
                    self.read_page(pageno, &mut page)?;
                }
                page[within..within + take].copy_from_slice(&data[done..done + take]);
                self.put_page(pageno, &page)?;
            }
            done += take;
        }
        Ok(())
    }

    /// After a VACUUM that changed the page size, re-cuts the stored rows to the page size the
    /// database header now declares: the page size of a compressed database is the length of
    /// its page 1 row, for us and for GenomicSQLite 0.9.4 alike. Called at commit when page 1
    /// was rewritten; the rows are rewritten in an order that never overwrites one still to be
    /// read.
    fn recut_to_header_page_size(&mut self) -> Result<()> {
        let Some(old) = self.page_size else {
            return Ok(());
        };
        let mut header = [0u8; 100];
        if !self.read(0, &mut header)? || &header[..16] != b"SQLite format 3\0" {
            return Ok(());
        }
        let new = match u16::from_be_bytes([header[16], header[17]]) {
            1 => 65536,
            n => usize::from(n),
        };
        if new == old || !valid_page_size(new) {
            return Ok(());
        }
        self.flush()?;
        let total = self.page_count * old as u64;
        let new_count = total.div_ceil(new as u64);
        let order: Box<dyn Iterator<Item = u64>> = if new > old {
            Box::new(1..=new_count)
        } else {
            Box::new((1..=new_count).rev())
        };
        let mut page = vec![0u8; new];
        for pageno in order {
            page.fill(0);
            self.read((pageno - 1) * new as u64, &mut page)?;
            self.put_page(pageno, &page)?;
            // Rows are read through the old page size until the loop ends.
            self.flush()?;
        }
        let mut stmt = self
            .conn
            .prepare("DELETE FROM nested_vfs_zstd_pages WHERE pageno > ?")?;
        stmt.bind_i64(1, new_count as i64)?;
        stmt.run()?;
        self.page_size = Some(new);
        self.page_count = new_count;
        crate::log::debug(2, || {
            format!(
                "{}: page size changed from {old} to {new} bytes",
                self.opts.display_name
            )
        });
        Ok(())
    }

    /// Truncates the inner database to `size` bytes (a whole number of pages).
    pub fn truncate(&mut self, size: u64) -> Result<()> {
        let Some(page_size) = self.page_size else {
            return Ok(());
        };
        let keep = size.div_ceil(page_size as u64);
        if keep >= self.page_count {
            return Ok(());
        }
        self.begin_write()?;
        self.flush()?;
        let mut stmt = self
            .conn
            .prepare("DELETE FROM nested_vfs_zstd_pages WHERE pageno > ?")?;
        stmt.bind_i64(1, keep as i64)?;
        stmt.run()?;
        self.page_count = keep;
        if keep == 0 {
            self.page_size = None;
        }
        Ok(())
    }

    fn put_page(&mut self, pageno: u64, page: &[u8]) -> Result<()> {
        if pageno == 1 {
            self.page1_written = true;
            self.header = None;
            // Page 1 is stored right away: first the pages before it, so that the outer file
            // sees rows in the order they were written, however fast the workers were.
            self.flush()?;
        }
        let encoded = if pageno == 1 {
            codec::plain(1, page)
        } else {
            if self.opts.use_dictionaries {
                self.dict.written_since += 1;
                self.dict.sample(page);
                self.maybe_train_dictionary(pageno)?;
            }
            let dict = self.dict.current.clone();
            if let Some(pipeline) = self.pipeline.as_mut() {
                pipeline.submit(
                    pageno,
                    page.to_vec(),
                    is_btree_interior(pageno, page),
                    dict,
                    self.opts.level,
                );
                self.page_count = self.page_count.max(pageno);
                return self.drain(false);
            }
            self.encoder.encode(pageno as i64, page, dict.as_deref())
        };
        store_row(
            &mut self.upsert_page,
            pageno as i64,
            &encoded,
            is_btree_interior(pageno, page),
        )?;
        if pageno == 1 {
            store_row(
                &mut self.upsert_page,
                HEADER_ROW,
                &codec::plain(HEADER_ROW, &page[..100.min(page.len())]),
                false,
            )?;
        }
        self.page_count = self.page_count.max(pageno);
        Ok(())
    }

    /// Stores pages the workers have finished; with `all`, waits for every page in flight.
    fn drain(&mut self, all: bool) -> Result<()> {
        let PageStore {
            pipeline,
            upsert_page,
            ..
        } = self;
        match pipeline {
            Some(p) => p.drain(
                all,
                |c| store_row(upsert_page, c.pageno as i64, &c.encoded, c.btree_interior),
                |m| SqliteError::new(SQLITE_IOERR_WRITE, m),
            ),
            None => Ok(()),
        }
    }

    /// Makes every written page reach the outer database.
    fn flush(&mut self) -> Result<()> {
        self.drain(true)
    }

    /// Loads the newest dictionary the first time it is needed, and trains a new one when
    /// enough pages were written since (see REFERENCE: 100 sampled pages, ~96 KiB, again after
    /// 3x the recorded page count).
    fn maybe_train_dictionary(&mut self, writing: u64) -> Result<()> {
        if !self.opts.use_dictionaries {
            return Ok(());
        }
        if !self.dict.loaded {
            self.dict.loaded = true;
            let mut stmt = self.conn.prepare(
                "SELECT id, dict, page_count FROM nested_vfs_zstd_dicts ORDER BY id DESC LIMIT 1",
            )?;
            if stmt.step()? {
                let id = stmt.column_i64(0);
                self.dict.current = Some(CompressionDict::new(id, stmt.column_blob(1)));
                self.dict.recorded_pages = stmt.column_i64(2);
            }
        }
        let Some(page_size) = self.page_size else {
            return Ok(());
        };
        let pages = self.page_count.max(writing) as i64;
        if self.dict.reservoir.len() < codec::DICT_SAMPLE_PAGES.min(pages.max(1) as usize - 1) {
            return Ok(());
        }
        let due = match self.dict.current {
            None => {
                pages >= codec::DICT_SAMPLE_PAGES as i64
                    && pages * page_size as i64 >= 4 * codec::DICT_SIZE as i64
            }
            Some(_) => self.dict.written_since >= 3 * self.dict.recorded_pages.max(1),
        };
        if !due {
            return Ok(());
        }
        let recorded = if self.dict.current.is_some() {
            self.dict.written_since
        } else {
            pages
        };
        let samples = std::mem::take(&mut self.dict.reservoir);
        // Whatever happens, don't try again before as many pages were written once more.
        self.dict.written_since = 0;
        self.dict.recorded_pages = recorded;
        let Some(dict) = codec::train_dictionary(&samples, self.opts.level) else {
            return Ok(());
        };
        // Pages before the dictionary reach the outer file before it (as for page 1).
        self.flush()?;
        let mut stmt = self
            .conn
            .prepare("INSERT INTO nested_vfs_zstd_dicts (dict, page_count) VALUES (?, ?)")?;
        stmt.bind_blob(1, &dict)?;
        stmt.bind_i64(2, recorded)?;
        stmt.run()?;
        drop(stmt);
        let id = self
            .conn
            .query_i64("SELECT max(id) FROM nested_vfs_zstd_dicts")?
            .unwrap_or(0);
        self.dict.current = Some(CompressionDict::new(id, &dict));
        Ok(())
    }
}

/// An integer-or-NULL column (`meta1`, `meta2`); any other type is an error.
fn int_column(stmt: &Statement, col: c_int) -> std::result::Result<Option<i64>, ()> {
    match stmt.column_type(col) {
        SQLITE_NULL => Ok(None),
        SQLITE_INTEGER => Ok(Some(stmt.column_i64(col))),
        _ => Err(()),
    }
}

/// Stores one page row.
fn store_row(
    upsert: &mut Option<Statement>,
    pageno: i64,
    encoded: &EncodedPage,
    interior: bool,
) -> Result<()> {
    let stmt = upsert
        .as_mut()
        .ok_or_else(|| SqliteError::new(SQLITE_READONLY, "database is open read-only"))?;
    stmt.bind_i64(1, pageno)?;
    stmt.bind_blob(2, &encoded.data)?;
    for (index, value) in [(3, encoded.meta1), (4, encoded.meta2)] {
        match value {
            Some(m) => stmt.bind_i64(index, m)?,
            None => stmt.bind_null(index)?,
        }
    }
    stmt.bind_i64(5, i64::from(interior))?;
    let r = stmt.run();
    stmt.reset();
    r
}

/// The seed of dictionary sampling. Fixed, so that the same pages written in the same order
/// give the same dictionaries and so a byte-identical file (published files keep their
/// checksums); sampling needs an even spread, not unpredictability.
const SAMPLING_SEED: u64 = 0x9E37_79B9_7F4A_7C15;
