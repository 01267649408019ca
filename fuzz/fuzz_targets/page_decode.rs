//! Stored pages: decoding any row (data, meta1, meta2, page number, with or without a
//! dictionary) is an error or a page, never a panic; and a page encoded and then damaged in
//! one bit decodes to itself or is an error (never to other bytes).
#![no_main]
#![allow(dead_code)]

#[path = "../../src/store/codec/zstd.rs"]
mod codec;
/// The library's error type (src/error.rs) reduced to the variant the codec makes: the real
/// one also wraps rusqlite's errors, which this build does not link.
mod error {
    #[derive(Debug, thiserror::Error)]
    pub enum Error {
        #[error("{0}")]
        Corrupt(String),
    }
}

use codec::{EncodedPage, Encoder, FrameDecoder, Samples, StoredPage};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const PAGE: usize = 1024;

/// A dictionary trained once from synthetic pages.
fn dictionary() -> &'static [u8] {
    static DICT: OnceLock<Vec<u8>> = OnceLock::new();
    DICT.get_or_init(|| {
        let mut samples = Samples::default();
        for seed in 1..=120u64 {
            let page: Vec<u8> = (0..PAGE as u64)
                .map(|i| (((i / 7) * seed + i % 13) % 61) as u8 + b'0')
                .collect();
            samples.push(&page);
        }
        codec::train_dictionary(&samples, 3, codec::STREAM_TRAINING).unwrap_or_default()
    })
}

fn stored<'a>(data: &'a [u8], e: &EncodedPage) -> StoredPage<'a> {
    StoredPage {
        pageno: 7,
        data,
        meta1: e.meta1,
        meta2: e.meta2,
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let mut decoder = FrameDecoder::default();
    let dict = dictionary();
    let ddict = (!dict.is_empty())
        .then(|| codec::prepare_dict(1, dict).ok())
        .flatten();
    let have_dict = ddict.is_some();
    let mut out = vec![0u8; PAGE];
    if mode & 1 == 0 {
        // Any row as stored.
        if rest.len() < 9 {
            return;
        }
        let pageno = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as u64;
        let meta1 = match rest[4] % 4 {
            0 => None,
            1 => Some(-1),
            2 => Some(1),
            _ => Some(i64::from(rest[5] as i8)),
        };
        let data = &rest[9..];
        let meta2 = match rest[6] % 3 {
            0 => None,
            1 => Some(codec::row_checksum(pageno as i64, data)),
            _ => Some(i64::from_le_bytes([
                rest[7], rest[8], 0, 0, 0, 0, 0, rest[5],
            ])),
        };
        // A row naming dictionary 1 gets it; any other dictionary is missing.
        let with = match meta1 {
            Some(1) => ddict.as_deref(),
            _ => None,
        };
        let _ = decoder.decode(
            StoredPage {
                pageno,
                data,
                meta1,
                meta2,
            },
            with,
            &mut out,
        );
    } else {
        // Round trip, then one bit flipped.
        if rest.len() < 4 {
            return;
        }
        let flip = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let mut page = rest[4..].to_vec();
        page.resize(PAGE, 0);
        let cdict = codec::CompressionDict::new(1, dict);
        let use_dict = have_dict && mode & 2 != 0;
        let e = Encoder::new(3).encode(7, &page, use_dict.then_some(&*cdict));
        let with = use_dict.then(|| ddict.as_deref()).flatten();
        decoder
            .decode(stored(&e.data, &e), with, &mut out)
            .expect("round trip");
        assert_eq!(out, page);
        let mut bad = e.data.clone();
        let bit = flip % (bad.len() * 8);
        bad[bit / 8] ^= 1 << (bit % 8);
        if decoder.decode(stored(&bad, &e), with, &mut out).is_ok() {
            assert_eq!(out, page, "a damaged page decoded to other bytes");
        }
    }
});
