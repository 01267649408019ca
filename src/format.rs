//! The on-disk facts of a compressed database, in one place: its `application_id`, the outer
//! schema (byte-for-byte that of GenomicSQLite 0.9.4, which must keep reading our files), and,
//! re-exported from the web reader (the lowest layer, which needs them too), the SQLite header
//! parser and the layout of the `.dbi` helper file.

pub use crate::web::format::*;

/// `PRAGMA application_id` of a compressed database's outer file: "zstd".
pub const APPLICATION_ID: u32 = 0x7a73_7464;

/// The outer table of inner pages: one row per page 1..page_count, plus [`HEADER_ROW`].
pub const PAGES_TABLE: &str = "nested_vfs_zstd_pages";
/// The outer table of zstd dictionaries (`id`, `dict`, `page_count`).
pub const DICTS_TABLE: &str = "nested_vfs_zstd_dicts";
/// The row of [`PAGES_TABLE`] holding a copy of the inner header (the first 100 bytes of page 1).
pub const HEADER_ROW: i64 = -100;
/// The largest page number SQLite can use.
pub const MAX_PAGENO: i64 = 4_294_967_294;

/// The outer schema of a new compressed database, as 0.9.4 creates it.
pub const SCHEMA_PAGES: &str = "CREATE TABLE nested_vfs_zstd_pages (pageno INTEGER PRIMARY KEY, data BLOB NOT NULL, meta1 BLOB, meta2 BLOB, btree_interior BOOLEAN)";
/// The two partial indexes of b-tree interior pages (which a web reader's `.dbi` carries, so
/// that it finds them without fetching the whole table).
pub const SCHEMA_INDEXES: &str = "CREATE INDEX nested_vfs_zstd_pages_btree_interior ON nested_vfs_zstd_pages (pageno,data,meta1,meta2) WHERE btree_interior; \
     CREATE INDEX nested_vfs_zstd_pages_btree_interior_pageno ON nested_vfs_zstd_pages (pageno) WHERE btree_interior";
pub const SCHEMA_DICTS: &str = "CREATE TABLE nested_vfs_zstd_dicts (id INTEGER PRIMARY KEY AUTOINCREMENT, dict BLOB NOT NULL, page_count INTEGER NOT NULL)";

/// Whether an inner page is a b-tree interior page (flag byte 0x05 or 0x02, after the database
/// header on page 1): what the outer `btree_interior` column records.
pub fn is_btree_interior(pageno: u64, page: &[u8]) -> bool {
    let at = if pageno == 1 { HEADER_LEN } else { 0 };
    matches!(page.get(at), Some(0x05 | 0x02))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_text_uses_the_names() {
        assert!(SCHEMA_PAGES.contains(&format!("TABLE {PAGES_TABLE} ")));
        assert!(SCHEMA_DICTS.contains(&format!("TABLE {DICTS_TABLE} ")));
        assert_eq!(&APPLICATION_ID.to_be_bytes(), b"zstd");
    }
}
