//! The C interface declared in `include/genomicsqlite.h`.
//!
//! `char*` results follow GenomicSQLite's convention: a non-empty string on success, a NUL byte
//! followed by the error message on failure, NULL only when out of memory; the caller frees
//! them with `sqlite3_free`. Nothing here unwinds into C.

use crate::error::{Error, Result};
use crate::ffi::*;
use crate::flags::OpenFlags;
use crate::sqlite_api::{self, sqlite_string, text_of};
use crate::{extension, vfs};
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

type OpenV2 = unsafe extern "C" fn(*const c_char, *mut *mut sqlite3, c_int, *const c_char) -> c_int;
type EnableLoadExtension = unsafe extern "C" fn(*mut sqlite3, c_int) -> c_int;
type LoadExtension =
    unsafe extern "C" fn(*mut sqlite3, *const c_char, *const c_char, *mut *mut c_char) -> c_int;
type Close = unsafe extern "C" fn(*mut sqlite3) -> c_int;
type Free = unsafe extern "C" fn(*mut c_void);

/// Path of the shared library this code was loaded from.
fn own_library_path() -> Option<CString> {
    let mut info = libc::Dl_info {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    // SAFETY: dladdr fills `info` for an address inside this library.
    let found = unsafe { libc::dladdr(genomicsqlite_init as *const c_void, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated path owned by the dynamic loader.
    CString::new(unsafe { text_of(info.dli_fname) }).ok()
}

/// Makes the caller's SQLite (whose entry points are passed in) load this library as an
/// extension, so the VFSes and SQL functions live in the very SQLite the program uses. Call it
/// through `GENOMICSQLITE_C_INIT(&zErrMsg)` before anything else.
///
/// # Safety
/// The function pointers must be the program's own SQLite entry points.
#[no_mangle]
pub unsafe extern "C" fn genomicsqlite_init(
    open_v2: Option<OpenV2>,
    enable_load_extension: Option<EnableLoadExtension>,
    load_extension: Option<LoadExtension>,
    close: Option<Close>,
    free: Option<Free>,
    pz_err_msg: *mut *mut c_char,
) -> c_int {
    // SAFETY: the caller passes its SQLite's entry points (per the contract) and a null or
    // valid out-pointer; every handle used is the one open_v2 just made.
    catch_unwind(AssertUnwindSafe(|| unsafe {
        if !pz_err_msg.is_null() {
            *pz_err_msg = std::ptr::null_mut();
        }
        let (Some(open_v2), Some(enable), Some(load), Some(close), Some(_free)) =
            (open_v2, enable_load_extension, load_extension, close, free)
        else {
            return SQLITE_MISUSE;
        };
        let Some(path) = own_library_path() else {
            return SQLITE_ERROR;
        };
        let mut db = std::ptr::null_mut();
        let rc = open_v2(
            c":memory:".as_ptr(),
            &mut db,
            OpenFlags::READWRITE.bits(),
            std::ptr::null(),
        );
        if rc != SQLITE_OK {
            if !db.is_null() {
                close(db);
            }
            return rc;
        }
        let mut rc = enable(db, 1);
        if rc == SQLITE_OK {
            // The host's loader allocates the message with the host's sqlite3_malloc, which is
            // what the caller frees it with.
            rc = load(
                db,
                path.as_ptr(),
                c"sqlite3_genomicsqlite_init".as_ptr(),
                pz_err_msg,
            );
        }
        close(db);
        rc
    }))
    .unwrap_or(SQLITE_INTERNAL)
}

/// Runs `f` for a `char*`-returning function: its message becomes "\0message" on failure.
pub(crate) fn string_result(f: impl FnOnce() -> Result<String>) -> *mut c_char {
    if sqlite_api::try_api().is_none() {
        // Without the routine table there is no sqlite3_malloc to allocate with.
        return std::ptr::null_mut();
    }
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(s)) => sqlite_string(&s, false),
        Ok(Err(e)) => sqlite_string(&e.message(), true),
        Err(_) => sqlite_string("genomicsqlite: internal error", true),
    }
}

/// Reads a C string argument; NULL is a misuse naming `what`.
///
/// # Safety
/// `p` is null or a NUL-terminated string.
unsafe fn arg(p: *const c_char, what: &str) -> Result<String> {
    // SAFETY: per the contract.
    unsafe { text_arg(p) }
        .ok_or_else(|| Error::new(SQLITE_MISUSE, format!("{what} must not be NULL")))
}

/// A C string argument as the SQL functions see their arguments (NULL = `None`).
///
/// # Safety
/// `p` is null or a NUL-terminated string.
unsafe fn text_arg(p: *const c_char) -> Option<String> {
    // SAFETY: per the contract.
    (!p.is_null()).then(|| unsafe { text_of(p) })
}

#[no_mangle]
pub extern "C" fn genomicsqlite_version() -> *mut c_char {
    string_result(|| Ok(extension::version()))
}

#[no_mangle]
pub extern "C" fn genomicsqlite_default_config_json() -> *mut c_char {
    string_result(|| Ok(crate::config::Config::default().to_json()))
}

/// # Safety
/// Arguments are NUL-terminated strings (config may be NULL).
#[no_mangle]
pub unsafe extern "C" fn genomicsqlite_uri(
    dbfile: *const c_char,
    config_json: *const c_char,
) -> *mut c_char {
    // SAFETY: the caller passes null or NUL-terminated strings.
    let args = unsafe { [text_arg(dbfile), text_arg(config_json)] };
    string_result(|| extension::sql_uri(&args))
}

/// # Safety
/// Arguments are NUL-terminated strings (config and schema may be NULL).
#[no_mangle]
pub unsafe extern "C" fn genomicsqlite_tuning_sql(
    config_json: *const c_char,
    schema: *const c_char,
) -> *mut c_char {
    // SAFETY: the caller passes null or NUL-terminated strings.
    let args = unsafe { [text_arg(config_json), text_arg(schema)] };
    string_result(|| extension::sql_tuning(&args))
}

/// # Safety
/// Arguments are NUL-terminated strings (config may be NULL).
#[no_mangle]
pub unsafe extern "C" fn genomicsqlite_attach_sql(
    dbfile: *const c_char,
    schema_name: *const c_char,
    config_json: *const c_char,
) -> *mut c_char {
    // SAFETY: the caller passes null or NUL-terminated strings.
    let args = unsafe {
        [
            text_arg(dbfile),
            text_arg(schema_name),
            text_arg(config_json),
        ]
    };
    string_result(|| extension::sql_attach(&args))
}

/// # Safety
/// Arguments are NUL-terminated strings (config may be NULL).
#[no_mangle]
pub unsafe extern "C" fn genomicsqlite_vacuum_into_sql(
    destfile: *const c_char,
    config_json: *const c_char,
) -> *mut c_char {
    // SAFETY: the caller passes null or NUL-terminated strings.
    let args = unsafe { [text_arg(destfile), text_arg(config_json)] };
    string_result(|| extension::sql_vacuum_into(&args))
}

/// Why the last compressed-database open on this thread failed ("" if none failed); SQLite
/// itself can only say "unable to open database file".
#[no_mangle]
pub extern "C" fn genomicsqlite_last_open_error() -> *mut c_char {
    if sqlite_api::try_api().is_none() {
        return std::ptr::null_mut();
    }
    catch_unwind(|| sqlite_string(&vfs::take_last_open_error(), false))
        .unwrap_or(std::ptr::null_mut())
}

/// Stops (`quiet` != 0) or resumes logging failed opens on this thread to stderr; returns the
/// previous setting. For language bindings that open through their own SQLite module and put
/// `genomicsqlite_last_open_error()` into their own exception (the Python package), so the
/// reason is not printed as well. Not in the C header: C programs use `genomicsqlite_open`,
/// which never logs.
#[no_mangle]
pub extern "C" fn genomicsqlite_quiet_open_errors(quiet: c_int) -> c_int {
    catch_unwind(|| c_int::from(vfs::set_quiet_opens(quiet != 0))).unwrap_or(0)
}

/// Opens a compressed database with the tuning of `config_json` applied; on failure `*ppDb` is
/// NULL and `*pzErrMsg` (free with sqlite3_free) says why.
///
/// # Safety
/// Pointers are valid; strings NUL-terminated (config may be NULL).
#[no_mangle]
pub unsafe extern "C" fn genomicsqlite_open(
    db_filename: *const c_char,
    pp_db: *mut *mut sqlite3,
    pz_err_msg: *mut *mut c_char,
    flags: c_int,
    config_json: *const c_char,
) -> c_int {
    let r = catch_unwind(AssertUnwindSafe(|| -> Result<*mut sqlite3> {
        if sqlite_api::try_api().is_none() {
            return Err(Error::new(
                SQLITE_MISUSE,
                "genomicsqlite_open: call GENOMICSQLITE_C_INIT (genomicsqlite_init) first",
            ));
        }
        // SAFETY: the caller passes null or NUL-terminated strings.
        let (path, config_json) =
            unsafe { (arg(db_filename, "db_filename"), text_arg(config_json)) };
        let path = path?;
        let config = extension::config_json(config_json.as_deref())?;
        let flags = if flags == 0 {
            OpenFlags::READWRITE | OpenFlags::CREATE
        } else {
            OpenFlags::from_raw(flags)
        };
        let conn = crate::open_tuned(&path, flags, &config)?;
        Ok(conn.into_raw())
    }));
    let failure = match r {
        Ok(Ok(db)) => {
            if !pp_db.is_null() {
                // SAFETY: the caller's out-pointer.
                unsafe { *pp_db = db };
            }
            return SQLITE_OK;
        }
        Ok(Err(e)) => e,
        Err(_) => Error::new(SQLITE_INTERNAL, "genomicsqlite: internal error"),
    };
    if !pp_db.is_null() {
        // SAFETY: the caller's out-pointer.
        unsafe { *pp_db = std::ptr::null_mut() };
    }
    if !pz_err_msg.is_null() && sqlite_api::try_api().is_some() {
        // SAFETY: the caller's out-pointer; the message is freed with sqlite3_free.
        unsafe { *pz_err_msg = sqlite_string(&failure.message(), false) };
    }
    failure.code()
}
