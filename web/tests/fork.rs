//! fork() while other threads read: a child must never hang on a lock a thread of its parent
//! held at the fork (see src/fork.rs). Threads hammer one shared `WebFile` (cache hits, which
//! take its locks all the time, and a sequential scan that keeps its read-ahead threads busy
//! over a small cache) while this thread forks; each child reads and checks bytes of the file
//! and exits. A child that has not exited within test-support's `CHILD_LIMIT` counts as hung
//! and is killed.
//! Before the fix, about one child in ten hung (on the file's read-ahead or state lock).

use genomicsqlite_test_support::{fork_and_wait, random_bytes, Child, FaultServer, Rng};
use genomicsqlite_web::fork::NoForkSection;
use genomicsqlite_web::{WebFile, WebOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FORKS: usize = 200;

#[test]
fn children_of_a_busy_web_file_never_hang() {
    let srv = FaultServer::start(Duration::from_secs(60));
    let data = Arc::new(random_bytes(8 << 20, 16));
    srv.put("/f.bin", data.to_vec());
    let opts = WebOptions {
        log_level: 0,
        cache_mib: 2,
        prefetch_threads: 2,
        ..WebOptions::default()
    };
    let file = Arc::new(WebFile::open(&srv.url("/f.bin"), &opts).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for t in 0..4u64 {
        let (file, data, stop) = (file.clone(), data.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut rng = Rng(t + 1);
            let mut buf = vec![0u8; 4096];
            let mut pos = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Thread 0 scans (read-ahead busy), the others read the first pages (cached).
                let off = if t == 0 {
                    pos = (pos + 4096) % (data.len() as u64);
                    pos
                } else {
                    rng.below(16) * 4096
                };
                file.read_at(off, &mut buf).unwrap();
                assert!(buf[..] == data[off as usize..off as usize + 4096]);
            }
        }));
    }
    let mut rng = Rng(2026);
    let mut outcomes = Vec::new();
    for _ in 0..FORKS {
        let off = rng.below(data.len() as u64 - 70_000);
        let outcome = fork_and_wait(|| {
            // A random read, then a few sequential ones (the child's own read-ahead).
            let mut buf = vec![0u8; 65536];
            for k in 0..4 {
                let at = off + k * 4096;
                if file.read_at(at, &mut buf).is_err() {
                    return 2;
                }
                if buf[..] != data[at as usize..at as usize + buf.len()] {
                    return 3;
                }
            }
            0
        });
        let failed = outcome != Child::Exited(0);
        outcomes.push(outcome);
        if failed {
            break; // one hung child is enough (and each costs CHILD_LIMIT)
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let bad: Vec<_> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| **o != Child::Exited(0))
        .collect();
    assert!(bad.is_empty(), "children that failed or hung: {bad:?}");
    assert_eq!(outcomes.len(), FORKS);
}

/// A `NoForkSection` is never split by a fork: a thread flags its sections while this thread
/// forks; every child must see the flag down (the fork waited for the section to end).
#[test]
fn fork_waits_out_no_fork_sections() {
    static INSIDE: AtomicBool = AtomicBool::new(false);
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Some(_section) = NoForkSection::enter() else {
                    std::thread::yield_now();
                    continue;
                };
                INSIDE.store(true, Ordering::SeqCst);
                let until = Instant::now() + Duration::from_micros(300);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                INSIDE.store(false, Ordering::SeqCst);
            }
        })
    };
    let mut longest = Duration::ZERO;
    for _ in 0..FORKS {
        let t0 = Instant::now();
        let outcome = fork_and_wait(|| i32::from(INSIDE.load(Ordering::SeqCst)));
        longest = longest.max(t0.elapsed());
        assert_eq!(outcome, Child::Exited(0), "a fork split a section");
    }
    stop.store(true, Ordering::Relaxed);
    worker.join().unwrap();
    assert!(
        longest < Duration::from_secs(1),
        "a fork waited {longest:?}"
    );
}
