//! What the web reader shares with the library's configuration, kept here so that the
//! dependency points one way (library -> web): the credential type, the one boolean grammar
//! (whose error is the crate's [`WebError`], kind `InvalidInput`), percent-encoding and the
//! default time limits. `genomicsqlite::config` re-exports them.

use crate::{WebError, WebErrorKind};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// A credential. `Debug` never shows it; the value is reachable only through
/// [`Secret::expose`], used where it goes onto the wire. (De)serialized as its string, for
/// the configuration keys that hold one.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// No value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The value, for where it goes onto the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// Defaults of the web reader's time limits (also `WebOptions`'s).
pub const DEFAULT_READ_TIMEOUT_MS: u64 = 60_000;
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 120_000;
pub const DEFAULT_DBI_TIMEOUT_MS: u64 = 5_000;

/// The one boolean grammar of URI parameters and `SQLITE_WEB_*` variables: `1`/`0` (any
/// integer: non-zero is true), `true`/`false`, `yes`/`no`, `on`/`off` in any case, and empty (a
/// bare `&key`) for true. Anything else is an error naming the key, rather than a guess.
pub fn parse_bool(key: &str, value: &str) -> Result<bool, WebError> {
    let v = value.trim().to_ascii_lowercase();
    match v.as_str() {
        "" | "true" | "yes" | "on" => Ok(true),
        "false" | "no" | "off" => Ok(false),
        _ => v.parse::<i64>().map(|n| n != 0).map_err(|_| {
            WebError::new(
                WebErrorKind::InvalidInput,
                format!(
                    "{key}: expected a boolean (1/0, true/false, yes/no, on/off), got {value:?}"
                ),
            )
        }),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `/` when `keep_slash`).
pub fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
