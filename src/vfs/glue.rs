//! The C side of our VFSes: `sqlite3_vfs` and `sqlite3_io_methods` callbacks that decode their
//! arguments, call a safe [`VfsFile`] or [`Opener`], and turn results back into SQLite codes.
//! Every callback catches panics, so none can unwind into the host.

use super::{FileKind, Opener, VfsFile};
use crate::ffi::*;
use crate::sqlite_api::{self, cstring, text_of, SqliteError};
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Our part of an open file: SQLite's header followed by the Rust object. Files we hand to the
/// default VFS use the same buffer for that VFS's own struct instead (see `x_open`).
#[repr(C)]
struct FileHandle {
    base: sqlite3_file,
    file: *mut Box<dyn VfsFile>,
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

unsafe fn data<'a>(vfs: *mut sqlite3_vfs) -> &'a VfsData {
    &*((*vfs).p_app_data as *const VfsData)
}

unsafe fn file<'a>(f: *mut sqlite3_file) -> &'a mut dyn VfsFile {
    &mut **(*(f as *mut FileHandle)).file
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
pub fn register(name: &'static CStr, opener: Box<dyn Opener>) -> Result<(), SqliteError> {
    let api = sqlite_api::api();
    // SAFETY: plain calls into SQLite with valid strings; the VFS struct is leaked so it lives
    // as long as the process, as SQLite requires.
    unsafe {
        if !(api.vfs_find)(name.as_ptr()).is_null() {
            return Ok(());
        }
        let default = (api.vfs_find)(std::ptr::null());
        if default.is_null() {
            return Err(SqliteError::new(SQLITE_ERROR, "no default VFS to build on"));
        }
        let vfs = Box::new(sqlite3_vfs {
            i_version: 2,
            sz_os_file: (std::mem::size_of::<FileHandle>() as c_int).max((*default).sz_os_file),
            mx_pathname: (*default).mx_pathname,
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
        let rc = (api.vfs_register)(Box::into_raw(vfs), 0);
        if rc != SQLITE_OK {
            return Err(SqliteError::new(
                rc,
                format!("cannot register VFS {name:?}"),
            ));
        }
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
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    guard(SQLITE_CANTOPEN, || {
        let d = data(vfs);
        (*f).methods = std::ptr::null();
        let kind = if flags & SQLITE_OPEN_MAIN_DB != 0 && !name.is_null() {
            FileKind::MainDb
        } else if flags & SQLITE_OPEN_MAIN_JOURNAL != 0 {
            FileKind::MainJournal
        } else if flags & SQLITE_OPEN_WAL != 0 {
            FileKind::Wal
        } else {
            FileKind::Other
        };
        let path = if name.is_null() {
            String::new()
        } else {
            text_of(name)
        };
        let opened = match kind {
            FileKind::Other => {
                let x_open = (*d.default).x_open.expect("every VFS has xOpen");
                return x_open(d.default, name, f, flags, out_flags);
            }
            _ => d.opener.open(kind, &path, &UriParams(name), flags),
        };
        match opened {
            Ok((object, readonly)) => {
                let handle = f as *mut FileHandle;
                (*handle).file = Box::into_raw(Box::new(object));
                (*handle).base.methods = &IO_METHODS;
                if !out_flags.is_null() {
                    *out_flags = if readonly {
                        (flags & !(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE))
                            | SQLITE_OPEN_READONLY
                    } else {
                        flags
                    };
                }
                SQLITE_OK
            }
            Err(e) => {
                super::record_open_error(&e);
                e.code
            }
        }
    })
}

/// Names of the journals SQLite derives from a database name; ours live in memory, and a file
/// of that name on disk is the outer database's own journal, which we must never touch.
fn is_inner_journal_name(name: &str) -> bool {
    name.ends_with("-journal") || name.ends_with("-wal")
}

unsafe extern "C" fn x_delete(
    vfs: *mut sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    guard(SQLITE_IOERR, || {
        if !name.is_null() && is_inner_journal_name(&text_of(name)) {
            return SQLITE_OK;
        }
        let d = data(vfs);
        ((*d.default).x_delete.expect("every VFS has xDelete"))(d.default, name, sync_dir)
    })
}

unsafe extern "C" fn x_access(
    vfs: *mut sqlite3_vfs,
    name: *const c_char,
    flags: c_int,
    res: *mut c_int,
) -> c_int {
    guard(SQLITE_IOERR, || {
        if !name.is_null() && is_inner_journal_name(&text_of(name)) {
            *res = 0;
            return SQLITE_OK;
        }
        let d = data(vfs);
        ((*d.default).x_access.expect("every VFS has xAccess"))(d.default, name, flags, res)
    })
}

/// Declares a callback that forwards to the default VFS unchanged.
macro_rules! delegate {
    ($name:ident, $member:ident, ($($arg:ident : $ty:ty),*) -> $ret:ty, $on_panic:expr) => {
        unsafe extern "C" fn $name(vfs: *mut sqlite3_vfs, $($arg: $ty),*) -> $ret {
            guard($on_panic, || {
                let d = data(vfs);
                ((*d.default).$member.expect(concat!("default VFS lacks ", stringify!($member))))(d.default, $($arg),*)
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
    })
}

unsafe extern "C" fn x_close(f: *mut sqlite3_file) -> c_int {
    guard(SQLITE_IOERR, || {
        let handle = f as *mut FileHandle;
        if !(*handle).file.is_null() {
            drop(Box::from_raw((*handle).file));
            (*handle).file = std::ptr::null_mut();
        }
        SQLITE_OK
    })
}

/// Converts a file-level result into a SQLite result code.
fn code_of(r: Result<(), SqliteError>) -> c_int {
    match r {
        Ok(()) => SQLITE_OK,
        Err(e) => e.code,
    }
}

unsafe extern "C" fn x_read(
    f: *mut sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    guard(SQLITE_IOERR_READ, || {
        let out = std::slice::from_raw_parts_mut(buf as *mut u8, amount.max(0) as usize);
        match file(f).read(offset.max(0) as u64, out) {
            Ok(true) => SQLITE_OK,
            Ok(false) => SQLITE_IOERR_SHORT_READ,
            Err(e) => e.code,
        }
    })
}

unsafe extern "C" fn x_write(
    f: *mut sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    guard(SQLITE_IOERR_WRITE, || {
        let data = std::slice::from_raw_parts(buf as *const u8, amount.max(0) as usize);
        code_of(file(f).write(offset.max(0) as u64, data))
    })
}

unsafe extern "C" fn x_truncate(f: *mut sqlite3_file, size: i64) -> c_int {
    guard(SQLITE_IOERR_TRUNCATE, || {
        code_of(file(f).truncate(size.max(0) as u64))
    })
}

unsafe extern "C" fn x_sync(f: *mut sqlite3_file, _flags: c_int) -> c_int {
    guard(SQLITE_IOERR, || code_of(file(f).sync()))
}

unsafe extern "C" fn x_file_size(f: *mut sqlite3_file, size: *mut i64) -> c_int {
    guard(SQLITE_IOERR_FSTAT, || match file(f).file_size() {
        Ok(n) => {
            *size = n as i64;
            SQLITE_OK
        }
        Err(e) => e.code,
    })
}

unsafe extern "C" fn x_lock(f: *mut sqlite3_file, level: c_int) -> c_int {
    guard(SQLITE_IOERR_LOCK, || code_of(file(f).lock(level)))
}

unsafe extern "C" fn x_unlock(f: *mut sqlite3_file, level: c_int) -> c_int {
    guard(SQLITE_IOERR_UNLOCK, || code_of(file(f).unlock(level)))
}

unsafe extern "C" fn x_check_reserved_lock(f: *mut sqlite3_file, out: *mut c_int) -> c_int {
    guard(SQLITE_IOERR, || {
        *out = c_int::from(file(f).reserved());
        SQLITE_OK
    })
}

unsafe extern "C" fn x_file_control(f: *mut sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    guard(SQLITE_IOERR, || {
        let object = file(f);
        match op {
            SQLITE_FCNTL_COMMIT_PHASETWO => code_of(object.commit_phase_two()),
            SQLITE_FCNTL_VFSNAME => {
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
                *(arg as *mut c_int) = object.lock_level();
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
                        *args = sqlite_api::sqlite_string(&e.message, false);
                        e.code
                    }
                }
            }
            _ => SQLITE_NOTFOUND,
        }
    })
}

unsafe extern "C" fn x_sector_size(_f: *mut sqlite3_file) -> c_int {
    4096
}

unsafe extern "C" fn x_device_characteristics(f: *mut sqlite3_file) -> c_int {
    guard(0, || file(f).device_characteristics())
}
