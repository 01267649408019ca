//! FFI ring: the toolkit's scalar SQL functions and the `UINT` collation.
//!
//! Arguments are read into [`Arg`] views, checked strictly by type as 0.9.4 does (no coercion;
//! the error names the C function and argument number, as 0.9.4's do), and passed to the safe
//! logic; nothing panics into SQLite.

use super::gri;
use super::{parse, refseq, twobit};
use crate::error::{Error, Result};
use crate::ffi::*;
use crate::sqlite_api::{self, Connection};
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// One argument, borrowed from SQLite for the duration of the call.
#[derive(Debug, Clone, Copy)]
enum Arg<'a> {
    Null,
    Int(i64),
    Real,
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

enum Out {
    Null,
    Int(i64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

type R = Result<Out>;

/// A result too large for SQLite (reported with `sqlite3_result_error_toobig`).
fn too_big() -> Error {
    Error::new(SQLITE_TOOBIG, "string or blob too big")
}

/// What a function body may use besides its arguments.
struct Ctx<'a> {
    conn: &'a Connection,
}

/// Typed access to the arguments, with 0.9.4's error texts.
struct Args<'a, 'b> {
    args: &'b [Arg<'a>],
    cfn: &'static str,
}

impl<'a> Args<'a, '_> {
    fn get(&self, i: usize) -> Arg<'a> {
        self.args.get(i).copied().unwrap_or(Arg::Null)
    }
    fn mismatch(&self, i: usize) -> Error {
        Error::invalid(format!("{}() argument #{} type mismatch", self.cfn, i + 1))
    }
    fn text(&self, i: usize) -> Result<String> {
        self.opt_text(i)?.ok_or_else(|| self.mismatch(i))
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.get(i) {
            Arg::Null => Ok(None),
            Arg::Text(t) => Ok(Some(String::from_utf8_lossy(t).into_owned())),
            _ => Err(self.mismatch(i)),
        }
    }
    fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?.ok_or_else(|| self.mismatch(i))
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.get(i) {
            Arg::Null => Ok(None),
            Arg::Int(v) => Ok(Some(v)),
            _ => Err(self.mismatch(i)),
        }
    }
}

fn text(s: String) -> R {
    Ok(Out::Text(s.into_bytes()))
}

fn create_genomic_range_index_sql(_: &Ctx, a: &Args) -> R {
    let floor = a.opt_int(4)?.unwrap_or(-1);
    text(gri::create_index_sql(
        &a.text(0)?,
        &a.text(1)?,
        &a.text(2)?,
        &a.text(3)?,
        floor,
    )?)
}

fn genomic_range_rowids_sql(ctx: &Ctx, a: &Args) -> R {
    let table = a.text(0)?;
    let q = |i: usize, default: &str| -> Result<String> {
        Ok(a.opt_text(i)?.unwrap_or_else(|| default.to_string()))
    };
    let (qrid, qbeg, qend) = (q(1, "?1")?, q(2, "?2")?, q(3, "?3")?);
    let ceiling = a.opt_int(4)?.unwrap_or(-1);
    let floor = a.opt_int(5)?.unwrap_or(-1);
    // Uncached: a statement calling only this function holds no read transaction, so the data
    // version the cache is checked against might be stale.
    let (ceiling, floor) =
        gri::resolve_bounds(ceiling, floor, || gri::detect_levels(ctx.conn, &table))?;
    text(gri::rowids_sql(&table, &qrid, &qbeg, &qend, ceiling, floor))
}

fn put_genomic_reference_sequence_sql(_: &Ctx, a: &Args) -> R {
    let (name, length) = (a.text(0)?, a.int(1)?);
    let (assembly, refget_id, meta_json) = (a.opt_text(2)?, a.opt_text(3)?, a.opt_text(4)?);
    let rid = a.opt_int(5)?.unwrap_or(-1);
    let schema = a.opt_text(6)?;
    let spec = refseq::RefSeqSpec {
        name: &name,
        length,
        assembly: assembly.as_deref(),
        refget_id: refget_id.as_deref(),
        meta_json: meta_json.as_deref(),
        rid,
    };
    text(refseq::put_reference_sequence_sql(
        &spec,
        schema.as_deref(),
    )?)
}

fn put_genomic_reference_assembly_sql(_: &Ctx, a: &Args) -> R {
    let assembly = a.text(0)?;
    let schema = a.opt_text(1)?;
    text(refseq::put_reference_assembly_sql(
        &assembly,
        schema.as_deref(),
    )?)
}

fn nucleotides_twobit(_: &Ctx, a: &Args) -> R {
    match a.get(0) {
        Arg::Null => Ok(Out::Null),
        Arg::Text([]) => Ok(Out::Text(Vec::new())),
        Arg::Text(t) => Ok(match twobit::encode(t)? {
            Some(blob) => Out::Blob(blob),
            None => Out::Text(t.to_vec()),
        }),
        _ => Err(Error::invalid("nucleotides_twobit() expected TEXT")),
    }
}

fn twobit_length(_: &Ctx, a: &Args) -> R {
    match a.get(0) {
        Arg::Null => Ok(Out::Null),
        Arg::Blob(b) => match twobit::decoded_len(b) {
            n if n > i32::MAX as u64 => Err(too_big()),
            n => Ok(Out::Int(n as i64)),
        },
        Arg::Text(t) => Ok(Out::Int(t.len() as i64)),
        _ => Err(Error::invalid("twobit_length() expected BLOB or TEXT")),
    }
}

fn twobit_decode(a: &Args, rna: bool) -> R {
    let range_args = Args {
        args: a.args,
        cfn: "twobit_nucleotides",
    };
    let y = range_args.opt_int(1)?.unwrap_or(0);
    let z = range_args.opt_int(2)?;
    match a.get(0) {
        Arg::Null => Ok(Out::Null),
        Arg::Blob(b) => {
            let (ofs, len) = twobit::substr_range(twobit::decoded_len(b), y, z);
            if len > i32::MAX as u64 {
                return Err(too_big());
            }
            Ok(Out::Text(twobit::decode(b, ofs, len, rna)))
        }
        Arg::Text(t) => {
            let (ofs, len) = twobit::substr_range(t.len() as u64, y, z);
            Ok(Out::Text(t[ofs as usize..(ofs + len) as usize].to_vec()))
        }
        _ => Err(Error::invalid("twobit_dna() expected BLOB or TEXT")),
    }
}

fn twobit_dna(_: &Ctx, a: &Args) -> R {
    twobit_decode(a, false)
}

fn twobit_rna(_: &Ctx, a: &Args) -> R {
    twobit_decode(a, true)
}

fn dna_revcomp(_: &Ctx, a: &Args) -> R {
    match a.get(0) {
        Arg::Null => Ok(Out::Null),
        Arg::Text(t) => twobit::revcomp(t)
            .map(Out::Text)
            .ok_or_else(|| Error::invalid("non-DNA input to dna_revcomp()")),
        _ => Err(a.mismatch(0)),
    }
}

fn parse_range(a: &Args) -> Result<Option<parse::GenomicRange>> {
    match a.get(0) {
        Arg::Null => Ok(None),
        Arg::Text(t) => Ok(Some(parse::parse_genomic_range(t)?)),
        _ => Err(a.mismatch(0)),
    }
}

fn parse_genomic_range_sequence(_: &Ctx, a: &Args) -> R {
    Ok(parse_range(a)?.map_or(Out::Null, |r| Out::Text(r.name)))
}

fn parse_genomic_range_begin(_: &Ctx, a: &Args) -> R {
    Ok(parse_range(a)?.map_or(Out::Null, |r| Out::Int(r.begin)))
}

fn parse_genomic_range_end(_: &Ctx, a: &Args) -> R {
    Ok(parse_range(a)?.map_or(Out::Null, |r| Out::Int(r.end)))
}

type Body = fn(&Ctx, &Args) -> R;

/// One SQL function: name, arities, deterministic, the C name 0.9.4 reports in type errors,
/// body.
struct Function {
    name: &'static CStr,
    arity: std::ops::RangeInclusive<c_int>,
    deterministic: bool,
    cfn: &'static str,
    body: Body,
}

macro_rules! functions {
    ($($name:ident $lo:literal..=$hi:literal $det:literal;)*) => {
        const FUNCTIONS: &[Function] = &[$(Function {
            name: match CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes()) {
                Ok(c) => c,
                Err(_) => panic!("function name"),
            },
            arity: $lo..=$hi,
            deterministic: $det,
            cfn: concat!("sqlfn_", stringify!($name)),
            body: $name,
        },)*];
    };
}

functions! {
    create_genomic_range_index_sql 4..=5 false;
    genomic_range_rowids_sql 1..=6 false;
    put_genomic_reference_sequence_sql 2..=7 false;
    put_genomic_reference_assembly_sql 1..=2 false;
    nucleotides_twobit 1..=1 true;
    twobit_length 1..=1 true;
    twobit_dna 1..=3 true;
    twobit_rna 1..=3 true;
    dna_revcomp 1..=1 true;
    parse_genomic_range_sequence 1..=1 true;
    parse_genomic_range_begin 1..=1 true;
    parse_genomic_range_end 1..=1 true;
}

/// # Safety
/// `db` is a valid connection.
pub(super) unsafe fn register(db: *mut sqlite3) -> Result<()> {
    let api = sqlite_api::api();
    for function in FUNCTIONS {
        let flags = if function.deterministic {
            SQLITE_DETERMINISTIC
        } else {
            0
        };
        for n_arg in function.arity.clone() {
            // SAFETY: valid connection; the user data is a &'static Function.
            unsafe {
                sqlite_api::create_scalar_function(
                    db,
                    function.name,
                    n_arg,
                    flags,
                    function as *const Function as *mut c_void,
                    call,
                )?;
            }
        }
    }
    // SAFETY: valid connection; the comparison function has no user data.
    let rc = unsafe {
        (api.create_collation_v2)(
            db,
            c"UINT".as_ptr(),
            SQLITE_UTF8,
            std::ptr::null_mut(),
            Some(uint_compare),
            None,
        )
    };
    // SQLITE_BUSY: a statement using a collation of that name is running; it stays registered.
    if rc != SQLITE_OK && rc != SQLITE_BUSY {
        return Err(Error::new(rc, "cannot register collation UINT"));
    }
    Ok(())
}

/// Reads argument `v` without copying.
///
/// # Safety
/// `v` must be a protected sqlite3_value of the running call; the slice lives as long as it.
unsafe fn arg<'a>(v: *mut sqlite3_value) -> Arg<'a> {
    let api = sqlite_api::api();
    // SAFETY: (for both blocks) a value of the running call, per the contract; its bytes are
    // asked for after its text or blob, as SQLite's docs require, and live as long as it.
    let bytes = |p: *const u8| unsafe {
        let n = (api.value_bytes)(v);
        if p.is_null() || n <= 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(p, n as usize)
        }
    };
    // SAFETY: see above.
    unsafe {
        match (api.value_type)(v) {
            SQLITE_INTEGER => Arg::Int((api.value_int64)(v)),
            2 => Arg::Real,
            3 => Arg::Text(bytes((api.value_text)(v))),
            4 => Arg::Blob(bytes((api.value_blob)(v) as *const u8)),
            _ => Arg::Null,
        }
    }
}

unsafe extern "C" fn call(ctx: *mut sqlite3_context, argc: c_int, argv: *mut *mut sqlite3_value) {
    let api = sqlite_api::api();
    // SAFETY: SQLite calls a function with its context and `argc` values in `argv`; the user
    // data is the &'static Function registered with this function; the connection of the
    // context outlives the call.
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe {
        let function = &*((api.user_data)(ctx) as *const Function);
        let args: Vec<Arg> = (0..argc.max(0) as usize)
            .map(|i| arg(*argv.add(i)))
            .collect();
        let conn = Connection::borrowed((api.context_db_handle)(ctx));
        (function.body)(
            &Ctx { conn: &conn },
            &Args {
                args: &args,
                cfn: function.cfn,
            },
        )
    }));
    // SAFETY: the context of this call.
    unsafe {
        match outcome {
            Ok(Ok(out)) => set_result(ctx, out),
            Ok(Err(e)) if e.code() == SQLITE_TOOBIG => (api.result_error_toobig)(ctx),
            Ok(Err(e)) => set_error(ctx, &e.message()),
            Err(_) => set_error(ctx, "genomicsqlite: internal error"),
        }
    }
}

/// # Safety
/// `ctx` must be the context of the running call.
unsafe fn set_result(ctx: *mut sqlite3_context, out: Out) {
    let api = sqlite_api::api();
    // SAFETY: the context per the contract; texts and blobs with their lengths, copied by
    // SQLite (SQLITE_TRANSIENT).
    unsafe {
        match out {
            Out::Null => (api.result_null)(ctx),
            Out::Int(i) => (api.result_int64)(ctx, i),
            Out::Text(t) => match c_int::try_from(t.len()) {
                Ok(n) => (api.result_text)(ctx, t.as_ptr() as *const c_char, n, transient()),
                Err(_) => (api.result_error_toobig)(ctx),
            },
            Out::Blob(b) => match c_int::try_from(b.len()) {
                Ok(n) => (api.result_blob)(ctx, b.as_ptr() as *const c_void, n, transient()),
                Err(_) => (api.result_error_toobig)(ctx),
            },
        }
    }
}

/// # Safety
/// `ctx` must be the context of the running call.
unsafe fn set_error(ctx: *mut sqlite3_context, message: &str) {
    let n = c_int::try_from(message.len()).unwrap_or(0);
    // SAFETY: the context per the contract; SQLite copies the message.
    unsafe { (sqlite_api::api().result_error)(ctx, message.as_ptr() as *const c_char, n) };
}

unsafe extern "C" fn uint_compare(
    _: *mut c_void,
    na: c_int,
    a: *const c_void,
    nb: c_int,
    b: *const c_void,
) -> c_int {
    catch_unwind(AssertUnwindSafe(|| {
        let view = |p: *const c_void, n: c_int| {
            if p.is_null() || n <= 0 {
                &[][..]
            } else {
                // SAFETY: SQLite passes n readable bytes at p.
                unsafe { std::slice::from_raw_parts(p as *const u8, n as usize) }
            }
        };
        parse::uint_collate(view(a, na), view(b, nb)) as c_int
    }))
    .unwrap_or(0)
}
