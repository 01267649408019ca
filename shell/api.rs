//! The command's only contact with the genomicsqlite library (its Rust API).
use rusqlite::{Connection, OpenFlags};

fn config(json: &str) -> Result<genomicsqlite::Config, String> {
    genomicsqlite::Config::from_json(json).map_err(|e| format!("configuration: {}", e))
}

/// `genomicsqlite_uri(dbfile, config)`
pub fn uri(dbfile: &str, config_json: &str) -> Result<String, String> {
    Ok(genomicsqlite::uri(dbfile, &config(config_json)?))
}

/// `genomicsqlite_tuning_sql(config)` for the main schema
pub fn tuning_sql(config_json: &str) -> Result<String, String> {
    Ok(genomicsqlite::tuning_sql(&config(config_json)?, None))
}

/// Writes a compressed copy of `conn`'s main database to `dest` (VACUUM INTO the zstd VFS,
/// with `genomicsqlite_vacuum_into_sql`); registers the VFS in this process first.
pub fn vacuum_into(conn: &Connection, dest: &str, config_json: &str) -> Result<(), String> {
    genomicsqlite::vacuum_into(conn, dest, &config(config_json)?).map_err(|e| e.to_string())
}

/// Open a compressed database (through the zstd VFS, with the configuration's tuning).
pub fn open(path: &str, read_only: bool, config_json: &str) -> Result<Connection, String> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    genomicsqlite::open(path, flags, &config(config_json)?).map_err(|e| e.to_string())
}
