//! Reference-sequence metadata (`_gri_refseq`): the SQL the generators emit, and the one
//! assembly 0.9.4 knows by name.

use crate::error::{Error, Result};

/// `GRCh38_no_alt_analysis_set`: name, length, refget id, in the table order of 0.9.4 (so that
/// running the script on an empty table assigns the same rids, chr1 = 1 ... chrEBV = 195).
const GRCH38_NO_ALT: &str = include_str!("grch38_no_alt_analysis_set.tsv");

/// One reference sequence of a known assembly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownSequence {
    pub name: &'static str,
    pub length: i64,
    pub refget_id: &'static str,
}

/// The sequences of a named assembly, or `None` if the name is unknown.
pub fn known_assembly(assembly: &str) -> Option<Vec<KnownSequence>> {
    if assembly != "GRCh38_no_alt_analysis_set" {
        return None;
    }
    Some(
        GRCH38_NO_ALT
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let mut f = l.split('\t');
                let (name, len, id) = (f.next(), f.next(), f.next());
                KnownSequence {
                    name: name.unwrap_or_default(),
                    length: len.and_then(|x| x.parse().ok()).unwrap_or_default(),
                    refget_id: id.unwrap_or_default(),
                }
            })
            .collect(),
    )
}

/// Quotes a string literal for generated SQL; like 0.9.4, only printable ASCII is accepted.
pub fn quote_literal(value: &str) -> Result<String> {
    if value.bytes().any(|b| !(32..=126).contains(&b)) {
        return Err(Error::invalid(format!(
            "non-printable character in: {value}"
        )));
    }
    Ok(format!("'{}'", value.replace('\'', "''")))
}

fn schema_prefix(schema: Option<&str>) -> String {
    match schema {
        Some(s) if !s.is_empty() => format!("{s}."),
        _ => String::new(),
    }
}

fn ddl(prefix: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {prefix}_gri_refseq(_gri_rid INTEGER NOT NULL PRIMARY KEY, \
         gri_refseq_name TEXT NOT NULL, gri_assembly TEXT, gri_refget_id TEXT UNIQUE, \
         gri_refseq_length INTEGER NOT NULL, gri_refseq_meta_json TEXT NOT NULL DEFAULT '{{}}', \
         UNIQUE(gri_assembly,gri_refseq_name));\n\
         CREATE INDEX IF NOT EXISTS {prefix}_gri_refseq_name ON _gri_refseq(gri_refseq_name)"
    )
}

/// What to record about one reference sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefSeqSpec<'a> {
    pub name: &'a str,
    pub length: i64,
    pub assembly: Option<&'a str>,
    pub refget_id: Option<&'a str>,
    pub meta_json: Option<&'a str>,
    /// Negative: assigned by SQLite.
    pub rid: i64,
}

fn insert(prefix: &str, s: &RefSeqSpec) -> Result<String> {
    let optional = |v: Option<&str>| match v {
        Some(x) if !x.is_empty() => quote_literal(x),
        _ => Ok("NULL".to_string()),
    };
    let rid = if s.rid < 0 {
        "NULL".to_string()
    } else {
        s.rid.to_string()
    };
    let meta = match s.meta_json {
        Some(m) if !m.is_empty() => quote_literal(m)?,
        _ => "'{}'".to_string(),
    };
    Ok(format!(
        "INSERT INTO {prefix}_gri_refseq(_gri_rid,gri_refseq_name,gri_assembly,gri_refget_id,\
         gri_refseq_length,gri_refseq_meta_json) VALUES({rid},{},{},{},{},{meta})",
        quote_literal(s.name)?,
        optional(s.assembly)?,
        optional(s.refget_id)?,
        s.length
    ))
}

/// `put_genomic_reference_sequence_sql`: the table DDL, then one INSERT.
pub fn put_reference_sequence_sql(spec: &RefSeqSpec, schema: Option<&str>) -> Result<String> {
    let prefix = schema_prefix(schema);
    Ok(format!("{};\n{}", ddl(&prefix), insert(&prefix, spec)?))
}

/// `put_genomic_reference_assembly_sql`: the table DDL, then one INSERT per sequence.
pub fn put_reference_assembly_sql(assembly: &str, schema: Option<&str>) -> Result<String> {
    let seqs = known_assembly(assembly)
        .ok_or_else(|| Error::invalid("put_genomic_reference_assembly_sql: unknown assembly"))?;
    let prefix = schema_prefix(schema);
    let mut out = ddl(&prefix);
    for s in seqs {
        out.push_str(";\n");
        out.push_str(&insert(
            &prefix,
            &RefSeqSpec {
                name: s.name,
                length: s.length,
                assembly: Some(assembly),
                refget_id: Some(s.refget_id),
                meta_json: None,
                rid: -1,
            },
        )?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grch38_table() {
        let seqs = known_assembly("GRCh38_no_alt_analysis_set").unwrap();
        assert_eq!(seqs.len(), 195);
        assert_eq!(seqs[16].name, "chr17");
        assert_eq!(
            seqs[22],
            KnownSequence {
                name: "chrX",
                length: 156040895,
                refget_id: "2b3a55ff7f58eb308420c8a9b11cac50"
            }
        );
        assert_eq!(seqs[194].name, "chrEBV");
        assert!(seqs.iter().all(|s| s.length > 0 && s.refget_id.len() == 32));
        assert!(known_assembly("hg19").is_none());
    }

    #[test]
    fn statements() {
        let sql = put_reference_assembly_sql("GRCh38_no_alt_analysis_set", None).unwrap();
        assert_eq!(sql.split(";\n").count(), 197);
        assert!(!sql.ends_with(';'));
        let one = put_reference_sequence_sql(
            &RefSeqSpec {
                name: "it's",
                length: 5,
                rid: 0,
                ..Default::default()
            },
            Some("aux"),
        )
        .unwrap();
        assert!(one.ends_with("VALUES(0,'it''s',NULL,NULL,5,'{}')"), "{one}");
        assert!(one.contains("CREATE INDEX IF NOT EXISTS aux._gri_refseq_name ON _gri_refseq"));
        let bad = put_reference_sequence_sql(
            &RefSeqSpec {
                name: "a\tb",
                ..Default::default()
            },
            None,
        );
        assert_eq!(
            bad.unwrap_err().to_string(),
            "non-printable character in: a\tb"
        );
    }
}
