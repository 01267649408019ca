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
use std::sync::{Arc, Mutex};

/// Upper bound on decoded pages a prefetcher holds ahead of SQLite, per connection (plus a
/// quarter of that in page buffers kept for reuse).
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
///
/// What a stream reads next is taken from the b-tree itself where possible: the children of the
/// interior pages read recently are remembered, and a stream reading the children of one of them
/// is read ahead along that list, which skips the interior pages between the leaves and stops at
/// the end of the b-tree instead of decoding the pages of whatever follows it. Other streams (an
/// overflow chain, or a b-tree whose parent page SQLite had cached before) are read ahead as a
/// run of consecutive pages. The work asked for by a stream that gives way to a newer one, or for
/// pages a stream skipped, is dropped, and a worker skips a page nobody waits for any more.
pub struct Prefetcher {
    page_size: usize,
    streams: StreamTracker,
    /// What each stream of `streams` (same index) read ahead from.
    lanes: Vec<Lane>,
    /// The serial the next new stream gets.
    next_serial: u64,
    slots: BTreeMap<u64, Slot>,
    /// Interior b-tree pages read recently.
    interiors: Vec<Interior>,
    /// Counts reads, to find the least recently used interior page.
    tick: u64,
    /// Page buffers SQLite's thread is done with, for the workers to decode into: fresh ones
    /// would be zeroed, and often faulted in, for every page.
    spare: Arc<Mutex<Vec<Vec<u8>>>>,
    /// The [`fork_generation`] its slots were filled in.
    generation: u64,
}

/// A page on its way through a worker.
struct Slot {
    rx: Receiver<Result<Vec<u8>>>,
    /// The serial of the stream that asked for it.
    owner: u64,
    /// The decoding, until a worker or [`Prefetcher::take`] claims it. Workers hold it weakly,
    /// so that dropping the slot cancels work not yet started.
    work: Arc<Mutex<Option<Decode>>>,
}

/// Decodes one page read ahead.
type Decode = Box<dyn FnOnce() -> Result<Vec<u8>> + Send>;

/// Runs `decode`, turning a panic into an error.
fn run(decode: Decode) -> Result<Vec<u8>> {
    catch_unwind(AssertUnwindSafe(decode))
        .unwrap_or_else(|_| Err(Error::Corrupt("internal error decoding a page".into())))
}

/// Claims the decoding of a slot (`None` if a worker has it).
fn claim(work: &Mutex<Option<Decode>>) -> Option<Decode> {
    lock(work).take()
}

/// Locks `m`; its holders never leave the contents half-changed, so a poisoned lock is as good.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The children of an interior b-tree page, in the order SQLite visits them.
struct Interior {
    pageno: u64,
    children: Vec<u64>,
    /// The smallest and largest child, to rule a page out without searching.
    lowest: u64,
    highest: u64,
    used: u64,
}

/// A stream as the prefetcher sees it.
#[derive(Clone, Copy)]
struct Lane {
    serial: u64,
    guide: Option<Guide>,
}

/// Where a stream is in the children of an interior page.
#[derive(Clone, Copy)]
struct Guide {
    parent: u64,
    /// The index of the child the stream read last.
    at: usize,
    /// Children before this index were asked for.
    asked: usize,
}

/// Pages to read ahead, for the stream with serial `owner`.
pub struct ReadAhead {
    pub owner: u64,
    /// Ascending, none of them read ahead already.
    pub pages: Vec<u64>,
}

/// Streams followed at once.
const MAX_STREAMS: usize = 8;
/// How far forward a read may skip and still continue its stream.
const MAX_SKIP: i64 = 4;
/// Each batch of pages read ahead is decoded by this many jobs on the pool (one wake-up of a
/// worker each, rather than one per page), in page order within a job.
const JOBS_PER_BATCH: usize = 2;
/// Interior pages whose children are remembered.
const MAX_INTERIORS: usize = 32;

impl Prefetcher {
    pub fn new() -> Prefetcher {
        Prefetcher {
            page_size: 0,
            streams: StreamTracker::new(MAX_STREAMS, 1..=MAX_SKIP),
            lanes: Vec::new(),
            next_serial: 0,
            slots: BTreeMap::new(),
            interiors: Vec::new(),
            tick: 0,
            spare: Arc::default(),
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
        std::mem::forget(std::mem::take(&mut self.spare));
        self.streams.clear();
        self.lanes.clear();
        self.generation = fork_generation();
        true
    }

    /// Forgets everything fetched (the database may have changed).
    pub fn clear(&mut self) {
        self.leave_parents_work();
        self.slots.clear();
        self.streams.clear();
        self.lanes.clear();
        self.interiors.clear();
    }

    fn max_pages(&self) -> u64 {
        (PREFETCH_BYTES / self.page_size.max(1)).max(1) as u64
    }

    /// Notes a read of `pageno`; returns the pages worth fetching ahead now (none for random
    /// access).
    pub fn observe(&mut self, pageno: u64, page_size: usize) -> Option<ReadAhead> {
        self.leave_parents_work();
        if page_size != self.page_size {
            self.clear();
            self.page_size = page_size;
        }
        self.tick += 1;
        let (index, previous_last) = match self.streams.observe(pageno, pageno) {
            Observed::New { index } => {
                let lane = Lane {
                    serial: self.next_serial,
                    guide: None,
                };
                self.next_serial += 1;
                // The pages the stream this one replaces asked for are kept while there is room:
                // a stream pushed out by a few random reads may still come back for them.
                match self.lanes.get_mut(index) {
                    Some(old) => *old = lane,
                    None => self.lanes.push(lane),
                }
                return None;
            }
            Observed::Continued {
                index,
                previous_last,
                ..
            } => (index, previous_last),
        };
        let owner = self.lanes.get(index)?.serial;
        // Pages this stream skipped over will not be read by it.
        let skipped: Vec<u64> = self
            .slots
            .range(previous_last + 1..pageno)
            .filter(|(_, slot)| slot.owner == owner)
            .map(|(&p, _)| p)
            .collect();
        for p in skipped {
            self.slots.remove(&p);
        }
        let max_pages = self.max_pages();
        let run = self.streams.get(index)?.run;
        if run < 3 {
            return None;
        }
        let window = (u64::from(run) * 2).min(max_pages / 4).max(1);
        if self.slots.len() as u64 + window > max_pages {
            self.make_room(owner);
            if self.slots.len() as u64 + window > max_pages {
                return None;
            }
        }
        // Fetch in batches of at least a quarter window, so each query is worth its cost.
        let batch = (window / 4).max(1);
        let pages = match self.guide(index, pageno) {
            Some(guide) => self.along_parent(index, guide, window, batch)?,
            None => {
                let s = self.streams.get_mut(index)?;
                let from = s.frontier.max(pageno + 1);
                let to = pageno + window;
                if to < from || to - from + 1 < batch {
                    return None;
                }
                s.frontier = to + 1;
                (from..=to).collect()
            }
        };
        let pages: Vec<u64> = pages
            .into_iter()
            .filter(|p| *p != pageno && !self.slots.contains_key(p))
            .collect();
        (!pages.is_empty()).then_some(ReadAhead { owner, pages })
    }

    /// Drops pages read ahead for streams that are gone, and if that is not enough, for all
    /// streams but `owner`: a stream that keeps reading gets the room of those that stopped
    /// (which are not told apart from those that merely pause).
    fn make_room(&mut self, owner: u64) {
        let live: Vec<u64> = self.lanes.iter().map(|l| l.serial).collect();
        self.slots.retain(|_, slot| live.contains(&slot.owner));
        if self.slots.len() as u64 >= self.max_pages() / 2 {
            self.slots.retain(|_, slot| slot.owner == owner);
        }
    }

    /// Where stream `index`, now reading `pageno`, is in the children of a remembered interior
    /// page (updating the stream's guide).
    fn guide(&mut self, index: usize, pageno: u64) -> Option<Guide> {
        let tick = self.tick;
        let lane = self.lanes.get_mut(index)?;
        if let Some(g) = lane.guide.as_mut() {
            if let Some(parent) = self.interiors.iter_mut().find(|i| i.pageno == g.parent) {
                if let Some(at) = [g.at + 1, g.at]
                    .into_iter()
                    .find(|&k| parent.children.get(k) == Some(&pageno))
                {
                    parent.used = tick;
                    g.at = at;
                    return Some(*g);
                }
            }
        }
        let found = self
            .interiors
            .iter_mut()
            .filter(|i| (i.lowest..=i.highest).contains(&pageno))
            .find_map(|i| {
                let at = i.children.iter().position(|&c| c == pageno)?;
                i.used = tick;
                Some(Guide {
                    parent: i.pageno,
                    at,
                    asked: at + 1,
                })
            });
        lane.guide = found;
        found
    }

    /// The next children of the guide's parent to ask for, at most `window` ahead of the
    /// stream, once there are `batch` of them or the last ones.
    fn along_parent(
        &mut self,
        index: usize,
        guide: Guide,
        window: u64,
        batch: u64,
    ) -> Option<Vec<u64>> {
        let children = &self
            .interiors
            .iter()
            .find(|i| i.pageno == guide.parent)?
            .children;
        let from = guide.asked.max(guide.at + 1);
        let to = (guide.at + 1 + window as usize).min(children.len());
        if to <= from || ((to - from) < batch as usize && to < children.len()) {
            return None;
        }
        let mut pages = children[from..to].to_vec();
        pages.sort_unstable();
        pages.dedup();
        if let Some(g) = self.lanes.get_mut(index).and_then(|l| l.guide.as_mut()) {
            g.asked = to;
        }
        Some(pages)
    }

    /// Notes the contents of page `pageno` just read: the children of an interior b-tree page
    /// are where a scan goes next.
    pub fn note_page(&mut self, pageno: u64, page: &[u8]) {
        let Some(children) = interior_children(pageno, page) else {
            return;
        };
        let (Some(&lowest), Some(&highest)) = (children.iter().min(), children.iter().max()) else {
            return;
        };
        let interior = Interior {
            pageno,
            children,
            lowest,
            highest,
            used: self.tick,
        };
        if let Some(k) = self.interiors.iter().position(|i| i.pageno == pageno) {
            self.interiors[k] = interior;
        } else if self.interiors.len() < MAX_INTERIORS {
            self.interiors.push(interior);
        } else if let Some(oldest) = self.interiors.iter_mut().min_by_key(|i| i.used) {
            *oldest = interior;
        }
    }

    /// Decodes `pages` on the pool with codec `C`, for the stream with serial `owner`.
    pub fn start<C: PageCodec>(&mut self, owner: u64, pages: Vec<RawPage<C::Key>>) {
        self.leave_parents_work();
        let mut jobs: Vec<Vec<_>> = Vec::new();
        let per_job = pages.len().div_ceil(JOBS_PER_BATCH).max(1);
        for raw in pages {
            let (tx, rx) = crossbeam_channel::bounded(1);
            let page_size = self.page_size;
            let pageno = raw.pageno;
            let spare = self.spare.clone();
            let decode: Decode = Box::new(move || {
                let mut out = lock(&spare)
                    .pop()
                    .filter(|b| b.len() == page_size)
                    .unwrap_or_else(|| vec![0u8; page_size]);
                let row = StoredPage {
                    pageno: raw.pageno,
                    data: &raw.data,
                    meta1: raw.meta1,
                    meta2: raw.meta2,
                };
                C::decode(&raw.key, row, &mut out).map(|()| out)
            });
            let work = Arc::new(Mutex::new(Some(decode)));
            let for_worker = (Arc::downgrade(&work), tx);
            self.slots.insert(pageno, Slot { rx, owner, work });
            match jobs.last_mut() {
                Some(job) if job.len() < per_job => job.push(for_worker),
                _ => jobs.push(vec![for_worker]),
            }
        }
        for job in jobs {
            pool().spawn_fifo(move || {
                for (work, tx) in job {
                    if let Some(decode) = work.upgrade().and_then(|work| claim(&work)) {
                        let _ = tx.send(run(decode));
                    }
                }
            });
        }
    }

    /// Takes back a page buffer [`take`](Self::take) returned, for decoding another page into.
    pub fn recycle(&mut self, page: Vec<u8>) {
        let mut spare = lock(&self.spare);
        if page.len() == self.page_size && (spare.len() as u64) < self.max_pages() / 4 {
            spare.push(page);
        }
    }

    /// The decoded page if it was fetched ahead: decoded here if no worker has started on it
    /// yet (workers may be slow to get a processor on a busy machine, and SQLite is waiting),
    /// else waiting for the worker.
    pub fn take(&mut self, pageno: u64) -> Option<Result<Vec<u8>>> {
        if self.leave_parents_work() {
            return None;
        }
        let slot = self.slots.remove(&pageno)?;
        match claim(&slot.work) {
            Some(decode) => Some(run(decode)),
            None => slot.rx.recv().ok(),
        }
    }
}

/// The child page numbers of an interior b-tree page (table or index), left to right, or `None`
/// for any other page. Only a hint for read-ahead: child numbers out of range are left out, and
/// a damaged page gives fewer children or none.
fn interior_children(pageno: u64, page: &[u8]) -> Option<Vec<u64>> {
    if !crate::format::is_btree_interior(pageno, page) {
        return None;
    }
    let at = if pageno == 1 {
        crate::format::HEADER_LEN
    } else {
        0
    };
    let u16_at = |k: usize| -> Option<usize> {
        Some(u16::from_be_bytes(page.get(k..k + 2)?.try_into().ok()?) as usize)
    };
    let u32_at = |k: usize| -> Option<u64> {
        Some(u64::from(u32::from_be_bytes(
            page.get(k..k + 4)?.try_into().ok()?,
        )))
    };
    let cells = u16_at(at + 3)?;
    let mut children: Vec<u64> = (0..cells)
        .map_while(|c| u16_at(at + 12 + 2 * c).and_then(u32_at))
        .collect();
    children.extend(u32_at(at + 8));
    children.retain(|&c| c != 0);
    Some(children)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codec::ZstdCodec;

    const PAGE: usize = 16384;

    /// A table-interior page whose cells point at `children` (the last one is the rightmost
    /// pointer), with the b-tree header at `at`.
    fn interior(children: &[u32], at: usize) -> Vec<u8> {
        let mut page = vec![0u8; PAGE];
        page[at] = 0x05;
        let (cells, right) = children.split_at(children.len() - 1);
        page[at + 3..at + 5].copy_from_slice(&(cells.len() as u16).to_be_bytes());
        page[at + 8..at + 12].copy_from_slice(&right[0].to_be_bytes());
        for (k, child) in cells.iter().enumerate() {
            let cell = PAGE - 8 * (k + 1);
            page[at + 12 + 2 * k..at + 14 + 2 * k].copy_from_slice(&(cell as u16).to_be_bytes());
            page[cell..cell + 4].copy_from_slice(&child.to_be_bytes());
        }
        page
    }

    #[test]
    fn children_of_interior_pages() {
        let kids = [7, 3, 9, 12];
        assert_eq!(
            interior_children(5, &interior(&kids, 0)),
            Some(vec![7, 3, 9, 12])
        );
        // Page 1 has its b-tree header after the database header.
        assert_eq!(
            interior_children(1, &interior(&kids, 100)),
            Some(vec![7, 3, 9, 12])
        );
        let mut leaf = interior(&kids, 0);
        leaf[0] = 0x0d;
        assert_eq!(interior_children(5, &leaf), None);
        // A cell pointer past the end of the page ends the list early.
        let mut bad = interior(&kids, 0);
        bad[14..16].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(interior_children(5, &bad), Some(vec![7, 12]));
    }

    /// The pages a prefetcher asks for while pages `reads` are read in turn.
    fn asked_for(p: &mut Prefetcher, reads: impl IntoIterator<Item = u64>) -> Vec<u64> {
        let mut asked = Vec::new();
        for pageno in reads {
            if let Some(ahead) = p.observe(pageno, PAGE) {
                asked.extend(ahead.pages);
            }
        }
        asked
    }

    #[test]
    fn a_scan_is_read_ahead_along_its_parent_and_not_past_the_end() {
        // Leaves 100..=140 with an interior page (120) among them; the next b-tree starts at 141.
        let children: Vec<u32> = (100..=140).filter(|&p| p != 120).collect();
        let mut p = Prefetcher::new();
        p.observe(90, PAGE);
        p.note_page(90, &interior(&children, 0));
        let reads: Vec<u64> = children.iter().map(|&c| u64::from(c)).collect();
        let mut asked = asked_for(&mut p, reads.iter().copied());
        asked.sort_unstable();
        let expected: Vec<u64> = reads.iter().copied().filter(|&c| c > 103).collect();
        assert_eq!(asked, expected);
    }

    #[test]
    fn without_a_parent_a_stream_is_read_ahead_as_a_run() {
        let mut p = Prefetcher::new();
        let asked = asked_for(&mut p, 1000..1010);
        assert!(asked.starts_with(&[1004, 1005, 1006]), "{asked:?}");
        assert!(asked.windows(2).all(|w| w[1] == w[0] + 1), "{asked:?}");
    }

    fn start_plain(p: &mut Prefetcher, owner: u64, pages: &[u64]) {
        let raw = pages
            .iter()
            .map(|&pageno| RawPage {
                pageno,
                data: vec![pageno as u8; PAGE],
                meta1: None,
                meta2: None,
                key: None,
            })
            .collect();
        p.start::<ZstdCodec>(owner, raw);
    }

    #[test]
    fn recycled_buffers_hold_the_next_page() {
        let mut p = Prefetcher::new();
        p.observe(1, PAGE);
        start_plain(&mut p, 0, &[7]);
        let page = p.take(7).unwrap().unwrap();
        assert_eq!(page, vec![7u8; PAGE]);
        p.recycle(page);
        assert_eq!(lock(&p.spare).len(), 1);
        start_plain(&mut p, 0, &[9]);
        assert_eq!(p.take(9).unwrap().unwrap(), vec![9u8; PAGE]);
        assert!(lock(&p.spare).is_empty());
        // A buffer of another size is not kept.
        p.recycle(vec![0u8; 10]);
        assert!(lock(&p.spare).is_empty());
    }

    #[test]
    fn pages_of_stopped_streams_make_room_for_a_running_one() {
        let mut p = Prefetcher::new();
        let ahead = asked_for(&mut p, 0..4);
        let max = p.max_pages();
        assert!(!ahead.is_empty());
        let stopped = p.lanes[0].serial;
        // The first stream asks for pages enough to fill the budget, then stops; random reads
        // push it out of the streams followed.
        let filler: Vec<u64> = (10_000..10_000 + max).collect();
        start_plain(&mut p, stopped, &filler);
        assert_eq!(p.take(10_000).unwrap().unwrap(), vec![16u8; PAGE]);
        for k in 0..MAX_STREAMS as u64 {
            p.observe(50_000 + 100 * k, PAGE);
        }
        assert!(p.lanes.iter().all(|l| l.serial != stopped));
        // A new stream gets going: the stopped stream's pages go, its own are asked for.
        let asked = asked_for(&mut p, 20_000..20_004);
        assert!(!asked.is_empty());
        assert!(p.slots.is_empty(), "{} pages left", p.slots.len());
    }
}
