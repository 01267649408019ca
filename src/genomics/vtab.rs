//! FFI ring: the eponymous table-valued functions `genomic_range_rowids(table, qrid, qbeg,
//! qend[, ceiling, floor])` and `genomic_range_index_levels(table)`.
//!
//! The work happens in [`super::gri`]; this file only translates SQLite's virtual-table
//! callbacks. Each callback catches panics, and errors go to SQLite as `zErrMsg` text.

use super::gri::{self, GriTable, Value};
use super::ConnShared;
use crate::error::{Error, Result};
use crate::ffi::*;
use crate::sqlite_api::{self, sqlite_string, Connection};
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

#[repr(C)]
struct sqlite3_vtab {
    module: *const c_void,
    n_ref: c_int,
    z_err_msg: *mut c_char,
}

#[repr(C)]
struct sqlite3_vtab_cursor {
    vtab: *mut sqlite3_vtab,
}

#[repr(C)]
struct IndexConstraint {
    i_column: c_int,
    op: u8,
    usable: u8,
    i_term_offset: c_int,
}

#[repr(C)]
struct IndexOrderBy {
    i_column: c_int,
    desc: u8,
}

#[repr(C)]
struct IndexConstraintUsage {
    argv_index: c_int,
    omit: u8,
}

/// `sqlite3_index_info` up to `estimatedRows` (SQLite 3.8.2), all we touch.
#[repr(C)]
struct IndexInfo {
    n_constraint: c_int,
    a_constraint: *const IndexConstraint,
    n_order_by: c_int,
    a_order_by: *const IndexOrderBy,
    a_constraint_usage: *mut IndexConstraintUsage,
    idx_num: c_int,
    idx_str: *mut c_char,
    need_to_free_idx_str: c_int,
    order_by_consumed: c_int,
    estimated_cost: f64,
    estimated_rows: i64,
}

type VtabFn<A> = Option<unsafe extern "C" fn(A) -> c_int>;

/// `sqlite3_module`, version 1 layout (later members are only read when iVersion says so).
#[repr(C)]
struct Module {
    i_version: c_int,
    x_create: Option<
        unsafe extern "C" fn(
            *mut sqlite3,
            *mut c_void,
            c_int,
            *const *const c_char,
            *mut *mut sqlite3_vtab,
            *mut *mut c_char,
        ) -> c_int,
    >,
    x_connect: Option<
        unsafe extern "C" fn(
            *mut sqlite3,
            *mut c_void,
            c_int,
            *const *const c_char,
            *mut *mut sqlite3_vtab,
            *mut *mut c_char,
        ) -> c_int,
    >,
    x_best_index: Option<unsafe extern "C" fn(*mut sqlite3_vtab, *mut IndexInfo) -> c_int>,
    x_disconnect: VtabFn<*mut sqlite3_vtab>,
    x_destroy: VtabFn<*mut sqlite3_vtab>,
    x_open: Option<unsafe extern "C" fn(*mut sqlite3_vtab, *mut *mut sqlite3_vtab_cursor) -> c_int>,
    x_close: VtabFn<*mut sqlite3_vtab_cursor>,
    x_filter: Option<
        unsafe extern "C" fn(
            *mut sqlite3_vtab_cursor,
            c_int,
            *const c_char,
            c_int,
            *mut *mut sqlite3_value,
        ) -> c_int,
    >,
    x_next: VtabFn<*mut sqlite3_vtab_cursor>,
    x_eof: VtabFn<*mut sqlite3_vtab_cursor>,
    x_column: Option<
        unsafe extern "C" fn(*mut sqlite3_vtab_cursor, *mut sqlite3_context, c_int) -> c_int,
    >,
    x_rowid: Option<unsafe extern "C" fn(*mut sqlite3_vtab_cursor, *mut i64) -> c_int>,
    x_update: *const c_void,
    x_begin: *const c_void,
    x_sync: *const c_void,
    x_commit: *const c_void,
    x_rollback: *const c_void,
    x_find_function: *const c_void,
    x_rename: *const c_void,
}

// SAFETY: the module tables are immutable function-pointer tables.
unsafe impl Sync for Module {}

const SQLITE_CONSTRAINT: c_int = 19;
const SQLITE_INDEX_CONSTRAINT_EQ: u8 = 2;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rowids,
    Levels,
}

impl Kind {
    fn schema(self) -> &'static CStr {
        match self {
            Kind::Rowids => c"CREATE TABLE genomic_range_rowids(_rowid_ INTEGER, tableName HIDDEN, qrid HIDDEN, qbeg HIDDEN, qend HIDDEN, ceiling HIDDEN, floor HIDDEN)",
            Kind::Levels => c"CREATE TABLE genomic_range_index_levels(_gri_ceiling INTEGER, _gri_floor INTEGER, tableName HIDDEN)",
        }
    }
    /// Column of the first argument (`tableName`).
    fn first_arg_column(self) -> c_int {
        match self {
            Kind::Rowids => 1,
            Kind::Levels => 2,
        }
    }
    /// Columns that must have an equality constraint.
    fn required_args(self) -> c_int {
        match self {
            Kind::Rowids => 4,
            Kind::Levels => 1,
        }
    }
    fn max_args(self) -> c_int {
        match self {
            Kind::Rowids => 6,
            Kind::Levels => 1,
        }
    }
}

/// Module user data: the kind and the connection's shared state.
struct ModuleAux {
    kind: Kind,
    shared: Arc<ConnShared>,
}

/// Most tables whose statements one connection keeps prepared.
const MAX_TABLES: usize = 64;

#[repr(C)]
struct Vtab {
    base: sqlite3_vtab,
    kind: Kind,
    db: *mut sqlite3,
    shared: Arc<ConnShared>,
    /// Prepared statements per table name, finalized when SQLite disconnects the table (before
    /// the connection closes).
    tables: RefCell<HashMap<String, GriTable>>,
}

#[repr(C)]
struct Cursor {
    base: sqlite3_vtab_cursor,
    /// Rowids (Rowids) or `[ceiling, floor]` (Levels).
    values: Vec<i64>,
    pos: usize,
    /// The arguments, reported back as the hidden columns.
    args: Vec<Value>,
}

static ROWIDS: Module = module();
static LEVELS: Module = module();

const fn module() -> Module {
    Module {
        i_version: 1,
        x_create: None, // eponymous only
        x_connect: Some(x_connect),
        x_best_index: Some(x_best_index),
        x_disconnect: Some(x_disconnect),
        x_destroy: Some(x_disconnect),
        x_open: Some(x_open),
        x_close: Some(x_close),
        x_filter: Some(x_filter),
        x_next: Some(x_next),
        x_eof: Some(x_eof),
        x_column: Some(x_column),
        x_rowid: Some(x_rowid),
        x_update: std::ptr::null(),
        x_begin: std::ptr::null(),
        x_sync: std::ptr::null(),
        x_commit: std::ptr::null(),
        x_rollback: std::ptr::null(),
        x_find_function: std::ptr::null(),
        x_rename: std::ptr::null(),
    }
}

/// # Safety
/// `db` is a valid connection.
pub(super) unsafe fn register(db: *mut sqlite3, shared: &Arc<ConnShared>) -> Result<()> {
    for (name, module, kind) in [
        (c"genomic_range_rowids", &ROWIDS, Kind::Rowids),
        (c"genomic_range_index_levels", &LEVELS, Kind::Levels),
    ] {
        let aux = Box::into_raw(Box::new(ModuleAux {
            kind,
            shared: shared.clone(),
        }));
        // SAFETY: a valid connection (per the contract); the module table is static; SQLite
        // owns `aux` and frees it with drop_aux (also if registration fails).
        let rc = unsafe {
            (sqlite_api::api().create_module_v2)(
                db,
                name.as_ptr(),
                module as *const Module as *const c_void,
                aux as *mut c_void,
                Some(drop_aux),
            )
        };
        if rc != SQLITE_OK {
            return Err(Error::new(
                rc,
                format!("cannot register table-valued function {name:?}"),
            ));
        }
    }
    Ok(())
}

unsafe extern "C" fn drop_aux(p: *mut c_void) {
    // SAFETY: p is the Box<ModuleAux> from register(), freed once by SQLite.
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe {
        drop(Box::from_raw(p as *mut ModuleAux))
    }));
}

/// Runs a callback body, turning a panic into SQLITE_INTERNAL.
fn guarded(f: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(SQLITE_INTERNAL)
}

/// Replaces the vtab's error message.
///
/// # Safety
/// `vtab` must be a live vtab of ours.
unsafe fn set_error(vtab: *mut sqlite3_vtab, message: &str) -> c_int {
    let api = sqlite_api::api();
    // SAFETY: per the contract; zErrMsg is null or from sqlite3_malloc, and SQLite frees the
    // new one.
    unsafe {
        if !(*vtab).z_err_msg.is_null() {
            (api.free)((*vtab).z_err_msg as *mut c_void);
        }
        (*vtab).z_err_msg = sqlite_string(message, false);
    }
    SQLITE_ERROR
}

unsafe extern "C" fn x_connect(
    db: *mut sqlite3,
    aux: *mut c_void,
    _argc: c_int,
    _argv: *const *const c_char,
    pp_vtab: *mut *mut sqlite3_vtab,
    _pz_err: *mut *mut c_char,
) -> c_int {
    // SAFETY: SQLite passes the connection, our ModuleAux (alive while the module is registered) and an
    // out-pointer for the new vtab.
    guarded(|| unsafe {
        // SAFETY: aux is our ModuleAux, alive while the module is registered.
        let aux = &*(aux as *const ModuleAux);
        let rc = (sqlite_api::api().declare_vtab)(db, aux.kind.schema().as_ptr());
        if rc != SQLITE_OK {
            return rc;
        }
        let vtab = Box::new(Vtab {
            base: sqlite3_vtab {
                module: std::ptr::null(),
                n_ref: 0,
                z_err_msg: std::ptr::null_mut(),
            },
            kind: aux.kind,
            db,
            shared: aux.shared.clone(),
            tables: RefCell::new(HashMap::new()),
        });
        *pp_vtab = Box::into_raw(vtab) as *mut sqlite3_vtab;
        SQLITE_OK
    })
}

unsafe extern "C" fn x_disconnect(vtab: *mut sqlite3_vtab) -> c_int {
    // SAFETY: `vtab` is the Box<Vtab> from x_connect, which SQLite disconnects once; dropping it finalizes
    // its statements.
    guarded(|| unsafe {
        // SAFETY: vtab is the Box<Vtab> from x_connect; SQLite disconnects it once. Dropping it
        // finalizes its statements.
        let vtab = Box::from_raw(vtab as *mut Vtab);
        if !vtab.base.z_err_msg.is_null() {
            (sqlite_api::api().free)(vtab.base.z_err_msg as *mut c_void);
        }
        drop(vtab);
        SQLITE_OK
    })
}

unsafe extern "C" fn x_best_index(vtab: *mut sqlite3_vtab, info: *mut IndexInfo) -> c_int {
    // SAFETY: SQLite passes our vtab and a valid index-info whose arrays have the sizes it states.
    guarded(|| unsafe {
        // SAFETY: SQLite passes our vtab and a valid index-info with arrays of the given sizes.
        let kind = (*(vtab as *const Vtab)).kind;
        let info = &mut *info;
        let constraints =
            std::slice::from_raw_parts(info.a_constraint, info.n_constraint.max(0) as usize);
        let usage = std::slice::from_raw_parts_mut(
            info.a_constraint_usage,
            info.n_constraint.max(0) as usize,
        );
        let first = kind.first_arg_column();
        // Which constraint supplies argument k (0-based), if any.
        let mut supplier: [Option<usize>; 6] = [None; 6];
        for (i, c) in constraints.iter().enumerate() {
            let k = c.i_column - first;
            if c.usable != 0
                && c.op == SQLITE_INDEX_CONSTRAINT_EQ
                && (0..kind.max_args()).contains(&k)
                && supplier[k as usize].is_none()
            {
                supplier[k as usize] = Some(i);
            }
        }
        if supplier[..kind.required_args() as usize]
            .iter()
            .any(Option::is_none)
        {
            return SQLITE_CONSTRAINT; // "no query solution" unless another plan supplies them
        }
        let mut argv_index = 0;
        let mut idx_num = 0;
        for (k, s) in supplier.iter().enumerate().take(kind.max_args() as usize) {
            if let Some(i) = s {
                argv_index += 1;
                usage[*i].argv_index = argv_index;
                usage[*i].omit = 1;
                idx_num |= 1 << k;
            }
        }
        info.idx_num = idx_num;
        if kind == Kind::Rowids && info.n_order_by == 1 {
            let ob = &*info.a_order_by;
            if (ob.i_column == 0 || ob.i_column == -1) && ob.desc == 0 {
                info.order_by_consumed = 1;
            }
        }
        info.estimated_cost = 10.0;
        info.estimated_rows = if kind == Kind::Rowids { 10 } else { 1 };
        SQLITE_OK
    })
}

unsafe extern "C" fn x_open(
    _vtab: *mut sqlite3_vtab,
    pp_cursor: *mut *mut sqlite3_vtab_cursor,
) -> c_int {
    // SAFETY: SQLite passes an out-pointer for the new cursor.
    guarded(|| unsafe {
        let cursor = Box::new(Cursor {
            base: sqlite3_vtab_cursor {
                vtab: std::ptr::null_mut(),
            },
            values: Vec::new(),
            pos: 0,
            args: Vec::new(),
        });
        *pp_cursor = Box::into_raw(cursor) as *mut sqlite3_vtab_cursor;
        SQLITE_OK
    })
}

unsafe extern "C" fn x_close(cursor: *mut sqlite3_vtab_cursor) -> c_int {
    // SAFETY: `cursor` is the Box<Cursor> from x_open, closed once.
    guarded(|| unsafe {
        drop(Box::from_raw(cursor as *mut Cursor));
        SQLITE_OK
    })
}

/// Copies a filter argument.
///
/// # Safety
/// `v` must be a valid sqlite3_value.
unsafe fn owned_value(v: *mut sqlite3_value) -> Value {
    let api = sqlite_api::api();
    // SAFETY: (for both blocks) a valid value, per the contract; its bytes are asked for after
    // its text or blob, as SQLite's docs require.
    let bytes = |p: *const u8| unsafe {
        let n = (api.value_bytes)(v);
        if p.is_null() || n <= 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts(p, n as usize).to_vec()
        }
    };
    // SAFETY: see above.
    unsafe {
        match (api.value_type)(v) {
            SQLITE_INTEGER => Value::Int((api.value_int64)(v)),
            2 => Value::Real((api.value_double)(v)),
            3 => Value::Text(bytes((api.value_text)(v))),
            4 => Value::Blob(bytes((api.value_blob)(v) as *const u8)),
            _ => Value::Null,
        }
    }
}

unsafe extern "C" fn x_filter(
    cursor: *mut sqlite3_vtab_cursor,
    idx_num: c_int,
    _idx_str: *const c_char,
    argc: c_int,
    argv: *mut *mut sqlite3_value,
) -> c_int {
    // SAFETY: our cursor, whose vtab SQLite has set (alive as long as the cursor); argv holds argc values
    // of this call.
    guarded(|| unsafe {
        // SAFETY: our cursor, whose vtab SQLite has set; argv holds argc values.
        let cur = &mut *(cursor as *mut Cursor);
        let vtab = &*(cur.base.vtab as *const Vtab);
        let args: Vec<Value> = (0..argc.max(0) as usize)
            .map(|i| owned_value(*argv.add(i)))
            .collect();
        let conn = Connection::borrowed(vtab.db);
        let result = match vtab.kind {
            Kind::Rowids => filter_rowids(vtab, &conn, idx_num, &args),
            Kind::Levels => filter_levels(vtab, &conn, &args),
        };
        cur.pos = 0;
        cur.args = by_column(args, idx_num, vtab.kind);
        match result {
            Ok(values) => {
                cur.values = values;
                SQLITE_OK
            }
            Err(e) => {
                cur.values.clear();
                set_error(cur.base.vtab, &e.message())
            }
        }
    })
}

fn filter_rowids(
    vtab: &Vtab,
    conn: &Connection,
    idx_num: c_int,
    args: &[Value],
) -> Result<Vec<i64>> {
    if !(4..=6).contains(&args.len()) {
        return Err(Error::invalid(
            "genomic_range_rowids() expects 4-6 arguments",
        ));
    }
    let Value::Text(table) = &args[0] else {
        return Err(Error::invalid(
            "genomic_range_rowids() argument 1 should be the GRI-indexed table name",
        ));
    };
    let table = String::from_utf8_lossy(table).into_owned();
    // idx_num bit 4 / 5: ceiling / floor supplied; they follow the four required arguments.
    let mut rest = args[4..].iter();
    let mut bound = |bit: c_int, what: &str, default: i64| -> Result<i64> {
        if idx_num & (1 << bit) == 0 {
            return Ok(default);
        }
        match rest.next() {
            Some(Value::Int(v)) => Ok(*v),
            Some(Value::Null) | None => Ok(default),
            Some(_) => Err(Error::invalid(format!(
                "genomic_range_rowids() expected integer {what}"
            ))),
        }
    };
    let ceiling = bound(4, "ceiling", 15)?;
    let floor = bound(5, "floor", 0)?;
    if floor < 0 || ceiling > 15 || floor > ceiling {
        return Err(Error::invalid(
            "genomic_range_rowids() ceiling/floor domain error",
        ));
    }
    let mut tables = vtab
        .tables
        .try_borrow_mut()
        .map_err(|_| Error::invalid("genomic_range_rowids() cannot be used recursively"))?;
    if !tables.contains_key(&table) {
        let t = GriTable::prepare(conn, &table).map_err(|e| {
            Error::invalid(format!(
                "genomic_range_rowids(): table doesn't exsit or lacks GRI; {}",
                e.message()
            ))
        })?;
        if tables.len() >= MAX_TABLES {
            tables.clear();
        }
        tables.insert(table.clone(), t);
    }
    let t = tables
        .get_mut(&table)
        .ok_or_else(|| Error::invalid("genomic_range_rowids(): internal error"))?;
    let (rid, beg, end) = (&args[1], &args[2], &args[3]);
    let mut rowids = Vec::new();
    if [rid, beg, end].contains(&&Value::Null) {
        return Ok(rowids); // NULL matches nothing
    }
    let bounds = gri::level_range_mask(ceiling as u8, floor as u8);
    let outcome = (|| -> Result<()> {
        let mask = {
            let mut cache = vtab.shared.levels.lock().unwrap_or_else(|p| p.into_inner());
            cache.rid_levels(conn, &table, t, rid, bounds)?
        };
        t.query(rid, beg, end, mask, &mut rowids)
    })();
    if let Err(e) = outcome {
        tables.remove(&table); // re-prepare next time (e.g. after a schema change)
        return Err(e);
    }
    rowids.sort_unstable();
    Ok(rowids)
}

fn filter_levels(vtab: &Vtab, conn: &Connection, args: &[Value]) -> Result<Vec<i64>> {
    if args.len() != 1 {
        return Err(Error::invalid(
            "genomic_range_index_levels() expects 1 argument",
        ));
    }
    let Value::Text(table) = &args[0] else {
        return Err(Error::invalid(
            "genomic_range_index_levels() expects table name",
        ));
    };
    let table = String::from_utf8_lossy(table);
    let mut cache = vtab.shared.levels.lock().unwrap_or_else(|p| p.into_inner());
    let (ceiling, floor) = cache.table_levels(conn, &table)?;
    Ok(vec![i64::from(ceiling), i64::from(floor)])
}

/// The filter arguments placed at their hidden columns (NULL for those not given), for xColumn.
fn by_column(args: Vec<Value>, idx_num: c_int, kind: Kind) -> Vec<Value> {
    let mut given = args.into_iter();
    (0..kind.max_args())
        .map(|k| {
            if idx_num & (1 << k) != 0 {
                given.next().unwrap_or(Value::Null)
            } else {
                Value::Null
            }
        })
        .collect()
}

fn at_end(cur: &Cursor, kind: Kind) -> bool {
    match kind {
        Kind::Rowids => cur.pos >= cur.values.len(),
        Kind::Levels => cur.pos >= 1 || cur.values.len() != 2,
    }
}

/// # Safety
/// `cursor` must be one of our cursors.
unsafe fn parts<'a>(cursor: *mut sqlite3_vtab_cursor) -> (&'a mut Cursor, Kind) {
    // SAFETY: per the contract; SQLite sets the cursor's vtab, which outlives it.
    unsafe {
        let cur = &mut *(cursor as *mut Cursor);
        let kind = (*(cur.base.vtab as *const Vtab)).kind;
        (cur, kind)
    }
}

unsafe extern "C" fn x_next(cursor: *mut sqlite3_vtab_cursor) -> c_int {
    // SAFETY: SQLite passes one of our cursors.
    guarded(|| unsafe {
        parts(cursor).0.pos += 1;
        SQLITE_OK
    })
}

unsafe extern "C" fn x_eof(cursor: *mut sqlite3_vtab_cursor) -> c_int {
    // SAFETY: SQLite passes one of our cursors.
    guarded(|| unsafe {
        let (cur, kind) = parts(cursor);
        c_int::from(at_end(cur, kind))
    })
}

unsafe extern "C" fn x_rowid(cursor: *mut sqlite3_vtab_cursor, rowid: *mut i64) -> c_int {
    // SAFETY: SQLite passes one of our cursors and an out-pointer.
    guarded(|| unsafe {
        let (cur, kind) = parts(cursor);
        *rowid = match kind {
            Kind::Rowids => cur.values.get(cur.pos).copied().unwrap_or(0),
            Kind::Levels => 1,
        };
        SQLITE_OK
    })
}

unsafe extern "C" fn x_column(
    cursor: *mut sqlite3_vtab_cursor,
    ctx: *mut sqlite3_context,
    col: c_int,
) -> c_int {
    // SAFETY: SQLite passes one of our cursors and the column's result context; results are copied
    // (SQLITE_TRANSIENT).
    guarded(|| unsafe {
        let api = sqlite_api::api();
        let (cur, kind) = parts(cursor);
        let first_arg = kind.first_arg_column();
        if col < first_arg {
            let v = match kind {
                Kind::Rowids => cur.values.get(cur.pos),
                Kind::Levels => cur.values.get(col as usize),
            };
            (api.result_int64)(ctx, v.copied().unwrap_or(0));
            return SQLITE_OK;
        }
        match cur.args.get((col - first_arg) as usize) {
            Some(Value::Int(i)) => (api.result_int64)(ctx, *i),
            Some(Value::Real(f)) => (api.result_double)(ctx, *f),
            Some(Value::Text(t)) => (api.result_text)(
                ctx,
                t.as_ptr() as *const c_char,
                t.len() as c_int,
                transient(),
            ),
            Some(Value::Blob(b)) => (api.result_blob)(
                ctx,
                b.as_ptr() as *const c_void,
                b.len() as c_int,
                transient(),
            ),
            Some(Value::Null) | None => (api.result_null)(ctx),
        }
        SQLITE_OK
    })
}
