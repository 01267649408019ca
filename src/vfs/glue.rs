//! The C side of our VFSes: `sqlite3_vfs` and `sqlite3_io_methods` callbacks that decode their
//! arguments, call a safe [`VfsFile`] or [`Opener`], and turn results back into SQLite codes.
//! Every callback catches panics, so none can unwind into the host. This module is the only
//! place where the VFS layer touches raw pointers or raw flag and lock integers.

use super::{FileKind, Opener, VfsFile};
use crate::error::Error;
use crate::ffi::*;
use crate::flags::{LockLevel, OpenFlags};
use crate::sqlite_api::{self, cstring, text_of};
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Our part of an open file: SQLite's header followed by the Rust object, in the buffer of
/// `szOsFile` bytes SQLite allocates per file. Files we hand to the default VFS use the same
/// buffer for that VFS's own struct instead (see `x_open`).
#[repr(C)]
struct FileHandle {
    base: sqlite3_file,
    /// The file object; taken (and dropped) by xClose.
    file: Option<Box<dyn VfsFile>>,
}

/// What our `sqlite3_vfs` carries in `pAppData`.
struct VfsData {
    /// The VFS that non-database files and OS services are delegated to.
    default: *mut sqlite3_vfs,
    opener: Box<dyn Opener>,
}

/// Runs `f`, turning a panic into `on_panic`.
fn guard<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// Our data of one of our VFSes.
///
/// # Safety
/// `vfs` is a VFS made by [`register`] (which lives as long as the process).
unsafe fn data<'a>(vfs: *mut sqlite3_vfs) -> &'a VfsData {
    // SAFETY: per the contract, pAppData is the VfsData `register` leaked for this VFS.
    unsafe { &*((*vfs).p_app_data as *const VfsData) }
}

/// Runs `op` on the Rust object of one of our open files, turning a panic into `on_panic`.
///
/// # Safety
/// `f` is a file our xOpen opened (its method table is ours) and xClose has not closed.
unsafe fn with_file(
    f: *mut sqlite3_file,
    on_panic: c_int,
    op: impl FnOnce(&mut dyn VfsFile) -> c_int,
) -> c_int {
    // SAFETY: per the contract, `f` begins a FileHandle that x_open wrote; SQLite calls the
    // methods of one file one at a time, so this is the only reference to it.
    let handle = unsafe { &mut *f.cast::<FileHandle>() };
    match handle.file.as_deref_mut() {
        Some(file) => guard(on_panic, || op(file)),
        None => SQLITE_MISUSE,
    }
}

static IO_METHODS: sqlite3_io_methods = sqlite3_io_methods {
    i_version: 1,
    x_close: Some(x_close),
    x_read: Some(x_read),
    x_write: Some(x_write),
    x_truncate: Some(x_truncate),
    x_sync: Some(x_sync),
    x_file_size: Some(x_file_size),
    x_lock: Some(x_lock),
    x_unlock: Some(x_unlock),
    x_check_reserved_lock: Some(x_check_reserved_lock),
    x_file_control: Some(x_file_control),
    x_sector_size: Some(x_sector_size),
    x_device_characteristics: Some(x_device_characteristics),
};

/// Registers a VFS named `name` whose database files come from `opener`; other files and OS
/// services go to the default VFS. Registering the same name twice is a no-op.
pub fn register(name: &'static CStr, opener: Box<dyn Opener>) -> Result<(), Error> {
    let api = sqlite_api::api();
    // SAFETY: plain call into SQLite with a valid string.
    if !unsafe { (api.vfs_find)(name.as_ptr()) }.is_null() {
        return Ok(());
    }
    // SAFETY: plain call into SQLite; null asks for the default VFS.
    let default = unsafe { (api.vfs_find)(std::ptr::null()) };
    // SAFETY: a registered VFS stays valid while registered, and the default one always is.
    let Some(default_ref) = (unsafe { default.as_ref() }) else {
        return Err(Error::new(SQLITE_ERROR, "no default VFS to build on"));
    };
    let vfs = Box::new(sqlite3_vfs {
        i_version: 2,
        sz_os_file: (std::mem::size_of::<FileHandle>() as c_int).max(default_ref.sz_os_file),
        mx_pathname: default_ref.mx_pathname,
        p_next: std::ptr::null_mut(),
        z_name: name.as_ptr(),
        p_app_data: Box::into_raw(Box::new(VfsData { default, opener })) as *mut c_void,
        x_open: Some(x_open),
        x_delete: Some(x_delete),
        x_access: Some(x_access),
        x_full_pathname: Some(x_full_pathname),
        x_dl_open: Some(x_dl_open),
        x_dl_error: Some(x_dl_error),
        x_dl_sym: Some(x_dl_sym),
        x_dl_close: Some(x_dl_close),
        x_randomness: Some(x_randomness),
        x_sleep: Some(x_sleep),
        x_current_time: Some(x_current_time),
        x_get_last_error: Some(x_get_last_error),
        x_current_time_int64: Some(x_current_time_int64),
    });
    // SAFETY: the VFS struct (and its data) is leaked, so it lives as long as the process, as
    // SQLite requires of a registered VFS.
    let rc = unsafe { (api.vfs_register)(Box::into_raw(vfs), 0) };
    if rc != SQLITE_OK {
        return Err(Error::new(rc, format!("cannot register VFS {name:?}")));
    }
    Ok(())
}

/// Reads URI parameter `key` of a database file name SQLite handed to xOpen.
pub struct UriParams(*const c_char);

impl UriParams {
    pub fn get(&self, key: &str) -> Option<String> {
        let key = cstring(key).ok()?;
        // SAFETY: self.0 is the filename SQLite passed to xOpen (valid during the call).
        let p = unsafe { (sqlite_api::api().uri_parameter)(self.0, key.as_ptr()) };
        if p.is_null() {
            None
        } else {
            // SAFETY: NUL-terminated string owned by SQLite.
            Some(unsafe { text_of(p) })
        }
    }
}

unsafe extern "C" fn x_open(
    vfs: *mut sqlite3_vfs,
    name: *const c_char,
    f: *mut sqlite3_file,
    raw_flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite hands xOpen a buffer of szOsFile bytes for the file. A null method table
    // tells SQLite there is nothing to close should the open fail.
    unsafe { (*f).methods = std::ptr::null() };
    guard(SQLITE_CANTOPEN, || {
        // SAFETY: SQLite calls xOpen of the VFS it was registered as.
        let d = unsafe { data(vfs) };
        let flags = OpenFlags::from_raw(raw_flags);
        let kind = FileKind::of(flags, !name.is_null());
        if kind == FileKind::Other {
            // SAFETY: the default VFS gets SQLite's own arguments; the buffer is large enough
            // for its file struct (szOsFile is the larger of the two).
            return unsafe {
                let x_open = (*d.default).x_open.expect("every VFS has xOpen");
                x_open(d.default, name, f, raw_flags, out_flags)
            };
        }
        // SAFETY: the name SQLite passed: null or a NUL-terminated string.
        let path = unsafe { text_of(name) };
        match d.opener.open(kind, &path, &UriParams(name), flags) {
            Ok((object, readonly)) => {
                let handle = FileHandle {
                    base: sqlite3_file {
                        methods: &IO_METHODS,
                    },
                    file: Some(object),
                };
                // SAFETY: the buffer holds at least size_of::<FileHandle>() bytes (our
                // szOsFile) with SQLite's 8-byte allocation alignment; it held nothing to drop.
                unsafe { f.cast::<FileHandle>().write(handle) };
                if !out_flags.is_null() {
                    let out = if readonly {
                        flags.difference(OpenFlags::READWRITE | OpenFlags::CREATE)
                            | OpenFlags::READONLY
                    } else {
                        flags
                    };
                    // SAFETY: a non-null out-pointer from SQLite.
                    unsafe { *out_flags = out.bits() };
                }
                SQLITE_OK
            }
            Err(e) => {
                super::record_open_error(&e);
                e.code()
            }
        }
    })
}

/// Names of the journals SQLite derives from a database name; ours live in memory, and a file
/// of that name on disk is the outer database's own journal, which we must never touch.
fn is_inner_journal_name(name: &[u8]) -> bool {
    name.ends_with(b"-journal") || name.ends_with(b"-wal")
}

/// Whether `name` (a file name SQLite passed, or null) is one of the inner journals. Compares
/// the bytes in place: SQLite asks (xAccess of the hot-journal check) at the start of every
/// read transaction, and copying the name into a `String` each time was about 1% of a warm
/// point lookup's instructions.
///
/// # Safety
/// `name` is null or a NUL-terminated string.
unsafe fn names_inner_journal(name: *const c_char) -> bool {
    // SAFETY: per the contract.
    !name.is_null() && is_inner_journal_name(unsafe { CStr::from_ptr(name) }.to_bytes())
}

unsafe extern "C" fn x_delete(
    vfs: *mut sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    guard(SQLITE_IOERR, || {
        // SAFETY: SQLite's file name and our VFS; the default VFS gets SQLite's arguments.
        unsafe {
            if names_inner_journal(name) {
                return SQLITE_OK;
            }
            let d = data(vfs);
            ((*d.default).x_delete.expect("every VFS has xDelete"))(d.default, name, sync_dir)
        }
    })
}

unsafe extern "C" fn x_access(
    vfs: *mut sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    res: *mut c_int,
) -> c_int {
    guard(SQLITE_IOERR, || {
        // SAFETY: SQLite's file name, out-pointer and our VFS; the default VFS gets SQLite's
        // arguments.
        unsafe {
            if names_inner_journal(name) {
                *res = 0;
                return SQLITE_OK;
            }
            let d = data(vfs);
            ((*d.default).x_access.expect("every VFS has xAccess"))(d.default, name, flags, res)
        }
    })
}

/// Declares a callback that forwards to the default VFS unchanged.
macro_rules! delegate {
    ($name:ident, $member:ident, ($($arg:ident : $ty:ty),*) -> $ret:ty, $on_panic:expr) => {
        unsafe extern "C" fn $name(vfs: *mut sqlite3_vfs, $($arg: $ty),*) -> $ret {
            guard($on_panic, || {
                // SAFETY: our VFS, whose default VFS gets SQLite's arguments unchanged.
                unsafe {
                    let d = data(vfs);
                    ((*d.default).$member.expect(concat!("default VFS lacks ", stringify!($member))))(d.default, $($arg),*)
                }
            })
        }
    };
}

delegate!(x_full_pathname, x_full_pathname, (name: *const c_char, n: c_int, out: *mut c_char) -> c_int, SQLITE_CANTOPEN);
delegate!(x_dl_open, x_dl_open, (name: *const c_char) -> *mut c_void, std::ptr::null_mut());
delegate!(x_dl_error, x_dl_error, (n: c_int, out: *mut c_char) -> (), ());
delegate!(x_dl_sym, x_dl_sym, (h: *mut c_void, sym: *const c_char) -> Option<unsafe extern "C" fn()>, None);
delegate!(x_dl_close, x_dl_close, (h: *mut c_void) -> (), ());
delegate!(x_randomness, x_randomness, (n: c_int, out: *mut c_char) -> c_int, 0);
delegate!(x_sleep, x_sleep, (us: c_int) -> c_int, 0);
delegate!(x_current_time, x_current_time, (t: *mut f64) -> c_int, SQLITE_ERROR);
delegate!(x_get_last_error, x_get_last_error, (n: c_int, out: *mut c_char) -> c_int, 0);

unsafe extern "C" fn x_current_time_int64(vfs: *mut sqlite3_vfs, t: *mut i64) -> c_int {
    guard(SQLITE_ERROR, || {
        // SAFETY: our VFS; the default VFS gets SQLite's out-pointer (or our local).
        unsafe {
            let d = data(vfs);
            match (*d.default).x_current_time_int64 {
                Some(f) if (*d.default).i_version >= 2 => f(d.default, t),
                _ => {
                    let mut days = 0f64;
                    let rc = ((*d.default)
                        .x_current_time
                        .expect("every VFS has xCurrentTime"))(
                        d.default, &mut days
                    );
                    *t = (days * 86_400_000.0) as i64;
                    rc
                }
            }
        }
    })
}

unsafe extern "C" fn x_close(f: *mut sqlite3_file) -> c_int {
    guard(SQLITE_IOERR, || {
        // SAFETY: SQLite closes only files our xOpen opened with our method table, once.
        let handle = unsafe { &mut *f.cast::<FileHandle>() };
        drop(handle.file.take());
        SQLITE_OK
    })
}

/// Converts a file-level result into a SQLite result code.
fn code_of(r: Result<(), Error>) -> c_int {
    match r {
        Ok(()) => SQLITE_OK,
        Err(e) => e.code(),
    }
}

unsafe extern "C" fn x_read(
    f: *mut sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: SQLite passes a buffer of `amount` writable bytes.
    let out = unsafe { std::slice::from_raw_parts_mut(buf as *mut u8, amount.max(0) as usize) };
    // SAFETY: SQLite calls io methods only on files our xOpen opened.
    unsafe {
        with_file(f, SQLITE_IOERR_READ, |file| {
            match file.read(offset.max(0) as u64, out) {
                Ok(true) => SQLITE_OK,
                Ok(false) => SQLITE_IOERR_SHORT_READ,
                Err(e) => e.code(),
            }
        })
    }
}

unsafe extern "C" fn x_write(
    f: *mut sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: SQLite passes `amount` readable bytes.
    let data = unsafe { std::slice::from_raw_parts(buf as *const u8, amount.max(0) as usize) };
    // SAFETY: SQLite calls io methods only on files our xOpen opened.
    unsafe {
        with_file(f, SQLITE_IOERR_WRITE, |file| {
            code_of(file.write(offset.max(0) as u64, data))
        })
    }
}

unsafe extern "C" fn x_truncate(f: *mut sqlite3_file, size: i64) -> c_int {
    // SAFETY: SQLite calls io methods only on files our xOpen opened.
    unsafe {
        with_file(f, SQLITE_IOERR_TRUNCATE, |file| {
            code_of(file.truncate(size.max(0) as u64))
        })
    }
}

unsafe extern "C" fn x_sync(f: *mut sqlite3_file, _flags: c_int) -> c_int {
    // SAFETY: SQLite calls io methods only on files our xOpen opened.
    unsafe { with_file(f, SQLITE_IOERR, |file| code_of(file.sync())) }
}

unsafe extern "C" fn x_file_size(f: *mut sqlite3_file, size: *mut i64) -> c_int {
    // SAFETY: SQLite calls io methods only on files our xOpen opened.
    unsafe {
        with_file(f, SQLITE_IOERR_FSTAT, |file| match file.file_size() {
            Ok(n) => {
                // SAFETY: SQLite's out-pointer.
                *size = n as i64;
                SQLITE_OK
            }
            Err(e) => e.code(),
        })
    }
}

unsafe extern "C" fn x_lock(f: *mut sqlite3_file, level: c_int) -> c_int {
    let Some(level) = LockLevel::from_raw(level) else {
        return SQLITE_MISUSE;
    };
    // SAFETY: SQLite calls io methods only on files our xOpen opened.
    unsafe { with_file(f, SQLITE_IOERR_LOCK, |file| code_of(file.lock(level))) }
}

unsafe extern "C" fn x_unlock(f: *mut sqlite3_file, level: c_int) -> c_int {
    let Some(level) = LockLevel::from_raw(level) else {
        return SQLITE_MISUSE;
    };
    // SAFETY: SQLite calls io methods only on files our xOpen opened.
    unsafe { with_file(f, SQLITE_IOERR_UNLOCK, |file| code_of(file.unlock(level))) }
}

unsafe extern "C" fn x_check_reserved_lock(f: *mut sqlite3_file, out: *mut c_int) -> c_int {
    // SAFETY: SQLite calls io methods only on files our xOpen opened, with an out-pointer.
    unsafe {
        with_file(f, SQLITE_IOERR, |file| {
            *out = c_int::from(file.reserved());
            SQLITE_OK
        })
    }
}

unsafe extern "C" fn x_file_control(f: *mut sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: SQLite calls io methods only on files our xOpen opened, with `arg` as each op
    // documents it (sqlite3.h, SQLITE_FCNTL_*).
    unsafe {
        with_file(f, SQLITE_IOERR, |object| match op {
            SQLITE_FCNTL_COMMIT_PHASETWO => code_of(object.commit_phase_two()),
            SQLITE_FCNTL_VFSNAME => {
                // arg: char** holding NULL or a string from sqlite3_malloc, replaced.
                let out = arg as *mut *mut c_char;
                let name = sqlite_api::sqlite_string(object.vfs_name(), false);
                if name.is_null() {
                    return SQLITE_NOMEM;
                }
                if !(*out).is_null() {
                    (sqlite_api::api().free)(*out as *mut c_void);
                }
                *out = name;
                SQLITE_OK
            }
            SQLITE_FCNTL_LOCKSTATE => {
                // arg: int* receiving the lock level.
                *(arg as *mut c_int) = object.lock_level().as_raw();
                SQLITE_OK
            }
            SQLITE_FCNTL_PRAGMA => {
                // arg: [0] = error/result out, [1] = pragma name, [2] = its argument or NULL.
                let args = arg as *mut *mut c_char;
                let pragma = text_of(*args.add(1));
                let value = (!(*args.add(2)).is_null()).then(|| text_of(*args.add(2)));
                match object.check_pragma(&pragma, value.as_deref()) {
                    Ok(()) => SQLITE_NOTFOUND,
                    Err(e) => {
                        *args = sqlite_api::sqlite_string(&e.message(), false);
                        e.code()
                    }
                }
            }
            _ => SQLITE_NOTFOUND,
        })
    }
}

unsafe extern "C" fn x_sector_size(_f: *mut sqlite3_file) -> c_int {
    4096
}

unsafe extern "C" fn x_device_characteristics(f: *mut sqlite3_file) -> c_int {
    // SAFETY: SQLite calls io methods only on files our xOpen opened.
    unsafe { with_file(f, 0, |file| file.device_characteristics()) }
}
