//! The zstd page codec's primitives: how one inner page becomes the `data`/`meta1`/`meta2` of its
//! outer row, and back, and how dictionaries are trained. (The policy of when to train and which
//! dictionary to use is [`super::ZstdCodec`]'s.) Free of SQLite, so that it can be fuzzed alone.
//!
//! `meta1` says how `data` is encoded: NULL = stored as is, -1 = a zstd frame without
//! dictionary, N >= 0 = a zstd frame compressed with dictionary `N` of `nested_vfs_zstd_dicts`.
//! A page whose frame would save less than 20% is stored as is, because decompressing it would
//! cost time for almost no space.
//!
//! # Integrity
//! Every page is checked on every read, in a way GenomicSQLite 0.9.4 can still read:
//! - every row carries in `meta2` the XXH64 of its stored bytes (`data`), seeded with its page
//!   number and kept as a signed 64-bit integer: damaged bytes, and a row stored under another
//!   page number, are caught before anything is decoded. 0.9.4 ignores `meta2` when reading and
//!   writes NULL there when it rewrites a page, so a page it rewrote is never checked against a
//!   stale checksum.
//! - a zstd frame also carries zstd's content checksum (32 bits of XXH64 of the page), which
//!   zstd verifies while decoding (0.9.4's decoder too): it catches what the stored bytes
//!   cannot show, a frame decoded with a damaged or different dictionary.
//!
//! Pages written before checksums existed (by 0.9.4 or older versions of ours: frames without
//! the checksum flag, NULL `meta2`) are read unchecked, as before.

use crate::error::Error;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use zstd::zstd_safe::{self, CCtx, CParameter, DCtx, DDict, ResetDirective};

/// Target size of a trained dictionary. GenomicSQLite 0.9.4 aims at about 96 KiB; on
/// org.Hs.eg.sqlite 32 KiB gave a slightly smaller file (95.3 MB against 95.9 MB), and a
/// dictionary of half a web chunk costs a reader over HTTP one request instead of two.
pub const DICT_SIZE: usize = 32 * 1024;
/// How many pages a dictionary is trained from.
pub const DICT_SAMPLE_PAGES: usize = 100;

/// An encoded page, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPage {
    pub data: Vec<u8>,
    pub meta1: Option<i64>,
    /// The checksum of `data` (see [`row_checksum`]).
    pub meta2: Option<i64>,
}

/// A page as stored in its outer row, to be decoded.
#[derive(Debug, Clone, Copy)]
pub struct StoredPage<'a> {
    pub pageno: u64,
    pub data: &'a [u8],
    pub meta1: Option<i64>,
    pub meta2: Option<i64>,
}

/// The `meta2` checksum of the row of page `pageno` whose `data` is `stored`: XXH64 seeded
/// with the page number, so that a row moved to another page number does not pass either.
pub fn row_checksum(pageno: i64, stored: &[u8]) -> i64 {
    xxhash_rust::xxh64::xxh64(stored, pageno as u64) as i64
}

/// A dictionary for compression, shared by all compressing threads.
pub struct CompressionDict {
    /// Its id in `nested_vfs_zstd_dicts` (what `meta1` records).
    pub id: i64,
    /// Unique in the process: ids repeat across databases, so encoders tell dictionaries
    /// apart by this.
    serial: u64,
    bytes: Vec<u8>,
}

impl CompressionDict {
    pub fn new(id: i64, dict: &[u8]) -> Arc<CompressionDict> {
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        Arc::new(CompressionDict {
            id,
            serial: SERIAL.fetch_add(1, Ordering::Relaxed),
            bytes: dict.to_vec(),
        })
    }
}

/// Compresses pages; one per thread (it owns a zstd context).
///
/// The dictionary is loaded into the context ("sticky") with a hint that inputs are one page
/// long, rather than prepared as a `CDict` for inputs of unknown size: that keeps zstd's match
/// tables sized for pages (a level-6 `CDict` and every context using it would carry megabytes).
pub struct Encoder {
    cctx: CCtx<'static>,
    level: i32,
    /// (dictionary serial, page length) the context is set up for.
    configured: Option<(Option<u64>, usize)>,
}

impl Encoder {
    pub fn new(level: i32) -> Encoder {
        Encoder {
            cctx: CCtx::create(),
            level,
            configured: None,
        }
    }

    fn configure(&mut self, page_len: usize, dict: Option<&CompressionDict>) -> Result<(), usize> {
        let wanted = (dict.map(|d| d.serial), page_len);
        if self.configured == Some(wanted) {
            return Ok(());
        }
        self.configured = None;
        self.cctx.reset(ResetDirective::SessionAndParameters)?;
        self.cctx
            .set_parameter(CParameter::CompressionLevel(self.level))?;
        self.cctx.set_parameter(CParameter::SrcSizeHint(
            page_len.try_into().unwrap_or(u32::MAX),
        ))?;
        // 4 bytes per page that zstd verifies on every decode (see the module docs).
        self.cctx.set_parameter(CParameter::ChecksumFlag(true))?;
        self.cctx
            .load_dictionary(dict.map_or(&[][..], |d| &d.bytes))?;
        self.configured = Some(wanted);
        Ok(())
    }

    /// Encodes page `pageno`, with `dict` when given; falls back to storing it as is when
    /// compression saves less than 20%, or if zstd fails (it cannot fail on valid input, but a
    /// page is never lost over it).
    pub fn encode(
        &mut self,
        pageno: i64,
        page: &[u8],
        dict: Option<&CompressionDict>,
    ) -> EncodedPage {
        let mut out = Vec::with_capacity(zstd_safe::compress_bound(page.len()));
        let result = self
            .configure(page.len(), dict)
            .and_then(|()| self.cctx.compress2(&mut out, page));
        match result {
            Ok(n) if n * 5 <= page.len() * 4 => {
                out.truncate(n);
                EncodedPage {
                    meta2: Some(row_checksum(pageno, &out)),
                    data: out,
                    meta1: Some(dict.map_or(-1, |d| d.id)),
                }
            }
            Ok(_) => plain(pageno, page),
            Err(_) => {
                self.configured = None;
                plain(pageno, page)
            }
        }
    }
}

/// Page `pageno` stored without compression, with its checksum.
pub fn plain(pageno: i64, page: &[u8]) -> EncodedPage {
    EncodedPage {
        data: page.to_vec(),
        meta1: None,
        meta2: Some(row_checksum(pageno, page)),
    }
}

/// A dictionary prepared for decompression, shareable with worker threads.
pub type DecompressionDict = Arc<DDict<'static>>;

/// Prepares dictionary `id` from its stored bytes for decoding.
pub fn prepare_dict(id: i64, dict: &[u8]) -> Result<DecompressionDict, Error> {
    DDict::try_create(dict)
        .map(Arc::new)
        .ok_or_else(|| Error::Corrupt(format!("zstd dictionary {id} cannot be loaded")))
}

/// Decodes pages given their dictionary; one per thread (it owns a zstd context).
pub struct FrameDecoder {
    dctx: DCtx<'static>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder {
            dctx: DCtx::create(),
        }
    }
}

impl FrameDecoder {
    /// Decodes a stored page into `out` (exactly one page long), verifying its checksum when
    /// it has one; `dict` must be the dictionary `meta1` names, when it names one.
    pub fn decode(
        &mut self,
        page: StoredPage<'_>,
        dict: Option<&DDict<'static>>,
        out: &mut [u8],
    ) -> Result<(), Error> {
        let data = page.data;
        if let Some(sum) = page.meta2 {
            if sum != row_checksum(page.pageno as i64, data) {
                return Err(Error::Corrupt(
                    "checksum mismatch (the stored page is damaged or misplaced)".into(),
                ));
            }
        }
        let written = match (page.meta1, dict) {
            (None, _) => {
                if data.len() != out.len() {
                    return Err(Error::Corrupt(format!(
                        "uncompressed page has {} bytes, expected {}",
                        data.len(),
                        out.len()
                    )));
                }
                out.copy_from_slice(data);
                return Ok(());
            }
            (Some(-1), _) => self.dctx.decompress(out, data),
            (Some(id), Some(ddict)) if id >= 0 => {
                self.dctx.decompress_using_ddict(out, data, ddict)
            }
            (Some(id), None) if id >= 0 => {
                return Err(Error::Corrupt(format!("zstd dictionary {id} is missing")));
            }
            (Some(other), _) => {
                return Err(Error::Corrupt(format!(
                    "unknown page encoding meta1={other}"
                )));
            }
        };
        match written {
            Ok(n) if n == out.len() => Ok(()),
            Ok(n) => Err(Error::Corrupt(format!(
                "page decompressed to {n} bytes, expected {}",
                out.len()
            ))),
            Err(code) => Err(Error::Corrupt(format!(
                "page cannot be decompressed (the stored page is damaged): {}",
                zstd_safe::get_error_name(code)
            ))),
        }
    }
}

/// Pages sampled for training a dictionary, kept in one buffer, which is the form zstd's
/// trainer takes (so training needs no second copy of them).
#[derive(Default)]
pub struct Samples {
    flat: Vec<u8>,
    slot: usize,
    count: usize,
}

impl Samples {
    pub fn len(&self) -> usize {
        self.count
    }

    /// Adds a page. Samples are all one page size: a page of another size (the database's page
    /// size changed) starts the collection over.
    pub fn push(&mut self, page: &[u8]) {
        if page.len() != self.slot {
            self.flat.clear();
            self.count = 0;
            self.slot = page.len();
        }
        self.flat.extend_from_slice(page);
        self.count += 1;
    }

    /// Replaces sample `index` (ignored for a page of another size).
    pub fn replace(&mut self, index: usize, page: &[u8]) {
        if page.len() == self.slot && index < self.count {
            self.flat[index * self.slot..(index + 1) * self.slot].copy_from_slice(page);
        }
    }
}

/// How a dictionary is trained: how large it may be and the two fastCover parameters that
/// differ between the streaming policy and a whole-database plan.
#[derive(Debug, Clone, Copy)]
pub struct Training {
    /// The dictionary is at most this many bytes.
    pub size: usize,
    /// fastCover's acceleration (1 to 10): trades the dictionary's quality for training time.
    pub accel: u32,
    /// fastCover's `f`, the log2 of its frequency table: it bounds the trainer's memory
    /// (6 * 2^f bytes) and how many distinct segments the trainer can tell apart.
    pub hash_log: u32,
}

/// Dictionaries trained while writing: [`DICT_SIZE`], no acceleration, and a 768 KiB table
/// (`f` 17), which a bulk load pays on every training.
pub const STREAM_TRAINING: Training = Training {
    size: DICT_SIZE,
    accel: 1,
    hash_log: 17,
};

/// Trains a dictionary from sample pages as `how` says; `None` when zstd finds too little to
/// learn from.
///
/// Uses zstd's fastCover trainer with fixed parameters rather than `ZDICT_trainFromBuffer`,
/// which tries several parameter sets: one training instead of many keeps dictionary
/// maintenance cheap during bulk loads. On org.Hs.eg.sqlite these parameters (k = 2048) came
/// within 0.4% of the optimizer's size at a third of its training time.
pub fn train_dictionary(samples: &Samples, level: i32, how: Training) -> Option<Vec<u8>> {
    let flat = &samples.flat;
    let sizes = vec![samples.slot; samples.count];
    let params = zstd_sys::ZDICT_fastCover_params_t {
        k: 2048,
        d: 8,
        f: how.hash_log,
        steps: 0,
        nbThreads: 1,
        splitPoint: 1.0,
        accel: how.accel,
        shrinkDict: 0,
        shrinkDictMaxRegression: 0,
        zParams: zstd_sys::ZDICT_params_t {
            compressionLevel: level,
            notificationLevel: 0,
            dictID: 0,
        },
    };
    let mut dict = vec![0u8; how.size];
    // SAFETY: the buffers and their sizes are consistent: `flat` is the concatenation of
    // `samples` whose lengths are `sizes`, and `dict` has `dict.len()` writable bytes.
    let n = unsafe {
        zstd_sys::ZDICT_trainFromBuffer_fastCover(
            dict.as_mut_ptr().cast(),
            dict.len(),
            flat.as_ptr().cast(),
            sizes.as_ptr(),
            u32::try_from(sizes.len()).ok()?,
            params,
        )
    };
    // SAFETY: plain query on a result code.
    if unsafe { zstd_sys::ZDICT_isError(n) } != 0 {
        return None;
    }
    dict.truncate(n);
    Some(dict)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(seed: u64) -> Vec<u8> {
        (0..4096u64)
            .map(|i| (((i / 7) * seed + i % 13) % 61) as u8 + b'0')
            .collect()
    }

    fn stored(pageno: u64, e: &EncodedPage) -> StoredPage<'_> {
        StoredPage {
            pageno,
            data: &e.data,
            meta1: e.meta1,
            meta2: e.meta2,
        }
    }

    #[test]
    fn compressible_page_round_trips() {
        let p = page(3);
        let e = Encoder::new(6).encode(2, &p, None);
        assert_eq!(e.meta1, Some(-1));
        assert!(e.data.len() < p.len() / 2);
        let mut out = vec![0; p.len()];
        FrameDecoder::default()
            .decode(stored(2, &e), None, &mut out)
            .unwrap();
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
        assert_eq!(Encoder::new(6).encode(2, &p, None).meta1, None);
    }

    #[test]
    fn dictionary_pages_need_their_dictionary() {
        let mut samples = Samples::default();
        for seed in 1..=120 {
            samples.push(&page(seed));
        }
        let dict = train_dictionary(&samples, 6, STREAM_TRAINING).expect("trainable");
        let cdict = CompressionDict::new(7, &dict);
        let p = page(200);
        let e = Encoder::new(6).encode(2, &p, Some(&cdict));
        assert_eq!(e.meta1, Some(7));
        let mut out = vec![0; p.len()];
        let mut d = FrameDecoder::default();
        assert!(d.decode(stored(2, &e), None, &mut out).is_err());
        let ddict = prepare_dict(7, &dict).unwrap();
        d.decode(stored(2, &e), Some(&ddict), &mut out).unwrap();
        assert_eq!(out, p);
    }

    #[test]
    fn damaged_frames_are_errors() {
        let p = page(5);
        let e = Encoder::new(6).encode(2, &p, None);
        let mut out = vec![0; p.len()];
        let mut d = FrameDecoder::default();
        let half = EncodedPage {
            data: e.data[..e.data.len() / 2].to_vec(),
            ..e.clone()
        };
        assert!(d.decode(stored(2, &half), None, &mut out).is_err());
        assert!(d
            .decode(stored(2, &plain(2, &p[..100])), None, &mut out)
            .is_err());
        let unknown = EncodedPage {
            meta1: Some(-5),
            ..e.clone()
        };
        assert!(d.decode(stored(2, &unknown), None, &mut out).is_err());
    }

    /// Every single-bit flip anywhere in a stored page is an error, never another page.
    #[test]
    fn any_bit_flip_is_detected() {
        let p = page(5);
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut d = FrameDecoder::default();
        let mut out = vec![0; p.len()];
        for e in [Encoder::new(6).encode(9, &p, None), plain(9, &p)] {
            d.decode(stored(9, &e), None, &mut out).unwrap();
            assert_eq!(out, p);
            for _ in 0..300 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let mut bad = e.clone();
                let bit = (rng % (bad.data.len() as u64 * 8)) as usize;
                bad.data[bit / 8] ^= 1 << (bit % 8);
                let r = d.decode(stored(9, &bad), None, &mut out);
                assert!(r.is_err() || out == p, "bit {bit} of {:?}", e.meta1);
            }
            // The same bytes stored under another page number.
            assert!(d.decode(stored(10, &e), None, &mut out).is_err());
            // A frame without its row checksum (as 0.9.4 writes it) still has zstd's.
            if e.meta1.is_some() {
                let mut bad = EncodedPage {
                    meta2: None,
                    ..e.clone()
                };
                let at = bad.data.len() / 2;
                bad.data[at] ^= 0x10;
                let r = d.decode(stored(9, &bad), None, &mut out);
                assert!(r.is_err() || out == p);
            }
        }
    }
}
