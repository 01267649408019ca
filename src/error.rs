//! The crate's one error type, [`Error`], and its [`Result`].
//!
//! Every layer returns it: the Rust API ([`crate::open`] and friends), the configuration, the
//! page store and the VFS, the page codec, the SQL functions and the genomics toolkit. Each
//! variant reads as the message the user sees (the FFI ring hands [`Error::message`] to SQLite
//! or to C callers), and [`Error::code`] is the SQLite result code it maps to at that boundary,
//! so the code a failure returns is decided where the failure is made, not where it is reported.
//!
//! Conversions are pure: anything a message should add (the VFS's reason for a failed open, a
//! function's name) is added explicitly by the caller that knows it.

use crate::ffi::{SQLITE_CORRUPT, SQLITE_ERROR};
use std::os::raw::c_int;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration key, URI parameter or database path was rejected; the message names it
    /// and what is allowed.
    #[error("{0}")]
    Config(String),
    /// SQLite failed under the Rust API; `reason` adds what the VFS knows about a failed open
    /// (e.g. "not a compressed database"), or is empty.
    #[error("{source}{}", if reason.is_empty() { String::new() } else { format!(": {reason}") })]
    Sqlite {
        source: rusqlite::Error,
        reason: String,
    },
    /// The VFS or the SQL functions could not be registered in SQLite.
    #[error("{0}")]
    Init(String),
    /// A failure in SQLite's terms, as the VFS, the page store and the C API report it: the
    /// SQLite result code handed back at the FFI boundary, and the message.
    #[error("{message}")]
    Code { code: c_int, message: String },
    /// A stored page could not be decoded (damaged bytes, a missing or bad dictionary).
    #[error("{0}")]
    Corrupt(String),
    /// A bad argument to a SQL function, a C API function or a genomics helper (the texts of
    /// GenomicSQLite 0.9.4 where it has one).
    #[error("{0}")]
    Invalid(String),
}

/// `std::result::Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A failure with SQLite result code `code`.
    pub fn new(code: c_int, message: impl Into<String>) -> Error {
        Error::Code {
            code,
            message: message.into(),
        }
    }

    /// A bad argument (see [`Error::Invalid`]).
    pub fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid(message.into())
    }

    /// The SQLite result code this error is reported as: its own code, the extended code of a
    /// SQLite failure, `SQLITE_CORRUPT` for a damaged page and `SQLITE_ERROR` otherwise.
    pub fn code(&self) -> c_int {
        match self {
            Error::Code { code, .. } => *code,
            Error::Corrupt(_) => SQLITE_CORRUPT,
            Error::Sqlite { source, .. } => match source {
                rusqlite::Error::SqliteFailure(e, _) => e.extended_code,
                _ => SQLITE_ERROR,
            },
            Error::Config(_) | Error::Init(_) | Error::Invalid(_) => SQLITE_ERROR,
        }
    }

    /// The message, as SQLite and C callers get it: every variant reads as its message alone
    /// (no code or variant name added), so this is `to_string()`.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// A SQLite failure under the Rust API with the VFS's `reason` for a failed open (taken by
    /// the caller from the VFS, so that it is reported once).
    pub fn with_reason(source: rusqlite::Error, reason: String) -> Error {
        Error::Sqlite { source, reason }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(source: rusqlite::Error) -> Self {
        Error::Sqlite {
            source,
            reason: String::new(),
        }
    }
}
