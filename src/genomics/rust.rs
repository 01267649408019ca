//! The genomics toolkit for Rust programs: [`ConnectionMethods`] on `rusqlite::Connection`
//! (and, through `Deref`, on `Transaction`), with GenomicSQLite 0.9.4's method names.

use super::{gri, refseq};
use crate::error::{Error, Result};
use crate::sqlite_api;
use rusqlite::Connection;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// One reference sequence (a row of `_gri_refseq`).
#[derive(Debug, Clone, PartialEq)]
pub struct RefSeq {
    pub rid: i64,
    pub name: String,
    pub length: i64,
    pub assembly: Option<String>,
    pub refget_id: Option<String>,
    pub meta_json: Map<String, Value>,
}

/// Genomics helpers on a connection.
///
/// ```
/// use genomicsqlite::{open, Config, ConnectionMethods};
/// use rusqlite::OpenFlags;
///
/// let dir = std::env::temp_dir().join(format!("gsq-doc-gri-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("exons.db");
/// # let _ = std::fs::remove_file(&path);
/// let conn = open(path.to_str().unwrap(),
///                 OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
///                 &Config::default())?;
/// conn.execute_batch("CREATE TABLE exons(chrom TEXT, beg INTEGER, en INTEGER);
///                     INSERT INTO exons VALUES ('chr12', 111803912, 111804012),
///                                              ('chr12', 111804012, 111805000),
///                                              ('chr12', 5000, 6000)")?;
/// // index the table by genomic range
/// conn.execute_batch(&conn.create_genomic_range_index_sql("exons", "chrom", "beg", "en")?)?;
///
/// // which exons overlap chr12:111,803,913-111,804,012 (zero-based 111803912..111804012)?
/// let query = conn.genomic_range_rowids_sql("exons")?;
/// let mut stmt = conn.prepare(&query[1..query.len() - 1])?;
/// let rowids: Vec<i64> = stmt
///     .query_map(("chr12", 111803912, 111804012), |r| r.get(0))?
///     .collect::<rusqlite::Result<_>>()?;
/// assert_eq!(rowids, vec![1, 2]); // the second one abuts the range: it counts
///
/// // the same through the table-valued function
/// let n: i64 = conn.query_row(
///     "SELECT count(*) FROM genomic_range_rowids('exons', 'chr12', 111803912, 111804012)",
///     [], |r| r.get(0))?;
/// assert_eq!(n, 2);
///
/// // reference sequences
/// conn.execute_batch(&conn.put_reference_assembly_sql("GRCh38_no_alt_analysis_set")?)?;
/// let by_name = conn.get_reference_sequences_by_name()?;
/// assert_eq!(by_name["chr12"].length, 133275309);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait ConnectionMethods {
    /// The connection the methods work on.
    fn connection(&self) -> &Connection;

    /// This library's version, e.g. `v0.10.0`.
    fn genomicsqlite_version(&self) -> String {
        crate::extension::version()
    }

    /// SQL script adding a Genomic Range Index to `table_name` for the features whose
    /// reference id, begin and end are the given column expressions.
    fn create_genomic_range_index_sql(
        &self,
        table_name: &str,
        chromosome: &str,
        begin_pos: &str,
        end_pos: &str,
    ) -> Result<String> {
        self.create_genomic_range_index_sql_with_floor(
            table_name, chromosome, begin_pos, end_pos, -1,
        )
    }

    /// Same, with a floor level (0..15; -1 = 0).
    fn create_genomic_range_index_sql_with_floor(
        &self,
        table_name: &str,
        chromosome: &str,
        begin_pos: &str,
        end_pos: &str,
        floor: i64,
    ) -> Result<String> {
        gri::create_index_sql(table_name, chromosome, begin_pos, end_pos, floor)
    }

    /// Parenthesized SELECT of the rowids of `indexed_table` features overlapping (?1, ?2, ?3),
    /// in rowid order, for the levels the table occupies now (regenerate after changes).
    fn genomic_range_rowids_sql(&self, indexed_table: &str) -> Result<String> {
        self.genomic_range_rowids_sql_with_options(indexed_table, "?1", "?2", "?3", -1, -1)
    }

    /// Same with the query expressions and level bounds given (ceiling -1 = detect).
    fn genomic_range_rowids_sql_with_options(
        &self,
        indexed_table: &str,
        qrid: &str,
        qbeg: &str,
        qend: &str,
        ceiling: i64,
        floor: i64,
    ) -> Result<String> {
        let (ceiling, floor) = gri::resolve_bounds(ceiling, floor, || {
            crate::rust_api::ensure_registered()?;
            sqlite_api::Connection::with_rusqlite(self.connection(), |conn| {
                gri::detect_levels(conn, indexed_table)
            })
            .unwrap_or_else(|| {
                Err(Error::Init(
                    "genomicsqlite: this process's SQLite routines are not rusqlite's".into(),
                ))
            })
        })?;
        Ok(gri::rowids_sql(
            indexed_table,
            qrid,
            qbeg,
            qend,
            ceiling,
            floor,
        ))
    }

    /// SQL recording a known assembly (`GRCh38_no_alt_analysis_set`) in `_gri_refseq`.
    fn put_reference_assembly_sql(&self, assembly: &str) -> Result<String> {
        refseq::put_reference_assembly_sql(assembly, None)
    }

    fn put_reference_assembly_sql_with_schema(
        &self,
        assembly: &str,
        schema: &str,
    ) -> Result<String> {
        refseq::put_reference_assembly_sql(assembly, Some(schema))
    }

    /// SQL recording one reference sequence (a negative `rid` is assigned by SQLite).
    fn put_reference_sequence_sql(&self, refseq: &RefSeq) -> Result<String> {
        put_refseq(refseq, None)
    }

    fn put_reference_sequence_sql_with_schema(
        &self,
        refseq: &RefSeq,
        schema: &str,
    ) -> Result<String> {
        put_refseq(refseq, Some(schema))
    }

    /// The `_gri_refseq` rows by rid.
    fn get_reference_sequences_by_rid(&self) -> Result<HashMap<i64, RefSeq>> {
        self.get_reference_sequences_by_rid_with_options(None, None)
    }

    fn get_reference_sequences_by_rid_with_options(
        &self,
        assembly: Option<&str>,
        schema: Option<&str>,
    ) -> Result<HashMap<i64, RefSeq>> {
        keyed(self.connection(), assembly, schema, |r| r.rid)
    }

    /// The `_gri_refseq` rows by name (a later duplicate name replaces an earlier one: filter
    /// by assembly when several are recorded).
    fn get_reference_sequences_by_name(&self) -> Result<HashMap<String, RefSeq>> {
        self.get_reference_sequences_by_name_with_options(None, None)
    }

    fn get_reference_sequences_by_name_with_options(
        &self,
        assembly: Option<&str>,
        schema: Option<&str>,
    ) -> Result<HashMap<String, RefSeq>> {
        keyed(self.connection(), assembly, schema, |r| r.name.clone())
    }
}

impl ConnectionMethods for Connection {
    fn connection(&self) -> &Connection {
        self
    }
}

/// The reference sequences in a map by `key`.
fn keyed<K: std::hash::Hash + Eq>(
    conn: &Connection,
    assembly: Option<&str>,
    schema: Option<&str>,
    key: fn(&RefSeq) -> K,
) -> Result<HashMap<K, RefSeq>> {
    Ok(reference_sequences(conn, assembly, schema)?
        .into_iter()
        .map(|r| (key(&r), r))
        .collect())
}

fn put_refseq(r: &RefSeq, schema: Option<&str>) -> Result<String> {
    let meta = (!r.meta_json.is_empty()).then(|| Value::Object(r.meta_json.clone()).to_string());
    let spec = refseq::RefSeqSpec {
        name: &r.name,
        length: r.length,
        assembly: r.assembly.as_deref(),
        refget_id: r.refget_id.as_deref(),
        meta_json: meta.as_deref(),
        rid: r.rid,
    };
    refseq::put_reference_sequence_sql(&spec, schema)
}

fn reference_sequences(
    conn: &Connection,
    assembly: Option<&str>,
    schema: Option<&str>,
) -> Result<Vec<RefSeq>> {
    let mut sql = format!(
        "SELECT _gri_rid, gri_refseq_name, gri_refseq_length, gri_assembly, gri_refget_id, \
         gri_refseq_meta_json FROM {}_gri_refseq",
        schema
            .filter(|s| !s.is_empty())
            .map(|s| format!("{s}."))
            .unwrap_or_default()
    );
    if assembly.is_some() {
        sql.push_str(" WHERE gri_assembly = ?1");
    }
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(assembly), |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })?;
    rows.map(|row| {
        let (rid, name, length, assembly, refget_id, meta) = row?;
        let meta_json = match meta.as_deref() {
            None | Some("") => Map::new(),
            Some(text) => match serde_json::from_str(text) {
                Ok(Value::Object(m)) => m,
                _ => {
                    return Err(Error::invalid(
                        "genomicsqlite::get_reference_sequences_by_rid: invalid meta_json",
                    ))
                }
            },
        };
        Ok(RefSeq {
            rid,
            name,
            length,
            assembly,
            refget_id,
            meta_json,
        })
    })
    .collect()
}
