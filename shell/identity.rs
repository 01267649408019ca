//! Identities of files this command writes or publishes (see `genomicsqlite::web::identity_digest`
//! for what an identity is and why): computed from a local file, and made unique for a compacted
//! file by a random `user_version` in its outer header.

use rusqlite::Connection;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The identity of the file at `path` as it is now.
pub fn of_file(path: &Path) -> Result<String, String> {
    let e = |e: std::io::Error| format!("{}: {}", path.display(), e);
    let mut f = File::open(path).map_err(e)?;
    let size = f.metadata().map_err(e)?.len();
    let mut first = Vec::new();
    f.by_ref()
        .take(genomicsqlite::web::IDENTITY_SPAN)
        .read_to_end(&mut first)
        .map_err(e)?;
    Ok(genomicsqlite::web::identity_digest(size, &first))
}

/// Write a random non-zero number into the `user_version` of the (outer) SQLite file at `path`,
/// so that its identity differs from every other compaction's, even of the same input.
pub fn stamp(path: &Path) -> Result<(), String> {
    let mut buf = [0u8; 4];
    File::open("/dev/urandom")
        .and_then(|mut r| r.read_exact(&mut buf))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    let nonce = match i32::from_le_bytes(buf) {
        0 => 1,
        n => n,
    };
    let c = Connection::open(path).map_err(|e| format!("{}: {}", path.display(), e))?;
    c.execute_batch(&format!("PRAGMA user_version = {nonce}"))
        .map_err(|e| format!("stamping the identity of {}: {}", path.display(), e))
}

/// SHA-256 of a whole file, hex.
pub fn sha256_file(path: &Path) -> Result<String, String> {
    use sha2::{Digest, Sha256};
    let e = |e: std::io::Error| format!("{}: {}", path.display(), e);
    let mut f = File::open(path).map_err(e)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(e)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}
