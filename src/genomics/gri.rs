//! The Genomic Range Index: the SQL that creates and queries it (text identical to 0.9.4's, as
//! it is the on-disk contract), level detection, and the engine behind `genomic_range_rowids`.
//!
//! A feature of length `len` sits on level L, the smallest L >= floor with len <= 16^L; the
//! index is `(_gri_rid, _gri_lvl = -L, _gri_beg, _gri_len)`. A query (rid, beg, end) visits
//! each level with a range scan of `_gri_beg` over `[beg - 16^L, end]`, which finds every
//! feature that overlaps or abuts it. The engine skips the levels the rid does not use, which
//! it learns with one index seek per occupied level and remembers until the data change.

use crate::error::{Error, Result};
use crate::sqlite_api::{Connection, Statement};
use std::collections::HashMap;
use std::os::raw::c_int;

/// Highest level: lengths up to 16^15 = 2^60.
pub const MAX_LEVEL: u8 = 15;

/// Bit mask of levels `floor..=ceiling`.
pub fn level_range_mask(ceiling: u8, floor: u8) -> u16 {
    if floor > ceiling || ceiling > MAX_LEVEL {
        return 0;
    }
    let upto = if ceiling == 15 {
        u16::MAX
    } else {
        (1u16 << (ceiling + 1)) - 1
    };
    upto & !((1u16 << floor) - 1)
}

/// The level a feature of length `len` is stored on, with 0.9.4's rule (`None` when the length
/// is negative or above 16^15).
pub fn level_of(len: i64, floor: u8) -> Option<u8> {
    if len < 0 {
        return None;
    }
    (floor..=MAX_LEVEL).find(|&l| len as u128 <= 1u128 << (4 * u32::from(l)))
}

/// `16^L` as the lowercase hex literal 0.9.4 writes (`0x1`, `0x10`, ...).
fn hex_pow16(level: u8) -> String {
    format!("0x1{}", "0".repeat(level as usize))
}

/// Splits `schema.table` at the first dot.
pub fn split_table(table: &str) -> (Option<&str>, &str) {
    match table.split_once('.') {
        Some((schema, name)) => (Some(schema), name),
        None => (None, table),
    }
}

/// `create_genomic_range_index_sql`: the five statements that add the generated columns and
/// the index. `floor` -1 means 0.
pub fn create_index_sql(
    table: &str,
    rid: &str,
    beg: &str,
    end: &str,
    floor: i64,
) -> Result<String> {
    let floor = if floor == -1 { 0 } else { floor };
    if !(0..16).contains(&floor) {
        return Err(Error::invalid("GenomicSQLite: must have 0 <= floor < 16"));
    }
    let (_, name) = split_table(table);
    let mut lvl = String::from("CASE WHEN _gri_len IS NULL OR _gri_len < 0 THEN NULL");
    for l in floor as u8..=MAX_LEVEL {
        lvl.push_str(&format!(" WHEN _gri_len <= {} THEN -{l}", hex_pow16(l)));
    }
    lvl.push_str(" ELSE NULL END");
    let add = |col: &str, expr: &str| {
        format!("ALTER TABLE {table} ADD COLUMN {col} INTEGER AS ({expr}) VIRTUAL")
    };
    Ok([
        add("_gri_rid", rid),
        add("_gri_beg", beg),
        add("_gri_len", &format!("({end})-({beg})")),
        add("_gri_lvl", &lvl),
        format!("CREATE INDEX {table}__gri ON {name}(_gri_rid, _gri_lvl, _gri_beg, _gri_len)"),
    ]
    .join(";\n"))
}

/// `genomic_range_rowids_sql` for resolved bounds: a parenthesized SELECT of the rowids of
/// features overlapping `(qrid, qbeg, qend)` (SQL expressions pasted verbatim), in rowid order.
pub fn rowids_sql(
    table: &str,
    qrid: &str,
    qbeg: &str,
    qend: &str,
    ceiling: u8,
    floor: u8,
) -> String {
    let (_, name) = split_table(table);
    let blocks: Vec<String> = (floor..=ceiling)
        .rev()
        .map(|l| {
            format!(
                "SELECT _rowid_ FROM {table} INDEXED BY {name}__gri WHERE\n   \
                 ({table}._gri_rid,{table}._gri_lvl,{table}._gri_beg) BETWEEN \
                 (({qrid}),-{l},({qbeg})-{}) AND (({qrid}),-{l},({qend})-0)\n   \
                 AND ({table}._gri_beg+{table}._gri_len) >= ({qbeg})",
                hex_pow16(l)
            )
        })
        .collect();
    format!(
        "(SELECT _rowid_ FROM\n ({})\n ORDER BY _rowid_)",
        blocks.join("\n  UNION ALL\n  ")
    )
}

/// Resolves `genomic_range_rowids_sql`'s bounds as 0.9.4 does: a negative ceiling means "the
/// levels the table occupies now" (from `detect`), a negative floor then means the detected
/// floor; an explicit ceiling reads nothing and a negative floor means 0.
pub fn resolve_bounds(
    ceiling: i64,
    floor: i64,
    detect: impl FnOnce() -> Result<(u8, u8)>,
) -> Result<(u8, u8)> {
    let (ceiling, floor) = if ceiling < 0 {
        let (c, f) = detect()?;
        (i64::from(c), if floor >= 0 { floor } else { i64::from(f) })
    } else {
        (ceiling, floor.max(0))
    };
    if !(0..=i64::from(MAX_LEVEL)).contains(&ceiling) || !(0..=ceiling).contains(&floor) {
        return Err(Error::invalid("GenomicSQLite: invalid floor/ceiling"));
    }
    Ok((ceiling as u8, floor as u8))
}

/// A SQL value owned by Rust (arguments of the table-valued functions, rid values).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl Value {
    fn bind(&self, stmt: &mut Statement, index: c_int) -> Result<()> {
        match self {
            Value::Null => stmt.bind_null(index),
            Value::Int(i) => stmt.bind_i64(index, *i),
            Value::Real(f) => stmt.bind_f64(index, *f),
            Value::Text(t) => stmt.bind_text(index, t),
            Value::Blob(b) => stmt.bind_blob(index, b),
        }
    }

    fn from_column(stmt: &Statement, col: c_int) -> Value {
        match stmt.column_type(col) {
            crate::ffi::SQLITE_INTEGER => Value::Int(stmt.column_i64(col)),
            2 => Value::Real(stmt.column_f64(col)),
            3 => Value::Text(stmt.column_text(col).to_vec()),
            4 => Value::Blob(stmt.column_blob(col).to_vec()),
            _ => Value::Null,
        }
    }
}

fn missing_index(e: Error) -> Error {
    Error::invalid(format!(
        "GenomicSQLite: table is probably missing genomic range index; {}",
        e.message()
    ))
}

/// The statements one GRI-indexed table is queried with.
pub struct GriTable {
    /// Rowids of one level: ?1 rid, ?2 -L, ?3 qbeg, ?4 16^L, ?5 qend.
    level_query: Statement,
    /// Next occupied level of a rid above a given one: ?1 rid, ?2 lvl.
    probe: Statement,
    /// Next rid after ?1, for walking all rids.
    next_rid: Statement,
    first_rid: Statement,
}

impl GriTable {
    /// Prepares the statements; fails like 0.9.4 when the table or its `__gri` index is missing.
    pub fn prepare(conn: &Connection, table: &str) -> Result<GriTable> {
        let (_, name) = split_table(table);
        let from = format!("FROM {table} INDEXED BY {name}__gri");
        Ok(GriTable {
            level_query: conn.prepare(&format!(
                "SELECT _rowid_ {from} WHERE _gri_rid = ?1 AND _gri_lvl = ?2 \
                 AND _gri_beg BETWEEN (?3)-?4 AND (?5)-0 AND _gri_beg+_gri_len >= (?3)"
            ))?,
            probe: conn.prepare(&format!(
                "SELECT _gri_lvl {from} WHERE _gri_rid = ?1 AND _gri_lvl > ?2 ORDER BY _gri_lvl LIMIT 1"
            ))?,
            next_rid: conn.prepare(&format!(
                "SELECT _gri_rid {from} WHERE _gri_rid > ?1 ORDER BY _gri_rid LIMIT 1"
            ))?,
            first_rid: conn.prepare(&format!(
                "SELECT _gri_rid {from} WHERE _gri_rid IS NOT NULL ORDER BY _gri_rid LIMIT 1"
            ))?,
        })
    }

    /// The levels a rid occupies, one index seek per level (bit L = level L).
    pub fn rid_mask(&mut self, rid: &Value) -> Result<u16> {
        let mut mask = 0u16;
        let mut above: i64 = -(i64::from(MAX_LEVEL) + 1);
        loop {
            let mut probe = self.probe.once();
            rid.bind(&mut probe, 1)?;
            probe.bind_i64(2, above)?;
            if !probe.step()? {
                return Ok(mask);
            }
            if probe.column_type(0) != crate::ffi::SQLITE_INTEGER {
                return Err(Error::Corrupt("GenomicSQLite: GRI corrupted".into()));
            }
            let lvl = probe.column_i64(0);
            if !(-i64::from(MAX_LEVEL)..=0).contains(&lvl) {
                return Err(Error::Corrupt("GenomicSQLite: GRI corrupted".into()));
            }
            mask |= 1 << (-lvl);
            above = lvl;
        }
    }

    /// Union of the level masks of all rids: what `genomic_range_index_levels` reports.
    pub fn all_levels_mask(&mut self) -> Result<u16> {
        let mut mask = 0u16;
        let mut rid = {
            let mut s = self.first_rid.once();
            if s.step()? {
                Some(Value::from_column(&s, 0))
            } else {
                None
            }
        };
        while let Some(r) = rid {
            mask |= self.rid_mask(&r)?;
            if mask == u16::MAX {
                break;
            }
            let mut s = self.next_rid.once();
            r.bind(&mut s, 1)?;
            rid = if s.step()? {
                Some(Value::from_column(&s, 0))
            } else {
                None
            };
        }
        Ok(mask)
    }

    /// Appends to `out` the rowids of features on the levels in `mask` overlapping the query
    /// (unsorted across levels).
    pub fn query(
        &mut self,
        rid: &Value,
        beg: &Value,
        end: &Value,
        mask: u16,
        out: &mut Vec<i64>,
    ) -> Result<()> {
        for l in (0..=MAX_LEVEL).rev().filter(|l| mask & (1 << l) != 0) {
            let mut s = self.level_query.once();
            rid.bind(&mut s, 1)?;
            s.bind_i64(2, -i64::from(l))?;
            beg.bind(&mut s, 3)?;
            s.bind_i64(4, 1i64 << (4 * u32::from(l)))?;
            end.bind(&mut s, 5)?;
            while s.step()? {
                out.push(s.column_i64(0));
            }
        }
        Ok(())
    }
}

/// Levels of a table as (ceiling, floor); (15, 0) for an empty index.
pub fn mask_bounds(mask: u16) -> (u8, u8) {
    if mask == 0 {
        (MAX_LEVEL, 0)
    } else {
        (
            (15 - mask.leading_zeros()) as u8,
            mask.trailing_zeros() as u8,
        )
    }
}

/// Detects a table's levels without the cache (used by `genomic_range_rowids_sql`'s
/// automatic bounds and `genomic_range_index_levels`).
pub fn detect_levels(conn: &Connection, table: &str) -> Result<(u8, u8)> {
    let mut t = GriTable::prepare(conn, table).map_err(missing_index)?;
    Ok(mask_bounds(t.all_levels_mask()?))
}

/// What the cache remembers is valid while this stays the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token {
    main: Option<u32>,
    temp: Option<u32>,
    changes: i64,
}

/// Most rid masks remembered per table before starting over.
const MAX_REMEMBERED: usize = 1 << 16;

/// Per-connection memory of the levels each table (and each queried rid) occupies.
///
/// Valid while the data versions of `main` and `temp` and `sqlite3_total_changes()` stay the
/// same. Only tables that resolve to `main` or `temp` are remembered (an attached name can be
/// re-attached to another file), and only what was read outside a transaction with no writing
/// statement running (so no rollback can bring back rows the answer did not see).
///
/// The table-valued functions run inside a statement that holds a read transaction on `main`
/// (SQLite opens one for every statement using them), so the data version they see is current.
#[derive(Default)]
pub struct LevelCache {
    token: Option<Token>,
    tables: HashMap<String, TableCache>,
}

#[derive(Default)]
struct TableCache {
    cacheable: bool,
    levels: Option<u16>,
    int_rids: HashMap<i64, u16>,
    text_rids: HashMap<Vec<u8>, u16>,
}

/// Whether facts read now may be remembered (see [`LevelCache`]).
fn may_store(conn: &Connection) -> bool {
    conn.autocommit() && !conn.writer_running()
}

impl LevelCache {
    /// Forgets everything if the data may have changed.
    fn revalidate(&mut self, conn: &Connection) {
        let now = Token {
            main: conn.data_version(c"main"),
            temp: conn.data_version(c"temp"),
            changes: conn.total_changes(),
        };
        if self.token != Some(now) {
            self.tables.clear();
            self.token = Some(now);
        }
    }

    /// The remembered facts about `table`, if it may be remembered at all.
    fn table(&mut self, conn: &Connection, table: &str) -> Result<Option<&mut TableCache>> {
        self.revalidate(conn);
        if !self.tables.contains_key(table) {
            if !may_store(conn) {
                return Ok(None);
            }
            let (schema, name) = split_table(table);
            let cacheable = match schema {
                Some(s) if !s.eq_ignore_ascii_case("main") => false,
                _ => resolves_to_main_or_temp(conn, name)?,
            };
            // Reading sqlite_master may have opened the temp database: take its version now.
            self.revalidate(conn);
            self.tables.insert(
                table.to_string(),
                TableCache {
                    cacheable,
                    ..Default::default()
                },
            );
        }
        Ok(self.tables.get_mut(table).filter(|t| t.cacheable))
    }

    /// Levels of the whole table as (ceiling, floor), for `genomic_range_index_levels`.
    pub fn table_levels(&mut self, conn: &Connection, table: &str) -> Result<(u8, u8)> {
        let mut t = GriTable::prepare(conn, table).map_err(missing_index)?;
        if let Some(Some(mask)) = self.table(conn, table)?.map(|c| c.levels) {
            return Ok(mask_bounds(mask));
        }
        let mask = t.all_levels_mask()?;
        if may_store(conn) {
            if let Some(c) = self.table(conn, table)? {
                c.levels = Some(mask);
            }
        }
        Ok(mask_bounds(mask))
    }

    /// The levels within `bounds` worth visiting for a query on `rid`.
    pub fn rid_levels(
        &mut self,
        conn: &Connection,
        table: &str,
        t: &mut GriTable,
        rid: &Value,
        bounds: u16,
    ) -> Result<u16> {
        let Some(cache) = self.table(conn, table)? else {
            return Ok(bounds);
        };
        let known = match rid {
            Value::Int(i) => cache.int_rids.get(i),
            Value::Text(s) => cache.text_rids.get(s.as_slice()),
            _ => return Ok(bounds),
        };
        if let Some(m) = known {
            return Ok(m & bounds);
        }
        let mask = t.rid_mask(rid)?;
        if may_store(conn) {
            if cache.int_rids.len() + cache.text_rids.len() >= MAX_REMEMBERED {
                cache.int_rids.clear();
                cache.text_rids.clear();
            }
            match rid {
                Value::Int(i) => cache.int_rids.insert(*i, mask),
                Value::Text(s) => cache.text_rids.insert(s.clone(), mask),
                _ => None,
            };
        }
        Ok(mask & bounds)
    }
}

/// Whether an unqualified table name resolves to `temp` or `main` (whose changes the cache
/// tracks) rather than to an attached database.
fn resolves_to_main_or_temp(conn: &Connection, name: &str) -> Result<bool> {
    let mut s = conn.prepare(
        "SELECT 1 FROM temp.sqlite_master WHERE type='table' AND name=?1 COLLATE NOCASE \
         UNION ALL SELECT 1 FROM main.sqlite_master WHERE type='table' AND name=?1 COLLATE NOCASE",
    )?;
    s.bind_text(1, name.as_bytes())?;
    s.step()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(level_of(0, 0), Some(0));
        assert_eq!(level_of(1, 0), Some(0));
        assert_eq!(level_of(2, 0), Some(1));
        assert_eq!(level_of(16, 0), Some(1));
        assert_eq!(level_of(17, 0), Some(2));
        assert_eq!(level_of(4097, 0), Some(4));
        assert_eq!(level_of(5, 3), Some(3));
        assert_eq!(level_of(1 << 60, 0), Some(15));
        assert_eq!(level_of((1 << 60) + 1, 0), None);
        assert_eq!(level_of(-1, 0), None);
        assert_eq!(level_range_mask(15, 0), u16::MAX);
        assert_eq!(level_range_mask(3, 1), 0b1110);
        assert_eq!(level_range_mask(3, 4), 0);
        assert_eq!(mask_bounds(0b1110), (3, 1));
        assert_eq!(mask_bounds(0), (15, 0));
    }

    #[test]
    fn generated_sql() {
        let sql = create_index_sql("db2.t", "rid", "beg", "en", 13).unwrap();
        assert!(
            sql.ends_with("CREATE INDEX db2.t__gri ON t(_gri_rid, _gri_lvl, _gri_beg, _gri_len)")
        );
        assert!(sql.contains("WHEN _gri_len <= 0x10000000000000 THEN -13 WHEN"));
        assert_eq!(sql.split(";\n").count(), 5);
        assert!(create_index_sql("t", "a", "b", "c", 16).is_err());
        let q = rowids_sql("t", "?1", "?2", "?3", 2, 1);
        assert!(q.starts_with(
            "(SELECT _rowid_ FROM\n (SELECT _rowid_ FROM t INDEXED BY t__gri WHERE\n"
        ));
        assert_eq!(q.lines().filter(|l| l.contains("BETWEEN")).count(), 2);
        assert!(q.contains("((?1),-2,(?2)-0x100) AND ((?1),-2,(?3)-0)"));
        assert!(q.ends_with("))\n ORDER BY _rowid_)"));
    }
}
