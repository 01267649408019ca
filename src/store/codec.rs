//! Page encoding, seen from the page store: the [`PageCodec`] trait the store is generic over,
//! and the zstd codec with its dictionary policy ([`ZstdCodec`]; its primitives are in `zstd`).
//!
//! The store knows rows (`data`, `meta1`, `meta2`), slicing and transactions; a codec knows how
//! a page becomes a row and back, and which state of its own it keeps in the outer database
//! (for zstd: dictionaries), which it reads and writes through [`CodecTables`].

mod zstd;

pub use zstd::{plain, EncodedPage, StoredPage};
use zstd::{CompressionDict, DecompressionDict, Encoder, FrameDecoder, Samples, Training};

use crate::error::{Error, Result};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// The outer database as a codec sees it: the rows of its own state.
pub trait CodecTables {
    /// The newest dictionary: `(id, bytes, page_count recorded with it)`.
    fn newest_dict(&mut self) -> Result<Option<(i64, Vec<u8>, i64)>>;
    /// Dictionary `id` (an error naming the corruption if it is missing).
    fn dict(&mut self, id: i64) -> Result<Vec<u8>>;
    /// Stores a new dictionary after every page written before it; returns its id.
    fn add_dict(&mut self, dict: &[u8], page_count: i64) -> Result<i64>;
    /// The error for damaged codec state, naming the database.
    fn corrupt(&self, what: &str) -> Error;
}

/// How inner pages become outer rows and back.
///
/// Encoding and decoding are associated functions of a [`PageCodec::Recipe`] or
/// [`PageCodec::Key`], so that worker threads run them (each with contexts of its own) while
/// the codec value, whose state changes as pages are written, stays on the connection's thread.
pub trait PageCodec: 'static {
    /// How to encode pages now (say, the level and dictionary), for any thread.
    type Recipe: Clone + Send + 'static;
    /// What a row needs to be decoded (say, its dictionary), for any thread.
    type Key: Send + 'static;

    /// Notes that page `pageno` (not page 1, which is stored as is) is about to be written to a
    /// database of `page_count` pages of `page_size` bytes (`None` before it has one), and says
    /// how to encode it. May first store state of its own through `tables`.
    fn prepare_write(
        &mut self,
        pageno: u64,
        page: &[u8],
        page_size: Option<usize>,
        page_count: u64,
        tables: &mut dyn CodecTables,
    ) -> Result<Self::Recipe>;

    /// Encodes page `pageno` as `recipe` says.
    fn encode(recipe: &Self::Recipe, pageno: u64, page: &[u8]) -> EncodedPage;

    /// What decoding a row whose `meta1` is given needs (loaded through `tables` when new).
    fn prepare_read(
        &mut self,
        meta1: Option<i64>,
        tables: &mut dyn CodecTables,
    ) -> Result<Self::Key>;

    /// Decodes a row into `out` (exactly one page long), verifying it.
    fn decode(key: &Self::Key, row: StoredPage<'_>, out: &mut [u8]) -> Result<()>;

    /// The outer transaction rolled back: state stored in it may be gone, forget it all.
    fn forget(&mut self);
}

use zstd::{DICT_SAMPLE_PAGES, DICT_SIZE};

/// The seed of dictionary sampling. Fixed, so that the same pages written in the same order
/// give the same dictionaries and so a byte-identical file (published files keep their
/// checksums); sampling needs an even spread, not unpredictability.
const SAMPLING_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// The dictionary new pages are compressed with, and when to train the next one.
#[derive(Default)]
struct DictState {
    current: Option<Arc<CompressionDict>>,
    /// `page_count` recorded with the current dictionary.
    recorded_pages: i64,
    /// Pages written since the current dictionary was made (by this connection).
    written_since: i64,
    loaded: bool,
    /// A uniform sample of the pages written since the current dictionary was made: the next
    /// dictionary is trained on them, as they predict the pages still to come (say, the rest of
    /// the table being loaded) better than pages from all over the file.
    reservoir: Samples,
    rng: u64,
}

impl DictState {
    /// Offers a written page to the reservoir (Algorithm R).
    fn sample(&mut self, page: &[u8]) {
        let seen = self.written_since as u64;
        if self.reservoir.len() < DICT_SAMPLE_PAGES {
            self.reservoir.push(page);
            return;
        }
        if self.rng == 0 {
            self.rng = SAMPLING_SEED;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let slot = self.rng % seen.max(1);
        if slot < DICT_SAMPLE_PAGES as u64 {
            self.reservoir.replace(slot as usize, page);
        }
    }
}

/// The zstd codec (the format of GenomicSQLite 0.9.4, see `zstd`), with dictionaries trained
/// from the pages written when `use_dictionaries`.
pub struct ZstdCodec {
    level: i32,
    use_dictionaries: bool,
    dict: DictState,
    /// Dictionaries chosen for every page before the database is written ([`DictPlan`]);
    /// when set, the policy of `dict` is not used.
    plan: Option<PlannedDicts>,
    /// Dictionaries prepared for decoding, by id.
    decoding: HashMap<i64, DecompressionDict>,
}

/// How [`ZstdCodec`] encodes pages now.
#[derive(Clone)]
pub struct ZstdRecipe {
    level: i32,
    dict: Option<Arc<CompressionDict>>,
}

thread_local! {
    /// Each thread keeps one compression context per level and one decompression context.
    static ENCODERS: RefCell<HashMap<i32, Encoder>> = RefCell::new(HashMap::new());
    static DECODER: RefCell<FrameDecoder> = RefCell::new(FrameDecoder::default());
}

impl ZstdCodec {
    pub fn new(level: i32, use_dictionaries: bool) -> ZstdCodec {
        ZstdCodec {
            level,
            use_dictionaries,
            dict: DictState::default(),
            plan: None,
            decoding: HashMap::new(),
        }
    }

    /// A codec that writes a whole database whose pages `plan` assigns dictionaries to.
    pub fn planned(level: i32, plan: DictPlan) -> ZstdCodec {
        ZstdCodec {
            plan: Some(PlannedDicts { plan, stored: None }),
            ..ZstdCodec::new(level, true)
        }
    }

    /// Loads the newest dictionary the first time it is needed, and trains a new one when
    /// enough pages were written since (100 sampled pages, [`DICT_SIZE`] bytes, again after 3x
    /// the recorded page count).
    fn maybe_train_dictionary(
        &mut self,
        writing: u64,
        page_size: Option<usize>,
        page_count: u64,
        tables: &mut dyn CodecTables,
    ) -> Result<()> {
        if !self.dict.loaded {
            self.dict.loaded = true;
            if let Some((id, bytes, recorded)) = tables.newest_dict()? {
                self.dict.current = Some(CompressionDict::new(id, &bytes));
                self.dict.recorded_pages = recorded;
            }
        }
        let Some(page_size) = page_size else {
            return Ok(());
        };
        let pages = page_count.max(writing) as i64;
        if self.dict.reservoir.len() < DICT_SAMPLE_PAGES.min(pages.max(1) as usize - 1) {
            return Ok(());
        }
        let due = match self.dict.current {
            None => {
                pages >= DICT_SAMPLE_PAGES as i64
                    && pages * page_size as i64 >= 4 * DICT_SIZE as i64
            }
            Some(_) => self.dict.written_since >= 3 * self.dict.recorded_pages.max(1),
        };
        if !due {
            return Ok(());
        }
        let recorded = if self.dict.current.is_some() {
            self.dict.written_since
        } else {
            pages
        };
        let samples = std::mem::take(&mut self.dict.reservoir);
        // Whatever happens, don't try again before as many pages were written once more.
        self.dict.written_since = 0;
        self.dict.recorded_pages = recorded;
        let Some(dict) = zstd::train_dictionary(&samples, self.level, zstd::STREAM_TRAINING) else {
            return Ok(());
        };
        let id = tables.add_dict(&dict, recorded)?;
        self.dict.current = Some(CompressionDict::new(id, &dict));
        Ok(())
    }
}

impl PageCodec for ZstdCodec {
    type Recipe = ZstdRecipe;
    type Key = Option<DecompressionDict>;

    fn prepare_write(
        &mut self,
        pageno: u64,
        page: &[u8],
        page_size: Option<usize>,
        page_count: u64,
        tables: &mut dyn CodecTables,
    ) -> Result<ZstdRecipe> {
        if let Some(planned) = self.plan.as_mut() {
            return Ok(ZstdRecipe {
                level: self.level,
                dict: planned.dict_for(pageno, tables)?,
            });
        }
        if self.use_dictionaries {
            self.dict.written_since += 1;
            self.dict.sample(page);
            self.maybe_train_dictionary(pageno, page_size, page_count, tables)?;
        }
        Ok(ZstdRecipe {
            level: self.level,
            dict: self.dict.current.clone(),
        })
    }

    fn encode(recipe: &ZstdRecipe, pageno: u64, page: &[u8]) -> EncodedPage {
        ENCODERS.with(|encoders| {
            encoders
                .borrow_mut()
                .entry(recipe.level)
                .or_insert_with(|| Encoder::new(recipe.level))
                .encode(pageno as i64, page, recipe.dict.as_deref())
        })
    }

    fn prepare_read(
        &mut self,
        meta1: Option<i64>,
        tables: &mut dyn CodecTables,
    ) -> Result<Option<DecompressionDict>> {
        let Some(id) = meta1.filter(|&id| id >= 0) else {
            return Ok(None);
        };
        if let Some(dict) = self.decoding.get(&id) {
            return Ok(Some(dict.clone()));
        }
        let bytes = tables.dict(id)?;
        let dict = zstd::prepare_dict(id, &bytes).map_err(|e| tables.corrupt(&e.message()))?;
        self.decoding.insert(id, dict.clone());
        Ok(Some(dict))
    }

    fn decode(key: &Option<DecompressionDict>, row: StoredPage<'_>, out: &mut [u8]) -> Result<()> {
        DECODER.with(|decoder| decoder.borrow_mut().decode(row, key.as_deref(), out))
    }

    fn forget(&mut self) {
        // A dictionary trained in the rolled-back transaction is gone from the outer database,
        // and its id may be handed out again: forget every dictionary.
        self.dict = DictState::default();
        if let Some(planned) = self.plan.as_mut() {
            planned.stored = None;
        }
        self.decoding.clear();
    }
}

/// Pages of a b-tree this large get a dictionary of their own in a [`DictPlan`]. On
/// org.Hs.eg.sqlite (16 KiB pages), 14 b-trees of >= 300 pages hold 80% of the pages; a
/// dictionary for each of >= 100 pages (29) saved only 0.1 MB more of 83.5.
const PLAN_BTREE_PAGES: usize = 300;
/// At most this many dictionaries in a [`DictPlan`] (the largest b-trees get them; the rest
/// share one): a `.dbi` carries every dictionary (`--dbi`; 15 of 63 KiB made that of
/// org.Hs.eg.sqlite 1.5 MB instead of 1.0), so a web reader's first request stays below
/// about 2 MB of them, and a database of very many tables does not become mostly dictionaries.
const PLAN_MAX_DICTS: usize = 32;
/// How many pages, spread evenly over a b-tree, a planned dictionary is trained from (100
/// gave org.Hs.eg.sqlite 1.3 MB more than 300, for 0.6 s less training; 600 with `f` 18
/// took it from 83.43 to 81.92 MB).
const PLAN_SAMPLE_PAGES: usize = 600;
/// How a planned dictionary is trained.
const PLAN_TRAINING: Training = Training {
    // 64 KiB dictionaries trained on 300 pages compress org.Hs.eg.sqlite's pages 5% smaller
    // than 32 KiB ones on 100; 63 KiB fits, with its row, in one outer page of the 64 KiB that
    // `--compact` makes (a 64 KiB one spills into a second: +0.2 MB for 15 dictionaries).
    size: 63 * 1024,
    // Acceleration 4 took about 0.9 s of CPU off compacting org.Hs.eg.sqlite (15
    // dictionaries), for a file 0.07 MB larger (83.43 MB).
    accel: 4,
    // A table of 2^18 entries (1.5 MiB per training) tells apart more of the segments of 600
    // sample pages than the streaming 2^17 does.
    hash_log: 18,
};
/// `DictPlan::page_dict` of a page compressed without dictionary.
const NO_DICT: u16 = u16::MAX;

/// Dictionaries for a whole database, trained before it is written (`--compact`): one per
/// b-tree of at least [`PLAN_BTREE_PAGES`] pages, trained on pages of that b-tree, and one
/// shared by all other pages. Pages of one b-tree resemble each other far more than pages
/// written before them, which is what the streaming policy of [`ZstdCodec`] has to go by.
///
/// Each page's row names its dictionary in `meta1`, as with the streaming policy, so any
/// reader (0.9.4 too) reads the file; a reader loads a dictionary when it first reads a page
/// compressed with it.
pub struct DictPlan {
    /// In the order they are stored (their ids ascend in this order); the shared one last, so
    /// that it is the newest, which later writes to the database go on with.
    dicts: Vec<Vec<u8>>,
    /// The dictionary (index into `dicts`, or [`NO_DICT`]) of page `pageno`, at index
    /// `pageno`: two bytes a page.
    page_dict: Vec<u16>,
    page_count: u32,
}

impl DictPlan {
    /// Trains the dictionaries of a database of `page_count` pages whose b-trees (each its
    /// page numbers) are `btrees`; `read_page` reads a page (to sample it). Trains on the
    /// current rayon pool. The result depends only on the pages and the b-trees (not their
    /// order, nor the threads), so compacting the same database twice gives the same file.
    pub fn train(
        page_count: u32,
        mut btrees: Vec<Vec<u32>>,
        level: i32,
        read_page: impl Fn(u32) -> Result<Vec<u8>> + Sync,
    ) -> Result<DictPlan> {
        use rayon::prelude::*;
        for pages in &mut btrees {
            pages.retain(|&p| (2..=page_count).contains(&p));
            pages.sort_unstable();
        }
        btrees.retain(|pages| pages.len() >= PLAN_BTREE_PAGES);
        // the largest first (ties: the first in the file), then in file order
        btrees.sort_unstable_by_key(|pages| (std::cmp::Reverse(pages.len()), pages[0]));
        btrees.truncate(PLAN_MAX_DICTS - 1);
        btrees.sort_unstable_by_key(|pages| pages[0]);
        let mut page_dict = vec![NO_DICT; page_count as usize + 1];
        for (i, pages) in btrees.iter().enumerate() {
            for &p in pages {
                page_dict[p as usize] = i as u16;
            }
        }
        // The shared dictionary: every other page (page numbers dbstat does not list, such as
        // pointer-map pages, included).
        let rest = (2..=page_count)
            .filter(|&p| page_dict[p as usize] == NO_DICT)
            .collect();
        let shared = btrees.len() as u16;
        btrees.push(rest);
        let trained: Vec<Option<Vec<u8>>> = btrees
            .par_iter()
            .map(|pages| {
                if pages.len() < DICT_SAMPLE_PAGES {
                    return Ok(None);
                }
                // evenly spread over the b-tree (its page numbers ascend with its keys, as
                // VACUUM wrote it)
                let n = PLAN_SAMPLE_PAGES.min(pages.len());
                let mut samples = Samples::default();
                for i in 0..n {
                    samples.push(&read_page(pages[i * pages.len() / n])?);
                }
                Ok(zstd::train_dictionary(&samples, level, PLAN_TRAINING))
            })
            .collect::<Result<_>>()?;
        // Number the dictionaries that could be trained; the pages of the others (too few,
        // or too alike) go without.
        let mut dicts = Vec::new();
        let mut renumber = Vec::with_capacity(trained.len());
        for dict in trained {
            renumber.push(match dict {
                Some(dict) => {
                    dicts.push(dict);
                    dicts.len() as u16 - 1
                }
                None => NO_DICT,
            });
        }
        for d in page_dict.iter_mut().skip(2) {
            let group = if *d == NO_DICT { shared } else { *d };
            *d = renumber[usize::from(group)];
        }
        Ok(DictPlan {
            dicts,
            page_dict,
            page_count,
        })
    }

    /// How many dictionaries the plan stores.
    pub fn len(&self) -> usize {
        self.dicts.len()
    }
}

/// A [`DictPlan`] being written: its dictionaries are stored before the first page.
struct PlannedDicts {
    plan: DictPlan,
    /// The plan's dictionaries, once stored (in the plan's order).
    stored: Option<Vec<Arc<CompressionDict>>>,
}

impl PlannedDicts {
    fn dict_for(
        &mut self,
        pageno: u64,
        tables: &mut dyn CodecTables,
    ) -> Result<Option<Arc<CompressionDict>>> {
        if self.stored.is_none() {
            let recorded = i64::from(self.plan.page_count);
            let mut stored = Vec::with_capacity(self.plan.dicts.len());
            for dict in &self.plan.dicts {
                stored.push(CompressionDict::new(tables.add_dict(dict, recorded)?, dict));
            }
            self.stored = Some(stored);
        }
        let index = self.plan.page_dict.get(pageno as usize).copied();
        Ok(index.and_then(|i| self.stored.as_ref()?.get(usize::from(i)).cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1 KiB pages of b-tree `tree`: rows of text alike within the b-tree, page `p` its own.
    fn page(tree: u32, p: u32) -> Vec<u8> {
        let mut text = String::new();
        let mut r = p;
        while text.len() < 1024 {
            r = r.wrapping_mul(2_654_435_761).wrapping_add(tree);
            text.push_str(&format!(
                "t{tree}:{}|{}|",
                r % 9973,
                ["A", "C", "G"][r as usize % 3]
            ));
        }
        text.into_bytes()[..1024].to_vec()
    }

    #[test]
    fn plan_gives_the_largest_btrees_a_dictionary_each_and_the_rest_one() {
        // b-tree t holds 300 + t consecutive pages, from page 2 on
        let sizes: Vec<u32> = (0..PLAN_MAX_DICTS as u32 + 8).map(|t| 300 + t).collect();
        let mut btrees = Vec::new();
        let mut next = 2;
        for &n in &sizes {
            btrees.push((next..next + n).collect::<Vec<u32>>());
            next += n;
        }
        let page_count = next - 1;
        let tree_of = |p: u32| btrees.iter().position(|b| b.contains(&p)).unwrap() as u32;
        let read = |p: u32| Ok(page(tree_of(p), p));
        let plan = DictPlan::train(page_count, btrees.clone(), 6, read).unwrap();
        assert_eq!(plan.len(), PLAN_MAX_DICTS);
        let shared = (PLAN_MAX_DICTS - 1) as u16;
        // the smallest (all but PLAN_MAX_DICTS - 1) share the last dictionary; each larger one
        // has its own, in file order
        let sharing = btrees.len() - (PLAN_MAX_DICTS - 1);
        for (t, pages) in btrees.iter().enumerate() {
            let want = if t < sharing {
                shared
            } else {
                (t - sharing) as u16
            };
            assert!(
                pages.iter().all(|&p| plan.page_dict[p as usize] == want),
                "b-tree {t}"
            );
        }
        assert_eq!(plan.page_dict[1], NO_DICT, "page 1 is stored as is");
        // the same plan whatever order the b-trees come in
        let mut reversed = btrees.clone();
        reversed.reverse();
        let again = DictPlan::train(page_count, reversed, 6, read).unwrap();
        assert_eq!(again.dicts, plan.dicts);
        assert_eq!(again.page_dict, plan.page_dict);
    }
}
