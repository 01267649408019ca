//! The page codec: how one inner page becomes the `data`/`meta1` pair of its outer row, and back.
//!
//! `meta1` says how `data` is encoded: NULL = stored as is, -1 = a zstd frame without
//! dictionary, N >= 0 = a zstd frame compressed with dictionary `N` of `nested_vfs_zstd_dicts`.
//! A page whose frame would save less than 20% is stored as is, because decompressing it would
//! cost time for almost no space.

use std::collections::HashMap;
use std::sync::Arc;
use zstd::zstd_safe::{self, CCtx, CDict, DCtx, DDict};

/// Target size of a trained dictionary, as the reference trains them.
pub const DICT_SIZE: usize = 96 * 1024;
/// How many pages a dictionary is trained from.
pub const DICT_SAMPLE_PAGES: usize = 100;

/// Why a stored page could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub String);

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An encoded page, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPage {
    pub data: Vec<u8>,
    pub meta1: Option<i64>,
}

/// A dictionary prepared for compression, shared by all compressing threads.
pub struct CompressionDict {
    pub id: i64,
    cdict: CDict<'static>,
}

impl CompressionDict {
    /// Prepares `dict` (as stored in `nested_vfs_zstd_dicts`) for compression at `level`.
    pub fn new(id: i64, dict: &[u8], level: i32) -> Option<Arc<CompressionDict>> {
        CDict::try_create(dict, level).map(|cdict| Arc::new(CompressionDict { id, cdict }))
    }
}

/// Compresses pages; one per thread (it owns a zstd context).
pub struct Encoder {
    cctx: CCtx<'static>,
    level: i32,
}

impl Encoder {
    pub fn new(level: i32) -> Encoder {
        Encoder {
            cctx: CCtx::create(),
            level,
        }
    }

    /// Encodes `page`, with `dict` when given; falls back to storing it as is when compression
    /// saves less than 20%, or if zstd fails (it cannot fail on valid input, but a page is never
    /// lost over it).
    pub fn encode(&mut self, page: &[u8], dict: Option<&CompressionDict>) -> EncodedPage {
        let mut out = Vec::with_capacity(zstd_safe::compress_bound(page.len()));
        let result = match dict {
            Some(d) => self.cctx.compress_using_cdict(&mut out, page, &d.cdict),
            None => self.cctx.compress(&mut out, page, self.level),
        };
        match result {
            Ok(n) if n * 5 <= page.len() * 4 => {
                out.truncate(n);
                EncodedPage {
                    data: out,
                    meta1: Some(dict.map_or(-1, |d| d.id)),
                }
            }
            _ => plain(page),
        }
    }
}

/// A page stored without compression.
pub fn plain(page: &[u8]) -> EncodedPage {
    EncodedPage {
        data: page.to_vec(),
        meta1: None,
    }
}

/// Decompresses pages; caches prepared decompression dictionaries by id.
pub struct Decoder {
    dctx: DCtx<'static>,
    dicts: HashMap<i64, DDict<'static>>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            dctx: DCtx::create(),
            dicts: HashMap::new(),
        }
    }
}

impl Decoder {
    /// True once dictionary `id` is prepared (so the caller need not load it).
    pub fn has_dict(&self, id: i64) -> bool {
        self.dicts.contains_key(&id)
    }

    /// Prepares dictionary `id` from its stored bytes.
    pub fn add_dict(&mut self, id: i64, dict: &[u8]) -> Result<(), CodecError> {
        let ddict = DDict::try_create(dict)
            .ok_or_else(|| CodecError(format!("zstd dictionary {id} cannot be loaded")))?;
        self.dicts.insert(id, ddict);
        Ok(())
    }

    /// Decodes a stored page into `out`, which must be exactly one page long. A dictionary
    /// page needs its dictionary added first (see [`Decoder::has_dict`]).
    pub fn decode(&mut self, data: &[u8], meta1: Option<i64>, out: &mut [u8]) -> Result<(), CodecError> {
        let written = match meta1 {
            None => {
                if data.len() != out.len() {
                    return Err(CodecError(format!(
                        "uncompressed page has {} bytes, expected {}",
                        data.len(),
                        out.len()
                    )));
                }
                out.copy_from_slice(data);
                return Ok(());
            }
            Some(-1) => self.dctx.decompress(out, data),
            Some(id) if id >= 0 => {
                let ddict = self
                    .dicts
                    .get(&id)
                    .ok_or_else(|| CodecError(format!("zstd dictionary {id} is missing")))?;
                self.dctx.decompress_using_ddict(out, data, ddict)
            }
            Some(other) => {
                return Err(CodecError(format!("unknown page encoding meta1={other}")));
            }
        };
        match written {
            Ok(n) if n == out.len() => Ok(()),
            Ok(n) => Err(CodecError(format!(
                "page decompressed to {n} bytes, expected {}",
                out.len()
            ))),
            Err(code) => Err(CodecError(format!(
                "page cannot be decompressed: {}",
                zstd_safe::get_error_name(code)
            ))),
        }
    }
}

/// Trains a dictionary from sample pages; `None` when zstd finds too little to learn from.
pub fn train_dictionary(samples: &[Vec<u8>]) -> Option<Vec<u8>> {
    zstd::dict::from_samples(samples, DICT_SIZE).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(seed: u64) -> Vec<u8> {
        (0..4096u64)
            .map(|i| (((i / 7) * seed + i % 13) % 61) as u8 + b'0')
            .collect()
    }

    #[test]
    fn compressible_page_round_trips() {
        let p = page(3);
        let e = Encoder::new(6).encode(&p, None);
        assert_eq!(e.meta1, Some(-1));
        assert!(e.data.len() < p.len() / 2);
        let mut out = vec![0; p.len()];
        Decoder::default().decode(&e.data, e.meta1, &mut out).unwrap();
        assert_eq!(out, p);
    }

    #[test]
    fn random_page_is_stored_plain() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let p: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert_eq!(Encoder::new(6).encode(&p, None).meta1, None);
    }

    #[test]
    fn dictionary_pages_need_their_dictionary() {
        let samples: Vec<Vec<u8>> = (1..=120).map(page).collect();
        let dict = train_dictionary(&samples).expect("trainable");
        let cdict = CompressionDict::new(7, &dict, 6).unwrap();
        let p = page(200);
        let e = Encoder::new(6).encode(&p, Some(&cdict));
        assert_eq!(e.meta1, Some(7));
        let mut out = vec![0; p.len()];
        let mut d = Decoder::default();
        assert!(d.decode(&e.data, e.meta1, &mut out).is_err());
        d.add_dict(7, &dict).unwrap();
        d.decode(&e.data, e.meta1, &mut out).unwrap();
        assert_eq!(out, p);
    }

    #[test]
    fn damaged_frames_are_errors() {
        let p = page(5);
        let e = Encoder::new(6).encode(&p, None);
        let mut out = vec![0; p.len()];
        let mut d = Decoder::default();
        assert!(d.decode(&e.data[..e.data.len() / 2], e.meta1, &mut out).is_err());
        assert!(d.decode(&p[..100], None, &mut out).is_err());
        assert!(d.decode(&e.data, Some(-5), &mut out).is_err());
    }
}
