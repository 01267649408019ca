//! The genomics toolkit of GenomicSQLite 0.9.4: the Genomic Range Index (GRI), two-bit
//! nucleotide blobs, reference-sequence metadata, range parsing and the `UINT` collation.
//!
//! Pure logic lives in [`gri`], [`twobit`], [`refseq`] and [`parse`]; the FFI ring that exposes
//! it as SQL functions, a collation and two eponymous virtual tables is `sqlfns` and
//! `vtab`, registered on every connection by `register`.

pub mod gri;
pub mod parse;
pub mod refseq;
pub mod twobit;

mod capi;
mod rust;
mod sqlfns;

pub use rust::{ConnectionMethods, RefSeq};
mod vtab;

use crate::error::Result;
use crate::ffi::sqlite3;
use std::sync::{Arc, Mutex};

/// State of one connection's table-valued functions: what it knows about the levels of its GRI
/// tables.
#[derive(Default)]
pub(crate) struct ConnShared {
    pub levels: Mutex<gri::LevelCache>,
}

/// Registers the SQL functions, the `UINT` collation and the table-valued functions on `db`.
///
/// # Safety
/// `db` is a valid connection.
pub(crate) unsafe fn register(db: *mut sqlite3) -> Result<()> {
    let shared = Arc::new(ConnShared::default());
    // SAFETY: per the contract.
    unsafe {
        sqlfns::register(db)?;
        vtab::register(db, &shared)
    }
}
