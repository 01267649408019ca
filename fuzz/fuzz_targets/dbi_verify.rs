//! The .dbi checks: any set of pages and any recorded digest is accepted or refused without a
//! panic, and what is accepted agrees with the main file wherever the main file is at hand.
#![no_main]
#![allow(dead_code)]

#[path = "../../web/src/dbi_check.rs"]
mod dbi_check;
#[path = "../../web/src/format.rs"]
mod format;
#[path = "../../web/src/error.rs"]
mod error;

/// format.rs and dbi_check.rs reach the error type at the crate root, as in the web crate.
use error::{WebError, WebErrorKind};

use dbi_check::{pages_digest, verify_pages, MainFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if input.len() < 4 {
        return;
    }
    let page_size = 512usize << (input[0] % 3);
    let pages_in_file = 2 + (input[1] % 6) as usize;
    // The main file: a SQLite header, then bytes from the input.
    let mut file = vec![0u8; page_size * pages_in_file];
    for (i, b) in file.iter_mut().enumerate() {
        *b = input[(i % (input.len() - 3)) + 3];
    }
    file[..16].copy_from_slice(b"SQLite format 3\0");
    file[16..18].copy_from_slice(&(page_size as u16).to_be_bytes());
    let first_len = (page_size * (1 + (input[2] % 3) as usize)).min(file.len());
    // The .dbi pages: copies of the file's pages, some of them changed, moved or cut.
    let mut pages = Vec::new();
    for (k, &b) in input[3..].iter().take(8).enumerate() {
        let pno = (b as usize) % (pages_in_file + 1);
        let mut data = file
            .get(pno * page_size..(pno + 1) * page_size)
            .map(|p| p.to_vec())
            .unwrap_or_else(|| vec![b; page_size]);
        match b % 5 {
            0 => {
                let at = (k * 31) % data.len();
                data[at] ^= 0x40;
            }
            1 => data.truncate(data.len() - 1),
            _ => {}
        }
        pages.push(((pno * page_size) as u64, data));
    }
    let digest = match input[2] % 3 {
        0 => None,
        1 => Some(pages_digest(pages.iter().map(|(o, d)| (*o, d.as_slice())))),
        _ => Some(String::from_utf8_lossy(&input[3..input.len().min(20)]).into_owned()),
    };
    let main = MainFile {
        header: &file[..100],
        size: file.len() as u64,
        first_chunk: Some(&file[..first_len]),
    };
    if let Ok((ps, map)) = verify_pages(&main, pages.clone(), digest.as_deref(), 1 << 20) {
        assert_eq!(ps as usize, page_size);
        assert!(map.contains_key(&0));
        for (&p, data) in &map {
            let at = p as usize * page_size;
            assert_eq!(data.len(), page_size);
            if at + page_size <= first_len {
                assert_eq!(&file[at..at + page_size], &data[..], "accepted a page unlike the file's");
            }
        }
        if let Some(d) = &digest {
            let mut sorted: Vec<(u64, &[u8])> = map.iter().map(|(&p, d)| (p * ps, d.as_slice())).collect();
            sorted.sort_unstable_by_key(|&(o, _)| o);
            assert_eq!(&pages_digest(sorted), d);
        }
    }
});
