//! The identity of a published file (issue #13): a `.dbi` (and a publishing manifest) records it,
//! and the reader refuses a `.dbi` whose identity is not the file's, so a `.dbi` cannot be taken
//! for another version's even when the two versions have the same 100-byte header (same page
//! count, freshly written), which is all GenomicSQLite 0.9.4 compares.
//!
//! The identity is a SHA-256 over the file's size and its first [`IDENTITY_SPAN`] bytes: the
//! header plus the first pages, which the web reader fetches at open anyway (one 64 KiB chunk by
//! default), so checking it costs no request. `genomicsqlite DB --compact` also writes a number
//! derived from the whole output into the outer file's `user_version` (which nothing else uses),
//! so two compactions whose content differs anywhere never share an identity, while the same
//! input compacted twice stays byte-identical; for other files, versions that differ only beyond the first 64 KiB
//! with an identical header still share one (a documented limit).
//!
//! 0.9.4 ignores the extra [`IDENTITY_KEY`](super::format::IDENTITY_KEY) row of `web_dbi_meta` and keeps comparing headers.

use super::file::WebFile;
use sha2::{Digest, Sha256};

/// How many leading bytes of the file the identity covers.
pub const IDENTITY_SPAN: u64 = 65536;

/// The identity of a file of `size` bytes beginning with `first` (at least
/// `min(size, IDENTITY_SPAN)` bytes; more are ignored): `sha256:` and 64 hex digits.
pub fn identity_digest(size: u64, first: &[u8]) -> String {
    let span = size.min(IDENTITY_SPAN).min(first.len() as u64) as usize;
    let mut h = Sha256::new();
    h.update(size.to_be_bytes());
    h.update(&first[..span]);
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl WebFile {
    /// The identity of the remote file (see the module docs); served from the first chunk.
    pub fn identity(&self) -> Result<String, super::WebError> {
        let mut first = vec![0u8; self.size().min(IDENTITY_SPAN) as usize];
        self.read_at(0, &mut first)?;
        Ok(identity_digest(self.size(), &first))
    }

    /// Whether a `.dbi` recording `recorded` as its database's identity belongs to this file.
    /// `None` (a `.dbi` from 0.9.4 or older tools) passes: only its header is compared. On a
    /// mismatch, the `.dbi` is rejected with the usual single warning.
    pub fn dbi_identity_matches(&self, origin: &str, recorded: Option<&str>) -> bool {
        let Some(recorded) = recorded else {
            return true;
        };
        match self.identity() {
            Ok(actual) if actual == recorded => true,
            Ok(actual) => {
                self.reject_dbi(
                    origin,
                    &format!("it belongs to another version of the file (identity {recorded}, the file's is {actual})"),
                );
                false
            }
            Err(e) => {
                self.reject_dbi(origin, &format!("cannot check its identity: {e}"));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn digest_covers_size_and_span_only() {
        let a = vec![7u8; 70000];
        let mut b = a.clone();
        b[69999] = 8; // beyond the span
        assert_eq!(identity_digest(70000, &a), identity_digest(70000, &b));
        b[100] = 8;
        assert_ne!(identity_digest(70000, &a), identity_digest(70000, &b));
        assert_ne!(identity_digest(70000, &a), identity_digest(70001, &a));
        assert!(identity_digest(3, b"abc").starts_with("sha256:"));
    }
}
