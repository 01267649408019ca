//! The command's only contact with the genomicsqlite library (its Rust API).
use genomicsqlite::{Config, Error};
use rusqlite::{Connection, OpenFlags};

/// Writes a compressed copy of `conn`'s main database to `dest` (VACUUM INTO the zstd VFS,
/// with `genomicsqlite_vacuum_into_sql`); registers the VFS in this process first.
pub fn vacuum_into(conn: &Connection, dest: &str, config: &Config) -> Result<(), Error> {
    genomicsqlite::vacuum_into(conn, dest, config)
}

/// Open a compressed database read-only (through the zstd VFS, with the configuration's tuning).
pub fn open_readonly(path: &str, config: &Config) -> Result<Connection, Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    genomicsqlite::open(path, flags, config)
}
