//! The one door to SQLite: a table of the SQLite functions this crate calls, and small safe
//! wrappers (`Connection`, `Statement`) over it.
//!
//! The table is filled exactly once per process, either from the `sqlite3_api_routines` pointer a
//! host hands to the loadable extension, or (for Rust programs using [`crate::open`]) from the
//! SQLite that `libsqlite3-sys` links into the program. Either way the rest of the crate has one
//! code path, and the extension never carries a second copy of SQLite.

use crate::error::{Error, Result};
use crate::ffi::*;
use crate::flags::OpenFlags;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_uchar, c_void};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::OnceLock;

/// Oldest host SQLite we support; every routine in the table exists there.
pub const MIN_SQLITE_VERSION: c_int = 3_031_000;

pub(crate) type ScalarFn =
    unsafe extern "C" fn(*mut sqlite3_context, c_int, *mut *mut sqlite3_value);
type CollationFn =
    unsafe extern "C" fn(*mut c_void, c_int, *const c_void, c_int, *const c_void) -> c_int;
type ExecCallback =
    unsafe extern "C" fn(*mut c_void, c_int, *mut *mut c_char, *mut *mut c_char) -> c_int;

/// Declares the routine table once: each entry names its member of `sqlite3_api_routines`
/// (which is also the `sqlite3_` function's name without the prefix), its C signature, and the
/// matching `libsqlite3_sys` function.
macro_rules! routine_table {
    ($($name:ident = $linked:ident : fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        /// Function pointers into the SQLite library this process uses for us.
        pub struct Api {
            $(pub $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*
        }

        impl Api {
            /// Reads the table from a host's `sqlite3_api_routines`; `None` if one of our
            /// routines is missing there.
            ///
            /// # Safety
            /// `routines` must be the table SQLite passed to an extension entry point, of a
            /// SQLite at least as new as the last member we read (see [`sqlite3_api_routines`]).
            unsafe fn from_routines(routines: *const sqlite3_api_routines) -> Option<Api> {
                // SAFETY: the caller vouches for the table; it is only read.
                let routines = unsafe { &*routines };
                Some(Api {
                    // SAFETY: each member holds the function of its name in sqlite3.h, whose
                    // C signature the entry above states; `Slot` erased only the signature.
                    $($name: unsafe {
                        std::mem::transmute::<unsafe extern "C" fn(), unsafe extern "C" fn($($arg),*) $(-> $ret)?>(
                            routines.$name?)
                    },)*
                })
            }

            /// Builds the table from the SQLite linked into this Rust program.
            fn from_linked() -> Api {
                Api {
                    // SAFETY: the linked functions have the same C signatures; only the Rust
                    // spelling of the opaque pointer types differs.
                    $($name: unsafe {
                        std::mem::transmute::<*const c_void, unsafe extern "C" fn($($arg),*) $(-> $ret)?>(
                            libsqlite3_sys::$linked as *const c_void)
                    },)*
                }
            }

            /// Checks every member we read against the linked SQLite's own functions, by
            /// address: the test that the names of `sqlite3_api_routines` sit where the host
            /// puts them.
            #[cfg(test)]
            fn mismatches_linked(routines: &sqlite3_api_routines) -> Vec<&'static str> {
                let mut wrong = Vec::new();
                $(if routines.$name.map(|f| f as usize) != Some(libsqlite3_sys::$linked as *const () as usize) {
                    wrong.push(stringify!($name));
                })*
                wrong
            }
        }
    };
}

routine_table! {
    libversion_number = sqlite3_libversion_number: fn() -> c_int;
    open_v2 = sqlite3_open_v2: fn(*const c_char, *mut *mut sqlite3, c_int, *const c_char) -> c_int;
    close = sqlite3_close: fn(*mut sqlite3) -> c_int;
    exec = sqlite3_exec: fn(*mut sqlite3, *const c_char, Option<ExecCallback>, *mut c_void, *mut *mut c_char) -> c_int;
    errmsg = sqlite3_errmsg: fn(*mut sqlite3) -> *const c_char;
    extended_errcode = sqlite3_extended_errcode: fn(*mut sqlite3) -> c_int;
    busy_timeout = sqlite3_busy_timeout: fn(*mut sqlite3, c_int) -> c_int;
    get_autocommit = sqlite3_get_autocommit: fn(*mut sqlite3) -> c_int;
    prepare_v2 = sqlite3_prepare_v2: fn(*mut sqlite3, *const c_char, c_int, *mut *mut sqlite3_stmt, *mut *const c_char) -> c_int;
    step = sqlite3_step: fn(*mut sqlite3_stmt) -> c_int;
    reset = sqlite3_reset: fn(*mut sqlite3_stmt) -> c_int;
    finalize = sqlite3_finalize: fn(*mut sqlite3_stmt) -> c_int;
    bind_blob = sqlite3_bind_blob: fn(*mut sqlite3_stmt, c_int, *const c_void, c_int, Destructor) -> c_int;
    bind_int64 = sqlite3_bind_int64: fn(*mut sqlite3_stmt, c_int, i64) -> c_int;
    bind_null = sqlite3_bind_null: fn(*mut sqlite3_stmt, c_int) -> c_int;
    column_blob = sqlite3_column_blob: fn(*mut sqlite3_stmt, c_int) -> *const c_void;
    column_bytes = sqlite3_column_bytes: fn(*mut sqlite3_stmt, c_int) -> c_int;
    column_int64 = sqlite3_column_int64: fn(*mut sqlite3_stmt, c_int) -> i64;
    column_type = sqlite3_column_type: fn(*mut sqlite3_stmt, c_int) -> c_int;
    malloc = sqlite3_malloc: fn(c_int) -> *mut c_void;
    free = sqlite3_free: fn(*mut c_void);
    vfs_find = sqlite3_vfs_find: fn(*const c_char) -> *mut sqlite3_vfs;
    vfs_register = sqlite3_vfs_register: fn(*mut sqlite3_vfs, c_int) -> c_int;
    uri_parameter = sqlite3_uri_parameter: fn(*const c_char, *const c_char) -> *const c_char;
    create_function_v2 = sqlite3_create_function_v2: fn(*mut sqlite3, *const c_char, c_int, c_int, *mut c_void,
        Option<ScalarFn>, Option<ScalarFn>, Option<unsafe extern "C" fn(*mut sqlite3_context)>, Destructor) -> c_int;
    auto_extension = sqlite3_auto_extension: fn(Option<unsafe extern "C" fn()>) -> c_int;
    user_data = sqlite3_user_data: fn(*mut sqlite3_context) -> *mut c_void;
    value_type = sqlite3_value_type: fn(*mut sqlite3_value) -> c_int;
    value_text = sqlite3_value_text: fn(*mut sqlite3_value) -> *const c_uchar;
    value_bytes = sqlite3_value_bytes: fn(*mut sqlite3_value) -> c_int;
    result_text = sqlite3_result_text: fn(*mut sqlite3_context, *const c_char, c_int, Destructor);
    result_error = sqlite3_result_error: fn(*mut sqlite3_context, *const c_char, c_int);
    result_error_nomem = sqlite3_result_error_nomem: fn(*mut sqlite3_context);
    // Used by the genomics toolkit (src/genomics): typed values, virtual tables, a collation.
    bind_double = sqlite3_bind_double: fn(*mut sqlite3_stmt, c_int, f64) -> c_int;
    bind_text = sqlite3_bind_text: fn(*mut sqlite3_stmt, c_int, *const c_char, c_int, Destructor) -> c_int;
    column_double = sqlite3_column_double: fn(*mut sqlite3_stmt, c_int) -> f64;
    column_text = sqlite3_column_text: fn(*mut sqlite3_stmt, c_int) -> *const c_uchar;
    declare_vtab = sqlite3_declare_vtab: fn(*mut sqlite3, *const c_char) -> c_int;
    result_blob = sqlite3_result_blob: fn(*mut sqlite3_context, *const c_void, c_int, Destructor);
    result_double = sqlite3_result_double: fn(*mut sqlite3_context, f64);
    result_int64 = sqlite3_result_int64: fn(*mut sqlite3_context, i64);
    result_null = sqlite3_result_null: fn(*mut sqlite3_context);
    total_changes = sqlite3_total_changes: fn(*mut sqlite3) -> c_int;
    value_blob = sqlite3_value_blob: fn(*mut sqlite3_value) -> *const c_void;
    value_double = sqlite3_value_double: fn(*mut sqlite3_value) -> f64;
    value_int64 = sqlite3_value_int64: fn(*mut sqlite3_value) -> i64;
    create_module_v2 = sqlite3_create_module_v2: fn(*mut sqlite3, *const c_char, *const c_void, *mut c_void, Destructor) -> c_int;
    create_collation_v2 = sqlite3_create_collation_v2: fn(*mut sqlite3, *const c_char, c_int, *mut c_void,
        Option<CollationFn>, Destructor) -> c_int;
    file_control = sqlite3_file_control: fn(*mut sqlite3, *const c_char, c_int, *mut c_void) -> c_int;
    result_error_toobig = sqlite3_result_error_toobig: fn(*mut sqlite3_context);
    context_db_handle = sqlite3_context_db_handle: fn(*mut sqlite3_context) -> *mut sqlite3;
    next_stmt = sqlite3_next_stmt: fn(*mut sqlite3, *mut sqlite3_stmt) -> *mut sqlite3_stmt;
    stmt_busy = sqlite3_stmt_busy: fn(*mut sqlite3_stmt) -> c_int;
    stmt_readonly = sqlite3_stmt_readonly: fn(*mut sqlite3_stmt) -> c_int;
    // SQLite's main and allocator mutexes, held across fork() (see `lock_for_fork`).
    mutex_alloc = sqlite3_mutex_alloc: fn(c_int) -> *mut c_void;
    mutex_enter = sqlite3_mutex_enter: fn(*mut c_void);
    mutex_leave = sqlite3_mutex_leave: fn(*mut c_void);
}

static API: OnceLock<Api> = OnceLock::new();

/// Fills the routine table (if still empty) from the `sqlite3_api_routines` a host passed to
/// the extension entry point, and checks the host's version.
///
/// # Safety
/// `routines` is null or the table SQLite passed to an extension entry point.
pub unsafe fn install_from_host(routines: *const sqlite3_api_routines) -> Result<&'static Api> {
    // SAFETY: the caller passes SQLite's table (or null, which `as_ref` turns into None).
    let Some(table) = (unsafe { routines.as_ref() }) else {
        return Err(Error::Init(
            "genomicsqlite: the host passed no sqlite3_api_routines".into(),
        ));
    };
    if let Some(api) = API.get() {
        return check_version(api);
    }
    // The version first: an older host's table ends before the members read below.
    let version = table.libversion_number.map(|f| {
        // SAFETY: the member is sqlite3_libversion_number, `int (*)(void)` in every version.
        unsafe {
            std::mem::transmute::<unsafe extern "C" fn(), unsafe extern "C" fn() -> c_int>(f)()
        }
    });
    check_version_number(version.unwrap_or(0))?;
    // SAFETY: SQLite's own table, of a version that has every member we read.
    let table = unsafe { Api::from_routines(table) }.ok_or_else(|| {
        Error::Init(
            "genomicsqlite: the host SQLite lacks routines this library needs (SQLite >= 3.31 required)"
                .to_string(),
        )
    })?;
    check_version(API.get_or_init(|| table))
}

/// Fills the routine table (if still empty) from the SQLite linked into this Rust program.
///
/// Only the Rust API calls this, never the extension's entry points, so the linker leaves the
/// linked SQLite out of `libgenomicsqlite.so`.
pub fn install_linked() -> Result<&'static Api> {
    check_version(API.get_or_init(Api::from_linked))
}

/// SQLite's process-wide mutexes that any thread takes all the time, held across `fork()`:
/// a thread of the parent inside one at the fork would leave it locked forever in the child,
/// whose first SQLite call would hang (both seen in tests/py/test_fork.py):
/// * `SQLITE_MUTEX_STATIC_MAIN`, which every transaction's end takes when SQLite is built with
///   unlock-notify (Debian's is), and every `sqlite3_open` takes to find its VFS;
/// * `SQLITE_MUTEX_STATIC_MEM`, the allocator's, which every `sqlite3_malloc` takes for its
///   statistics.
///
/// `fork()` takes them in its `prepare` step, after background sections ended (see
/// [`crate::web::fork::hold_across_fork`]), in this order, which is SQLite's own nesting (it
/// allocates under the main mutex, never the other way round), and releases them in parent and
/// child. This is sound because their holders never wait for another thread before letting go:
/// SQLite holds them for lookups and bookkeeping, drops the allocator's before freeing memory
/// under a soft heap limit, and calls out under the main mutex only to an application's
/// unlock-notify callback (a program that forks from inside one would deadlock itself).
const FORK_HELD_MUTEXES: [c_int; 2] = [SQLITE_MUTEX_STATIC_MAIN, SQLITE_MUTEX_STATIC_MEM];
const SQLITE_MUTEX_STATIC_MAIN: c_int = 2;
const SQLITE_MUTEX_STATIC_MEM: c_int = 3;
/// The mutexes `lock_for_fork` entered, in its order (null: not entered).
static HELD_FOR_FORK: [AtomicPtr<c_void>; FORK_HELD_MUTEXES.len()] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; FORK_HELD_MUTEXES.len()];

extern "C" fn lock_for_fork() {
    let Some(api) = try_api() else { return };
    for (id, held) in FORK_HELD_MUTEXES.iter().zip(&HELD_FOR_FORK) {
        // SAFETY: static mutexes of the SQLite whose routines we use; alloc only looks them up.
        unsafe {
            let m = (api.mutex_alloc)(*id);
            if !m.is_null() {
                (api.mutex_enter)(m);
                held.store(m, Ordering::SeqCst);
            }
        }
    }
}

extern "C" fn unlock_after_fork() {
    let Some(api) = try_api() else { return };
    for held in HELD_FOR_FORK.iter().rev() {
        let m = held.swap(std::ptr::null_mut(), Ordering::SeqCst);
        if !m.is_null() {
            // SAFETY: a mutex `lock_for_fork` entered on this thread (in a child: on the thread
            // that forked, the only one; SQLite's static mutexes are plain pthread mutexes).
            unsafe { (api.mutex_leave)(m) };
        }
    }
}

fn check_version(api: &'static Api) -> Result<&'static Api> {
    // SAFETY: plain call into SQLite.
    check_version_number(unsafe { (api.libversion_number)() })?;
    crate::web::fork::hold_across_fork(lock_for_fork, unlock_after_fork);
    Ok(api)
}

fn check_version_number(version: c_int) -> Result<()> {
    if version < MIN_SQLITE_VERSION {
        return Err(Error::Init(format!(
            "genomicsqlite: SQLite {}.{}.{} is too old; version 3.31.0 or later is required",
            version / 1_000_000,
            version / 1000 % 1000,
            version % 1000
        )));
    }
    Ok(())
}

/// The installed routine table, if any.
pub fn try_api() -> Option<&'static Api> {
    API.get()
}

/// The installed routine table. Only called on paths that run after [`install`] succeeded
/// (the VFS and SQL functions are registered only then).
pub fn api() -> &'static Api {
    API.get()
        .expect("genomicsqlite: SQLite routines used before initialization")
}

/// Copies a string into memory from `sqlite3_malloc`, as C callers free it with `sqlite3_free`.
/// `prefix_nul` produces the "\0message" error convention of the C API. Returns null when out
/// of memory.
pub fn sqlite_string(text: &str, prefix_nul: bool) -> *mut c_char {
    let api = api();
    let offset = usize::from(prefix_nul);
    let len = text.len() + offset + 1;
    let Ok(alloc_len) = c_int::try_from(len) else {
        return std::ptr::null_mut();
    };
    // SAFETY: we write exactly `len` bytes into a fresh allocation of that size.
    unsafe {
        let p = (api.malloc)(alloc_len) as *mut u8;
        if p.is_null() {
            return std::ptr::null_mut();
        }
        if prefix_nul {
            *p = 0;
        }
        std::ptr::copy_nonoverlapping(text.as_ptr(), p.add(offset), text.len());
        *p.add(len - 1) = 0;
        p as *mut c_char
    }
}

/// An owned connection opened through the routine table (used for the outer database).
pub struct Connection {
    db: *mut sqlite3,
}

// SAFETY: a connection is used by one thread at a time (each owner serializes access), which is
// what SQLite requires of connections in any threading mode.
unsafe impl Send for Connection {}

impl Connection {
    /// Opens `uri` (SQLITE_OPEN_URI is added) with the given flags and VFS name.
    pub fn open(uri: &str, flags: OpenFlags, vfs: Option<&str>) -> Result<Connection> {
        let api = api();
        let c_uri = cstring(uri)?;
        let c_vfs = vfs.map(cstring).transpose()?;
        let mut db = std::ptr::null_mut();
        // SAFETY: valid NUL-terminated strings and out-pointer.
        let rc = unsafe {
            (api.open_v2)(
                c_uri.as_ptr(),
                &mut db,
                (flags | OpenFlags::URI).bits(),
                c_vfs.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
            )
        };
        let conn = Connection { db };
        if rc != SQLITE_OK {
            let message = if db.is_null() {
                "out of memory".to_string()
            } else {
                conn.last_message()
            };
            return Err(Error::new(rc, message));
        }
        Ok(conn)
    }

    /// Gives up ownership of the handle.
    pub fn into_raw(self) -> *mut sqlite3 {
        let db = self.db;
        std::mem::forget(self);
        db
    }

    fn last_message(&self) -> String {
        // SAFETY: db is a valid handle; errmsg returns a NUL-terminated string it owns.
        unsafe { text_of((api().errmsg)(self.db)) }
    }

    fn error(&self, rc: c_int) -> Error {
        // SAFETY: valid handle.
        let code = unsafe { (api().extended_errcode)(self.db) };
        Error::new(if code != 0 { code } else { rc }, self.last_message())
    }

    /// Runs one or more statements that return no rows of interest.
    pub fn exec(&self, sql: &str) -> Result<()> {
        let c_sql = cstring(sql)?;
        let mut errmsg: *mut c_char = std::ptr::null_mut();
        // SAFETY: valid handle and strings; errmsg is freed with sqlite3_free.
        let rc = unsafe {
            (api().exec)(
                self.db,
                c_sql.as_ptr(),
                None,
                std::ptr::null_mut(),
                &mut errmsg,
            )
        };
        if rc == SQLITE_OK {
            return Ok(());
        }
        let message = if errmsg.is_null() {
            self.last_message()
        } else {
            // SAFETY: errmsg is a NUL-terminated string from sqlite3_malloc.
            // it is ours to free.
            unsafe {
                let m = text_of(errmsg);
                (api().free)(errmsg as *mut c_void);
                m
            }
        };
        Err(Error::new(rc, message))
    }

    pub fn prepare(&self, sql: &str) -> Result<Statement> {
        let c_sql = cstring(sql)?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: valid handle, string and out-pointer.
        let rc = unsafe {
            (api().prepare_v2)(self.db, c_sql.as_ptr(), -1, &mut stmt, std::ptr::null_mut())
        };
        if rc != SQLITE_OK {
            return Err(self.error(rc));
        }
        Ok(Statement { stmt, db: self.db })
    }

    /// Runs a query expected to produce one integer (NULL or no row give `None`).
    pub fn query_i64(&self, sql: &str) -> Result<Option<i64>> {
        let mut stmt = self.prepare(sql)?;
        if stmt.step()? && stmt.column_type(0) != SQLITE_NULL {
            Ok(Some(stmt.column_i64(0)))
        } else {
            Ok(None)
        }
    }

    pub fn set_busy_timeout(&self, ms: c_int) {
        // SAFETY: valid handle.
        unsafe { (api().busy_timeout)(self.db, ms) };
    }

    /// Whether a connection other than this one holds a RESERVED (or higher) lock on the main
    /// database file, that is, wants to write or is committing. Asks the file's own VFS
    /// (`xCheckReservedLock`): for the unix VFS one look at this process's locks on the file
    /// and, if none, one `fcntl(F_GETLK)` for other processes'.
    pub fn writer_waiting(&self) -> Result<bool> {
        let mut file: *mut sqlite3_file = std::ptr::null_mut();
        // SAFETY: valid handle and schema name; FILE_POINTER writes one pointer into `file`.
        let rc = unsafe {
            (api().file_control)(
                self.db,
                c"main".as_ptr(),
                SQLITE_FCNTL_FILE_POINTER,
                &mut file as *mut *mut sqlite3_file as *mut c_void,
            )
        };
        if rc != SQLITE_OK || file.is_null() {
            return Ok(false);
        }
        // SAFETY: `file` is the open main database file of this connection, valid while the
        // connection is; its method table (if any) is the VFS's and outlives the file.
        let check = unsafe {
            let methods = (*file).methods;
            if methods.is_null() {
                return Ok(false);
            }
            (*methods).x_check_reserved_lock
        };
        let Some(check) = check else {
            return Ok(false);
        };
        let mut reserved: c_int = 0;
        // SAFETY: the VFS method called on its own file with a valid out-pointer.
        let rc = unsafe { check(file, &mut reserved) };
        if rc != SQLITE_OK {
            return Err(Error::new(rc, "cannot check the outer database's locks"));
        }
        Ok(reserved != 0)
    }

    /// True outside an explicit transaction.
    pub fn autocommit(&self) -> bool {
        // SAFETY: valid handle.
        unsafe { (api().get_autocommit)(self.db) != 0 }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if !self.db.is_null() {
            // SAFETY: we own the handle; statements are finalized before (they borrow it).
            unsafe { (api().close)(self.db) };
        }
    }
}

/// A prepared statement. Finalized on drop.
pub struct Statement {
    stmt: *mut sqlite3_stmt,
    db: *mut sqlite3,
}

// SAFETY: used with its connection, by one thread at a time.
unsafe impl Send for Statement {}

impl Statement {
    fn check(&self, rc: c_int) -> Result<()> {
        if rc == SQLITE_OK {
            Ok(())
        } else {
            // SAFETY: valid handle.
            let message = unsafe { text_of((api().errmsg)(self.db)) };
            Err(Error::new(rc, message))
        }
    }

    pub fn bind_i64(&mut self, index: c_int, value: i64) -> Result<()> {
        // SAFETY: valid statement.
        self.check(unsafe { (api().bind_int64)(self.stmt, index, value) })
    }

    pub fn bind_null(&mut self, index: c_int) -> Result<()> {
        // SAFETY: valid statement.
        self.check(unsafe { (api().bind_null)(self.stmt, index) })
    }

    /// Binds a blob that SQLite copies (the caller may drop `data` right after).
    pub fn bind_blob(&mut self, index: c_int, data: &[u8]) -> Result<()> {
        let len =
            c_int::try_from(data.len()).map_err(|_| Error::new(SQLITE_ERROR, "blob too large"))?;
        // SAFETY: valid statement; SQLITE_TRANSIENT makes SQLite copy the bytes.
        self.check(unsafe {
            (api().bind_blob)(
                self.stmt,
                index,
                data.as_ptr() as *const c_void,
                len,
                transient(),
            )
        })
    }

    /// Steps once: `Ok(true)` when a row is available, `Ok(false)` when done.
    pub fn step(&mut self) -> Result<bool> {
        // SAFETY: valid statement.
        match unsafe { (api().step)(self.stmt) } {
            SQLITE_ROW => Ok(true),
            SQLITE_DONE => Ok(false),
            _ => {
                // sqlite3_reset returns the statement's error code and makes errmsg specific.
                // SAFETY: valid statement and handle.
                let (rc, message) =
                    unsafe { ((api().reset)(self.stmt), text_of((api().errmsg)(self.db))) };
                Err(Error::new(rc, message))
            }
        }
    }

    /// Steps to completion, for statements that produce no rows.
    pub fn run(&mut self) -> Result<()> {
        while self.step()? {}
        Ok(())
    }

    /// Resets the statement for reuse (bindings are kept).
    pub fn reset(&mut self) {
        // SAFETY: valid statement. Errors were already reported by step().
        unsafe { (api().reset)(self.stmt) };
    }

    /// The statement for one use, reset when the guard drops: however the use ends (rows read,
    /// an error, an early return), the statement is idle again and holds no read lock or row.
    pub fn once(&mut self) -> Once<'_> {
        Once(self)
    }

    pub fn column_type(&self, col: c_int) -> c_int {
        // SAFETY: valid statement positioned on a row.
        unsafe { (api().column_type)(self.stmt, col) }
    }

    pub fn column_i64(&self, col: c_int) -> i64 {
        // SAFETY: valid statement positioned on a row.
        unsafe { (api().column_int64)(self.stmt, col) }
    }

    /// The blob in column `col` of the current row; valid until the next step/reset.
    pub fn column_blob(&self, col: c_int) -> &[u8] {
        // SAFETY: valid statement on a row; pointer/length pair from SQLite (blob first, then
        // bytes, as SQLite's docs require).
        unsafe {
            let p = (api().column_blob)(self.stmt, col) as *const u8;
            let n = (api().column_bytes)(self.stmt, col);
            if p.is_null() || n <= 0 {
                &[]
            } else {
                std::slice::from_raw_parts(p, n as usize)
            }
        }
    }
}

/// A statement in use, reset on drop (see [`Statement::once`]).
pub struct Once<'a>(&'a mut Statement);

impl std::ops::Deref for Once<'_> {
    type Target = Statement;
    fn deref(&self) -> &Statement {
        self.0
    }
}

impl std::ops::DerefMut for Once<'_> {
    fn deref_mut(&mut self) -> &mut Statement {
        self.0
    }
}

impl Drop for Once<'_> {
    fn drop(&mut self) {
        self.0.reset();
    }
}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: we own the statement.
        unsafe { (api().finalize)(self.stmt) };
    }
}

/// Converts to a C string, rejecting interior NULs with a clear error.
pub fn cstring(s: &str) -> Result<CString> {
    CString::new(s)
        .map_err(|_| Error::new(SQLITE_MISUSE, format!("string contains a NUL byte: {s:?}")))
}

/// Copies a NUL-terminated C string (NULL gives "").
///
/// # Safety
/// `p` must be null or point to a NUL-terminated string.
pub unsafe fn text_of(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: per the contract.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

/// SQLITE_FCNTL_DATA_VERSION: the pager's counter that changes whenever the database changes.
const SQLITE_FCNTL_DATA_VERSION: c_int = 35;

/// Additions for the genomics toolkit, which runs queries on the caller's own connection.
impl Connection {
    /// Wraps a connection that SQLite handed to a callback, without taking ownership (the
    /// wrapper never closes it).
    ///
    /// # Safety
    /// `db` must be a valid connection that outlives the wrapper.
    pub unsafe fn borrowed(db: *mut sqlite3) -> std::mem::ManuallyDrop<Connection> {
        std::mem::ManuallyDrop::new(Connection { db })
    }

    /// Runs `f` with a wrapper of a rusqlite connection (borrowed for the call), or `None`
    /// when the routine table is not the linked SQLite's (rusqlite's handle belongs to that
    /// SQLite, and must not be handed to another's functions).
    pub fn with_rusqlite<T>(
        conn: &rusqlite::Connection,
        f: impl FnOnce(&Connection) -> T,
    ) -> Option<T> {
        let api = try_api()?;
        if api.libversion_number as usize
            != libsqlite3_sys::sqlite3_libversion_number as *const () as usize
        {
            return None;
        }
        // SAFETY: rusqlite's open handle of the SQLite our routine table calls; the wrapper
        // never closes it and lives only during `f`, while `conn` is borrowed.
        let borrowed = unsafe { Connection::borrowed(conn.handle().cast()) };
        Some(f(&borrowed))
    }

    /// `sqlite3_total_changes()`: rows changed by this connection since it was opened.
    pub fn total_changes(&self) -> i64 {
        // SAFETY: valid handle.
        i64::from(unsafe { (api().total_changes)(self.db) })
    }

    /// `SQLITE_FCNTL_DATA_VERSION` of one schema (`main`, `temp`, ...), `None` when that
    /// schema has no open database file.
    pub fn data_version(&self, schema: &CStr) -> Option<u32> {
        let mut v: u32 = 0;
        // SAFETY: valid handle and name; the op writes one unsigned int.
        let rc = unsafe {
            (api().file_control)(
                self.db,
                schema.as_ptr(),
                SQLITE_FCNTL_DATA_VERSION,
                &mut v as *mut u32 as *mut c_void,
            )
        };
        (rc == SQLITE_OK).then_some(v)
    }

    /// True while a statement that may write is running on this connection (its changes could
    /// still be rolled back by a constraint failure).
    pub fn writer_running(&self) -> bool {
        let mut stmt = std::ptr::null_mut();
        loop {
            // SAFETY: valid handle; next_stmt walks the connection's own statement list.
            stmt = unsafe { (api().next_stmt)(self.db, stmt) };
            if stmt.is_null() {
                return false;
            }
            // SAFETY: stmt is a live statement of this connection.
            if unsafe { (api().stmt_busy)(stmt) != 0 && (api().stmt_readonly)(stmt) == 0 } {
                return true;
            }
        }
    }
}

impl Statement {
    pub fn bind_f64(&mut self, index: c_int, value: f64) -> Result<()> {
        // SAFETY: valid statement.
        self.check(unsafe { (api().bind_double)(self.stmt, index, value) })
    }

    /// Binds text (bytes as given, normally UTF-8) that SQLite copies.
    pub fn bind_text(&mut self, index: c_int, text: &[u8]) -> Result<()> {
        let len =
            c_int::try_from(text.len()).map_err(|_| Error::new(SQLITE_ERROR, "text too large"))?;
        // SAFETY: valid statement; SQLITE_TRANSIENT makes SQLite copy the bytes.
        self.check(unsafe {
            (api().bind_text)(
                self.stmt,
                index,
                text.as_ptr() as *const c_char,
                len,
                transient(),
            )
        })
    }

    pub fn column_f64(&self, col: c_int) -> f64 {
        // SAFETY: valid statement positioned on a row.
        unsafe { (api().column_double)(self.stmt, col) }
    }

    /// The text in column `col` of the current row; valid until the next step/reset.
    pub fn column_text(&self, col: c_int) -> &[u8] {
        // SAFETY: valid statement on a row; text first, then bytes, as SQLite's docs require.
        unsafe {
            let p = (api().column_text)(self.stmt, col);
            let n = (api().column_bytes)(self.stmt, col);
            if p.is_null() || n <= 0 {
                &[]
            } else {
                std::slice::from_raw_parts(p, n as usize)
            }
        }
    }
}

/// Registers a scalar SQL function (UTF-8) on `db`, naming it in the error.
///
/// # Safety
/// `db` is a valid connection; `user_data` stays valid while the function is registered.
pub unsafe fn create_scalar_function(
    db: *mut sqlite3,
    name: &CStr,
    n_arg: c_int,
    flags: c_int,
    user_data: *mut c_void,
    f: ScalarFn,
) -> Result<()> {
    // SAFETY: per the contract; the name is a valid C string.
    let rc = unsafe {
        (api().create_function_v2)(
            db,
            name.as_ptr(),
            n_arg,
            SQLITE_UTF8 | flags,
            user_data,
            Some(f),
            None,
            None,
            None,
        )
    };
    if rc != SQLITE_OK {
        return Err(Error::new(
            rc,
            format!("cannot register SQL function {name:?}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// What the auto-extension below saw: the members of the linked SQLite's own
    /// `sqlite3_api_routines` that do not hold the function of their name.
    static SEEN: Mutex<Option<Vec<&'static str>>> = Mutex::new(None);

    unsafe extern "C" fn inspect(
        _db: *mut libsqlite3_sys::sqlite3,
        _err: *mut *mut c_char,
        routines: *const libsqlite3_sys::sqlite3_api_routines,
    ) -> c_int {
        // SAFETY: SQLite passes its own routine table to auto-extensions; ours is its layout.
        if let Some(routines) = unsafe { routines.cast::<sqlite3_api_routines>().as_ref() } {
            *SEEN.lock().unwrap() = Some(Api::mismatches_linked(routines));
        }
        SQLITE_OK
    }

    /// The named members of our `sqlite3_api_routines` are where SQLite puts those functions:
    /// the table SQLite hands to extensions (here: to an auto-extension of the linked SQLite)
    /// holds, in every member we read, the very function of that name.
    #[test]
    fn routine_members_hold_their_functions() {
        // SAFETY: registers a function of the auto-extension signature.
        unsafe { libsqlite3_sys::sqlite3_auto_extension(Some(inspect)) };
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        // SAFETY: as above.
        unsafe { libsqlite3_sys::sqlite3_cancel_auto_extension(Some(inspect)) };
        drop(conn);
        let seen = SEEN.lock().unwrap().take();
        assert_eq!(seen, Some(vec![]), "members not holding their function");
    }
}
