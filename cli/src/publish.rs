//! `genomicsqlite DB --publish DIR`: put a database, its .dbi and a manifest side by side in DIR,
//! ready to upload (issue #13). The manifest (`NAME.manifest.json`) is what `--download`
//! verifies against, and the provenance a data user cites: size, SHA-256, the identity the .dbi
//! also records, page sizes, row counts per table, this tool's version, the time of publishing,
//! and (with `--source FILE`) the name and SHA-256 of the file the database was made from.
//! Every file is written under a temporary name and renamed into place.

use crate::dbi::{select_pages, write_dbi, DbFile};
use crate::fsutil::{self, DbKind, TempOutput};
use crate::{api, identity, Failure, PublishArgs};
use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};
use std::path::Path;

/// The manifest's name beside a database named `name`.
pub fn manifest_name(name: &str) -> String {
    format!("{name}.manifest.json")
}

fn file_name(path: &Path) -> Result<String, Failure> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Failure::new(format!("{}: not a file name", path.display())))
}

/// Row counts of every table, and the (inner) page size, read through SQLite.
fn contents(path: &Path, kind: DbKind) -> Result<(i64, Value), Failure> {
    let p = path.to_string_lossy();
    let conn = match kind {
        DbKind::Compressed => api::open_readonly(&p, &genomicsqlite::Config::default())?,
        _ => Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| Failure::new(format!("{p}: {e}")))?,
    };
    let e = |e: rusqlite::Error| Failure::new(format!("{p}: {e}"));
    let page_size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(e)?;
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(e)?;
    let mut counts = serde_json::Map::new();
    for name in names {
        let sql = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
        let n: i64 = conn.query_row(&sql, [], |r| r.get(0)).map_err(e)?;
        counts.insert(name, n.into());
    }
    Ok((page_size, Value::Object(counts)))
}

fn now_utc() -> Result<String, Failure> {
    Connection::open_in_memory()
        .and_then(|c| {
            c.query_row("SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", [], |r| {
                r.get(0)
            })
        })
        .map_err(|e| Failure::new(e.to_string()))
}

/// Write `bytes` to `path` atomically.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let tmp = TempOutput::new(path, "publish")?;
    std::fs::write(&tmp.path, bytes)
        .map_err(|e| Failure::new(format!("{}: {}", tmp.path.display(), e)))?;
    tmp.commit(path)
}

pub fn main(args: PublishArgs) -> Result<i32, Failure> {
    let PublishArgs {
        db,
        dir,
        source,
        force,
        quiet,
    } = args;
    let dir = dir.ok_or_else(|| Failure::usage("--publish needs a directory: DB --publish DIR"))?;
    if fsutil::is_url(&db) {
        return Err(Failure::new(format!("{db}: --publish needs a local file")));
    }
    let kind = fsutil::inspect(&db)?;
    if kind == DbKind::Empty {
        return Err(Failure::new(format!("{db}: empty file, not a database")));
    }
    if !dir.is_dir() {
        return Err(Failure::new(format!("{}: not a directory", dir.display())));
    }
    fsutil::install_signal_handlers()?;
    let name = file_name(Path::new(&db))?;
    let target = dir.join(&name);
    let same = matches!((std::fs::canonicalize(&db), std::fs::canonicalize(&target)), (Ok(a), Ok(b)) if a == b);
    let dbi_path = dir.join(format!("{name}.dbi"));
    let manifest_path = dir.join(manifest_name(&name));
    for out in [&dbi_path, &manifest_path]
        .into_iter()
        .chain((!same).then_some(&target))
    {
        if out.exists() && !force {
            return Err(Failure::new(format!(
                "{}: already exists (use -f to overwrite)",
                out.display()
            )));
        }
    }
    if !same {
        let tmp = TempOutput::new(&target, "publish")?;
        std::fs::copy(&db, &tmp.path)
            .map_err(|e| Failure::new(format!("copying {db} to {}: {e}", tmp.path.display())))?;
        tmp.commit(&target)?;
    }
    let dbf = DbFile::open(&target.to_string_lossy())?;
    let selection = select_pages(&dbf)?;
    let tmp = TempOutput::new(&dbi_path, "dbi")?;
    write_dbi(&dbf, &tmp.path_str(), &selection)?;
    tmp.commit(&dbi_path)?;
    let (page_size, tables) = contents(&target, kind)?;
    let source = match &source {
        Some(s) => json!({
            "name": file_name(Path::new(s))?,
            "sha256": identity::sha256_file(Path::new(s))?,
        }),
        None => Value::Null,
    };
    let manifest = json!({
        "format": "genomicsqlite-manifest-1",
        "name": name,
        "size": fsutil::file_size(&target),
        "sha256": identity::sha256_file(&target)?,
        "identity": identity::of_file(&target)?,
        "compressed": kind == DbKind::Compressed,
        "page_size": page_size,
        "outer_page_size": if kind == DbKind::Compressed { json!(dbf.page_size) } else { Value::Null },
        "tables": tables,
        "dbi": {
            "name": file_name(&dbi_path)?,
            "size": fsutil::file_size(&dbi_path),
            "sha256": identity::sha256_file(&dbi_path)?,
        },
        "tool": format!("genomicsqlite {}", env!("CARGO_PKG_VERSION")),
        "created": now_utc()?,
        "source": source,
    });
    let text =
        serde_json::to_string_pretty(&manifest).map_err(|e| Failure::new(e.to_string()))? + "\n";
    write_atomically(&manifest_path, text.as_bytes())?;
    if !quiet {
        eprintln!(
            "published {} ({} bytes), {} and {} in {}",
            name,
            fsutil::commas(fsutil::file_size(&target)),
            file_name(&dbi_path)?,
            file_name(&manifest_path)?,
            dir.display()
        );
    }
    Ok(0)
}
