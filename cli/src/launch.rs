//! `genomicsqlite DB [--readonly] [--create] [sqlite3 args...] [SQL...]`: replace this process
//! with the system `sqlite3` shell, the GenomicSQLite extension loaded and DB opened.

use crate::api;
use crate::fsutil::{self, DbKind};
use crate::{Failure, ShellArgs};
use genomicsqlite::web::{WebErrorKind, WebFile, WebOptions};
use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The library of the Python package installed beside this executable (`pip install` puts the
/// command in `PREFIX/bin` and the library in `PREFIX/lib/pythonX.Y/site-packages/genomicsqlite`).
fn python_package_library(bin_dir: &Path) -> Option<PathBuf> {
    let lib = bin_dir.join("../lib");
    for python in std::fs::read_dir(lib).ok()?.flatten() {
        let package = python.path().join("site-packages/genomicsqlite");
        let Ok(files) = std::fs::read_dir(&package) else {
            continue;
        };
        for file in files.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            if name.starts_with("libgenomicsqlite") && name.ends_with(".so") {
                return Some(file.path());
            }
        }
    }
    None
}

/// Where the loadable extension is: $LIBGENOMICSQLITE, else next to this executable, else in
/// ../lib relative to it (install layout), else in the Python package installed with it, else
/// target/release of the build tree.
pub fn find_extension() -> Result<PathBuf, Failure> {
    if let Some(p) = std::env::var_os("LIBGENOMICSQLITE") {
        if !p.is_empty() {
            let p = PathBuf::from(p);
            if !p.is_file() {
                return Err(Failure::new(format!(
                    "LIBGENOMICSQLITE={}: no such file",
                    p.display()
                )));
            }
            return Ok(p);
        }
    }
    let mut tried = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
        if let Some(dir) = exe.parent() {
            for c in [
                dir.join("libgenomicsqlite.so"),
                dir.join("../lib/libgenomicsqlite.so"),
                dir.join("../release/libgenomicsqlite.so"),
                dir.join("../../target/release/libgenomicsqlite.so"),
            ] {
                if c.is_file() {
                    return Ok(std::fs::canonicalize(&c).unwrap_or(c));
                }
                tried.push(c);
            }
            if let Some(c) = python_package_library(dir) {
                return Ok(c);
            }
        }
    }
    let c = PathBuf::from("target/release/libgenomicsqlite.so");
    if c.is_file() {
        return Ok(std::fs::canonicalize(&c).unwrap_or(c));
    }
    tried.push(c);
    Err(Failure::new(format!(
        "cannot find the extension libgenomicsqlite.so (set LIBGENOMICSQLITE; looked in {})",
        tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// Opens the database read-only in this process first, so that a database the library
/// refuses is one line from us rather than sqlite3's messages about its `.open` and an empty
/// shell.
fn check_opens(db: &str, config: &genomicsqlite::Config) -> Result<(), Failure> {
    api::open_readonly(db, config)
        .map(drop)
        .map_err(|e| Failure::new(format!("{db}: cannot open: {e}")))
}

/// [`check_opens`] for a URL, with one small request (its first KiB: is it there, readable
/// with these settings, a SQLite file) rather than a whole open, so that what an open fetches
/// (the first chunk, the .dbi, the pages the open reads) is fetched once, by sqlite3. What
/// only a whole open can find wrong (a damaged outer database) stops sqlite3 at its `.open`.
fn check_url(url: &str) -> Result<(), Failure> {
    let fail = |e: String| Failure::new(format!("{url}: cannot open: {e}"));
    // The settings sqlite3's open will use: the command's URI sets no web_* key.
    let mut opts = WebOptions::from_env().map_err(|e| fail(e.to_string()))?;
    // One 1 KiB request: the reader's first request without a .dbi is otherwise 1 MiB.
    opts.small_kib = 1;
    opts.max_request_kib = 1;
    opts.nodbi = true;
    opts.prefetch_threads = 0;
    opts.cache_dir = None;
    let file = WebFile::open(url, &opts).map_err(|e| fail(e.to_string()))?;
    let mut magic = [0u8; 16];
    match file.read_at(0, &mut magic) {
        Ok(()) if &magic == genomicsqlite::format::SQLITE_MAGIC => Ok(()),
        Err(e) if e.kind() != WebErrorKind::ShortRead => Err(fail(e.to_string())),
        _ => Err(fail("not a SQLite database".into())),
    }
}

/// Quote an argument of a sqlite3 shell dot-command (double quotes, backslash escapes).
pub fn dot_quote(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            _ => o.push(c),
        }
    }
    o.push('"');
    o
}

fn sqlite3_program() -> String {
    match std::env::var("GENOMICSQLITE_SQLITE3") {
        Ok(s) if !s.is_empty() => s,
        _ => "sqlite3".to_string(),
    }
}

/// sqlite3's options that take a value (`-lookaside` and `-pagecache` take two), so that the
/// first argument that is neither an option nor such a value is known to be SQL.
const SQLITE3_VALUED_OPTIONS: [(&str, usize); 14] = [
    ("cmd", 1),
    ("escape", 1),
    ("heap", 1),
    ("init", 1),
    ("lookaside", 2),
    ("maxsize", 1),
    ("mmap", 1),
    ("newline", 1),
    ("nonce", 1),
    ("nullvalue", 1),
    ("pagecache", 2),
    ("separator", 1),
    ("sorterref", 1),
    ("vfs", 1),
];

/// Whether sqlite3's arguments (after the database) include SQL to run, which makes sqlite3
/// run it and exit instead of reading standard input.
fn has_sql(sqlite3_args: &[String]) -> bool {
    let mut skip = 0;
    for a in sqlite3_args {
        if skip > 0 {
            skip -= 1;
        } else if let Some(name) = a.strip_prefix("--").or_else(|| a.strip_prefix('-')) {
            skip = SQLITE3_VALUED_OPTIONS
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(0, |(_, values)| *values);
        } else {
            return true;
        }
    }
    false
}

pub fn main(args: ShellArgs) -> Result<i32, Failure> {
    let ShellArgs {
        db,
        mut readonly,
        create,
        sqlite3_args: passthru,
    } = args;
    if readonly && create {
        return Err(Failure::usage(
            "--readonly and --create cannot be used together",
        ));
    }

    let mut cfg = genomicsqlite::Config::default();
    if readonly {
        cfg.mode = Some("ro".into());
    }
    // How to open: (path or URI for .open, whether it's a URI, whether to add --readonly)
    let open_target: String;
    let mut tuning: Option<String> = None;
    if fsutil::is_url(&db) {
        cfg.mode = Some("ro".into());
        cfg.immutable = true;
        check_url(&db)?;
        open_target = genomicsqlite::uri(&db, &cfg);
        readonly = true;
    } else {
        let kind = match fsutil::inspect(&db) {
            Ok(k) => Some(k),
            Err(e) => {
                let missing = !Path::new(&db).exists() && std::fs::symlink_metadata(&db).is_err();
                if missing && create {
                    None
                } else if missing {
                    return Err(Failure::new(format!(
                        "{}: no such file (to create a new compressed database, add --create)",
                        db
                    )));
                } else {
                    return Err(e);
                }
            }
        };
        if create && kind.is_some() {
            return Err(Failure::new(format!(
                "{}: already exists; --create only makes a new database",
                db
            )));
        }
        match kind {
            Some(DbKind::Plain) => {
                // an ordinary SQLite file opens directly, without the zstd VFS
                open_target = if db.starts_with("file:") {
                    format!("./{}", db)
                } else {
                    db.clone()
                };
            }
            Some(DbKind::Compressed) => {
                check_opens(&db, &cfg)?;
                open_target = genomicsqlite::uri(&db, &cfg);
                tuning = Some(genomicsqlite::tuning_sql(&cfg, None));
            }
            Some(DbKind::Empty) | None => {
                open_target = genomicsqlite::uri(&db, &cfg);
                tuning = Some(genomicsqlite::tuning_sql(&cfg, None));
            }
        }
    }

    let lib = find_extension()?;
    // As in sqlite3 and 0.9.4: column headers, the banner and the prompt only for a person at
    // a terminal, so that `n=$(genomicsqlite db "SELECT count(*) FROM t")` gets just the number.
    let interactive = std::io::stdin().is_terminal() && !has_sql(&passthru);

    let mut cmd = Command::new(sqlite3_program());
    cmd.arg("-bail");
    if interactive {
        cmd.arg("-header");
    }
    cmd.arg("-cmd")
        .arg(format!(".load {}", dot_quote(&lib.to_string_lossy())));
    let ro = if readonly && !open_target.starts_with("file:") {
        "--readonly "
    } else {
        ""
    };
    cmd.arg("-cmd")
        .arg(format!(".open {}{}", ro, dot_quote(&open_target)));
    // the tuning PRAGMAs print values (journal_mode): keep them off the screen
    cmd.arg("-cmd").arg(".output /dev/null");
    // The database opened here a moment ago (check_opens; a URL was only probed, check_url);
    // should the .open still fail (the file was replaced meanwhile, or a remote one is damaged),
    // sqlite3 would go on with an empty in-memory database, even with -bail. Stop instead: -bail exits on this failing statement, after sqlite3's "unable
    // to open" and the library's reason. Plain SQL has no way to raise an error with a message
    // of its own; a JSON path error quotes the path, which reads as one.
    cmd.arg("-cmd").arg(
        "SELECT CASE WHEN file = '' THEN \
         json_extract('{}', '$ the database did not open (see the message above)') END \
         FROM pragma_database_list WHERE name = 'main'",
    );
    if let Some(t) = tuning {
        cmd.arg("-cmd").arg(t);
    }
    cmd.arg("-cmd").arg(".output stdout");
    cmd.arg("-cmd")
        .arg(".prompt \"GenomicSQLite> \" \"         ...> \"");
    cmd.arg(":memory:");
    if readonly {
        cmd.arg("-readonly");
    }
    cmd.args(&passthru);
    if interactive {
        println!(
            "GenomicSQLite {} (extension {})",
            env!("CARGO_PKG_VERSION"),
            lib.display()
        );
    }
    let err = cmd.exec();
    Err(Failure::new(format!(
        "cannot run {}: {} (is the sqlite3 command installed? apt-get install sqlite3)",
        sqlite3_program(),
        err
    )))
}

#[cfg(test)]
mod tests {
    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sql_among_sqlite3_arguments() {
        assert!(!super::has_sql(&args(&[
            "-csv",
            "-cmd",
            "SELECT 1",
            "-lookaside",
            "1",
            "2"
        ])));
        assert!(super::has_sql(&args(&["-noheader", "SELECT 1"])));
        assert!(super::has_sql(&args(&["--separator", ",", ".tables"])));
    }

    #[test]
    fn dot_quote() {
        assert_eq!(super::dot_quote("a b"), "\"a b\"");
        assert_eq!(super::dot_quote("x\"y\\z"), "\"x\\\"y\\\\z\"");
    }
}
