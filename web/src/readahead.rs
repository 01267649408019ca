//! Sequential-stream detection for read-ahead, shared by the web reader (over chunks of the
//! remote file) and the local page store (over inner pages decoded ahead on the workers).
//!
//! Several streams are followed at once, since a join reads a table and one or more indexes in
//! step. A read continues a stream when it starts within a window around the stream's last
//! unit (a few units forward: b-tree leaves are nearly contiguous after VACUUM, with interior
//! pages between them; or a little backward: a read of the chunk just read). What to fetch
//! ahead, and how much, is the caller's decision: this only tells which stream a read belongs
//! to and how long that stream has been advancing.

use std::ops::RangeInclusive;

/// One run of reads moving forward.
#[derive(Debug, Clone, Copy)]
pub struct Stream {
    /// The last unit (page or chunk) the stream read.
    pub last: u64,
    /// How many reads advanced the stream (started after its last unit).
    pub run: u32,
    /// The first unit not yet requested ahead on the stream's behalf.
    pub frontier: u64,
    /// When the stream was last used (tracker ticks).
    used: u64,
}

/// Which stream a read belongs to (see [`StreamTracker::observe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// A new stream at `index` (it replaced the least recently used one if all were taken).
    New { index: usize },
    /// The read continued the stream at `index`, whose last unit was `previous_last`; it
    /// `advanced` the stream when it started after that unit.
    Continued {
        index: usize,
        previous_last: u64,
        advanced: bool,
    },
}

impl Observed {
    pub fn index(self) -> usize {
        match self {
            Observed::New { index } | Observed::Continued { index, .. } => index,
        }
    }
}

/// The streams of one file.
#[derive(Debug, Clone)]
pub struct StreamTracker {
    streams: Vec<Stream>,
    max_streams: usize,
    /// A read starting at `first` continues a stream whose last unit is `last` when
    /// `first - last` lies in this range.
    steps: RangeInclusive<i64>,
    tick: u64,
}

impl StreamTracker {
    /// Follows up to `max_streams` streams; a read continues one when its first unit is
    /// `steps` (say `1..=4`: one to four units forward) from the stream's last unit.
    pub fn new(max_streams: usize, steps: RangeInclusive<i64>) -> StreamTracker {
        StreamTracker {
            streams: Vec::new(),
            max_streams,
            steps,
            tick: 0,
        }
    }

    /// Forgets every stream.
    pub fn clear(&mut self) {
        self.streams.clear();
    }

    /// Notes a read of units `first..=last`.
    pub fn observe(&mut self, first: u64, last: u64) -> Observed {
        self.tick += 1;
        let tick = self.tick;
        let steps = &self.steps;
        let found = self
            .streams
            .iter()
            .position(|s| steps.contains(&(first.wrapping_sub(s.last) as i64)));
        if let Some(index) = found {
            let s = &mut self.streams[index];
            let previous_last = s.last;
            let advanced = first > previous_last;
            if advanced {
                s.run = s.run.saturating_add(1);
            }
            s.last = s.last.max(last);
            s.used = tick;
            return Observed::Continued {
                index,
                previous_last,
                advanced,
            };
        }
        let fresh = Stream {
            last,
            run: 0,
            frontier: last + 1,
            used: tick,
        };
        let index = if self.streams.len() < self.max_streams {
            self.streams.push(fresh);
            self.streams.len() - 1
        } else {
            let oldest = self
                .streams
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.used)
                .map_or(0, |(k, _)| k);
            self.streams[oldest] = fresh;
            oldest
        };
        Observed::New { index }
    }

    /// The stream at `index` (as [`StreamTracker::observe`] returned it).
    pub fn get(&self, index: usize) -> Option<&Stream> {
        self.streams.get(index)
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut Stream> {
        self.streams.get_mut(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_reads_advance_a_stream() {
        let mut t = StreamTracker::new(2, 1..=4);
        assert_eq!(t.observe(10, 10), Observed::New { index: 0 });
        assert_eq!(t.get(0).unwrap().frontier, 11);
        for (page, previous) in [(11, 10), (14, 11), (15, 14)] {
            assert_eq!(
                t.observe(page, page),
                Observed::Continued {
                    index: 0,
                    previous_last: previous,
                    advanced: true
                }
            );
        }
        assert_eq!(t.get(0).unwrap().run, 3);
        // Too far, or the same page again: another stream.
        assert_eq!(t.observe(20, 20), Observed::New { index: 1 });
        assert_eq!(t.observe(20, 20), Observed::New { index: 0 });
    }

    #[test]
    fn rereads_continue_without_advancing() {
        let mut t = StreamTracker::new(8, -2..=1);
        t.observe(5, 6);
        assert_eq!(
            t.observe(4, 4),
            Observed::Continued {
                index: 0,
                previous_last: 6,
                advanced: false
            }
        );
        assert_eq!(t.get(0).unwrap().last, 6);
        assert!(matches!(
            t.observe(7, 9),
            Observed::Continued { advanced: true, .. }
        ));
        assert_eq!(t.get(0).unwrap().last, 9);
        assert_eq!(t.get(0).unwrap().run, 1);
    }

    #[test]
    fn the_least_recently_used_stream_is_replaced() {
        let mut t = StreamTracker::new(2, 1..=1);
        t.observe(100, 100);
        t.observe(200, 200);
        t.observe(101, 101);
        // Stream 1 (200) is the least recently used now.
        assert_eq!(t.observe(300, 300), Observed::New { index: 1 });
        assert_eq!(t.get(1).unwrap().last, 300);
        t.clear();
        assert!(t.get(0).is_none());
    }
}
