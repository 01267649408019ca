//! The chunk cache: fixed-size, aligned chunks of the remote file, evicted least recently used
//! first once their total size exceeds the budget. Chunks being fetched are marked pending so
//! that concurrent readers wait for the one transfer instead of issuing duplicates.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

#[derive(Clone)]
pub(crate) struct ChunkCache {
    chunks: HashMap<u64, (Arc<Vec<u8>>, u64)>,
    lru: BTreeMap<u64, u64>,
    tick: u64,
    bytes: usize,
    budget: usize,
    pending: HashSet<u64>,
}

impl ChunkCache {
    pub(crate) fn new(budget: usize) -> ChunkCache {
        ChunkCache {
            chunks: HashMap::new(),
            lru: BTreeMap::new(),
            tick: 0,
            bytes: 0,
            budget,
            pending: HashSet::new(),
        }
    }

    /// The chunk, marking it most recently used.
    pub(crate) fn get(&mut self, idx: u64) -> Option<Arc<Vec<u8>>> {
        self.tick += 1;
        let tick = self.tick;
        let (data, t) = self.chunks.get_mut(&idx)?;
        self.lru.remove(t);
        *t = tick;
        self.lru.insert(tick, idx);
        Some(data.clone())
    }

    pub(crate) fn contains(&self, idx: u64) -> bool {
        self.chunks.contains_key(&idx)
    }

    pub(crate) fn is_pending(&self, idx: u64) -> bool {
        self.pending.contains(&idx)
    }

    pub(crate) fn set_pending(&mut self, idx: u64) {
        self.pending.insert(idx);
    }

    /// Forgets every pending mark (in a `fork()` child's copy: the transfers they wait for
    /// stayed in the parent).
    pub(crate) fn clear_all_pending(&mut self) {
        self.pending.clear();
    }

    pub(crate) fn clear_pending(&mut self, idx: u64) {
        self.pending.remove(&idx);
    }

    /// Insert (or replace) a chunk, then evict least recently used chunks other than this one
    /// until the total is within the budget.
    pub(crate) fn insert(&mut self, idx: u64, data: Vec<u8>) {
        if let Some((old, t)) = self.chunks.remove(&idx) {
            self.lru.remove(&t);
            self.bytes -= old.len();
        }
        self.tick += 1;
        self.bytes += data.len();
        self.chunks.insert(idx, (Arc::new(data), self.tick));
        self.lru.insert(self.tick, idx);
        while self.bytes > self.budget {
            let Some((&t, &victim)) = self.lru.iter().next() else {
                break;
            };
            if victim == idx {
                break;
            }
            self.lru.remove(&t);
            if let Some((d, _)) = self.chunks.remove(&victim) {
                self.bytes -= d.len();
            }
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.chunks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::ChunkCache;
    #[test]
    fn lru_bound() {
        let mut c = ChunkCache::new(300);
        for i in 0..3 {
            c.insert(i, vec![i as u8; 100]);
        }
        assert!(c.get(0).is_some()); // 0 is now the most recent
        c.insert(3, vec![3; 100]); // evicts 1
        assert!(c.contains(0) && !c.contains(1) && c.contains(2) && c.contains(3));
        assert_eq!(c.bytes(), 300);
        c.insert(4, vec![4; 1000]); // bigger than the budget: kept alone
        assert_eq!(c.len(), 1);
        assert!(c.contains(4));
    }
}
