//! The web reader's one error type, [`WebError`], with its [`WebErrorKind`] and [`Detail`].
//!
//! Every failure of the crate is one of these: HTTP and network failures, bad options and
//! settings (the configuration shares [`crate::base::parse_bool`]'s), a database header that is
//! not SQLite's, an unusable .dbi. Free of the rest of the crate (std and `thiserror` only), so
//! that the fuzz targets that include the header parser and the .dbi checks include it too.

use std::fmt;

/// What went wrong and how it reads: the message names the URL and the HTTP status or curl
/// error; `status` is the HTTP status of the failing response, when that was the failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub status: Option<u32>,
    pub message: String,
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Declares the kinds once: [`WebErrorKind`] (for callers mapping to SQLite result codes) and
/// [`WebError`], one variant per kind, with the conversions between them.
macro_rules! web_errors {
    ($($(#[$doc:meta])* $kind:ident,)*) => {
        /// What went wrong, for mapping to SQLite result codes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum WebErrorKind {
            $($(#[$doc])* $kind,)*
        }

        /// The web reader's error: one variant per [`WebErrorKind`], each with its [`Detail`];
        /// it reads as the message alone.
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        pub enum WebError {
            $($(#[$doc])* #[error("{0}")] $kind(Detail),)*
        }

        impl WebError {
            fn of_kind(kind: WebErrorKind, detail: Detail) -> WebError {
                match kind {
                    $(WebErrorKind::$kind => WebError::$kind(detail),)*
                }
            }
            /// The category of the failure.
            pub fn kind(&self) -> WebErrorKind {
                match self {
                    $(WebError::$kind(_) => WebErrorKind::$kind,)*
                }
            }
            /// The message and HTTP status.
            pub fn detail(&self) -> &Detail {
                match self {
                    $(WebError::$kind(d) => d,)*
                }
            }
        }
    };
}

web_errors! {
    /// Bad URL, option value or setting (the message names the key).
    InvalidInput,
    /// HTTP 404 or 410.
    NotFound,
    /// HTTP 401 or 403.
    Forbidden,
    /// Any other unexpected HTTP status (after retries for 5xx/408/429).
    Http,
    /// A transport error from curl (connect, TLS, timeout, reset...) after retries.
    Network,
    /// The server does not honor `Range` requests.
    RangeUnsupported,
    /// The file on the server changed since it was opened (size, ETag or Last-Modified).
    Changed,
    /// The read extends past the end of the file; the missing part was zero-filled.
    ShortRead,
    /// A local file (the `file:` .dbi) could not be read.
    Io,
    /// The .dbi helper is unusable: from [`crate::WebFile::fetch_dbi`] for an explicit
    /// `dbi_url`, and as the reason a .dbi is ignored (its checks in `dbi_check.rs`).
    Dbi,
    /// Bytes that should begin a SQLite database do not (too short, bad magic, invalid page
    /// size in the header).
    NotSqlite,
}

impl WebError {
    pub(crate) fn new(kind: WebErrorKind, message: impl Into<String>) -> WebError {
        WebError::of_kind(
            kind,
            Detail {
                status: None,
                message: message.into(),
            },
        )
    }
    pub(crate) fn with_status(
        kind: WebErrorKind,
        status: u32,
        message: impl Into<String>,
    ) -> WebError {
        WebError::of_kind(
            kind,
            Detail {
                status: Some(status),
                message: message.into(),
            },
        )
    }
    /// The same kind and status with another message.
    pub(crate) fn with_message(self, message: String) -> WebError {
        let status = self.status();
        WebError::of_kind(self.kind(), Detail { status, message })
    }
    /// The HTTP status of the failing response, if the failure was an HTTP status.
    pub fn status(&self) -> Option<u32> {
        self.detail().status
    }
    /// The message (same as `to_string()`).
    pub fn message(&self) -> &str {
        &self.detail().message
    }
}
