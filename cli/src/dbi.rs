//! `genomicsqlite DB --dbi`: write the .dbi helper file that lets a web reader fetch, in one
//! request, the pages it needs to navigate a database's b-trees.
//!
//! The database file (for a compressed database: the OUTER file, which is what a web reader
//! fetches) is read as it lies on disk: SQLite (the command's own, opened `immutable`) lists its
//! schema (`sqlite_schema`) and the pages of the b-trees copied whole (the `dbstat` table); the
//! interior pages of the other b-trees are found by reading just those pages here, since
//! `dbstat`, like any scan, would read every leaf too: nearly the whole file. Selected pages
//! (copied into web_dbi_pages by byte offset):
//!   * page 1;
//!   * every interior page of every b-tree (including sqlite_schema);
//!   * every page (b-tree and overflow pages) of the `sqlite_stat*` tables (read when a
//!     connection loads the schema);
//!   * every page of `nested_vfs_zstd_dicts` (a compressed file's zstd dictionaries, which
//!     nearly every page read needs; GenomicSQLite 0.9.4 leaves them out);
//!   * the first and last leaves of `nested_vfs_zstd_pages`, which a reader opening a
//!     compressed file reads before anything else (inner page 1, the page count); their
//!     overflow pages, if any, are left to the file;
//!   * the leaves of `nested_vfs_zstd_pages` holding the inner pages that every query reads
//!     first (see [`inner_lead_pages`]): the inner schema and `sqlite_stat1` pages, then the
//!     roots of the inner b-trees, up to [`LEAD_LEAVES_BYTES`];
//!   * but no page other than page 1 inside the first 64 KiB, which a reader's first request
//!     fetches anyway.
//!
//! Left out, unlike GenomicSQLite 0.9.4's `.dbi` (issue 12: every byte of a .dbi is paid by
//! every reader): `sqlite_sequence`, which only an insert into an AUTOINCREMENT table reads, and
//! in a compressed file the two `*_btree_interior*` indexes, which only a 0.9.4 reader reads
//! (it fetches their pages from the file instead).
//!
//! web_dbi_meta holds `page_size`, `dbfile_size` and one `main.NAME` row (value NULL) for
//! sqlite_master and for each entry of sqlite_master, the digest of the pages that lets
//! readers detect a damaged .dbi (`genomicsqlite_pages_sha256`, see `genomicsqlite::web`), and
//! the database's identity (`genomicsqlite_identity`, see `genomicsqlite::web::identity_digest`)
//! with which readers refuse the .dbi for another version of the file, and for a compressed
//! file the number of leaves carried for the inner pages read first
//! (`genomicsqlite_lead_leaves`, when it carries them all), which tells readers that a cold
//! lookup misses only its leaves.

use crate::fsutil::{self, TempOutput};
use crate::{api, DbiArgs, Failure};
use genomicsqlite::format::{self, DbHeader};
use genomicsqlite::Config;
use rusqlite::{params, Connection, OpenFlags};
use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

const EDGE_BYTES: u64 = 65536;

/// At most this many bytes of `nested_vfs_zstd_pages` leaves go into the .dbi for the inner
/// pages read first ([`inner_lead_pages`]). Each leaf saves a query that needs one of its inner
/// pages a round trip, but every reader pays for it: 256 KiB (8 pages of 32 KiB) covers the
/// schema and the b-tree roots of a compacted database of about a hundred b-trees
/// (org.Hs.eg.sqlite: 3 leaves) and keeps a .dbi far below a megabyte.
const LEAD_LEAVES_BYTES: u64 = 256 << 10;

/// Read-only access to the pages of a SQLite database file, and to its schema through SQLite.
pub struct DbFile {
    file: File,
    sql: Connection,
    pub path: String,
    pub page_size: u64,
    /// usable bytes per page (page size less the reserved bytes)
    pub usable: u64,
    pub file_size: u64,
    pub page_count: u64,
}

fn be16(b: &[u8], o: usize) -> u64 {
    u16::from_be_bytes([b[o], b[o + 1]]) as u64
}
fn be32(b: &[u8], o: usize) -> u64 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]) as u64
}

/// A SQLite varint (1 to 9 bytes, big-endian groups of 7 bits, all 8 bits in the 9th), or
/// `None` when `b` ends inside it.
fn varint(b: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for (i, &c) in b.iter().enumerate().take(9) {
        if i == 8 {
            return Some((v << 8) | u64::from(c));
        }
        v = (v << 7) | u64::from(c & 0x7f);
        if c & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

impl DbFile {
    pub fn open(path: &str) -> Result<DbFile, Failure> {
        let file =
            File::open(path).map_err(|e| Failure::new(format!("{}: cannot read: {}", path, e)))?;
        let file_size = file
            .metadata()
            .map_err(|e| Failure::new(format!("{}: {}", path, e)))?
            .len();
        let mut hdr = [0u8; format::HEADER_LEN];
        let got = if file_size < hdr.len() as u64 {
            &hdr[..0]
        } else {
            file.read_exact_at(&mut hdr, 0)
                .map_err(|e| Failure::new(format!("{}: {}", path, e)))?;
            &hdr[..]
        };
        let header = DbHeader::parse(got).map_err(|e| Failure::new(format!("{path}: {e}")))?;
        let ps = u64::from(header.page_size);
        let usable = u64::from(header.usable_size());
        if usable < 480 {
            return Err(Failure::new(format!(
                "{}: invalid reserved space {} in header",
                path, header.reserved
            )));
        }
        if file_size % ps != 0 {
            return Err(Failure::new(format!(
                "{}: file size {} is not a multiple of the page size {} (truncated or not a database)",
                path, file_size, ps
            )));
        }
        // Immutable: the file as it lies on disk, which is what gets copied (no journal or WAL).
        let sql = Connection::open_with_flags(
            format!("file:{}?mode=ro&immutable=1", fsutil::uri_path(path)),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Failure::new(format!("{path}: cannot open: {e}")))?;
        Ok(DbFile {
            file,
            sql,
            path: path.to_string(),
            page_size: ps,
            usable,
            file_size,
            page_count: file_size / ps,
        })
    }

    pub fn page(&self, pgno: u64) -> Result<Vec<u8>, Failure> {
        if pgno < 1 || pgno > self.page_count {
            return Err(Failure::new(format!(
                "{}: corrupt database: reference to page {} of {}",
                self.path, pgno, self.page_count
            )));
        }
        let mut buf = vec![0u8; self.page_size as usize];
        self.file
            .read_exact_at(&mut buf, (pgno - 1) * self.page_size)
            .map_err(|e| Failure::new(format!("{}: reading page {}: {}", self.path, pgno, e)))?;
        Ok(buf)
    }

    /// The b-tree page type byte of a page (not page 1).
    pub fn page_type(&self, pgno: u64) -> Result<u8, Failure> {
        if pgno < 2 || pgno > self.page_count {
            return Err(Failure::new(format!(
                "{}: corrupt database: reference to page {} of {}",
                self.path, pgno, self.page_count
            )));
        }
        let mut b = [0u8; 1];
        self.file
            .read_exact_at(&mut b, (pgno - 1) * self.page_size)
            .map_err(|e| Failure::new(format!("{}: reading page {}: {}", self.path, pgno, e)))?;
        Ok(b[0])
    }

    /// The leaf of the table b-tree at `root` that holds rowid `key` (or would hold it): the
    /// descent SQLite makes, through the first cell whose key is at least `key`.
    pub fn table_leaf_of(&self, root: u64, key: i64) -> Result<u64, Failure> {
        let mut pg = root;
        for _depth in 0..64 {
            let buf = self.page(pg)?;
            let h = if pg == 1 { format::HEADER_LEN } else { 0 };
            let bad = |what: &str| {
                Failure::new(format!(
                    "{}: corrupt table b-tree page {}: {}",
                    self.path, pg, what
                ))
            };
            match buf[h] {
                0x0D => return Ok(pg),
                0x05 => {}
                t => {
                    return Err(bad(&format!(
                        "not a table b-tree page (type byte {t:#04x})"
                    )))
                }
            }
            let ncells = be16(&buf, h + 3) as usize;
            if h + 12 + 2 * ncells > buf.len() {
                return Err(bad("too many cells"));
            }
            let mut child = be32(&buf, h + 8);
            for i in 0..ncells {
                let o = be16(&buf, h + 12 + 2 * i) as usize;
                let cell = buf
                    .get(o..(self.usable as usize).min(buf.len()))
                    .filter(|c| c.len() > 4)
                    .ok_or_else(|| bad("cell pointer out of range"))?;
                let k = varint(&cell[4..]).ok_or_else(|| bad("truncated key"))? as i64;
                if key <= k {
                    child = be32(cell, 0);
                    break;
                }
            }
            pg = child;
        }
        Err(Failure::new(format!(
            "{}: corrupt database: table b-tree at page {} deeper than 64 levels",
            self.path, root
        )))
    }

    fn sql_error(&self, e: rusqlite::Error) -> Failure {
        Failure::new(format!("{}: cannot read the schema: {e}", self.path))
    }

    /// Entries of sqlite_schema in rowid order: (type, name, rootpage; 0 for none).
    pub fn schema_entries(&self) -> Result<Vec<(String, String, u64)>, Failure> {
        let mut stmt = self
            .sql
            .prepare(
                "SELECT coalesce(type, ''), coalesce(name, ''), \
                 CASE WHEN typeof(rootpage) = 'integer' AND rootpage > 0 THEN rootpage ELSE 0 END \
                 FROM sqlite_schema ORDER BY rowid",
            )
            .map_err(|e| self.sql_error(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
            })
            .map_err(|e| self.sql_error(e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.sql_error(e))
    }

    /// Every page of b-tree `name`: its b-tree pages (`overflow` false) and overflow pages.
    fn btree_pages(&self, name: &str) -> Result<Vec<(u64, bool)>, Failure> {
        let mut stmt = self
            .sql
            .prepare("SELECT pageno, pagetype = 'overflow' FROM dbstat WHERE name = ?1")
            .map_err(|e| self.sql_error(e))?;
        let rows = stmt
            .query_map([name], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
            .map_err(|e| self.sql_error(e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.sql_error(e))
    }
}

/// The child pages of b-tree page `pgno` (held in `buf`), or `None` for a leaf.
fn interior_children(db: &DbFile, pgno: u64, buf: &[u8]) -> Result<Option<Vec<u64>>, Failure> {
    let h = if pgno == 1 { format::HEADER_LEN } else { 0 };
    let bad = |what: &str| {
        Failure::new(format!(
            "{}: corrupt b-tree page {}: {}",
            db.path, pgno, what
        ))
    };
    match buf[h] {
        0x02 | 0x05 => {}
        0x0A | 0x0D => return Ok(None),
        t => return Err(bad(&format!("not a b-tree page (type byte {:#04x})", t))),
    }
    let ncells = be16(buf, h + 3) as usize;
    if h + 12 + 2 * ncells > buf.len() {
        return Err(bad("too many cells"));
    }
    let mut children = Vec::with_capacity(ncells + 1);
    for i in 0..ncells {
        let o = be16(buf, h + 12 + 2 * i) as usize;
        if o + 4 > db.usable as usize {
            return Err(bad("cell pointer out of range"));
        }
        children.push(be32(buf, o));
    }
    children.push(be32(buf, h + 8));
    Ok(Some(children))
}

/// Adds to `sel` the interior pages of the b-tree rooted at `root`, reading only those (and
/// the type byte of one child per lowest interior page): a b-tree is balanced, so when one
/// child is a leaf, all are.
fn interior_pages(
    db: &DbFile,
    root: u64,
    seen: &mut BTreeSet<u64>,
    sel: &mut BTreeSet<u64>,
) -> Result<(), Failure> {
    let mut stack = vec![root];
    while let Some(pg) = stack.pop() {
        if !seen.insert(pg) {
            return Err(reached_twice(db, pg));
        }
        let Some(children) = interior_children(db, pg, &db.page(pg)?)? else {
            continue;
        };
        sel.insert(pg);
        let t = db.page_type(children[0])?;
        if t != 0x0A && t != 0x0D {
            stack.extend(children);
        }
    }
    Ok(())
}

fn reached_twice(db: &DbFile, pg: u64) -> Failure {
    Failure::new(format!(
        "{}: corrupt database: page {} is reached twice",
        db.path, pg
    ))
}

/// What of one b-tree goes into the .dbi.
#[derive(Debug, PartialEq, Eq)]
enum Copy {
    /// Every page: b-trees read whole or nearly so by every reader.
    Whole,
    /// The interior pages: what a reader needs to find any row with one leaf fetch.
    Interior,
    /// Nothing: b-trees our reader never reads.
    Nothing,
}

/// Which pages of b-tree `name` go into the .dbi. Whole: the `sqlite_stat*` tables, read when
/// a connection loads the schema, and, beyond GenomicSQLite 0.9.4's choice, the dictionaries of
/// a compressed file: nearly every page read needs one, so a web reader would otherwise spend
/// its first requests fetching them. Nothing: `sqlite_sequence` (read only by inserts into an
/// AUTOINCREMENT table) and the two indexes `*_btree_interior*` of a compressed file, which
/// only a 0.9.4 reader uses (it fetches their pages from the file instead): 0.9.4 copied both
/// whole, and the first alone made up half of the .dbi of org.Hs.eg.db (352 of 761 KB).
fn btree_copy(kind: &str, name: &str) -> Copy {
    let interior_index = name
        .strip_prefix(format::PAGES_TABLE)
        .is_some_and(|rest| rest == "_btree_interior" || rest == "_btree_interior_pageno");
    if name == "sqlite_sequence" || (kind == "index" && interior_index) {
        Copy::Nothing
    } else if kind == "table" && (name.starts_with("sqlite_stat") || name == format::DICTS_TABLE) {
        Copy::Whole
    } else {
        Copy::Interior
    }
}

/// The inner pages of the compressed database at `path` that queries read first, most needed
/// first: the pages of the inner `sqlite_schema` and `sqlite_stat1` tables (every connection
/// reads them when it loads the schema), then the root page of every inner b-tree (where each
/// query's descent starts; a compacted database has them right after the schema). Not
/// `sqlite_stat4`: only SQLite built with STAT4 reads it, and it can be large. Read through
/// the zstd VFS, opened read-only: `dbstat` walks only the b-trees named.
fn inner_lead_pages(path: &str) -> Result<Vec<u64>, Failure> {
    let conn = api::open_readonly(path, &Config::default())
        .map_err(|e| Failure::new(format!("{path}: cannot open the compressed database: {e}")))?;
    let e = |e: rusqlite::Error| Failure::new(format!("{path}: cannot read the inner schema: {e}"));
    let mut names = vec!["sqlite_schema".to_string()];
    let mut roots = Vec::new();
    {
        let mut st = conn
            .prepare(
                "SELECT coalesce(name, ''), \
                 CASE WHEN typeof(rootpage) = 'integer' AND rootpage > 0 THEN rootpage ELSE 0 END \
                 FROM sqlite_schema ORDER BY 2",
            )
            .map_err(e)?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .map_err(e)?;
        for row in rows {
            let (name, root) = row.map_err(e)?;
            if name == "sqlite_stat1" {
                names.push(name);
            }
            if root > 0 {
                roots.push(root);
            }
        }
    }
    let mut pages = Vec::new();
    let mut st = conn
        .prepare("SELECT pageno FROM dbstat WHERE name = ?1 ORDER BY pageno")
        .map_err(e)?;
    for name in &names {
        let rows = st.query_map([name], |r| r.get::<_, i64>(0)).map_err(e)?;
        for p in rows {
            pages.push(p.map_err(e)? as u64);
        }
    }
    pages.extend(roots);
    let mut seen = BTreeSet::new();
    pages.retain(|&p| seen.insert(p));
    Ok(pages)
}

/// Adds to `sel` the leaves of the pages table (at `root`) holding the inner pages read first
/// ([`inner_lead_pages`]), in that order, until [`LEAD_LEAVES_BYTES`] of them past the first
/// 64 KiB (which every reader fetches anyway) are in. Returns how many it added if that made
/// all of those inner pages available without a request (then recorded under
/// [`format::LEAD_KEY`]: readers expect a cold lookup to miss only its leaves), else `None`.
fn lead_leaves(db: &DbFile, root: u64, sel: &mut BTreeSet<u64>) -> Result<Option<u64>, Failure> {
    let most = LEAD_LEAVES_BYTES / db.page_size;
    let mut added = 0;
    let mut complete = true;
    for inner in inner_lead_pages(&db.path)? {
        let leaf = db.table_leaf_of(root, inner as i64)?;
        if leaf * db.page_size <= EDGE_BYTES || sel.contains(&leaf) {
            continue;
        }
        if added == most {
            complete = false;
            break;
        }
        sel.insert(leaf);
        added += 1;
    }
    Ok(complete.then_some(added))
}

/// The leftmost and rightmost leaves of the b-tree at `root` (its overflow pages, rare in the
/// pages table, are left to the file: a page missing from a .dbi is fetched, never wrong).
fn edge_leaves(db: &DbFile, root: u64, sel: &mut BTreeSet<u64>) -> Result<(), Failure> {
    for rightmost in [false, true] {
        let mut pg = root;
        for _depth in 0..64 {
            match interior_children(db, pg, &db.page(pg)?)? {
                Some(children) => {
                    pg = if rightmost {
                        children[children.len() - 1]
                    } else {
                        children[0]
                    }
                }
                None => {
                    sel.insert(pg);
                    break;
                }
            }
        }
    }
    Ok(())
}

/// What goes into a .dbi: the page numbers to copy, the `main.NAME` meta keys, and for a
/// compressed file whose inner pages read first it all carries, the number of page-table
/// leaves added for them (recorded under [`format::LEAD_KEY`]).
pub struct Selection {
    pub pages: BTreeSet<u64>,
    pub keys: Vec<String>,
    pub lead_leaves: Option<u64>,
}

/// The selection for `db`. Pages inside the first 64 KiB other than page 1 are left out:
/// every reader's first request fetches them (page 1 stays: readers check a .dbi by its copy
/// of it).
pub fn select_pages(db: &DbFile) -> Result<Selection, Failure> {
    let mut sel = BTreeSet::new();
    let mut lead = None;
    let entries = db.schema_entries()?;
    let mut keys = vec!["main.sqlite_master".to_string()];
    let mut seen = BTreeSet::new();
    interior_pages(db, 1, &mut seen, &mut sel)?;
    for (kind, name, root) in &entries {
        keys.push(format!("main.{}", name));
        if *root == 0 {
            continue;
        }
        match btree_copy(kind, name) {
            Copy::Whole => {
                for (pg, overflow) in db.btree_pages(name)? {
                    if !overflow && !seen.insert(pg) {
                        return Err(reached_twice(db, pg));
                    }
                    sel.insert(pg);
                }
            }
            Copy::Interior => interior_pages(db, *root, &mut seen, &mut sel)?,
            Copy::Nothing => {}
        }
        if kind == "table" && name == format::PAGES_TABLE {
            edge_leaves(db, *root, &mut sel)?;
            lead = lead_leaves(db, *root, &mut sel)?;
        }
    }
    sel.retain(|&pg| pg * db.page_size > EDGE_BYTES);
    sel.insert(1);
    Ok(Selection {
        pages: sel,
        keys,
        lead_leaves: lead,
    })
}

pub fn write_dbi(db: &DbFile, out_tmp: &str, selection: &Selection) -> Result<(), Failure> {
    let Selection {
        pages: sel,
        keys,
        lead_leaves,
    } = selection;
    let e = |e: rusqlite::Error| Failure::new(format!("writing {}: {}", out_tmp, e));
    let mut c = Connection::open(out_tmp).map_err(e)?;
    c.execute_batch(&format!(
        "PRAGMA page_size = 1024; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
         PRAGMA application_id = {};
         CREATE TABLE {}(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
         CREATE TABLE {}(offset INTEGER PRIMARY KEY, data BLOB NOT NULL);",
        format::DBI_APPLICATION_ID,
        format::DBI_META_TABLE,
        format::DBI_PAGES_TABLE,
    ))
    .map_err(e)?;
    let tx = c.transaction().map_err(e)?;
    {
        let mut m = tx
            .prepare(&format!(
                "INSERT OR IGNORE INTO {}(key, value) VALUES (?1, ?2)",
                format::DBI_META_TABLE
            ))
            .map_err(e)?;
        m.execute(params![format::DBI_PAGE_SIZE_KEY, db.page_size as i64])
            .map_err(e)?;
        m.execute(params![format::DBI_FILE_SIZE_KEY, db.file_size as i64])
            .map_err(e)?;
        // The database's identity: the reader refuses this .dbi for any other version.
        let identity = crate::identity::of_file(std::path::Path::new(&db.path))?;
        m.execute(params![format::IDENTITY_KEY, identity])
            .map_err(e)?;
        for k in keys {
            m.execute(params![k, rusqlite::types::Null]).map_err(e)?;
        }
        if let Some(n) = lead_leaves {
            m.execute(params![format::LEAD_KEY, *n as i64]).map_err(e)?;
        }
        let mut p = tx
            .prepare(&format!(
                "INSERT INTO {}(offset, data) VALUES (?1, ?2)",
                format::DBI_PAGES_TABLE
            ))
            .map_err(e)?;
        let mut copied = Vec::with_capacity(sel.len());
        for &pg in sel {
            let data = db.page(pg)?;
            let offset = (pg - 1) * db.page_size;
            p.execute(params![offset as i64, data]).map_err(e)?;
            copied.push((offset, data));
        }
        // Lets readers tell a damaged .dbi from a good one (see format::DIGEST_KEY).
        let digest =
            genomicsqlite::web::pages_digest(copied.iter().map(|(o, d)| (*o, d.as_slice())));
        m.execute(params![format::DIGEST_KEY, digest]).map_err(e)?;
    }
    tx.commit().map_err(e)?;
    c.close().map_err(|(_, er)| e(er))?;
    Ok(())
}

pub fn main(args: DbiArgs) -> Result<i32, Failure> {
    let DbiArgs {
        db: dbpath,
        out,
        force,
        quiet,
    } = args;
    if fsutil::is_url(&dbpath) {
        return Err(Failure::new(format!(
            "{}: --dbi needs a local file",
            dbpath
        )));
    }
    if let fsutil::DbKind::Empty = fsutil::inspect(&dbpath)? {
        return Err(Failure::new(format!(
            "{}: empty file, not a database",
            dbpath
        )));
    }
    let out = PathBuf::from(out.unwrap_or_else(|| format!("{}.dbi", dbpath)));
    fsutil::check_output(&out, &dbpath, force)?;
    fsutil::install_signal_handlers()?;
    let dbf = DbFile::open(&dbpath)?;
    let selection = select_pages(&dbf)?;
    let tmp = TempOutput::new(&out, "dbi")?;
    write_dbi(&dbf, &tmp.path_str(), &selection)?;
    let sz = fsutil::file_size(&tmp.path);
    tmp.commit(&out)?;
    if !quiet {
        eprintln!(
            "wrote {}: {} of {} pages of {} (page size {}), {} b-trees, {} bytes",
            out.display(),
            fsutil::commas(selection.pages.len() as u64),
            fsutil::commas(dbf.page_count),
            dbpath,
            dbf.page_size,
            selection.keys.len(),
            fsutil::commas(sz)
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btree_copies() {
        assert_eq!(btree_copy("table", "sqlite_stat1"), Copy::Whole);
        assert_eq!(btree_copy("table", "sqlite_stat4"), Copy::Whole);
        assert_eq!(btree_copy("table", "nested_vfs_zstd_dicts"), Copy::Whole);
        assert_eq!(btree_copy("table", "sqlite_sequence"), Copy::Nothing);
        assert_eq!(
            btree_copy("index", "nested_vfs_zstd_pages_btree_interior"),
            Copy::Nothing
        );
        assert_eq!(
            btree_copy("index", "nested_vfs_zstd_pages_btree_interior_pageno"),
            Copy::Nothing
        );
        assert_eq!(btree_copy("index", "sqlite_autoindex_t_1"), Copy::Interior);
        assert_eq!(btree_copy("index", "x_btree_interior"), Copy::Interior);
        assert_eq!(btree_copy("table", "nested_vfs_zstd_pages"), Copy::Interior);
    }

    #[test]
    fn varints() {
        assert_eq!(varint(&[0x05]), Some(5));
        assert_eq!(varint(&[0x81, 0x00]), Some(128));
        assert_eq!(varint(&[0xff; 9]), Some(u64::MAX));
        assert_eq!(varint(&[0x81]), None);
    }
}
