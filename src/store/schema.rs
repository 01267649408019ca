//! The outer schema: checking that an outer database is a compressed one (or creating it), the
//! statements that read and write its rows, and the codec's own table (dictionaries) as
//! [`CodecTables`].

use super::codec::{CodecTables, EncodedPage};
use super::{corrupt, StoreOptions};
use crate::background::CompressPipeline;
use crate::error::{Error, Result};
use crate::ffi::*;
use crate::flags::OpenFlags;
use crate::format::{
    APPLICATION_ID, DICTS_TABLE, HEADER_ROW, PAGES_TABLE, SCHEMA_DICTS, SCHEMA_INDEXES,
    SCHEMA_PAGES,
};
use crate::sqlite_api::{Connection, Statement};

/// Rolls back a hot journal the outer database may have from a writer that crashed, by
/// touching it once through a read-write connection. A read-only connection cannot do that
/// (SQLite refuses with SQLITE_READONLY_ROLLBACK), so read-only opens call this first; without
/// write permission it quietly does nothing and the read-only open reports the problem.
pub fn recover_hot_journal(outer_uri_rw: &str) {
    if let Ok(conn) = Connection::open(outer_uri_rw, OpenFlags::READWRITE, None) {
        conn.set_busy_timeout(super::txn::COMMIT_BUSY_TIMEOUT_MS);
        let _ = conn.query_i64("SELECT count(*) FROM sqlite_master");
    }
}

/// Checks that the outer database is a compressed one, creating the schema in an empty one
/// when allowed.
pub(super) fn check_or_create(conn: &Connection, opts: &StoreOptions) -> Result<()> {
    let name = &opts.display_name;
    let classify = |e: Error| {
        if matches!(e.code() & 0xff, SQLITE_NOTADB | SQLITE_CORRUPT) {
            Error::new(
                SQLITE_NOTADB,
                format!(
                    "{name} is not a compressed database: it is not a SQLite file at all ({})",
                    e.message()
                ),
            )
        } else {
            Error::new(e.code(), format!("{name}: {}", e.message()))
        }
    };
    let tables = conn
        .query_i64("SELECT count(*) FROM sqlite_master")
        .map_err(classify)?
        .unwrap_or(0);
    let has_pages = conn
        .query_i64(&format!(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{PAGES_TABLE}'"
        ))
        .map_err(classify)?
        .unwrap_or(0)
        > 0;
    if has_pages {
        return Ok(());
    }
    if tables > 0 {
        return Err(Error::new(
            SQLITE_NOTADB,
            format!(
                "{name} is a plain SQLite database, not a compressed one; open it without vfs=zstd \
                 (or compress it with `genomicsqlite {name} --compact`)"
            ),
        ));
    }
    if opts.readonly {
        return Err(Error::new(
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
            Err(Error::new(
                e.code(),
                format!("cannot create {name}: {}", e.message()),
            ))
        }
    }
    // A page_size pragma issued before any table exists takes effect at CREATE TABLE; if the
    // outer file had a different page size from a previous empty life, VACUUM would be
    // needed, which never happens for a zero-length file.
    .and_then(|()| {
        let still_plain = conn
            .query_i64(&format!(
                "SELECT count(*) FROM sqlite_master WHERE name = '{PAGES_TABLE}'"
            ))?
            .unwrap_or(0)
            == 0;
        if still_plain {
            Err(Error::new(
                SQLITE_NOTADB,
                format!("{name} is a plain SQLite database, not a compressed one"),
            ))
        } else {
            Ok(())
        }
    })
}

/// The statements the store runs over and over, prepared once.
pub(super) struct Queries {
    /// Stepped once and kept: holds the outer read transaction (see `txn`).
    pub snapshot: Statement,
    pub select_page: Statement,
    pub select_range: Statement,
    pub upsert_page: Option<Statement>,
    /// The largest page number, and the smallest other than the header row (each one probe of
    /// the rowid b-tree): a page number outside 1..=MAX_PAGENO, or a stray row below, is
    /// corruption, not a smaller or empty database.
    pub max_pageno: Statement,
    pub page1_len: Statement,
    pub data_version: Statement,
}

impl Queries {
    pub fn prepare(conn: &Connection, readonly: bool) -> Result<Queries> {
        let t = PAGES_TABLE;
        Ok(Queries {
            snapshot: conn
                .prepare(&format!("SELECT 1 UNION ALL SELECT 2 FROM {t} WHERE pageno = 1"))?,
            select_page: conn
                .prepare(&format!("SELECT data, meta1, meta2 FROM {t} WHERE pageno = ?"))?,
            select_range: conn.prepare(&format!(
                "SELECT pageno, data, meta1, meta2 FROM {t} WHERE pageno BETWEEN ? AND ? ORDER BY pageno"
            ))?,
            max_pageno: conn.prepare(&format!(
                "SELECT max(pageno), (SELECT min(pageno) FROM {t} WHERE pageno <> {HEADER_ROW}) FROM {t}"
            ))?,
            page1_len: conn.prepare(&format!("SELECT length(data) FROM {t} WHERE pageno = 1"))?,
            data_version: conn.prepare("PRAGMA data_version")?,
            // An upsert rather than INSERT OR REPLACE: a REPLACE on a table with indexes may
            // write several rows and may abort (data is NOT NULL), so SQLite gives each one a
            // statement journal, which inside the outer transaction soon spills to a temporary
            // file: every page written cost a copy of the outer leaf page it lands on (creating
            // a GRI on 4 M rows wrote 500 MB to /var/tmp that way). The upsert needs none.
            upsert_page: if readonly {
                None
            } else {
                Some(conn.prepare(&format!(
                    "INSERT INTO {t} (pageno, data, meta1, meta2, btree_interior) VALUES (?, ?, ?, ?, ?) \
                     ON CONFLICT (pageno) DO UPDATE SET data = excluded.data, meta1 = excluded.meta1, \
                     meta2 = excluded.meta2, btree_interior = excluded.btree_interior"
                ))?)
            },
        })
    }
}

/// Deletes the rows of pages after `keep`.
pub(super) fn delete_pages_after(conn: &Connection, keep: u64) -> Result<()> {
    let mut stmt = conn.prepare(&format!("DELETE FROM {PAGES_TABLE} WHERE pageno > ?"))?;
    stmt.bind_i64(1, keep as i64)?;
    stmt.run()
}

/// Stores one page row.
pub(super) fn store_row(
    upsert: &mut Option<Statement>,
    pageno: i64,
    encoded: &EncodedPage,
    interior: bool,
) -> Result<()> {
    let stmt = upsert
        .as_mut()
        .ok_or_else(|| Error::new(SQLITE_READONLY, "database is open read-only"))?;
    let mut stmt = stmt.once();
    stmt.bind_i64(1, pageno)?;
    stmt.bind_blob(2, &encoded.data)?;
    for (index, value) in [(3, encoded.meta1), (4, encoded.meta2)] {
        match value {
            Some(m) => stmt.bind_i64(index, m)?,
            None => stmt.bind_null(index)?,
        }
    }
    stmt.bind_i64(5, i64::from(interior))?;
    stmt.run()
}

/// Stores pages the workers have finished; with `all`, waits for every page in flight.
pub(super) fn drain(
    pipeline: &mut Option<CompressPipeline>,
    upsert: &mut Option<Statement>,
    all: bool,
) -> Result<()> {
    match pipeline {
        Some(p) => p.drain(all, |c| {
            store_row(upsert, c.pageno as i64, &c.encoded, c.btree_interior)
        }),
        None => Ok(()),
    }
}

/// The codec's table of dictionaries, as [`CodecTables`].
pub(super) struct OuterTables<'a> {
    pub conn: &'a Connection,
    pub name: &'a str,
    /// Where pages written so far wait (while writing): they are stored before a dictionary,
    /// so that the outer file sees rows in the order they were written.
    pub writing: Option<(&'a mut Option<CompressPipeline>, &'a mut Option<Statement>)>,
}

impl CodecTables for OuterTables<'_> {
    fn newest_dict(&mut self) -> Result<Option<(i64, Vec<u8>, i64)>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT id, dict, page_count FROM {DICTS_TABLE} ORDER BY id DESC LIMIT 1"
        ))?;
        Ok(if stmt.step()? {
            Some((
                stmt.column_i64(0),
                stmt.column_blob(1).to_vec(),
                stmt.column_i64(2),
            ))
        } else {
            None
        })
    }

    fn dict(&mut self, id: i64) -> Result<Vec<u8>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT dict FROM {DICTS_TABLE} WHERE id = ?"))?;
        stmt.bind_i64(1, id)?;
        if stmt.step()? {
            Ok(stmt.column_blob(0).to_vec())
        } else {
            Err(self.corrupt(&format!("zstd dictionary {id} is missing")))
        }
    }

    fn add_dict(&mut self, dict: &[u8], page_count: i64) -> Result<i64> {
        if let Some((pipeline, upsert)) = self.writing.as_mut() {
            drain(pipeline, upsert, true)?;
        }
        let mut stmt = self.conn.prepare(&format!(
            "INSERT INTO {DICTS_TABLE} (dict, page_count) VALUES (?, ?)"
        ))?;
        stmt.bind_blob(1, dict)?;
        stmt.bind_i64(2, page_count)?;
        stmt.run()?;
        drop(stmt);
        Ok(self
            .conn
            .query_i64(&format!("SELECT max(id) FROM {DICTS_TABLE}"))?
            .unwrap_or(0))
    }

    fn corrupt(&self, what: &str) -> Error {
        corrupt(self.name, what)
    }
}
