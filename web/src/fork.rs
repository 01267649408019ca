//! Surviving `fork()`: per-process state that a child builds afresh instead of inheriting.
//!
//! A child of a multi-threaded process (Python `multiprocessing` with the default fork start
//! method, job launchers) has a single thread. Whatever lock another thread of the parent held
//! at that moment stays held in the child forever, and the threads that were to fill a channel
//! or finish a transfer are gone. A child that touches such a lock hangs for good.
//!
//! # Design: generations, not locks taken around fork()
//! Every structure that belongs to one process (worker pools, a web file's cache and
//! connections, read-ahead threads) lives in a [`PerFork`] cell that records the fork
//! [`generation`] that built it. A child sees another generation and builds its own, reading
//! the parent's copy at most through non-blocking calls (`try_lock`), and never frees, drops,
//! unlocks or signals it: the parent's copy is leaked in the child (its memory is the parent's
//! copy-on-write pages anyway).
//!
//! The alternative, `pthread_atfork` handlers that take every lock in `prepare` and release
//! them in `parent` and `child`, is not used for these because:
//! * it needs a registry of every lock of every open file, taken in one global order that must
//!   agree with every nesting anywhere in the code; one mistake deadlocks the *parent's* fork;
//! * `prepare` runs in the forking thread (in Python, holding the GIL) and would wait for
//!   whatever a holder does under the lock: a read-ahead thread's HTTP transfer, a write under
//!   a connection's store lock;
//! * it still could not make inherited curl connections (sockets shared with the parent) or
//!   rayon workers (threads gone) usable in the child, which must be replaced anyway.
//!
//! The one place where a parent's structure cannot be rebuilt, a connection's page store held
//! for a moment by the idle-release thread, uses [`NoForkSection`] instead: a short section of a
//! background thread that `fork()` waits out, and that never waits for anything itself.
//!
//! Below this library, SQLite's main and allocator mutexes are taken all the time by every
//! thread (at each transaction's end, by every `sqlite3_malloc`); `fork()` holds them across
//! (see [`hold_across_fork`]).
//!
//! Log lines go out through [`write_stderr`], one `write(2)` each, since Rust's `eprintln!`
//! takes a process-wide lock on standard error that a parent thread may hold at the fork.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Bumped in every child by a `pthread_atfork` child handler (async-signal-safe: one atomic).
static GENERATION: AtomicU64 = AtomicU64::new(0);
static WATCHING: AtomicBool = AtomicBool::new(false);

extern "C" fn in_child() {
    release_held();
    GENERATION.fetch_add(1, Ordering::SeqCst);
    // The threads of any section the fork did not wait out do not exist here.
    IN_SECTION.store(0, Ordering::SeqCst);
    // Forks other threads were preparing at the same time are not this process's.
    FORKING.store(0, Ordering::SeqCst);
}

extern "C" fn in_parent() {
    release_held();
    FORKING.fetch_sub(1, Ordering::SeqCst);
}

/// A lock of a library below this one that `fork()` holds (see [`hold_across_fork`]).
static HELD_LOCK: AtomicUsize = AtomicUsize::new(0);
static HELD_UNLOCK: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    /// Whether this thread's fork took it in `prepare` (per thread: several threads may fork
    /// at once, glibc runs their handlers concurrently; they then take the lock in turn).
    static HELD_TAKEN: Cell<bool> = const { Cell::new(false) };
}

/// Has `fork()` take process-wide locks of a library below this one in its `prepare` step
/// (`lock` takes them all, in the library's own order), after every [`NoForkSection`] ended
/// (sections may need them), and release them in the parent and in the child: a child then
/// never finds one held by a thread it does not have. Only for inner locks, whose holders never
/// wait for another thread before letting go (SQLite's main and allocator mutexes): `prepare`
/// runs in the forking thread, holding whatever it holds. The last registration wins;
/// registering again the same functions is a no-op.
pub fn hold_across_fork(lock: extern "C" fn(), unlock: extern "C" fn()) {
    generation(); // registers the handlers
    HELD_UNLOCK.store(unlock as usize, Ordering::SeqCst);
    HELD_LOCK.store(lock as usize, Ordering::SeqCst);
}

fn held(f: &AtomicUsize) -> Option<extern "C" fn()> {
    match f.load(Ordering::SeqCst) {
        0 => None,
        // SAFETY: only `hold_across_fork` stores here, from an `extern "C" fn()`.
        p => Some(unsafe { std::mem::transmute::<usize, extern "C" fn()>(p) }),
    }
}

fn release_held() {
    if HELD_TAKEN.replace(false) {
        if let Some(unlock) = held(&HELD_UNLOCK) {
            unlock();
        }
    }
}

/// Which process this is, as far as inherited state goes: every `fork()` child has a new
/// generation. (Not the pid, which the kernel may give a grandchild again.)
pub fn generation() -> u64 {
    if !WATCHING.load(Ordering::Acquire) {
        // Threads racing here may each register the handlers: a fork then bumps the generation
        // more than once, which is harmless, while a registration finished before anyone reads
        // the generation is what makes a child never see its parent's value.
        // SAFETY: the handlers only touch atomics and, in `prepare`, sleep; they are valid
        // functions for the life of the process (this library is never unloaded: SQLite does
        // not unload extensions, and the Rust API links it in).
        unsafe { libc::pthread_atfork(Some(before_fork), Some(in_parent), Some(in_child)) };
        WATCHING.store(true, Ordering::Release);
    }
    GENERATION.load(Ordering::Acquire)
}

struct Slot<T> {
    generation: u64,
    value: T,
}

/// A value of which each process (the first one and every `fork()` child) has its own,
/// built on first use in that process. See the module documentation.
pub struct PerFork<T> {
    slot: AtomicPtr<Slot<T>>,
    _owns: PhantomData<T>,
}

// SAFETY: any thread holding `&PerFork<T>` may build a `T` (dropped, if it loses the race,
// on that thread) and get `&T`; the owner drops the current `T` wherever it is.
unsafe impl<T: Send + Sync> Sync for PerFork<T> {}

impl<T> Default for PerFork<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> PerFork<T> {
    /// Empty: the first [`get`](Self::get) builds the value.
    pub const fn new() -> Self {
        PerFork {
            slot: AtomicPtr::new(std::ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// Holding `value`, as this process's.
    pub fn with(value: T) -> Self {
        let slot = Box::new(Slot {
            generation: generation(),
            value,
        });
        PerFork {
            slot: AtomicPtr::new(Box::into_raw(slot)),
            _owns: PhantomData,
        }
    }

    /// This process's value, built by `build` on first use in this process. `build` gets the
    /// value of the process this one was forked from, if any: it may only look at it without
    /// waiting (`try_lock`, atomics), since its locks may be held by threads that no longer
    /// exist. Threads racing to build each call `build`; one value wins, the others are
    /// dropped unused.
    pub fn get(&self, build: impl FnOnce(Option<&T>) -> T) -> &T {
        let generation = generation();
        let mut build = Some(build);
        loop {
            let current = self.slot.load(Ordering::Acquire);
            // SAFETY: a non-null pointer came from Box::into_raw; a slot is freed only by
            // `Drop` (which has `&mut self`) or by the thread that built it and lost the
            // exchange below (never published), so it is alive while `&self` is.
            let previous = unsafe { current.as_ref() };
            if let Some(s) = previous.filter(|s| s.generation == generation) {
                return &s.value;
            }
            let Some(build) = build.take() else {
                // Cannot happen: a lost exchange means a slot of this generation was published.
                continue;
            };
            let value = build(previous.map(|s| &s.value));
            let fresh = Box::into_raw(Box::new(Slot { generation, value }));
            match self
                .slot
                .compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire)
            {
                // The previous process's slot is leaked: see the module documentation.
                // SAFETY: just published; freed only by `Drop`, as above.
                Ok(_) => return unsafe { &(*fresh).value },
                Err(_) => {
                    // SAFETY: `fresh` was never published.
                    drop(unsafe { Box::from_raw(fresh) });
                }
            }
        }
    }

    /// This process's value, if it has one yet.
    pub fn get_mut(&mut self) -> Option<&mut T> {
        let generation = generation();
        // SAFETY: as in `get`; `&mut self` excludes every other access.
        unsafe { self.slot.get_mut().as_mut() }
            .filter(|s| s.generation == generation)
            .map(|s| &mut s.value)
    }
}

impl<T> Drop for PerFork<T> {
    fn drop(&mut self) {
        let p = *self.slot.get_mut();
        if p.is_null() {
            return;
        }
        // SAFETY: the slot is ours alone now (`&mut self`); it came from Box::into_raw.
        let slot = unsafe { Box::from_raw(p) };
        if slot.generation != generation() {
            // Another process's value: its locks and threads are not ours to release.
            std::mem::forget(slot);
        }
    }
}

/// Forks being prepared or under way (a count: glibc lets several threads fork at once, and
/// one finishing must not open sections while another is still forking); see
/// [`NoForkSection`].
static FORKING: AtomicUsize = AtomicUsize::new(0);
/// Threads inside a [`NoForkSection`].
static IN_SECTION: AtomicUsize = AtomicUsize::new(0);
/// The longest a `fork()` waits for sections to end. They last microseconds; a section still
/// running after this is a bug, and the fork goes ahead rather than hang the parent.
const FORK_WAIT: Duration = Duration::from_secs(2);

extern "C" fn before_fork() {
    FORKING.fetch_add(1, Ordering::SeqCst);
    let deadline = Instant::now() + FORK_WAIT;
    while IN_SECTION.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(20));
    }
    // Taken once even if racing first uses registered these handlers more than once.
    if let (false, Some(lock)) = (HELD_TAKEN.get(), held(&HELD_LOCK)) {
        lock();
        HELD_TAKEN.set(true);
    }
}

/// A short stretch of a background thread during which the process must not fork, because a
/// child could not rebuild what the thread is changing (a connection's page store, which holds
/// the connection's outer database). `fork()` waits for open sections to end and no section
/// starts while a fork is being prepared.
///
/// This is sound only for sections that never wait for another thread: the forking thread
/// waits for them while holding whatever it holds (Python's GIL, a host's own locks).
pub struct NoForkSection(());

impl NoForkSection {
    /// Enters a section, or `None` while a `fork()` is being prepared (try again later).
    pub fn enter() -> Option<NoForkSection> {
        generation(); // the handlers must be registered before the first section
        IN_SECTION.fetch_add(1, Ordering::SeqCst);
        // SeqCst on both sides: either the fork's `prepare` sees this thread counted and waits,
        // or this thread sees FORKING and backs out.
        if FORKING.load(Ordering::SeqCst) > 0 {
            IN_SECTION.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(NoForkSection(()))
    }
}

impl Drop for NoForkSection {
    fn drop(&mut self) {
        IN_SECTION.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Writes `line` and a newline to standard error in one `write(2)` (retried only for what is
/// left after a partial write). Unlike `eprintln!` it takes no lock, so it works in a `fork()`
/// child whatever the parent's threads were doing, and lines of concurrent threads do not mix.
pub fn write_stderr(line: &str) {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        // SAFETY: writes from a live buffer of the given length to fd 2; no memory is shared.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n > 0 {
            rest = &rest[n as usize..];
        } else if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {
            continue;
        } else {
            return; // stderr closed or full: a log line is not worth failing for
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn per_fork_builds_once_per_process_and_drops_its_own() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Counted(u32);
        impl Drop for Counted {
            fn drop(&mut self) {
                DROPS.fetch_add(1, Ordering::SeqCst);
            }
        }
        let cell = PerFork::new();
        let mut builds = 0;
        assert_eq!(
            cell.get(|prev: Option<&Counted>| {
                assert!(prev.is_none());
                builds += 1;
                Counted(7)
            })
            .0,
            7
        );
        assert_eq!(cell.get(|_| unreachable!()).0, 7);
        assert_eq!(builds, 1);
        drop(cell);
        assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn racing_builders_agree_on_one_value() {
        let cell: &PerFork<Mutex<usize>> = &PerFork::new();
        let seen: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| s.spawn(move || *cell.get(|_| Mutex::new(i)).lock().unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    }
}
