//! The Rust API end to end, on the SQLite that rusqlite links (a different SQLite from the
//! system one the extension tests use): create, write, reopen, transactions, bad input, and
//! identical results whatever the number of worker threads.

use genomicsqlite::{attach, open, pack_plain_file, vacuum_into, Config};
use genomicsqlite_test_support::{ro, rw};
use rusqlite::Connection;

/// A fresh directory for one test, removed with everything in it when the test ends.
fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("gsq-rust-{name}-"))
        .tempdir()
        .unwrap()
}

fn path_str(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

fn config(threads: i64) -> Config {
    Config {
        threads,
        page_cache_MiB: 4,
        ..Config::default()
    }
}

/// Inserts `n` rows of varied, moderately compressible data in one transaction.
fn load(conn: &Connection, n: i64) {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS v(id INTEGER PRIMARY KEY, chrom TEXT, pos INTEGER, ref TEXT, alt TEXT, qual REAL, info TEXT, blob BLOB);
         CREATE INDEX IF NOT EXISTS v_pos ON v(chrom, pos);",
    )
    .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    {
        let mut ins = tx
            .prepare("INSERT INTO v(chrom,pos,ref,alt,qual,info,blob) VALUES (?,?,?,?,?,?,?)")
            .unwrap();
        let mut x: u64 = 88172645463325252;
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let blob: Vec<u8> = (0..(x % 64)).map(|j| (j ^ x) as u8).collect();
            ins.execute(rusqlite::params![
                format!("chr{}", x % 22 + 1),
                (x % 250_000_000) as i64,
                ["A", "C", "G", "T"][(x % 4) as usize],
                ["A", "C", "G", "T"][((x >> 3) % 4) as usize],
                (x % 10_000) as f64 / 7.0,
                format!(
                    "DP={};AF={:.3};GENE=G{:05}",
                    x % 500,
                    (x % 1000) as f64 / 1000.0,
                    i / 50
                ),
                blob
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

/// A digest of the whole table in a stable order, plus an index-driven aggregate.
fn digest(conn: &Connection) -> (i64, String) {
    let count: i64 = conn
        .query_row("SELECT count(*) FROM v", [], |r| r.get(0))
        .unwrap();
    let mut stmt = conn.prepare("SELECT * FROM v ORDER BY id").unwrap();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut rows = stmt.query([]).unwrap();
    while let Some(row) = rows.next().unwrap() {
        use std::hash::Hash;
        for i in 0..8 {
            format!("{:?}", row.get_ref(i).unwrap()).hash(&mut h);
        }
    }
    let by_index: String = conn
        .query_row(
            "SELECT group_concat(n) FROM (SELECT chrom || ':' || count(*) AS n FROM v INDEXED BY v_pos WHERE chrom >= 'chr1' GROUP BY chrom)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    use std::hash::Hasher;
    (count, format!("{:x}/{by_index}", h.finish()))
}

#[test]
fn same_content_for_every_thread_count() {
    let tmp = scratch("threads");
    let dir = tmp.path();
    let plain = Connection::open(dir.join("plain.db")).unwrap();
    load(&plain, 60_000);
    let expected = digest(&plain);
    for threads in [1, 2, 8] {
        let path = dir.join(format!("t{threads}.db"));
        let conn = open(path_str(&path), rw(), &config(threads)).unwrap();
        load(&conn, 60_000);
        assert_eq!(
            digest(&conn),
            expected,
            "threads={threads} in the writing connection"
        );
        drop(conn);
        for read_threads in [1, 2, 8] {
            let conn = open(path_str(&path), ro(), &config(read_threads)).unwrap();
            let ok: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .unwrap();
            assert_eq!(ok, "ok");
            assert_eq!(
                digest(&conn),
                expected,
                "written with {threads}, read with {read_threads}"
            );
        }
    }
}

#[test]
fn concurrent_reader_threads_see_the_same_data() {
    let tmp = scratch("readers");
    let dir = tmp.path();
    let path = dir.join("r.db");
    let conn = open(path_str(&path), rw(), &config(2)).unwrap();
    load(&conn, 30_000);
    let expected = digest(&conn);
    drop(conn);
    let readers: Vec<_> = (0..4)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let conn = open(path_str(&path), ro(), &config([1, 2, 8, -1][i])).unwrap();
                (0..3).map(|_| digest(&conn)).collect::<Vec<_>>()
            })
        })
        .collect();
    for r in readers {
        for d in r.join().unwrap() {
            assert_eq!(d, expected);
        }
    }
}

#[test]
fn transactions_commit_roll_back_and_savepoints() {
    let tmp = scratch("txn");
    let dir = tmp.path();
    let path = dir.join("t.db");
    let conn = open(path_str(&path), rw(), &config(2)).unwrap();
    // A cache far smaller than the transaction forces SQLite to spill pages mid-transaction.
    conn.execute_batch("PRAGMA cache_size = 50").unwrap();
    load(&conn, 20_000);
    let before = digest(&conn);
    conn.execute_batch(
        "BEGIN; DELETE FROM v WHERE id % 3 = 0; UPDATE v SET info = info || 'x'; ROLLBACK",
    )
    .unwrap();
    assert_eq!(
        digest(&conn),
        before,
        "a large rolled-back transaction leaves no trace"
    );
    conn.execute_batch(
        "BEGIN; DELETE FROM v WHERE id <= 100; SAVEPOINT s; DELETE FROM v; ROLLBACK TO s; RELEASE s; COMMIT",
    )
    .unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM v", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 19_900);
    drop(conn);
    let conn = open(path_str(&path), ro(), &config(1)).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM v", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 19_900);
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

#[test]
fn attach_and_vacuum_into() {
    let tmp = scratch("attach");
    let dir = tmp.path();
    let a = dir.join("a.db");
    let b = dir.join("b.db");
    let c = dir.join("c.db");
    let conn = open(path_str(&a), rw(), &config(2)).unwrap();
    load(&conn, 5_000);
    attach(&conn, path_str(&b), "other", &config(2)).unwrap();
    conn.execute_batch("CREATE TABLE other.g AS SELECT id, chrom FROM v WHERE id % 2 = 0")
        .unwrap();
    let joined: i64 = conn
        .query_row("SELECT count(*) FROM v JOIN other.g USING (id)", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(joined, 2_500);
    vacuum_into(&conn, path_str(&c), &config(2)).unwrap();
    let expected = digest(&conn);
    drop(conn);
    let copy = open(path_str(&c), ro(), &config(2)).unwrap();
    assert_eq!(digest(&copy), expected);
}

#[test]
fn errors_explain_themselves_and_modify_nothing() {
    let tmp = scratch("errors");
    let dir = tmp.path();
    let missing = dir.join("missing.db");
    let e = open(path_str(&missing), ro(), &Config::default()).unwrap_err();
    assert!(e.to_string().contains("no such file"), "{e}");
    assert!(!missing.exists());

    let plain = dir.join("plain.db");
    Connection::open(&plain)
        .unwrap()
        .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES(1)")
        .unwrap();
    let before = std::fs::read(&plain).unwrap();
    let e = open(path_str(&plain), rw(), &Config::default()).unwrap_err();
    assert!(e.to_string().contains("plain SQLite database"), "{e}");
    assert_eq!(std::fs::read(&plain).unwrap(), before);

    let e = Config::from_json(r#"{"zstd_level": 99}"#).unwrap_err();
    assert!(e.to_string().contains("zstd_level"), "{e}");

    let path = dir.join("ro.db");
    let conn = open(path_str(&path), rw(), &Config::default()).unwrap();
    load(&conn, 100);
    drop(conn);
    let conn = open(path_str(&path), ro(), &Config::default()).unwrap();
    let e = conn.execute("DELETE FROM v", []).unwrap_err();
    assert!(e.to_string().contains("readonly"), "{e}");
    let e = conn.execute_batch("PRAGMA journal_mode=WAL").unwrap_err();
    assert!(e.to_string().contains("WAL"), "{e}");
}

#[test]
fn damaged_pages_are_corrupt_errors_not_crashes() {
    let tmp = scratch("damage");
    let dir = tmp.path();
    let path = dir.join("d.db");
    let conn = open(path_str(&path), rw(), &config(1)).unwrap();
    load(&conn, 20_000);
    drop(conn);
    // Damage one compressed leaf page of the table through the outer database.
    let outer = Connection::open(&path).unwrap();
    let victim: i64 = outer
        .query_row(
            "SELECT pageno FROM nested_vfs_zstd_pages WHERE meta1 IS NOT NULL AND NOT btree_interior AND pageno > 10 ORDER BY pageno LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    outer
        .execute(
            "UPDATE nested_vfs_zstd_pages SET data = substr(data, 1, length(data) / 2) WHERE pageno = ?",
            [victim],
        )
        .unwrap();
    drop(outer);
    let before = std::fs::read(&path).unwrap();
    let conn = open(path_str(&path), ro(), &config(1)).unwrap();
    // The damaged page belongs to the table or to its index: reading both must hit it.
    let errors: Vec<String> = [
        "SELECT sum(length(info)) FROM v",
        "SELECT count(*) FROM v INDEXED BY v_pos WHERE chrom > ''",
    ]
    .iter()
    .filter_map(|sql| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).err())
    .map(|e| e.to_string())
    .collect();
    assert_eq!(
        errors.len(),
        1,
        "exactly one of table and index is damaged: {errors:?}"
    );
    assert!(errors[0].contains("malformed"), "{errors:?}");
    // Pages before the damaged one still read.
    let first: i64 = conn
        .query_row("SELECT id FROM v ORDER BY id LIMIT 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(first, 1);
    drop(conn);
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_writer_and_reader_threads_never_see_a_torn_state() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    const ROWS: i64 = 3000;
    let tmp = scratch("stress");
    let dir = tmp.path();
    let path = dir.join("s.db");
    {
        let conn = open(path_str(&path), rw(), &config(2)).unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER NOT NULL, pad BLOB);
             WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {ROWS})
             INSERT INTO acct SELECT i, 0, randomblob(300) FROM c;"
        ))
        .unwrap();
    }
    let done = Arc::new(AtomicBool::new(false));
    // Readers with every thread setting check what each transaction preserves: the balances sum
    // to zero and no row is missing.
    let readers: Vec<_> = [1, 2, 8]
        .into_iter()
        .map(|threads| {
            let (path, done) = (path.clone(), done.clone());
            std::thread::spawn(move || {
                let conn = open(path_str(&path), ro(), &config(threads)).unwrap();
                conn.busy_timeout(Duration::from_secs(30)).unwrap();
                let mut checks = 0;
                while !done.load(Ordering::Relaxed) || checks == 0 {
                    let (sum, n): (i64, i64) = conn
                        .query_row("SELECT sum(bal), count(*) FROM acct", [], |r| {
                            Ok((r.get(0)?, r.get(1)?))
                        })
                        .unwrap();
                    assert_eq!(
                        (sum, n),
                        (0, ROWS),
                        "torn state seen by a reader (threads={threads})"
                    );
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            let conn = open(path_str(&path), rw(), &config(8)).unwrap();
            conn.busy_timeout(Duration::from_secs(30)).unwrap();
            let mut x: u64 = 0x2545_f491_4f6c_dd1d;
            for _ in 0..150 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let (a, b, amount) = (
                    x % ROWS as u64 + 1,
                    (x >> 20) % ROWS as u64 + 1,
                    (x >> 40) % 100,
                );
                // Each transaction moves an amount between two rows and rewrites a band of
                // rows, so it touches many pages and the readers race real page writes.
                conn.execute_batch(&format!(
                    "BEGIN IMMEDIATE;
                     UPDATE acct SET bal = bal - {amount} WHERE id = {a};
                     UPDATE acct SET bal = bal + {amount} WHERE id = {b};
                     UPDATE acct SET pad = randomblob(300) WHERE id % 50 = {};
                     COMMIT;",
                    x % 50
                ))
                .unwrap();
            }
        })
    };
    writer.join().unwrap();
    done.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    let conn = open(path_str(&path), ro(), &config(1)).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

/// A NUL byte in a path would end the name early inside SQLite (another file would be opened
/// or created): every entry point refuses it, and nothing is created.
#[test]
fn nul_byte_in_path_is_refused() {
    let tmp = scratch("nul");
    let dir = tmp.path();
    let bad = format!("{}/nul\0tail.gsq", path_str(dir));
    let e = open(&bad, rw(), &Config::default()).unwrap_err();
    assert!(e.to_string().contains("NUL"), "{e}");
    let conn = Connection::open_in_memory().unwrap();
    assert!(attach(&conn, &bad, "other", &Config::default()).is_err());
    assert!(vacuum_into(&conn, &bad, &Config::default()).is_err());
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert!(left.is_empty(), "files created: {left:?}");
    // the SQL function the bindings use
    let good = open(
        &format!("{}/ok.gsq", path_str(dir)),
        rw(),
        &Config::default(),
    )
    .unwrap();
    let r: rusqlite::Result<String> =
        good.query_row("SELECT genomicsqlite_uri(?)", [&bad], |r| r.get(0));
    assert!(r.unwrap_err().to_string().contains("NUL"));
}

/// The dictionary (`meta1`) of each inner page, by page number, of compressed file `path`.
fn page_dicts(path: &std::path::Path) -> std::collections::HashMap<i64, Option<i64>> {
    let outer = Connection::open(path).unwrap();
    let mut stmt = outer
        .prepare("SELECT pageno, meta1 FROM nested_vfs_zstd_pages")
        .unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn pack_plain_file_trains_a_dictionary_per_large_btree() {
    let tmp = scratch("pack");
    let dir = tmp.path();
    let plain = dir.join("plain.db");
    let conn = Connection::open(&plain).unwrap();
    conn.execute_batch("PRAGMA page_size = 4096; VACUUM")
        .unwrap();
    load(&conn, 80_000);
    conn.execute_batch("VACUUM").unwrap();
    let expected = digest(&conn);
    // the pages of each b-tree, from the plain file
    let mut btrees = std::collections::HashMap::<String, Vec<i64>>::new();
    {
        let mut stmt = conn.prepare("SELECT name, pageno FROM dbstat").unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))
            .unwrap();
        for row in rows {
            let (name, pageno) = row.unwrap();
            btrees.entry(name).or_default().push(pageno);
        }
    }
    drop(conn);
    let sizes = (btrees["v"].len(), btrees["v_pos"].len());
    assert!(
        sizes.0 >= 300 && sizes.1 >= 300,
        "b-trees of 300 pages: {sizes:?}"
    );

    let packed = dir.join("packed.db");
    let dicts = pack_plain_file(path_str(&plain), path_str(&packed), &config(2)).unwrap();
    assert_eq!(
        dicts, 2,
        "one for v, one for v_pos, none for the few other pages"
    );
    let copy = open(path_str(&packed), ro(), &config(2)).unwrap();
    assert_eq!(digest(&copy), expected);
    let ok: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    drop(copy);

    let by_page = page_dicts(&packed);
    let dict_of = |name: &str| {
        let ids: std::collections::HashSet<Option<i64>> =
            btrees[name].iter().map(|p| by_page[p]).collect();
        assert_eq!(
            ids.len(),
            1,
            "every page of {name} has the same dictionary: {ids:?}"
        );
        ids.into_iter().next().unwrap()
    };
    let (v, v_pos) = (dict_of("v"), dict_of("v_pos"));
    assert!(v.is_some_and(|id| id >= 0) && v_pos.is_some_and(|id| id >= 0));
    assert_ne!(v, v_pos);

    // the same file again, whatever the number of threads
    let again = dir.join("again.db");
    pack_plain_file(path_str(&plain), path_str(&again), &config(1)).unwrap();
    assert_eq!(
        std::fs::read(&packed).unwrap(),
        std::fs::read(&again).unwrap()
    );

    // an existing file is not written over
    let err = pack_plain_file(path_str(&plain), path_str(&again), &config(2))
        .unwrap_err()
        .to_string();
    assert!(err.contains("already exists"), "{err}");

    // a compressed file is not taken for a plain one
    let err = pack_plain_file(path_str(&packed), path_str(&dir.join("x.db")), &config(2))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is a compressed database"), "{err}");
}
