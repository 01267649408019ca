//! The loadable-extension entry point and the SQL functions it registers.
//!
//! Loading once is enough: the first load registers the VFSes for the process and an
//! auto-extension that adds the SQL functions to every connection opened afterwards, and it
//! asks SQLite to keep the library loaded after the loading connection closes (the VFSes live
//! in it).

use crate::config::{self, Config};
use crate::error::{Error, Result};
use crate::ffi::*;
use crate::sqlite_api;
use crate::vfs::{glue, web::WebOpener, ZstdOpener};
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

/// Tells SQLite not to unload the library when the loading connection closes.
const SQLITE_OK_LOAD_PERMANENTLY: c_int = 256;

/// This library's version as the SQL function reports it.
pub fn version() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

/// Registers the VFSes and the auto-extension, once per process.
pub fn register_process_wide() -> Result<()> {
    static DONE: OnceLock<Result<()>> = OnceLock::new();
    DONE.get_or_init(|| {
        glue::register(c"zstd", Box::new(ZstdOpener))?;
        glue::register(c"web", Box::new(WebOpener))?;
        let api = sqlite_api::api();
        // SAFETY: SQLite calls auto-extensions with the entry point signature; it takes the
        // pointer as a void(*)(void) and casts it back.
        let rc = unsafe {
            (api.auto_extension)(Some(std::mem::transmute::<
                unsafe extern "C" fn(
                    *mut sqlite3,
                    *mut *mut c_char,
                    *const sqlite3_api_routines,
                ) -> c_int,
                unsafe extern "C" fn(),
            >(auto_init)))
        };
        if rc != SQLITE_OK {
            return Err(Error::new(
                rc,
                "cannot register the genomicsqlite auto-extension",
            ));
        }
        Ok(())
    })
    .as_ref()
    .map_err(|e| Error::new(e.code(), e.message()))
    .copied()
}

/// Entry point SQLite calls on `.load libgenomicsqlite` / `load_extension()`.
///
/// # Safety
/// Called by SQLite with a valid connection and routine table.
#[no_mangle]
pub unsafe extern "C" fn sqlite3_genomicsqlite_init(
    db: *mut sqlite3,
    pz_err_msg: *mut *mut c_char,
    routines: *const sqlite3_api_routines,
) -> c_int {
    let r = catch_unwind(AssertUnwindSafe(|| -> Result<()> {
        // SAFETY: SQLite's own routine table.
        unsafe { sqlite_api::install_from_host(routines) }?;
        register_process_wide()?;
        // SAFETY: the connection loading us.
        unsafe { register_functions(db) }
    }));
    let failure = match r {
        Ok(Ok(())) => return SQLITE_OK_LOAD_PERMANENTLY,
        Ok(Err(e)) => e,
        Err(_) => Error::new(
            SQLITE_INTERNAL,
            "genomicsqlite: internal error while loading",
        ),
    };
    if !pz_err_msg.is_null() && sqlite_api::try_api().is_some() {
        // SAFETY: SQLite's out-pointer for the message, which it frees with sqlite3_free.
        unsafe { *pz_err_msg = sqlite_api::sqlite_string(&failure.message(), false) };
    }
    failure.code()
}

/// Auto-extension: adds the SQL functions to each new connection.
unsafe extern "C" fn auto_init(
    db: *mut sqlite3,
    _pz_err_msg: *mut *mut c_char,
    _routines: *const sqlite3_api_routines,
) -> c_int {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: SQLite calls auto-extensions with the connection being opened.
        let registered = unsafe { register_functions(db) };
        match registered {
            Ok(()) => SQLITE_OK,
            Err(e) => e.code(),
        }
    }))
    .unwrap_or(SQLITE_INTERNAL)
}

/// A SQL function's implementation: its text arguments (NULL = `None`) to a result. The C
/// exports of the same names ([`crate::capi`]) call these too, so both compute one string.
type SqlFn = fn(&[Option<String>]) -> Result<String>;

const FUNCTIONS: [(&CStr, c_int, SqlFn); 9] = [
    (c"genomicsqlite_version", 0, |_| Ok(version())),
    (c"genomicsqlite_default_config_json", 0, |_| {
        Ok(Config::default().to_json())
    }),
    (c"genomicsqlite_uri", 1, sql_uri),
    (c"genomicsqlite_uri", 2, sql_uri),
    (c"genomicsqlite_tuning_sql", 1, sql_tuning),
    (c"genomicsqlite_tuning_sql", 2, sql_tuning),
    (c"genomicsqlite_attach_sql", 3, sql_attach),
    (c"genomicsqlite_attach_sql", 2, sql_attach),
    (c"genomicsqlite_vacuum_into_sql", 2, sql_vacuum_into),
];

fn required<'a>(args: &'a [Option<String>], i: usize, what: &str) -> Result<&'a str> {
    args.get(i).and_then(|a| a.as_deref()).ok_or_else(|| {
        Error::invalid(format!(
            "argument #{} ({what}) must be text, not NULL",
            i + 1
        ))
    })
}

/// A database path or URL argument (see [`config::check_path`]).
fn path_arg<'a>(args: &'a [Option<String>], i: usize, what: &str) -> Result<&'a str> {
    let path = required(args, i, what)?;
    config::check_path(path)?;
    Ok(path)
}

fn config_arg(args: &[Option<String>], i: usize) -> Result<Config> {
    config_json(args.get(i).and_then(|a| a.as_deref()))
}

/// A configuration argument of the SQL functions and the C API (NULL or "" = the defaults).
pub(crate) fn config_json(json: Option<&str>) -> Result<Config> {
    Config::from_json(json.unwrap_or(""))
}

pub(crate) fn sql_uri(args: &[Option<String>]) -> Result<String> {
    Ok(config::uri(
        path_arg(args, 0, "dbfile")?,
        &config_arg(args, 1)?,
    ))
}

pub(crate) fn sql_tuning(args: &[Option<String>]) -> Result<String> {
    let schema = args.get(1).and_then(|a| a.as_deref());
    Ok(config::tuning_sql(&config_arg(args, 0)?, schema))
}

pub(crate) fn sql_attach(args: &[Option<String>]) -> Result<String> {
    Ok(config::attach_sql(
        path_arg(args, 0, "dbfile")?,
        required(args, 1, "schema_name")?,
        &config_arg(args, 2)?,
    ))
}

pub(crate) fn sql_vacuum_into(args: &[Option<String>]) -> Result<String> {
    Ok(config::vacuum_into_sql(
        path_arg(args, 0, "destfile")?,
        &config_arg(args, 1)?,
    ))
}

/// Registers the SQL functions on one connection.
///
/// # Safety
/// `db` is a valid connection.
unsafe fn register_functions(db: *mut sqlite3) -> Result<()> {
    for (i, (name, n_arg, _)) in FUNCTIONS.iter().enumerate() {
        // SAFETY: valid connection (per the contract); the user-data pointer only encodes the
        // table index.
        unsafe {
            sqlite_api::create_scalar_function(
                db,
                name,
                *n_arg,
                SQLITE_DETERMINISTIC,
                i as *mut c_void,
                call_sql_fn,
            )?;
        }
    }
    // SAFETY: per the contract.
    unsafe { crate::genomics::register(db) }
}

/// Calls the entry of [`FUNCTIONS`] whose index was registered as the function's user data.
unsafe extern "C" fn call_sql_fn(
    ctx: *mut sqlite3_context,
    argc: c_int,
    argv: *mut *mut sqlite3_value,
) {
    let api = sqlite_api::api();
    // SAFETY: SQLite calls a function with its context and `argc` values in `argv`, valid
    // during the call; the value accessors are called in the order SQLite's docs require
    // (text, then bytes).
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe {
        let index = (api.user_data)(ctx) as usize;
        let (name, _, f) = FUNCTIONS
            .get(index)
            .ok_or_else(|| Error::invalid("unknown function"))?;
        let args: Vec<Option<String>> = (0..argc.max(0) as usize)
            .map(|i| {
                let v = *argv.add(i);
                if (api.value_type)(v) == SQLITE_NULL {
                    None
                } else {
                    let p = (api.value_text)(v);
                    let n = (api.value_bytes)(v);
                    Some(if p.is_null() {
                        String::new()
                    } else {
                        String::from_utf8_lossy(std::slice::from_raw_parts(p, n.max(0) as usize))
                            .into_owned()
                    })
                }
            })
            .collect();
        f(&args)
            .map_err(|e| Error::invalid(format!("{}(): {}", name.to_string_lossy(), e.message())))
    }));
    // SAFETY: the function's context, with texts and lengths that match (SQLite copies them).
    unsafe {
        match outcome {
            Ok(Ok(text)) => match c_int::try_from(text.len()) {
                Ok(n) => (api.result_text)(ctx, text.as_ptr() as *const c_char, n, transient()),
                Err(_) => (api.result_error_nomem)(ctx),
            },
            Ok(Err(e)) => {
                let message = e.message();
                let n = c_int::try_from(message.len()).unwrap_or(0);
                (api.result_error)(ctx, message.as_ptr() as *const c_char, n);
            }
            Err(_) => {
                let m = "genomicsqlite: internal error";
                (api.result_error)(ctx, m.as_ptr() as *const c_char, m.len() as c_int);
            }
        }
    }
}
