//! The VFS log: messages on standard error, filtered by the `vfs_log` level of the most
//! recently opened database (-1 = default: errors only; 0 = silent; higher = more detail).

use crate::web::fork::write_stderr;
use std::sync::atomic::{AtomicI32, Ordering};

static LEVEL: AtomicI32 = AtomicI32::new(-1);

/// Sets the level from a `vfs_log` URI parameter, when one was given.
pub fn set_level(level: Option<i64>) {
    if let Some(level) = level {
        LEVEL.store(level.clamp(-1, 5) as i32, Ordering::Relaxed);
    }
}

/// The level in force, with the default resolved (errors only).
pub fn level() -> i32 {
    match LEVEL.load(Ordering::Relaxed) {
        -1 => 1,
        n => n,
    }
}

/// Logs an error (level >= 1).
pub fn error(message: &str) {
    if level() >= 1 {
        write_stderr(&format!("[genomicsqlite] {message}"));
    }
}

/// Logs a detail at `at` (2 = notable events, ... 5 = every operation).
pub fn debug(at: i32, message: impl FnOnce() -> String) {
    if level() >= at {
        write_stderr(&format!("[genomicsqlite] {}", message()));
    }
}
