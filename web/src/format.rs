//! The SQLite file-format facts every layer needs: the 100-byte database header, parsed in one
//! place, and the layout of the `.dbi` helper file.
//!
//! It lives in the web reader (the lowest layer, which must not depend on SQLite) so that the
//! reader, the library and the command share one parser; the library re-exports it from its
//! `format` module beside the facts of the compressed format.

use crate::{WebError, WebErrorKind};

/// The first 16 bytes of every SQLite database file.
pub const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// Length of the database header at the start of page 1.
pub const HEADER_LEN: usize = 100;

/// `application_id` of a `.dbi` file ("dbi").
pub const DBI_APPLICATION_ID: u32 = 0x0064_6269;
/// The `.dbi` table of `(key, value)` rows: `page_size`, `dbfile_size`, one `main.NAME` per
/// schema entry, [`DIGEST_KEY`], [`IDENTITY_KEY`] and [`LEAD_KEY`].
pub const DBI_META_TABLE: &str = "web_dbi_meta";
/// The `.dbi` table of `(offset, data)` rows: copies of the main file's pages by byte offset.
pub const DBI_PAGES_TABLE: &str = "web_dbi_pages";
/// `web_dbi_meta` keys (read by 0.9.4): the main file's page size and its size in bytes.
pub const DBI_PAGE_SIZE_KEY: &str = "page_size";
pub const DBI_FILE_SIZE_KEY: &str = "dbfile_size";
/// The `web_dbi_meta` key whose value is the SHA-256 of the .dbi's pages (hex text, see
/// [`super::pages_digest`]); 0.9.4 ignores it.
pub const DIGEST_KEY: &str = "genomicsqlite_pages_sha256";
/// The `web_dbi_meta` key under which a .dbi records its database's identity (see
/// [`super::identity_digest`]); 0.9.4 ignores it.
pub const IDENTITY_KEY: &str = "genomicsqlite_identity";

/// The `web_dbi_meta` key under which a .dbi of a compressed database that carries all the
/// inner pages queries read first (the inner schema, `sqlite_stat1` and the inner b-trees'
/// roots; see the command's `--dbi`) records how many page-table leaves it added for them; a
/// reader seeing it expects a cold lookup to miss only its leaves. 0.9.4 ignores it.
pub const LEAD_KEY: &str = "genomicsqlite_lead_leaves";

/// The fields of a SQLite database header this project reads (see the file format's
/// "Database Header" table; all integers are big-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbHeader {
    /// Bytes per page (offset 16; the stored value 1 means 65536).
    pub page_size: u32,
    /// Bytes reserved at the end of each page (offset 20).
    pub reserved: u8,
    /// File change counter (offset 24).
    pub change_counter: u32,
    /// Database size in pages, as of the last writer (offset 28).
    pub page_count: u32,
    /// First freelist trunk page (offset 32) and total freelist pages (offset 36).
    pub freelist_trunk: u32,
    pub freelist_count: u32,
    /// Schema cookie (offset 40).
    pub schema_cookie: u32,
    /// Text encoding: 1 UTF-8, 2 UTF-16le, 3 UTF-16be (offset 56).
    pub text_encoding: u32,
    /// `PRAGMA user_version` (offset 60).
    pub user_version: u32,
    /// `PRAGMA application_id` (offset 68).
    pub application_id: u32,
}

/// Whether `n` is a valid SQLite page size (a power of two from 512 to 65536).
pub fn valid_page_size(n: usize) -> bool {
    (512..=65536).contains(&n) && n.is_power_of_two()
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl DbHeader {
    /// Parses the header at the start of `bytes` (at least [`HEADER_LEN`] of them). Bytes that
    /// are not a SQLite header are a [`WebErrorKind::NotSqlite`] error saying why.
    pub fn parse(bytes: &[u8]) -> Result<DbHeader, WebError> {
        let not_sqlite = |why: String| {
            WebError::new(
                WebErrorKind::NotSqlite,
                format!("not a SQLite database ({why})"),
            )
        };
        let b = bytes
            .get(..HEADER_LEN)
            .ok_or_else(|| not_sqlite(format!("too short: {} bytes", bytes.len())))?;
        if &b[..16] != SQLITE_MAGIC {
            return Err(not_sqlite("bad file header".into()));
        }
        let page_size = match u16::from_be_bytes([b[16], b[17]]) {
            1 => 65536,
            n if valid_page_size(usize::from(n)) => u32::from(n),
            n => return Err(not_sqlite(format!("invalid page size {n} in header"))),
        };
        Ok(DbHeader {
            page_size,
            reserved: b[20],
            change_counter: be32(b, 24),
            page_count: be32(b, 28),
            freelist_trunk: be32(b, 32),
            freelist_count: be32(b, 36),
            schema_cookie: be32(b, 40),
            text_encoding: be32(b, 56),
            user_version: be32(b, 60),
            application_id: be32(b, 68),
        })
    }

    /// Bytes of each page that b-tree content may use.
    pub fn usable_size(&self) -> u32 {
        self.page_size - u32::from(self.reserved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[..16].copy_from_slice(SQLITE_MAGIC);
        h[16..18].copy_from_slice(&4096u16.to_be_bytes());
        h
    }

    #[test]
    fn fields_are_read_where_the_format_puts_them() {
        let mut h = header();
        h[20] = 8;
        h[24..28].copy_from_slice(&7u32.to_be_bytes());
        h[28..32].copy_from_slice(&1234u32.to_be_bytes());
        h[36..40].copy_from_slice(&3u32.to_be_bytes());
        h[56..60].copy_from_slice(&1u32.to_be_bytes());
        h[60..64].copy_from_slice(&42u32.to_be_bytes());
        h[68..72].copy_from_slice(&DBI_APPLICATION_ID.to_be_bytes());
        let p = DbHeader::parse(&h).unwrap();
        assert_eq!(p.page_size, 4096);
        assert_eq!(p.usable_size(), 4088);
        assert_eq!(p.change_counter, 7);
        assert_eq!(p.page_count, 1234);
        assert_eq!(p.freelist_count, 3);
        assert_eq!(p.text_encoding, 1);
        assert_eq!(p.user_version, 42);
        assert_eq!(p.application_id, DBI_APPLICATION_ID);
    }

    #[test]
    fn page_sizes() {
        let mut h = header();
        let mut ps = |a: u8, b: u8| {
            h[16] = a;
            h[17] = b;
            DbHeader::parse(&h)
                .map(|p| p.page_size)
                .map_err(|e| (e.kind(), e.to_string()))
        };
        let bad = |n: u16| {
            Err((
                WebErrorKind::NotSqlite,
                format!("not a SQLite database (invalid page size {n} in header)"),
            ))
        };
        assert_eq!(ps(0, 1), Ok(65536));
        assert_eq!(ps(0x80, 0), Ok(32768));
        assert_eq!(ps(2, 0), Ok(512));
        assert_eq!(ps(0, 0), bad(0));
        assert_eq!(ps(3, 0), bad(768));
        assert_eq!(ps(1, 0), bad(256));
    }

    #[test]
    fn non_databases_are_named() {
        let why = |bytes: &[u8]| DbHeader::parse(bytes).map_err(|e| (e.kind(), e.to_string()));
        assert_eq!(
            why(b"short"),
            Err((
                WebErrorKind::NotSqlite,
                "not a SQLite database (too short: 5 bytes)".into()
            ))
        );
        let mut h = header();
        h[0] = b's';
        assert_eq!(
            why(&h),
            Err((
                WebErrorKind::NotSqlite,
                "not a SQLite database (bad file header)".into()
            ))
        );
    }
}
