//! Typed forms of the integers SQLite passes around for open modes and file locks. Safe code
//! (the VFS file objects, the page store, the routine-table wrappers) works with these; the raw
//! `c_int` exists only where SQLite calls us or we call SQLite.

use std::os::raw::c_int;

bitflags::bitflags! {
    /// `SQLITE_OPEN_*`: how a connection or a file is opened. Bits we do not name are kept as
    /// they came (`from_bits_retain`), so flags handed on to another VFS arrive unchanged.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct OpenFlags: c_int {
        const READONLY = 0x1;
        const READWRITE = 0x2;
        const CREATE = 0x4;
        const URI = 0x40;
        const MAIN_DB = 0x100;
        const MAIN_JOURNAL = 0x800;
        const NOMUTEX = 0x8000;
        const WAL = 0x80000;
        const _ = !0;
    }
}

impl OpenFlags {
    /// The flags SQLite passed (every bit kept).
    pub fn from_raw(raw: c_int) -> Self {
        Self::from_bits_retain(raw)
    }
}

/// `SQLITE_LOCK_*`: the lock a connection holds on a database file, in increasing strength
/// (SQLite only ever moves one file up this ladder with xLock and down with xUnlock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
#[repr(i32)]
pub enum LockLevel {
    #[default]
    None = 0,
    Shared = 1,
    Reserved = 2,
    Pending = 3,
    Exclusive = 4,
}

impl LockLevel {
    /// The level of a raw `SQLITE_LOCK_*` value; `None` for a value SQLite never sends.
    pub fn from_raw(raw: c_int) -> Option<Self> {
        Some(match raw {
            0 => LockLevel::None,
            1 => LockLevel::Shared,
            2 => LockLevel::Reserved,
            3 => LockLevel::Pending,
            4 => LockLevel::Exclusive,
            _ => return None,
        })
    }

    pub fn as_raw(self) -> c_int {
        self as c_int
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_levels_round_trip_and_order() {
        for raw in 0..=4 {
            assert_eq!(LockLevel::from_raw(raw).map(LockLevel::as_raw), Some(raw));
        }
        assert_eq!(LockLevel::from_raw(5), None);
        assert_eq!(LockLevel::from_raw(-1), None);
        assert!(LockLevel::None < LockLevel::Shared && LockLevel::Reserved < LockLevel::Exclusive);
    }

    #[test]
    fn open_flags_keep_unnamed_bits() {
        // SQLITE_OPEN_TEMP_DB (0x200) and SQLITE_OPEN_EXRESCODE (0x02000000) are not named.
        let raw = 0x0200_0000 | 0x200 | 0x2;
        let flags = OpenFlags::from_raw(raw);
        assert!(flags.contains(OpenFlags::READWRITE) && !flags.contains(OpenFlags::MAIN_DB));
        assert_eq!(flags.bits(), raw);
    }
}
