//! The command's only contact with the genomicsqlite library (its Rust API).
use genomicsqlite::{Config, Error};
use rusqlite::{Connection, OpenFlags};

/// Writes the plain database file `src` as the new compressed database `dest`, with zstd
/// dictionaries trained per b-tree on its pages (see `genomicsqlite::pack_plain_file`).
pub fn pack_plain_file(src: &str, dest: &str, config: &Config) -> Result<usize, Error> {
    genomicsqlite::pack_plain_file(src, dest, config)
}

/// Open a compressed database read-only (through the zstd VFS, with the configuration's tuning).
pub fn open_readonly(path: &str, config: &Config) -> Result<Connection, Error> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    genomicsqlite::open(path, flags, config)
}
