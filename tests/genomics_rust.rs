//! The Rust genomics API (`ConnectionMethods`): reference sequences round trip (the call that
//! always failed in 0.9.4's Rust binding), lookups with options, errors, use in a transaction.

use genomicsqlite::{open, Config, ConnectionMethods, RefSeq};
use rusqlite::Connection;

fn fresh(name: &str) -> (std::path::PathBuf, Connection) {
    let dir = genomicsqlite_test_support::temp_dir(&format!("genomics-rust-{name}"));
    let path = dir.join("t.db");
    let _ = std::fs::remove_file(&path);
    let conn = open(
        path.to_str().unwrap(),
        genomicsqlite_test_support::rw(),
        &Config::default(),
    )
    .unwrap();
    (dir, conn)
}

#[test]
fn reference_sequences_round_trip() {
    let (dir, mut conn) = fresh("refseq");
    let mut meta = serde_json::Map::new();
    meta.insert("circular".into(), serde_json::Value::Bool(true));
    let seq = RefSeq {
        rid: 7,
        name: "chrM".into(),
        length: 16569,
        assembly: Some("mine".into()),
        refget_id: None,
        meta_json: meta,
    };
    let tx = conn.transaction().unwrap();
    tx.execute_batch(&tx.put_reference_sequence_sql(&seq).unwrap())
        .unwrap();
    tx.execute_batch(
        &tx.put_reference_assembly_sql("GRCh38_no_alt_analysis_set")
            .unwrap(),
    )
    .unwrap();
    tx.commit().unwrap();
    let by_rid = conn.get_reference_sequences_by_rid().unwrap();
    assert_eq!(by_rid.len(), 196);
    assert_eq!(by_rid[&7], seq);
    let mine = conn
        .get_reference_sequences_by_name_with_options(Some("mine"), Some("main"))
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine["chrM"].rid, 7);
    let grch38 = conn
        .get_reference_sequences_by_name_with_options(Some("GRCh38_no_alt_analysis_set"), None)
        .unwrap();
    assert_eq!(grch38["chrX"].rid, 8 + 22); // rids continue after 7
    conn.execute(
        "UPDATE _gri_refseq SET gri_refseq_meta_json = '[1]' WHERE _gri_rid = 7",
        [],
    )
    .unwrap();
    let err = conn
        .get_reference_sequences_by_rid()
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid meta_json"), "{err}");
    let err = conn
        .put_reference_assembly_sql("hg19")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown assembly"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn rowids_sql_detects_levels() {
    let (dir, conn) = fresh("gri");
    conn.execute_batch(
        "CREATE TABLE t(rid INTEGER, beg INTEGER, en INTEGER);
         INSERT INTO t VALUES (1, 0, 20), (1, 30, 40), (2, 5, 5000)",
    )
    .unwrap();
    let err = conn.genomic_range_rowids_sql("t").unwrap_err().to_string();
    assert!(err.contains("no such index: t__gri"), "{err}");
    conn.execute_batch(
        &conn
            .create_genomic_range_index_sql_with_floor("t", "rid", "beg", "en", 1)
            .unwrap(),
    )
    .unwrap();
    let sql = conn.genomic_range_rowids_sql("t").unwrap();
    assert_eq!(sql.matches("BETWEEN").count(), 4); // levels 4..1
    let sql = conn
        .genomic_range_rowids_sql_with_options("t", "1", "15", "35", 15, 0)
        .unwrap();
    let ids: Vec<i64> = conn
        .prepare(&sql[1..sql.len() - 1])
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(ids, vec![1, 2]);
    std::fs::remove_dir_all(dir).unwrap();
}
