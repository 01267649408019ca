//! Checking a .dbi against the main file (the scheme is described in `dbi.rs`): pure functions
//! of bytes, without network or SQLite, so that they can be fuzzed alone (fuzz/).

use super::format::{DbHeader, DBI_APPLICATION_ID};
use crate::{WebError, WebErrorKind};
use std::collections::HashMap;

/// SHA-256, in lowercase hex, of the .dbi's pages in ascending offset order, each as its offset
/// (8 bytes big-endian), its length (8 bytes big-endian) and its bytes. The writer stores it
/// under [`super::format::DIGEST_KEY`]; the reader recomputes it.
pub fn pages_digest<'a>(pages: impl IntoIterator<Item = (u64, &'a [u8])>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (offset, data) in pages {
        h.update(offset.to_be_bytes());
        h.update((data.len() as u64).to_be_bytes());
        h.update(data);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a .dbi must be ignored (a [`WebErrorKind::Dbi`] error).
fn unusable(why: String) -> WebError {
    WebError::new(WebErrorKind::Dbi, why)
}

/// Whether downloaded bytes can be a .dbi: a SQLite header with the .dbi `application_id`.
pub fn check_dbi_bytes(bytes: &[u8]) -> Result<(), WebError> {
    let app = DbHeader::parse(bytes)
        .map_err(|e| unusable(e.to_string()))?
        .application_id;
    if app != DBI_APPLICATION_ID {
        return Err(unusable(format!(
            "application_id is 0x{app:x}, not 0x{DBI_APPLICATION_ID:x}"
        )));
    }
    Ok(())
}

/// What is known of the main file when its .dbi is checked.
pub struct MainFile<'a> {
    /// Its first 100 bytes.
    pub header: &'a [u8],
    pub size: u64,
    /// Its first bytes, fetched at open (`web_small_KiB` of them), if still at hand.
    pub first_chunk: Option<&'a [u8]>,
}

/// Checks the pages of a .dbi (`(offset, data)` as read from `web_dbi_pages`) and the digest
/// it records against the main file: shape (page size, alignment, inside the file, no
/// duplicates, at most `limit` bytes), the header, the bytes of the first chunk, the digest.
/// Returns the page size and the pages by page index, or why the .dbi must be ignored.
pub fn verify_pages(
    main: &MainFile<'_>,
    pages: impl IntoIterator<Item = (u64, Vec<u8>)>,
    digest: Option<&str>,
    limit: usize,
) -> Result<(u64, HashMap<u64, Vec<u8>>), WebError> {
    let ps = DbHeader::parse(main.header)
        .map_err(|e| {
            unusable(format!(
                "the main file does not begin with a SQLite header: {e}"
            ))
        })?
        .page_size as u64;
    let mut map = HashMap::new();
    let mut bytes = 0usize;
    for (offset, data) in pages {
        if data.len() as u64 != ps || offset % ps != 0 || offset.saturating_add(ps) > main.size {
            return Err(unusable(format!(
                "page at offset {offset} ({} bytes) does not fit the main file's {ps}-byte pages and size {}",
                data.len(),
                main.size
            )));
        }
        bytes += data.len();
        if bytes > limit {
            return Err(unusable(format!("its pages exceed the {limit}-byte limit")));
        }
        if map.insert(offset / ps, data).is_some() {
            return Err(unusable(format!("it has two pages at offset {offset}")));
        }
    }
    match map.get(&0) {
        None => return Err(unusable("it has no copy of page 1".into())),
        Some(p0) if p0.get(..100) != Some(main.header) => {
            return Err(unusable(
                "stale: its copy of page 1 differs from the main file's header".into(),
            ))
        }
        Some(_) => {}
    }
    if let Some(first) = main.first_chunk {
        let mut at_hand: Vec<u64> = map
            .keys()
            .copied()
            .filter(|&p| (p + 1) * ps <= first.len() as u64)
            .collect();
        at_hand.sort_unstable();
        for p in at_hand {
            let start = (p * ps) as usize;
            if first[start..start + ps as usize] != map[&p][..] {
                return Err(unusable(format!(
                    "stale or damaged: its page at offset {} differs from the main file's",
                    p * ps
                )));
            }
        }
    }
    if let Some(recorded) = digest {
        let mut sorted: Vec<(u64, &[u8])> =
            map.iter().map(|(&p, d)| (p * ps, d.as_slice())).collect();
        sorted.sort_unstable_by_key(|&(o, _)| o);
        if pages_digest(sorted) != recorded.trim().to_ascii_lowercase() {
            return Err(unusable(
                "damaged: its pages do not match the digest it records".into(),
            ));
        }
    }
    Ok((ps, map))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn dbi_bytes() {
        let mut h = vec![0u8; 100];
        h[..16].copy_from_slice(b"SQLite format 3\0");
        h[16..18].copy_from_slice(&4096u16.to_be_bytes());
        assert!(check_dbi_bytes(&h).is_err());
        h[68..72].copy_from_slice(&DBI_APPLICATION_ID.to_be_bytes());
        assert!(check_dbi_bytes(&h).is_ok());
        assert!(check_dbi_bytes(b"short").is_err());
    }

    #[test]
    fn pages_are_checked_against_the_main_file() {
        let mut file = vec![7u8; 4 * 1024];
        file[..16].copy_from_slice(b"SQLite format 3\0");
        file[16..18].copy_from_slice(&1024u16.to_be_bytes());
        let main = MainFile {
            header: &file[..100],
            size: file.len() as u64,
            first_chunk: Some(&file[..2048]),
        };
        let page = |n: usize| (n as u64 * 1024, file[n * 1024..(n + 1) * 1024].to_vec());
        let good = vec![page(0), page(3)];
        let digest = pages_digest(good.iter().map(|(o, d)| (*o, d.as_slice())));
        assert!(verify_pages(&main, good.clone(), Some(&digest), 1 << 20).is_ok());
        assert!(verify_pages(&main, good.clone(), None, 1 << 20).is_ok());
        assert!(verify_pages(&main, good.clone(), Some("00"), 1 << 20).is_err());
        assert!(verify_pages(&main, good.clone(), None, 1024).is_err());
        let mut bad = good.clone();
        bad[1].1[500] ^= 1;
        assert!(verify_pages(&main, bad, Some(&digest), 1 << 20).is_err());
        let mut body = good.clone();
        body[0].1[600] ^= 1; // page 1's body, inside the first chunk
        assert!(verify_pages(&main, body, None, 1 << 20).is_err());
        assert!(verify_pages(&main, vec![page(3)], None, 1 << 20).is_err());
        assert!(verify_pages(&main, vec![page(0), (4096, vec![0; 1024])], None, 1 << 20).is_err());
    }
}
