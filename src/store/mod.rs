//! The nested page store: the inner database's pages kept as rows of the outer database.
//!
//! One idea per file:
//! - `schema`: the outer schema (byte-for-byte that of GenomicSQLite 0.9.4, see
//!   [`crate::format`]): checking or creating it, and the statements that read and write it;
//! - `txn`: the inner database's locks mapped onto outer transactions, and the outer read
//!   transaction held between inner ones;
//! - `pages`: the inner file cut into pages, each one row (`pageno` 1..page_count);
//! - `codec`: how a page becomes a row and back ([`codec::PageCodec`]; the store is generic
//!   over it), with the zstd codec and its dictionary policy;
//! - `header`: the copy of page 1's 100-byte header kept in memory and in the row
//!   [`crate::format::HEADER_ROW`];
//! - `prefetch`: pages decoded ahead of sequential reads on the workers.

pub mod codec;
mod header;
mod pack;
mod pages;
mod prefetch;
mod schema;
mod txn;

pub use pack::pack_file;
pub use schema::recover_hot_journal;
pub use txn::IDLE_RELEASE;

use crate::background::{CompressPipeline, Prefetcher};
use crate::error::{Error, Result};
use crate::ffi::*;
use crate::flags::OpenFlags;
use crate::sqlite_api::{Connection, Statement};
use codec::{PageCodec, ZstdCodec};
use schema::Queries;
use std::os::raw::c_int;
use txn::{Hold, OuterTxn};

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
    /// The log, at the level of the open file this store serves.
    pub log: crate::web::Log,
}

/// The page store of one open compressed database, its pages encoded by `C`.
pub struct PageStore<C: PageCodec = ZstdCodec> {
    // Statements are declared before the connection so they are finalized before it closes.
    queries: Queries,
    conn: Connection,
    opts: StoreOptions,
    txn: OuterTxn,
    hold: Hold,
    /// Inner page size, known once page 1 exists.
    page_size: Option<usize>,
    /// Inner page count as of the current transaction.
    page_count: u64,
    codec: C,
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
}

fn corrupt(name: &str, what: impl std::fmt::Display) -> Error {
    Error::new(SQLITE_CORRUPT, format!("{name}: {what}"))
}

/// An integer-or-NULL column (`meta1`, `meta2`); any other type is an error.
fn int_column(stmt: &Statement, col: c_int) -> std::result::Result<Option<i64>, ()> {
    match stmt.column_type(col) {
        SQLITE_NULL => Ok(None),
        SQLITE_INTEGER => Ok(Some(stmt.column_i64(col))),
        _ => Err(()),
    }
}

impl PageStore<ZstdCodec> {
    /// Opens the store with the zstd codec the options describe.
    pub fn open(opts: StoreOptions) -> Result<Self> {
        let codec = ZstdCodec::new(opts.level, opts.use_dictionaries);
        Self::open_with(opts, codec)
    }
}

impl<C: PageCodec> PageStore<C> {
    /// Opens (creating when allowed and empty) the outer database and checks that it is one.
    pub fn open_with(opts: StoreOptions, codec: C) -> Result<Self> {
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
                Error::new(
                    if e.code() & 0xff == SQLITE_CANTOPEN {
                        SQLITE_CANTOPEN
                    } else {
                        e.code()
                    },
                    format!("cannot open {name}: {}", e.message()),
                )
            })?;
        // Opening reads the outer schema, which a writer's commit may hold up for a moment
        // (plain SQLite reads nothing at open, so it never fails there for that).
        conn.set_busy_timeout(txn::OPEN_BUSY_TIMEOUT_MS);
        if opts.outer_unsafe && !opts.readonly {
            conn.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")?;
        }
        schema::check_or_create(&conn, &opts)?;
        // Only now that the outer page size is known: SQLite turns a cache size in KiB into a
        // page count for its spill threshold when the pragma runs, so set before the header
        // was read (assuming 4 KiB pages) the cache grew to 8x its budget before spilling.
        if let Some(size) = opts.outer_cache_size {
            conn.exec(&format!("PRAGMA cache_size = {size}"))?;
        }
        let queries = Queries::prepare(&conn, opts.readonly)?;
        // From here on, lock waits are the inner connection's busy handler's to decide.
        conn.set_busy_timeout(0);
        let pipeline = (opts.threads > 1).then(|| CompressPipeline::new(opts.threads));
        let prefetcher = (opts.threads > 1 && opts.prefetch).then(Prefetcher::new);
        Ok(PageStore {
            queries,
            conn,
            opts,
            txn: OuterTxn::None,
            hold: Hold::default(),
            page_size: None,
            page_count: 0,
            codec,
            pipeline,
            prefetcher,
            page1_written: false,
            seen_version: None,
            header: None,
        })
    }

    pub fn readonly(&self) -> bool {
        self.opts.readonly
    }
}
