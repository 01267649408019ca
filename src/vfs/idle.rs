//! Ends outer read transactions that stores keep open between inner ones once nobody has used
//! them for a while (see [`PageStore::release_if_idle`]): an idle reader must not hold up a
//! writer's commit until it happens to read again.
//!
//! One thread per process sleeps until the earliest deadline. A store is queued once per idle
//! stretch, not once per transaction, so a busy reader costs the thread one wake-up per
//! [`crate::store::IDLE_RELEASE`].
//!
//! # fork()
//! The queue and the thread are per process ([`PerFork`]): a child starts its own. A store,
//! though, cannot be rebuilt in a child, so this thread touches one only inside a
//! [`NoForkSection`]: a `fork()` waits the few microseconds until it has let go, and a child
//! never finds a store locked by this thread, which does not exist there.

use crate::store::PageStore;
use crate::web::fork::{NoForkSection, PerFork};
use std::sync::{Condvar, Mutex, TryLockError, Weak};
use std::time::Instant;

type Queue = Vec<(Instant, Weak<Mutex<PageStore>>)>;

struct Releaser {
    queue: Mutex<Queue>,
    wake: Condvar,
}

fn releaser() -> &'static Releaser {
    static RELEASER: PerFork<Releaser> = PerFork::new();
    RELEASER.get(|_| Releaser {
        queue: Mutex::new(Vec::new()),
        wake: Condvar::new(),
    })
}

/// Asks for `store`'s [`PageStore::release_if_idle`] to be called at `at` (and again at the
/// deadline that returns), from the releasing thread, which is started on first use.
pub fn schedule(store: Weak<Mutex<PageStore>>, at: Instant) {
    static STARTED: PerFork<()> = PerFork::new();
    let r = releaser();
    STARTED.get(|_| {
        // Without the thread, stores still let writers in when they next read (they check
        // for a waiting writer at every transaction); only idle ones would hold on longer.
        let spawned = std::thread::Builder::new()
            .name("genomicsqlite-idle".into())
            .spawn(move || run(r));
        if let Err(e) = spawned {
            crate::web::Log::default().error(&format!("cannot start the idle-release thread: {e}"));
        }
    });
    let mut queue = r.queue.lock().unwrap_or_else(|e| e.into_inner());
    let earliest = queue.iter().all(|(t, _)| at < *t);
    queue.push((at, store));
    if earliest {
        r.wake.notify_one();
    }
}

fn run(r: &'static Releaser) {
    loop {
        let due: Queue = {
            let mut queue = r.queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                let now = Instant::now();
                match queue.iter().map(|(t, _)| *t).min() {
                    Some(t) if t <= now => break,
                    Some(t) => {
                        queue = r
                            .wake
                            .wait_timeout(queue, t - now)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                    None => queue = r.wake.wait(queue).unwrap_or_else(|e| e.into_inner()),
                }
            }
            let now = Instant::now();
            let (due, later) = std::mem::take(&mut *queue)
                .into_iter()
                .partition(|(t, _)| *t <= now);
            *queue = later;
            due
        };
        // The queue lock is not held here: a store's thread takes its store's lock and then
        // the queue's, so taking them the other way round could deadlock.
        for (_, weak) in due {
            // Should the file close meanwhile, the store is dropped here and its outer
            // connection closed on this thread, which SQLite allows for a connection no other
            // thread uses.
            let Some(store) = weak.upgrade() else {
                continue;
            };
            let later = Some(Instant::now() + crate::store::IDLE_RELEASE);
            // The section never waits: the store is only tried (a fork waits for the section).
            let next = match NoForkSection::enter() {
                // A fork is being prepared: look again later.
                None => later,
                Some(_section) => match store.try_lock() {
                    Ok(mut s) => s.release_if_idle(Instant::now()),
                    // In use right now, so not idle: look again later.
                    Err(TryLockError::WouldBlock) => later,
                    Err(TryLockError::Poisoned(e)) => {
                        e.into_inner().release_if_idle(Instant::now())
                    }
                },
            };
            if let Some(at) = next {
                r.queue
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((at, weak));
            }
        }
    }
}
