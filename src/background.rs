//! Background work on a process-wide pool of worker threads: compressing written pages and
//! decompressing pages read ahead of SQLite.
//!
//! Both keep their results bounded: a [`CompressPipeline`] holds at most `2 × threads` pages in
//! flight (the writer waits for the oldest when full) and a [`Prefetcher`] at most
//! [`PREFETCH_BYTES`] of decoded pages. Results come back to the connection's own thread, which
//! alone touches the outer database, so the outer connection never needs locking.

use crate::error::{Error, Result};
use crate::ffi::SQLITE_IOERR_WRITE;
use crate::store::codec::{EncodedPage, PageCodec, StoredPage};
use crate::web::fork::{generation as fork_generation, PerFork};
use crate::web::readahead::{Observed, StreamTracker};
use crossbeam_channel::{unbounded, Receiver, Sender};
use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Upper bound on decoded pages a prefetcher holds ahead of SQLite, per connection.
pub const PREFETCH_BYTES: usize = 4 << 20;

/// The shared worker pool of this process: one thread per processor, at most 8. A `fork()`
/// child builds its own (the parent's workers do not exist there; see [`PerFork`]).
fn pool() -> &'static rayon::ThreadPool {
    static POOL: PerFork<rayon::ThreadPool> = PerFork::new();
    POOL.get(|_| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(crate::config::host_threads() as usize)
            .thread_name(|i| format!("genomicsqlite-{i}"))
            .build()
            // Building a pool only fails if threads cannot be spawned at all; a pool of one is
            // then tried, and failing that the process is out of resources anyway.
            .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
            .expect("cannot start a worker thread")
    })
}

/// A compressed page on its way to the outer database.
pub struct Compressed {
    pub pageno: u64,
    pub encoded: EncodedPage,
    pub btree_interior: bool,
}

/// Compresses pages on the pool and returns them in submission order.
pub struct CompressPipeline {
    max_in_flight: usize,
    next_seq: u64,
    next_out: u64,
    tx: Sender<(u64, Result<Compressed>)>,
    rx: Receiver<(u64, Result<Compressed>)>,
    finished: BTreeMap<u64, Result<Compressed>>,
    /// Latest submitted bytes of each page not yet handed back, for reads in the meantime.
    pending: HashMap<u64, (u64, Arc<Vec<u8>>)>,
    /// The [`fork_generation`] its work was started in.
    generation: u64,
    /// Pages submitted in the parent were lost in a `fork()` (see `leave_parents_work`).
    lost_in_fork: bool,
}

impl CompressPipeline {
    pub fn new(threads: usize) -> CompressPipeline {
        let (tx, rx) = unbounded();
        CompressPipeline {
            max_in_flight: 2 * threads.max(1),
            next_seq: 0,
            next_out: 0,
            tx,
            rx,
            finished: BTreeMap::new(),
            pending: HashMap::new(),
            generation: fork_generation(),
            lost_in_fork: false,
        }
    }

    /// In a `fork()` child: a fresh channel replaces the one the parent's workers feed (they
    /// will never send here, and may hold its internal lock, so it is not even dropped). Pages
    /// they were compressing are lost, which [`drain`](Self::drain) reports.
    fn leave_parents_work(&mut self) {
        if self.generation != fork_generation() {
            let lost = self.lost_in_fork || self.in_flight() > 0;
            self.abandon();
            self.lost_in_fork = lost;
        }
    }

    fn in_flight(&self) -> usize {
        (self.next_seq - self.next_out) as usize
    }

    /// Queues a page for encoding by codec `C` as `recipe` says.
    pub fn submit<C: PageCodec>(
        &mut self,
        pageno: u64,
        page: Vec<u8>,
        btree_interior: bool,
        recipe: C::Recipe,
    ) {
        self.leave_parents_work();
        let seq = self.next_seq;
        self.next_seq += 1;
        let page = Arc::new(page);
        self.pending.insert(pageno, (seq, page.clone()));
        let tx = self.tx.clone();
        pool().spawn_fifo(move || {
            let result = catch_unwind(AssertUnwindSafe(|| C::encode(&recipe, pageno, &page)))
                .map(|encoded| Compressed {
                    pageno,
                    encoded,
                    btree_interior,
                })
                .map_err(|_| {
                    Error::new(
                        SQLITE_IOERR_WRITE,
                        format!("internal error compressing page {pageno}"),
                    )
                });
            // The receiver is gone only if the transaction was abandoned; nothing to do then.
            let _ = tx.send((seq, result));
        });
    }

    /// The latest bytes submitted for `pageno`, if it has not reached the database yet.
    pub fn pending_page(&self, pageno: u64) -> Option<&[u8]> {
        self.pending.get(&pageno).map(|(_, page)| page.as_slice())
    }

    /// Hands finished pages to `store` in submission order: those ready now, then (if the
    /// pipeline is full, or `all`) waits for more until under the limit (or empty). A page the
    /// workers could not compress is a write error.
    pub fn drain(
        &mut self,
        all: bool,
        mut store: impl FnMut(Compressed) -> Result<()>,
    ) -> Result<()> {
        self.leave_parents_work();
        if std::mem::take(&mut self.lost_in_fork) {
            return Err(Error::new(
                SQLITE_IOERR_WRITE,
                "a connection with a write in progress was carried across fork()",
            ));
        }
        loop {
            while let Ok((seq, r)) = self.rx.try_recv() {
                self.finished.insert(seq, r);
            }
            while let Some(r) = self.finished.remove(&self.next_out) {
                self.next_out += 1;
                let page = r?;
                if self
                    .pending
                    .get(&page.pageno)
                    .is_some_and(|(seq, _)| *seq < self.next_out)
                {
                    self.pending.remove(&page.pageno);
                }
                store(page)?;
            }
            let limit = if all {
                0
            } else {
                self.max_in_flight.saturating_sub(1)
            };
            if self.in_flight() <= limit {
                return Ok(());
            }
            match self.rx.recv() {
                Ok((seq, r)) => {
                    self.finished.insert(seq, r);
                }
                Err(_) => {
                    return Err(Error::new(
                        SQLITE_IOERR_WRITE,
                        "compression worker disappeared",
                    ))
                }
            }
        }
    }

    /// Drops everything not yet stored (the transaction is being rolled back). Workers still
    /// busy finish into a channel nobody reads. A `fork()` child leaves the parent's channel
    /// alone (see `leave_parents_work`).
    pub fn abandon(&mut self) {
        let old = std::mem::replace(self, CompressPipeline::new(self.max_in_flight / 2));
        if old.generation != fork_generation() {
            std::mem::forget(old);
        }
    }
}

/// A stored page as fetched from the outer database, with what its codec needs to decode it.
pub struct RawPage<K> {
    pub pageno: u64,
    pub data: Vec<u8>,
    pub meta1: Option<i64>,
    pub meta2: Option<i64>,
    pub key: K,
}

/// Decodes pages ahead of SQLite while it reads sequentially.
///
/// Several forward streams are followed at once (see [`StreamTracker`]); each stream's
/// read-ahead window doubles as it keeps going. Reads that move forward by a few pages count as
/// sequential: b-tree leaves are nearly contiguous after VACUUM, with interior pages between them.
pub struct Prefetcher {
    page_size: usize,
    streams: StreamTracker,
    slots: BTreeMap<u64, Receiver<Result<Vec<u8>>>>,
    /// The [`fork_generation`] its slots were filled in.
    generation: u64,
}

/// Streams followed at once.
const MAX_STREAMS: usize = 4;
/// How far forward a read may skip and still continue its stream.
const MAX_SKIP: i64 = 4;

impl Prefetcher {
    pub fn new() -> Prefetcher {
        Prefetcher {
            page_size: 0,
            streams: StreamTracker::new(MAX_STREAMS, 1..=MAX_SKIP),
            slots: BTreeMap::new(),
            generation: fork_generation(),
        }
    }

    /// In a `fork()` child: forgets the pages being decoded in the parent, whose workers do
    /// not exist here and may hold their channels' internal locks (so the channels are not even
    /// dropped). Returns whether there was such work.
    fn leave_parents_work(&mut self) -> bool {
        if self.generation == fork_generation() {
            return false;
        }
        std::mem::forget(std::mem::take(&mut self.slots));
        self.streams.clear();
        self.generation = fork_generation();
        true
    }

    /// Forgets everything fetched (the database may have changed).
    pub fn clear(&mut self) {
        self.leave_parents_work();
        self.slots.clear();
        self.streams.clear();
    }

    fn max_pages(&self) -> u64 {
        (PREFETCH_BYTES / self.page_size.max(1)).max(1) as u64
    }

    /// Notes a read of `pageno`; returns the first and last page worth fetching ahead now
    /// (none for random access).
    pub fn observe(&mut self, pageno: u64, page_size: usize) -> Option<(u64, u64)> {
        self.leave_parents_work();
        if page_size != self.page_size {
            self.clear();
            self.page_size = page_size;
        }
        let Observed::Continued {
            index,
            previous_last,
            ..
        } = self.streams.observe(pageno, pageno)
        else {
            return None;
        };
        // Pages this stream skipped over will not be read by it.
        let skipped: Vec<u64> = self
            .slots
            .range(previous_last + 1..pageno)
            .map(|(&p, _)| p)
            .collect();
        for p in skipped {
            self.slots.remove(&p);
        }
        let max_pages = self.max_pages();
        let in_flight = self.slots.len() as u64;
        let s = self.streams.get_mut(index)?;
        if s.run < 3 || in_flight >= max_pages {
            return None;
        }
        let window = (u64::from(s.run) * 2).min(max_pages / 2).max(1);
        let from = s.frontier.max(pageno + 1);
        let to = pageno + window;
        // Fetch in batches of at least a quarter window, so each query is worth its cost.
        if to < from || to - from + 1 < (window / 4).max(1) {
            return None;
        }
        s.frontier = to + 1;
        Some((from, to))
    }

    /// Decodes `pages` on the pool with codec `C`.
    pub fn start<C: PageCodec>(&mut self, pages: Vec<RawPage<C::Key>>) {
        self.leave_parents_work();
        for raw in pages {
            let (tx, rx) = crossbeam_channel::bounded(1);
            let page_size = self.page_size;
            self.slots.insert(raw.pageno, rx);
            pool().spawn_fifo(move || {
                let result = catch_unwind(AssertUnwindSafe(|| {
                    let mut out = vec![0u8; page_size];
                    let row = StoredPage {
                        pageno: raw.pageno,
                        data: &raw.data,
                        meta1: raw.meta1,
                        meta2: raw.meta2,
                    };
                    C::decode(&raw.key, row, &mut out).map(|()| out)
                }))
                .unwrap_or_else(|_| Err(Error::Corrupt("internal error decoding a page".into())));
                let _ = tx.send(result);
            });
        }
    }

    /// The decoded page if it was fetched ahead (waiting for its worker if need be).
    pub fn take(&mut self, pageno: u64) -> Option<Result<Vec<u8>>> {
        if self.leave_parents_work() {
            return None;
        }
        let rx = self.slots.remove(&pageno)?;
        rx.recv().ok()
    }
}
