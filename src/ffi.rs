//! Raw C types and constants of the SQLite interface that this crate touches.
//!
//! They are declared here, not taken from `libsqlite3-sys`, because the loadable extension must
//! not link any SQLite of its own: everything it calls goes through [`crate::sqlite_api::Api`],
//! whose function pointers come from the host. Layouts follow `sqlite3.h`, which has kept them
//! stable since the 3.7 series (newer members are only ever appended).

#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

/// Opaque database connection handle.
#[repr(C)]
pub struct sqlite3 {
    _private: [u8; 0],
}
/// Opaque prepared statement handle.
#[repr(C)]
pub struct sqlite3_stmt {
    _private: [u8; 0],
}
/// Opaque SQL function call context.
#[repr(C)]
pub struct sqlite3_context {
    _private: [u8; 0],
}
/// Opaque SQL value.
#[repr(C)]
pub struct sqlite3_value {
    _private: [u8; 0],
}
/// One entry of `sqlite3_api_routines`: a function pointer whose signature the routine table
/// ([`crate::sqlite_api::Api`]) states where it reads the entry; null when the host's SQLite was
/// built without that routine.
pub type Slot = Option<unsafe extern "C" fn()>;

/// Declares `struct sqlite3_api_routines` from its member names, in the order of
/// `sqlite3ext.h`: the struct is nothing but function pointers, so the names alone fix the
/// layout.
macro_rules! routine_slots {
    ($($name:ident),* $(,)?) => {
        /// `struct sqlite3_api_routines`, the table of SQLite functions a host hands to a
        /// loadable extension, up to `auto_extension` (SQLite 3.8.7), the last member this crate
        /// reads. Hosts older than that never get this far: the entry point checks
        /// `libversion_number` first.
        #[repr(C)]
        pub struct sqlite3_api_routines {
            $(pub $name: Slot,)*
        }
    };
}

routine_slots! {
    aggregate_context, aggregate_count, bind_blob, bind_double, bind_int, bind_int64, bind_null,
    bind_parameter_count, bind_parameter_index, bind_parameter_name, bind_text, bind_text16,
    bind_value, busy_handler, busy_timeout, changes, close, collation_needed, collation_needed16,
    column_blob, column_bytes, column_bytes16, column_count, column_database_name,
    column_database_name16, column_decltype, column_decltype16, column_double, column_int,
    column_int64, column_name, column_name16, column_origin_name, column_origin_name16,
    column_table_name, column_table_name16, column_text, column_text16, column_type, column_value,
    commit_hook, complete, complete16, create_collation, create_collation16, create_function,
    create_function16, create_module, data_count, db_handle, declare_vtab, enable_shared_cache,
    errcode, errmsg, errmsg16, exec, expired, finalize, free, free_table, get_autocommit,
    get_auxdata, get_table, global_recover, interruptx, last_insert_rowid, libversion,
    libversion_number, malloc, mprintf, open, open16, prepare, prepare16, profile,
    progress_handler, realloc, reset, result_blob, result_double, result_error, result_error16,
    result_int, result_int64, result_null, result_text, result_text16, result_text16be,
    result_text16le, result_value, rollback_hook, set_authorizer, set_auxdata, xsnprintf, step,
    table_column_metadata, thread_cleanup, total_changes, trace, transfer_bindings, update_hook,
    user_data, value_blob, value_bytes, value_bytes16, value_double, value_int, value_int64,
    value_numeric_type, value_text, value_text16, value_text16be, value_text16le, value_type,
    vmprintf, overload_function, prepare_v2, prepare16_v2, clear_bindings, create_module_v2,
    bind_zeroblob, blob_bytes, blob_close, blob_open, blob_read, blob_write, create_collation_v2,
    file_control, memory_highwater, memory_used, mutex_alloc, mutex_enter, mutex_free,
    mutex_leave, mutex_try, open_v2, release_memory, result_error_nomem, result_error_toobig,
    sleep, soft_heap_limit, vfs_find, vfs_register, vfs_unregister, xthreadsafe, result_zeroblob,
    result_error_code, test_control, randomness, context_db_handle, extended_result_codes, limit,
    next_stmt, sql, status, backup_finish, backup_init, backup_pagecount, backup_remaining,
    backup_step, compileoption_get, compileoption_used, create_function_v2, db_config, db_mutex,
    db_status, extended_errcode, log, soft_heap_limit64, sourceid, stmt_status, strnicmp,
    unlock_notify, wal_autocheckpoint, wal_checkpoint, wal_hook, blob_reopen, vtab_config,
    vtab_on_conflict, close_v2, db_filename, db_readonly, db_release_memory, errstr, stmt_busy,
    stmt_readonly, stricmp, uri_boolean, uri_int64, uri_parameter, xvsnprintf, wal_checkpoint_v2,
    auto_extension,
}

pub type Destructor = Option<unsafe extern "C" fn(*mut c_void)>;

/// `struct sqlite3_file`: every open file begins with its method table.
#[repr(C)]
pub struct sqlite3_file {
    pub methods: *const sqlite3_io_methods,
}

/// `struct sqlite3_io_methods`, version 1 (no shared memory, no mmap), which is all we offer:
/// without xShm* methods SQLite cannot put a file into WAL mode behind our back.
#[repr(C)]
pub struct sqlite3_io_methods {
    pub i_version: c_int,
    pub x_close: Option<unsafe extern "C" fn(*mut sqlite3_file) -> c_int>,
    pub x_read: Option<unsafe extern "C" fn(*mut sqlite3_file, *mut c_void, c_int, i64) -> c_int>,
    pub x_write:
        Option<unsafe extern "C" fn(*mut sqlite3_file, *const c_void, c_int, i64) -> c_int>,
    pub x_truncate: Option<unsafe extern "C" fn(*mut sqlite3_file, i64) -> c_int>,
    pub x_sync: Option<unsafe extern "C" fn(*mut sqlite3_file, c_int) -> c_int>,
    pub x_file_size: Option<unsafe extern "C" fn(*mut sqlite3_file, *mut i64) -> c_int>,
    pub x_lock: Option<unsafe extern "C" fn(*mut sqlite3_file, c_int) -> c_int>,
    pub x_unlock: Option<unsafe extern "C" fn(*mut sqlite3_file, c_int) -> c_int>,
    pub x_check_reserved_lock: Option<unsafe extern "C" fn(*mut sqlite3_file, *mut c_int) -> c_int>,
    pub x_file_control:
        Option<unsafe extern "C" fn(*mut sqlite3_file, c_int, *mut c_void) -> c_int>,
    pub x_sector_size: Option<unsafe extern "C" fn(*mut sqlite3_file) -> c_int>,
    pub x_device_characteristics: Option<unsafe extern "C" fn(*mut sqlite3_file) -> c_int>,
    // Version 2 and 3 members (xShmMap ... xUnfetch) are absent: i_version is 1.
}

/// `struct sqlite3_vfs` up to version 2 (`xCurrentTimeInt64`).
#[repr(C)]
pub struct sqlite3_vfs {
    pub i_version: c_int,
    pub sz_os_file: c_int,
    pub mx_pathname: c_int,
    pub p_next: *mut sqlite3_vfs,
    pub z_name: *const c_char,
    pub p_app_data: *mut c_void,
    pub x_open: Option<
        unsafe extern "C" fn(
            *mut sqlite3_vfs,
            *const c_char,
            *mut sqlite3_file,
            c_int,
            *mut c_int,
        ) -> c_int,
    >,
    pub x_delete: Option<unsafe extern "C" fn(*mut sqlite3_vfs, *const c_char, c_int) -> c_int>,
    pub x_access:
        Option<unsafe extern "C" fn(*mut sqlite3_vfs, *const c_char, c_int, *mut c_int) -> c_int>,
    pub x_full_pathname:
        Option<unsafe extern "C" fn(*mut sqlite3_vfs, *const c_char, c_int, *mut c_char) -> c_int>,
    pub x_dl_open: Option<unsafe extern "C" fn(*mut sqlite3_vfs, *const c_char) -> *mut c_void>,
    pub x_dl_error: Option<unsafe extern "C" fn(*mut sqlite3_vfs, c_int, *mut c_char)>,
    pub x_dl_sym: Option<
        unsafe extern "C" fn(
            *mut sqlite3_vfs,
            *mut c_void,
            *const c_char,
        ) -> Option<unsafe extern "C" fn()>,
    >,
    pub x_dl_close: Option<unsafe extern "C" fn(*mut sqlite3_vfs, *mut c_void)>,
    pub x_randomness: Option<unsafe extern "C" fn(*mut sqlite3_vfs, c_int, *mut c_char) -> c_int>,
    pub x_sleep: Option<unsafe extern "C" fn(*mut sqlite3_vfs, c_int) -> c_int>,
    pub x_current_time: Option<unsafe extern "C" fn(*mut sqlite3_vfs, *mut f64) -> c_int>,
    pub x_get_last_error:
        Option<unsafe extern "C" fn(*mut sqlite3_vfs, c_int, *mut c_char) -> c_int>,
    pub x_current_time_int64: Option<unsafe extern "C" fn(*mut sqlite3_vfs, *mut i64) -> c_int>,
}

pub const SQLITE_OK: c_int = 0;
pub const SQLITE_ERROR: c_int = 1;
pub const SQLITE_INTERNAL: c_int = 2;
pub const SQLITE_BUSY: c_int = 5;
pub const SQLITE_NOMEM: c_int = 7;
pub const SQLITE_READONLY: c_int = 8;
pub const SQLITE_IOERR: c_int = 10;
pub const SQLITE_CORRUPT: c_int = 11;
pub const SQLITE_NOTFOUND: c_int = 12;
pub const SQLITE_CANTOPEN: c_int = 14;
pub const SQLITE_TOOBIG: c_int = 18;
pub const SQLITE_MISUSE: c_int = 21;
pub const SQLITE_NOTADB: c_int = 26;
pub const SQLITE_ROW: c_int = 100;
pub const SQLITE_DONE: c_int = 101;

pub const SQLITE_IOERR_READ: c_int = SQLITE_IOERR | (1 << 8);
pub const SQLITE_IOERR_SHORT_READ: c_int = SQLITE_IOERR | (2 << 8);
pub const SQLITE_IOERR_WRITE: c_int = SQLITE_IOERR | (3 << 8);
pub const SQLITE_IOERR_TRUNCATE: c_int = SQLITE_IOERR | (6 << 8);
pub const SQLITE_IOERR_FSTAT: c_int = SQLITE_IOERR | (7 << 8);
pub const SQLITE_IOERR_UNLOCK: c_int = SQLITE_IOERR | (8 << 8);
pub const SQLITE_IOERR_LOCK: c_int = SQLITE_IOERR | (15 << 8);

pub const SQLITE_FCNTL_LOCKSTATE: c_int = 1;
pub const SQLITE_FCNTL_FILE_POINTER: c_int = 7;
pub const SQLITE_FCNTL_VFSNAME: c_int = 12;
pub const SQLITE_FCNTL_PRAGMA: c_int = 14;
pub const SQLITE_FCNTL_COMMIT_PHASETWO: c_int = 22;

pub const SQLITE_IOCAP_IMMUTABLE: c_int = 0x2000;

pub const SQLITE_INTEGER: c_int = 1;
pub const SQLITE_NULL: c_int = 5;

pub const SQLITE_UTF8: c_int = 1;
pub const SQLITE_DETERMINISTIC: c_int = 0x800;

/// `SQLITE_TRANSIENT`: SQLite copies the buffer before the call returns.
pub fn transient() -> Destructor {
    // SAFETY: SQLite defines SQLITE_TRANSIENT as the destructor value -1; it is compared, never
    // called.
    Some(unsafe { std::mem::transmute::<isize, unsafe extern "C" fn(*mut c_void)>(-1) })
}
