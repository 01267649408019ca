//! `genomicsqlite DB --dbi`: write the .dbi helper file that lets a web reader fetch, in one
//! request, the pages it needs to navigate a database's b-trees.
//!
//! The database file (for a compressed database: the OUTER file, which is what a web reader
//! fetches) is read directly with our own parser of the SQLite file format: the header, the
//! sqlite_schema b-tree, then each b-tree's pages. Selected pages (copied into web_dbi_pages
//! by byte offset):
//!   * page 1;
//!   * every interior page of every b-tree (including sqlite_schema);
//!   * every page (b-tree and overflow pages) of the system tables (`sqlite_sequence`,
//!     `sqlite_stat*`) and of the b-tree named `*pages_btree_interior_pageno` (the index of
//!     interior page numbers in a compressed file);
//!   * every page of `nested_vfs_zstd_dicts` (a compressed file's zstd dictionaries, which
//!     nearly every page read needs; GenomicSQLite 0.9.4 leaves them out);
//!   * the first and last leaves of `nested_vfs_zstd_pages`, which a reader opening a
//!     compressed file reads before anything else (inner page 1, the page count);
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
use rusqlite::{params, Connection};
use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

pub const DBI_APPLICATION_ID: i64 = 0x646269;
const EDGE_BYTES: u64 = 65536;

/// Read-only access to the pages of a SQLite database file.
pub struct DbFile {
    file: File,
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

/// SQLite varint at b[o..]: (value, length).
fn varint(b: &[u8], o: usize) -> Result<(u64, usize), String> {
    let mut v: u64 = 0;
    for k in 0..9 {
        let c = *b.get(o + k).ok_or("varint runs off the page")? as u64;
        if k == 8 {
            return Ok(((v << 8) | c, 9));
        }
        v = (v << 7) | (c & 0x7f);
        if c < 0x80 {
            return Ok((v, k + 1));
        }
    }
    unreachable!()
}

impl DbFile {
    pub fn open(path: &str) -> Result<DbFile, String> {
        let file = File::open(path).map_err(|e| format!("{}: cannot read: {}", path, e))?;
        let file_size = file
            .metadata()
            .map_err(|e| format!("{}: {}", path, e))?
            .len();
        let mut hdr = [0u8; 100];
        if file_size < 100 {
            return Err(format!("{}: not a SQLite database (too short)", path));
        }
        file.read_exact_at(&mut hdr, 0)
            .map_err(|e| format!("{}: {}", path, e))?;
        if &hdr[..16] != fsutil::SQLITE_MAGIC {
            return Err(format!("{}: not a SQLite database (bad file header)", path));
        }
        let ps = match be16(&hdr, 16) {
            1 => 65536,
            p if (512..=32768).contains(&p) && p.is_power_of_two() => p,
            p => return Err(format!("{}: invalid page size {} in header", path, p)),
        };
        let reserved = hdr[20] as u64;
        if ps - reserved < 480 {
            return Err(format!(
                "{}: invalid reserved space {} in header",
                path, reserved
            ));
        }
        if file_size % ps != 0 {
            return Err(format!(
                "{}: file size {} is not a multiple of the page size {} (truncated or not a database)",
                path, file_size, ps
            ));
        }
        Ok(DbFile {
            file,
            path: path.to_string(),
            page_size: ps,
            usable: ps - reserved,
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

    /// The header's size of the payload kept on a b-tree page, per the file format.
    fn local_payload(&self, page_type: u8, p: u64) -> u64 {
        let u = self.usable;
        let x = if page_type == 0x0D {
            u - 35
        } else {
            ((u - 12) * 64 / 255) - 23
        };
        if p <= x {
            return p;
        }
        let m = ((u - 12) * 32 / 255) - 23;
        let k = m + ((p - m) % (u - 4));
        if k <= x {
            k
        } else {
            m
        }
    }
}

/// One cell of a b-tree page.
struct Cell {
    child: Option<u64>,
    /// payload bytes stored on this page
    local: Vec<u8>,
    total_payload: u64,
    first_overflow: Option<u64>,
}

struct BtreePage {
    page_type: u8,
    cells: Vec<Cell>,
    right_child: Option<u64>,
}

fn parse_btree_page(db: &DbFile, pgno: u64, buf: &[u8]) -> Result<BtreePage, String> {
    let h = if pgno == 1 { 100 } else { 0 };
    let bad = |what: &str| format!("{}: corrupt b-tree page {}: {}", db.path, pgno, what);
    let page_type = buf[h];
    let interior = match page_type {
        0x02 | 0x05 => true,
        0x0A | 0x0D => false,
        t => return Err(bad(&format!("not a b-tree page (type byte {:#04x})", t))),
    };
    let ncells = be16(buf, h + 3) as usize;
    let hdr_len = if interior { 12 } else { 8 };
    let right_child = if interior {
        Some(be32(buf, h + 8))
    } else {
        None
    };
    if h + hdr_len + 2 * ncells > buf.len() {
        return Err(bad("too many cells"));
    }
    let usable = db.usable as usize;
    let mut cells = Vec::with_capacity(ncells);
    for i in 0..ncells {
        let mut o = be16(buf, h + hdr_len + 2 * i) as usize;
        if o + 4 > usable {
            return Err(bad("cell pointer out of range"));
        }
        let mut child = None;
        if interior {
            child = Some(be32(buf, o));
            o += 4;
        }
        if page_type == 0x05 {
            // table interior: child + integer key, no payload
            cells.push(Cell {
                child,
                local: Vec::new(),
                total_payload: 0,
                first_overflow: None,
            });
            continue;
        }
        let (plen, n) = varint(&buf[..usable], o).map_err(|e| bad(&e))?;
        o += n;
        if page_type == 0x0D {
            let (_rowid, n) = varint(&buf[..usable], o).map_err(|e| bad(&e))?;
            o += n;
        }
        let local = db.local_payload(page_type, plen) as usize;
        if o + local > usable {
            return Err(bad("cell payload out of range"));
        }
        let first_overflow = if (local as u64) < plen {
            if o + local + 4 > usable {
                return Err(bad("overflow pointer out of range"));
            }
            Some(be32(buf, o + local))
        } else {
            None
        };
        cells.push(Cell {
            child,
            local: buf[o..o + local].to_vec(),
            total_payload: plen,
            first_overflow,
        });
    }
    Ok(BtreePage {
        page_type,
        cells,
        right_child,
    })
}

/// Follow an overflow chain, calling `visit` for each page; returns the payload bytes read.
fn overflow_chain(
    db: &DbFile,
    first: u64,
    mut remaining: u64,
    want_data: bool,
    visit: &mut dyn FnMut(u64),
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut pg = first;
    let mut steps = 0u64;
    while remaining > 0 {
        if pg == 0 {
            return Err(format!(
                "{}: corrupt database: overflow chain ends early",
                db.path
            ));
        }
        steps += 1;
        if steps > db.page_count {
            return Err(format!(
                "{}: corrupt database: overflow chain loops",
                db.path
            ));
        }
        visit(pg);
        let buf = db.page(pg)?;
        let n = remaining.min(db.usable - 4);
        if want_data {
            out.extend_from_slice(&buf[4..4 + n as usize]);
        }
        remaining -= n;
        pg = be32(&buf, 0);
    }
    Ok(out)
}

/// Walk a b-tree from its root, calling `visit(pgno, is_interior_btree_page)`. When
/// `overflow` (the whole b-tree is wanted) every page and overflow page is visited; otherwise
/// only the interior pages (leaves are neither read nor visited).
fn walk_btree(
    db: &DbFile,
    root: u64,
    overflow: bool,
    seen: &mut BTreeSet<u64>,
    visit: &mut dyn FnMut(u64, bool),
) -> Result<(), String> {
    let mut stack = vec![root];
    while let Some(pg) = stack.pop() {
        if !seen.insert(pg) {
            return Err(format!(
                "{}: corrupt database: page {} is reached twice",
                db.path, pg
            ));
        }
        let buf = db.page(pg)?;
        let bp = parse_btree_page(db, pg, &buf)?;
        let interior = bp.page_type == 0x02 || bp.page_type == 0x05;
        visit(pg, interior);
        for c in &bp.cells {
            if overflow {
                if let Some(first) = c.first_overflow {
                    let rem = c.total_payload - c.local.len() as u64;
                    overflow_chain(db, first, rem, false, &mut |p| visit(p, false))?;
                }
            }
        }
        if !interior {
            continue;
        }
        let children: Vec<u64> = bp
            .cells
            .iter()
            .filter_map(|c| c.child)
            .chain(bp.right_child)
            .collect();
        if !overflow {
            // A b-tree is balanced: when one child is a leaf, all are. Leaves aren't wanted
            // here, so don't read them (that would mean reading nearly the whole file).
            if let Some(&first) = children.first() {
                let t = db.page_type(first)?;
                if t == 0x0A || t == 0x0D {
                    continue;
                }
            }
        }
        stack.extend(children);
    }
    Ok(())
}

/// A decoded column value of a record (only what sqlite_master needs).
#[derive(Debug, Clone)]
enum Val {
    Null,
    Int(i64),
    Text(String),
    Other,
}

fn decode_record(rec: &[u8]) -> Result<Vec<Val>, String> {
    let (hlen, mut o) = varint(rec, 0)?;
    let hlen = hlen as usize;
    if hlen > rec.len() {
        return Err("record header too long".into());
    }
    let mut types = Vec::new();
    while o < hlen {
        let (t, n) = varint(&rec[..hlen], o)?;
        types.push(t);
        o += n;
    }
    let mut d = hlen;
    let mut vals = Vec::new();
    for t in types {
        let len = serial_len(t).ok_or_else(|| format!("bad serial type {}", t))?;
        if d + len > rec.len() {
            return Err("record runs past its payload".into());
        }
        vals.push(decode_value(t, &rec[d..d + len]));
        d += len;
    }
    Ok(vals)
}

/// Byte length of a record value of serial type `t` (None for the reserved types 10 and 11).
fn serial_len(t: u64) -> Option<usize> {
    match t {
        0 | 8 | 9 => Some(0),
        1..=4 => Some(t as usize),
        5 => Some(6),
        6 | 7 => Some(8),
        // blobs (even) and text (odd)
        t if t >= 12 => Some(((t - 12) / 2) as usize),
        _ => None,
    }
}

/// A record value of serial type `t` stored in `b` (as long as [`serial_len`] says).
fn decode_value(t: u64, b: &[u8]) -> Val {
    match t {
        0 => Val::Null,
        1..=6 => {
            let sign = if b[0] & 0x80 != 0 { -1 } else { 0 };
            Val::Int(b.iter().fold(sign, |v, &x| (v << 8) | i64::from(x)))
        }
        8 => Val::Int(0),
        9 => Val::Int(1),
        t if t >= 13 && t % 2 == 1 => Val::Text(String::from_utf8_lossy(b).into_owned()),
        _ => Val::Other,
    }
}

/// Entries of sqlite_master: (type, name, rootpage).
pub fn schema_entries(db: &DbFile) -> Result<Vec<(String, String, u64)>, String> {
    let mut out = Vec::new();
    let mut stack = vec![1u64];
    let mut seen = BTreeSet::new();
    while let Some(pg) = stack.pop() {
        if !seen.insert(pg) {
            return Err(format!("{}: corrupt sqlite_schema b-tree", db.path));
        }
        let buf = db.page(pg)?;
        let bp = parse_btree_page(db, pg, &buf)?;
        match bp.page_type {
            0x05 => {
                // push children right-to-left so entries come out in rowid order
                if let Some(r) = bp.right_child {
                    stack.push(r);
                }
                for c in bp.cells.iter().rev() {
                    stack.push(c.child.unwrap());
                }
            }
            0x0D => {
                for c in &bp.cells {
                    let mut payload = c.local.clone();
                    if let Some(first) = c.first_overflow {
                        let rem = c.total_payload - c.local.len() as u64;
                        payload.extend(overflow_chain(db, first, rem, true, &mut |_| {})?);
                    }
                    let v = decode_record(&payload)
                        .map_err(|e| format!("{}: corrupt sqlite_schema record: {}", db.path, e))?;
                    let text = |i: usize| match v.get(i) {
                        Some(Val::Text(s)) => s.clone(),
                        _ => String::new(),
                    };
                    let root = match v.get(3) {
                        Some(Val::Int(r)) if *r > 0 => *r as u64,
                        _ => 0,
                    };
                    out.push((text(0), text(1), root));
                }
            }
            t => {
                return Err(format!(
                    "{}: corrupt sqlite_schema: page {} has type {:#04x}",
                    db.path, pg, t
                ))
            }
        }
    }
    Ok(out)
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
        || (kind == "table" && name == "nested_vfs_zstd_dicts")
}

/// The table of a compressed file whose first and last leaves every reader opening it reads:
/// the first holds inner page 1 (the inner schema) and the header row, the last answers the
/// `max(pageno)` that gives the inner page count.
const PAGES_TABLE: &str = "nested_vfs_zstd_pages";

/// The leftmost and rightmost leaves of the b-tree at `root`, with their overflow pages.
fn edge_leaves(db: &DbFile, root: u64, sel: &mut BTreeSet<u64>) -> Result<(), String> {
    for rightmost in [false, true] {
        let mut pg = root;
        for _depth in 0..64 {
            let bp = parse_btree_page(db, pg, &db.page(pg)?)?;
            let next = if rightmost {
                bp.right_child
            } else {
                bp.cells.first().and_then(|c| c.child).or(bp.right_child)
            };
            match next {
                Some(child) => pg = child,
                None => {
                    sel.insert(pg);
                    for c in &bp.cells {
                        if let Some(first) = c.first_overflow {
                            let rem = c.total_payload - c.local.len() as u64;
                            overflow_chain(db, first, rem, false, &mut |p| {
                                sel.insert(p);
                            })?;
                        }
                    }
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
    let entries = schema_entries(db)?;
    let mut keys = vec!["main.sqlite_master".to_string()];
    let mut seen = BTreeSet::new();
    walk_btree(db, 1, false, &mut seen, &mut |pg, interior| {
        if interior {
            sel.insert(pg);
        }
    })?;
    for (kind, name, root) in &entries {
        keys.push(format!("main.{}", name));
        if *root == 0 {
            continue;
        }
        let whole = copy_whole_btree(kind, name);
        walk_btree(db, *root, whole, &mut seen, &mut |pg, interior| {
            if whole || interior {
                sel.insert(pg);
            }
        })?;
        if kind == "table" && name == PAGES_TABLE {
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
         CREATE TABLE web_dbi_meta(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
         CREATE TABLE web_dbi_pages(offset INTEGER PRIMARY KEY, data BLOB NOT NULL);",
        DBI_APPLICATION_ID
    ))
    .map_err(e)?;
    let tx = c.transaction().map_err(e)?;
    {
        let mut m = tx
            .prepare("INSERT OR IGNORE INTO web_dbi_meta(key, value) VALUES (?1, ?2)")
            .map_err(e)?;
        m.execute(params!["page_size", db.page_size as i64])
            .map_err(e)?;
        m.execute(params!["dbfile_size", db.file_size as i64])
            .map_err(e)?;
        // The database's identity: the reader refuses this .dbi for any other version.
        let identity = crate::identity::of_file(std::path::Path::new(&db.path))?;
        m.execute(params![genomicsqlite::web::IDENTITY_KEY, identity])
            .map_err(e)?;
        for k in keys {
            m.execute(params![k, rusqlite::types::Null]).map_err(e)?;
        }
        let mut p = tx
            .prepare("INSERT INTO web_dbi_pages(offset, data) VALUES (?1, ?2)")
            .map_err(e)?;
        let mut copied = Vec::with_capacity(sel.len());
        for &pg in sel {
            let data = db.page(pg)?;
            let offset = (pg - 1) * db.page_size;
            p.execute(params![offset as i64, data]).map_err(e)?;
            copied.push((offset, data));
        }
        // Lets readers tell a damaged .dbi from a good one (see genomicsqlite::web::DIGEST_KEY).
        let digest =
            genomicsqlite::web::pages_digest(copied.iter().map(|(o, d)| (*o, d.as_slice())));
        m.execute(params![genomicsqlite::web::DIGEST_KEY, digest])
            .map_err(e)?;
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
    fn varints() {
        assert_eq!(varint(&[0x05], 0).unwrap(), (5, 1));
        assert_eq!(varint(&[0x81, 0x00], 0).unwrap(), (128, 2));
        assert_eq!(varint(&[0xff; 9], 0).unwrap(), (u64::MAX, 9));
        assert!(varint(&[0x81], 0).is_err());
    }

    #[test]
    fn record_decoding() {
        // header: len 4, types: NULL, int8, text(3)
        let rec = [4u8, 0, 1, 19, 42, b'a', b'b', b'c'];
        let v = decode_record(&rec).unwrap();
        assert!(matches!(v[0], Val::Null));
        assert!(matches!(v[1], Val::Int(42)));
        assert!(matches!(&v[2], Val::Text(s) if s == "abc"));
        assert!(decode_record(&[4u8, 0, 1, 19, 42]).is_err());
    }

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
