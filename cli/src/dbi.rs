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
//!   * every page (b-tree and overflow pages) of the system tables (`sqlite_sequence`,
//!     `sqlite_stat*`) and of the b-tree named `*pages_btree_interior_pageno` (the index of
//!     interior page numbers in a compressed file);
//!   * every page of `nested_vfs_zstd_dicts` (a compressed file's zstd dictionaries, which
//!     nearly every page read needs; GenomicSQLite 0.9.4 leaves them out);
//!   * the first and last leaves of `nested_vfs_zstd_pages`, which a reader opening a
//!     compressed file reads before anything else (inner page 1, the page count); their
//!     overflow pages, if any, are left to the file;
//!   * but no page other than page 1 inside the first 64 KiB, which a reader's first request
//!     fetches anyway.
//!
//! web_dbi_meta holds `page_size`, `dbfile_size` and one `main.NAME` row (value NULL) for
//! sqlite_master and for each entry of sqlite_master, the digest of the pages that lets
//! readers detect a damaged .dbi (`genomicsqlite_pages_sha256`, see `genomicsqlite::web`), and
//! the database's identity (`genomicsqlite_identity`, see `genomicsqlite::web::identity_digest`)
//! with which readers refuse the .dbi for another version of the file.

use crate::fsutil::{self, TempOutput};
use crate::{DbiArgs, Failure};
use genomicsqlite::format::{self, DbHeader};
use rusqlite::{params, Connection, OpenFlags};
use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

const EDGE_BYTES: u64 = 65536;

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

impl DbFile {
    pub fn open(path: &str) -> Result<DbFile, String> {
        let file = File::open(path).map_err(|e| format!("{}: cannot read: {}", path, e))?;
        let file_size = file
            .metadata()
            .map_err(|e| format!("{}: {}", path, e))?
            .len();
        let mut hdr = [0u8; format::HEADER_LEN];
        let got = if file_size < hdr.len() as u64 {
            &hdr[..0]
        } else {
            file.read_exact_at(&mut hdr, 0)
                .map_err(|e| format!("{}: {}", path, e))?;
            &hdr[..]
        };
        let header = DbHeader::parse(got).map_err(|e| format!("{path}: {e}"))?;
        let ps = u64::from(header.page_size);
        let usable = u64::from(header.usable_size());
        if usable < 480 {
            return Err(format!(
                "{}: invalid reserved space {} in header",
                path, header.reserved
            ));
        }
        if file_size % ps != 0 {
            return Err(format!(
                "{}: file size {} is not a multiple of the page size {} (truncated or not a database)",
                path, file_size, ps
            ));
        }
        // Immutable: the file as it lies on disk, which is what gets copied (no journal or WAL).
        let sql = Connection::open_with_flags(
            format!("file:{}?mode=ro&immutable=1", fsutil::uri_path(path)),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("{path}: cannot open: {e}"))?;
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

    pub fn page(&self, pgno: u64) -> Result<Vec<u8>, String> {
        if pgno < 1 || pgno > self.page_count {
            return Err(format!(
                "{}: corrupt database: reference to page {} of {}",
                self.path, pgno, self.page_count
            ));
        }
        let mut buf = vec![0u8; self.page_size as usize];
        self.file
            .read_exact_at(&mut buf, (pgno - 1) * self.page_size)
            .map_err(|e| format!("{}: reading page {}: {}", self.path, pgno, e))?;
        Ok(buf)
    }

    /// The b-tree page type byte of a page (not page 1).
    pub fn page_type(&self, pgno: u64) -> Result<u8, String> {
        if pgno < 2 || pgno > self.page_count {
            return Err(format!(
                "{}: corrupt database: reference to page {} of {}",
                self.path, pgno, self.page_count
            ));
        }
        let mut b = [0u8; 1];
        self.file
            .read_exact_at(&mut b, (pgno - 1) * self.page_size)
            .map_err(|e| format!("{}: reading page {}: {}", self.path, pgno, e))?;
        Ok(b[0])
    }

    fn sql_error(&self, e: rusqlite::Error) -> String {
        format!("{}: cannot read the schema: {e}", self.path)
    }

    /// Entries of sqlite_schema in rowid order: (type, name, rootpage; 0 for none).
    pub fn schema_entries(&self) -> Result<Vec<(String, String, u64)>, String> {
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
    fn btree_pages(&self, name: &str) -> Result<Vec<(u64, bool)>, String> {
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
fn interior_children(db: &DbFile, pgno: u64, buf: &[u8]) -> Result<Option<Vec<u64>>, String> {
    let h = if pgno == 1 { format::HEADER_LEN } else { 0 };
    let bad = |what: &str| format!("{}: corrupt b-tree page {}: {}", db.path, pgno, what);
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
) -> Result<(), String> {
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

fn reached_twice(db: &DbFile, pg: u64) -> String {
    format!(
        "{}: corrupt database: page {} is reached twice",
        db.path, pg
    )
}

/// b-trees whose every page goes into the .dbi: the system tables, the small index of interior
/// page numbers, and, beyond GenomicSQLite 0.9.4's choice, the dictionaries of a compressed
/// file: nearly every page read needs one, so a web reader would otherwise spend its first
/// requests fetching them. The index `*pages_btree_interior`, a copy of every inner interior
/// page (0.9.4 copies it whole), gets only its interior pages: our reader does not use it, and
/// its leaves made up half of the .dbi of org.Hs.eg.db (352 of 761 KB); a 0.9.4 reader fetches
/// them from the file instead.
fn copy_whole_btree(kind: &str, name: &str) -> bool {
    (kind == "table" && name.starts_with("sqlite_"))
        || name.ends_with("pages_btree_interior_pageno")
        || (kind == "table" && name == format::DICTS_TABLE)
}

/// The leftmost and rightmost leaves of the b-tree at `root` (its overflow pages, rare in the
/// pages table, are left to the file: a page missing from a .dbi is fetched, never wrong).
fn edge_leaves(db: &DbFile, root: u64, sel: &mut BTreeSet<u64>) -> Result<(), String> {
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

/// The page numbers to copy, and the meta key names. Pages inside the first 64 KiB other than
/// page 1 are left out: every reader's first request fetches them (page 1 stays: readers
/// check a .dbi by its copy of it).
pub fn select_pages(db: &DbFile) -> Result<(BTreeSet<u64>, Vec<String>), String> {
    let mut sel = BTreeSet::new();
    let entries = db.schema_entries()?;
    let mut keys = vec!["main.sqlite_master".to_string()];
    let mut seen = BTreeSet::new();
    interior_pages(db, 1, &mut seen, &mut sel)?;
    for (kind, name, root) in &entries {
        keys.push(format!("main.{}", name));
        if *root == 0 {
            continue;
        }
        if copy_whole_btree(kind, name) {
            for (pg, overflow) in db.btree_pages(name)? {
                if !overflow && !seen.insert(pg) {
                    return Err(reached_twice(db, pg));
                }
                sel.insert(pg);
            }
        } else {
            interior_pages(db, *root, &mut seen, &mut sel)?;
        }
        if kind == "table" && name == format::PAGES_TABLE {
            edge_leaves(db, *root, &mut sel)?;
        }
    }
    sel.retain(|&pg| pg * db.page_size > EDGE_BYTES);
    sel.insert(1);
    Ok((sel, keys))
}

pub fn write_dbi(
    db: &DbFile,
    out_tmp: &str,
    sel: &BTreeSet<u64>,
    keys: &[String],
) -> Result<(), String> {
    let e = |e: rusqlite::Error| format!("writing {}: {}", out_tmp, e);
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
        let identity =
            crate::identity::of_file(std::path::Path::new(&db.path)).map_err(|f| f.msg)?;
        m.execute(params![format::IDENTITY_KEY, identity])
            .map_err(e)?;
        for k in keys {
            m.execute(params![k, rusqlite::types::Null]).map_err(e)?;
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
    let (sel, keys) = select_pages(&dbf)?;
    let tmp = TempOutput::new(&out, "dbi")?;
    write_dbi(&dbf, &tmp.path_str(), &sel, &keys)?;
    let sz = fsutil::file_size(&tmp.path);
    tmp.commit(&out)?;
    if !quiet {
        eprintln!(
            "wrote {}: {} of {} pages of {} (page size {}), {} b-trees, {} bytes",
            out.display(),
            fsutil::commas(sel.len() as u64),
            fsutil::commas(dbf.page_count),
            dbpath,
            dbf.page_size,
            keys.len(),
            fsutil::commas(sz)
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_btree_names() {
        assert!(copy_whole_btree("table", "sqlite_sequence"));
        assert!(copy_whole_btree("table", "sqlite_stat1"));
        assert!(!copy_whole_btree("index", "sqlite_autoindex_t_1"));
        assert!(!copy_whole_btree(
            "index",
            "nested_vfs_zstd_pages_btree_interior"
        ));
        assert!(copy_whole_btree(
            "index",
            "nested_vfs_zstd_pages_btree_interior_pageno"
        ));
        assert!(!copy_whole_btree("index", "x_btree_interior"));
        assert!(!copy_whole_btree("table", "nested_vfs_zstd_pages"));
    }
}
