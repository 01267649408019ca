//! fork() while another thread holds one of SQLite's process-wide mutexes: the library has
//! `fork()` wait for it (src/sqlite_api.rs, `FORK_HELD_MUTEXES`), so the child never inherits it
//! locked. Without that, the child's first `sqlite3_open` (the main mutex, to find its VFS) or
//! allocation (the allocator's) hangs forever: seen in tests/py/test_fork.py, where a parent
//! thread ending a transaction held the main mutex at the fork. Here a thread holds each mutex
//! on purpose across the fork, so a regression hangs every time instead of once in a thousand.

use genomicsqlite::{open, Config};
use genomicsqlite_test_support::{fork_and_wait, rw, Child};
use rusqlite::ffi;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the holder keeps the mutex after the fork began.
const HOLD: Duration = Duration::from_millis(300);

/// Enters SQLite's static mutex `id`, returns the entered mutex.
fn enter(id: i32) -> *mut ffi::sqlite3_mutex {
    // SAFETY: a static mutex of the linked SQLite (alloc only looks it up), entered on this thread.
    unsafe {
        let m = ffi::sqlite3_mutex_alloc(id);
        assert!(!m.is_null(), "SQLite has no static mutex {id}");
        ffi::sqlite3_mutex_enter(m);
        m
    }
}

fn leave(m: *mut ffi::sqlite3_mutex) {
    // SAFETY: entered by `enter` on this thread.
    unsafe { ffi::sqlite3_mutex_leave(m) }
}

#[test]
fn children_never_inherit_a_held_sqlite_mutex() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fork.db");
    let path = path.to_str().unwrap();
    // Opening through the library installs its fork handlers, as any program using it does.
    let conn = open(path, rw(), &Config::default()).unwrap();
    conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (42);")
        .unwrap();
    drop(conn);

    for (name, id) in [
        ("main", ffi::SQLITE_MUTEX_STATIC_MAIN),
        ("allocator", ffi::SQLITE_MUTEX_STATIC_MEM),
    ] {
        let (held, wait_held) = mpsc::channel();
        let holder = std::thread::spawn(move || {
            let m = enter(id);
            held.send(()).unwrap();
            std::thread::sleep(HOLD);
            leave(m);
        });
        wait_held.recv().unwrap();
        let t0 = Instant::now();
        let outcome = fork_and_wait(|| {
            // The mutex itself, then what a child does with it: open and query.
            leave(enter(id));
            match open(path, rw(), &Config::default())
                .and_then(|c| Ok(c.query_row("SELECT x FROM t", [], |r| r.get::<_, i64>(0))?))
            {
                Ok(42) => 0,
                Ok(_) => 3,
                Err(_) => 2,
            }
        });
        holder.join().unwrap();
        assert_eq!(
            outcome,
            Child::Exited(0),
            "the child of a fork while another thread held SQLite's {name} mutex"
        );
        // The fork waited for the holder rather than leaving the mutex locked in the child.
        assert!(
            t0.elapsed() >= HOLD / 2,
            "fork did not wait for SQLite's {name} mutex"
        );
    }
}
