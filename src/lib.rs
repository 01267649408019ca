//! # genomicsqlite
//!
//! Zstandard-compressed SQLite databases, compatible with GenomicSQLite 0.9.4.
//!
//! A compressed database is an ordinary SQLite file (the *outer* database) whose rows hold the
//! zstd-compressed pages of the user's database (the *inner* database). The `zstd` VFS makes the
//! inner database look like any other SQLite file, so every SQLite feature works on it.
//!
//! This crate builds two things:
//! - `libgenomicsqlite.so`, a loadable SQLite extension (VFS `zstd`, SQL functions
//!   `genomicsqlite_uri()` etc.) and the C API of `include/genomicsqlite.h`. It contains no
//!   SQLite of its own: it calls the host's through the routine table SQLite hands it.
//! - This Rust library: [`open`] a compressed database as a [`rusqlite::Connection`] with the
//!   tuning of a [`Config`] applied.
//!
//! ```
//! use genomicsqlite::rusqlite::OpenFlags;
//! use genomicsqlite::{open, Config};
//!
//! let dir = std::env::temp_dir().join(format!("gsq-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("example.db");
//! let path = path.to_str().unwrap();
//! # let _ = std::fs::remove_file(path);
//!
//! let conn = open(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
//!                 &Config::default())?;
//! conn.execute_batch("CREATE TABLE genes(name TEXT); INSERT INTO genes VALUES('BRCA1')")?;
//! drop(conn);
//!
//! let conn = open(path, OpenFlags::SQLITE_OPEN_READ_ONLY, &Config::default())?;
//! let name: String = conn.query_row("SELECT name FROM genes", [], |r| r.get(0))?;
//! assert_eq!(name, "BRCA1");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Layers, top to bottom: the FFI boundary ([`capi`], [`extension`], `vfs::glue`), the VFS file
//! objects (`vfs`), the nested page store (`store`), the page codec (`codec`) and background work
//! (`background`), the web reader ([`web`]); beside them the
//! configuration ([`config`]) and the SQLite routine table (`sqlite_api`). Every layer reports
//! failures as the one [`Error`] (with the SQLite result code each maps to at the FFI boundary).
//!
//! Unsafe code lives in the FFI ring only: the C declarations (`ffi`), the routine table and its
//! wrappers (`sqlite_api`), the callbacks SQLite calls (`vfs::glue`, the entry points in
//! [`extension`], the SQL functions and virtual tables of [`genomics`]) and the C API ([`capi`],
//! `genomics::capi`). Below it, code sees typed values (`flags::OpenFlags`,
//! `flags::LockLevel`, slices, `Result`s). One other spot calls C: `codec` (zstd's dictionary
//! trainer, which the `zstd` crate does not wrap). fork() safety (`pthread_atfork`, the
//! lock-free per-process cells) lives in the web crate's `web::fork`, the lowest crate.

// Every unsafe operation sits in an `unsafe {}` block with a `// SAFETY:` note saying why it
// holds, also inside `unsafe fn`s; both lints keep it that way.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod capi;
pub mod config;
mod error;
pub mod extension;
pub mod format;
pub mod genomics;

mod background;

mod ffi;
mod flags;
mod rust_api;
mod sqlite_api;
mod store;
mod vfs;
/// The HTTP range reader, the crate `genomicsqlite-web` (re-exported here, so its paths stay
/// `genomicsqlite::web::...`).
pub use genomicsqlite_web as web;

pub use config::Config;
pub use error::{Error, Result};
pub use genomics::{ConnectionMethods, RefSeq};
/// The `rusqlite` this crate is built with (0.41, with SQLite bundled): its connections are what
/// [`open`] returns. Use it through this re-export (`genomicsqlite::rusqlite::OpenFlags`)
/// rather than a `rusqlite` dependency of your own, which Cargo would have to resolve to the
/// same version for the types to match.
pub use rusqlite;
pub use rust_api::{
    attach, attach_sql, open, pack_plain_file, tuning_sql, uri, vacuum_into, vacuum_into_sql,
};

use sqlite_api::Connection;

/// Opens `path` through the VFS with the tuning of `config` applied, with the process's routine
/// table (used by the C API, which hands the raw handle to C).
pub(crate) fn open_tuned(
    path: &str,
    flags: flags::OpenFlags,
    config: &Config,
) -> Result<Connection> {
    vfs::take_last_open_error();
    let conn = vfs::quiet_opens(|| Connection::open(&config::uri(path, config), flags, None))
        .map_err(with_open_reason)?;
    conn.exec(&config::tuning_sql(config, None))
        .map_err(with_open_reason)?;
    Ok(conn)
}

/// Adds the VFS's reason for a failed open to SQLite's generic message.
pub(crate) fn with_open_reason(e: Error) -> Error {
    let reason = vfs::take_last_open_error();
    if reason.is_empty() || e.message().contains(&reason) {
        e
    } else {
        Error::new(e.code(), format!("{}: {reason}", e.message()))
    }
}
