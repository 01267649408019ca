//! `genomicsqlite DB --compact`: (re)compress a plain or compressed database into a new
//! compressed file: VACUUM INTO a plain copy, compress that copy's pages with zstd
//! dictionaries trained per b-tree ([`genomicsqlite::pack_plain_file`]), then defragment the
//! new outer file.
//!
//! Safety: the input is opened read-only. The output is written under a temporary name in the
//! output's directory (`OUT.genomicsqlite-compact-incomplete-PID`, the plain copy beside it as
//! `...-PID-plain`) and renamed to OUT only when everything succeeded; on error or
//! SIGINT/SIGTERM/SIGHUP the temporary files are deleted. A SIGKILL can leave only such
//! temporary files, never a partial OUT.

use crate::api;
use crate::fsutil::{self, DbKind, TempOutput};
use crate::{CompactArgs, Failure};
use genomicsqlite::{format, Config};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use rusqlite::{Connection, OpenFlags};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Opts {
    db: String,
    out: Option<String>,
    /// The configuration the output is written with (the input is read with its `threads`).
    config: Config,
    defrag: bool,
    force: bool,
    quiet: bool,
}

/// Applies option `flag` when given and checks the result, so that a message names the option
/// at fault.
fn set<T>(
    config: &mut Config,
    flag: &str,
    value: Option<T>,
    apply: impl FnOnce(&mut Config, T),
) -> Result<(), Failure> {
    if let Some(value) = value {
        apply(config, value);
        config
            .validate()
            .map_err(|e| Failure::usage(format!("{flag}: {e}")))?;
    }
    Ok(())
}

impl Opts {
    /// The options over the defaults (level 6, inner pages 16 KiB, outer pages 64 KiB); the
    /// library's [`Config::validate`] decides what is allowed.
    fn new(args: CompactArgs) -> Result<Opts, Failure> {
        let mut config = Config {
            outer_page_KiB: 64,
            // the library's own messages on stderr are off; our error messages carry them
            vfs_log: 0,
            ..Config::default()
        };
        set(&mut config, "--level", args.level, |c, n| c.zstd_level = n)?;
        set(
            &mut config,
            "--inner-page-KiB",
            args.inner_page_kib,
            |c, n| c.inner_page_KiB = n,
        )?;
        set(
            &mut config,
            "--outer-page-KiB",
            args.outer_page_kib,
            |c, n| c.outer_page_KiB = n,
        )?;
        set(&mut config, "-@", args.threads, |c, n| c.threads = n)?;
        Ok(Opts {
            db: args.db,
            out: args.out,
            config,
            defrag: !args.no_defrag,
            force: args.force,
            quiet: args.quiet,
        })
    }
}

/// Shows progress on stderr while a phase runs (only when stderr is a terminal): how much of
/// the phase's input file this process has read, measured from /proc/self/io.
struct Progress {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(label: &'static str, total_bytes: u64, page_size: u64, enabled: bool) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let Some(base) = fsutil::proc_read_bytes().filter(|_| enabled && total_bytes > 0) else {
            return Progress { stop, handle: None };
        };
        let page_size = page_size.max(1);
        let style = ProgressStyle::with_template(
            "{msg}: {percent:>3}%  {pages} / {total_pages} pages  {decimal_bytes_per_sec}  ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("pages", move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", fsutil::commas(s.pos() / page_size));
        })
        .with_key("total_pages", move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", fsutil::commas(s.len().unwrap_or(0).div_ceil(page_size)));
        });
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr())
            .with_style(style)
            .with_message(label);
        let s2 = stop.clone();
        let handle = std::thread::spawn(move || {
            while !s2.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(250));
                let read = fsutil::proc_read_bytes()
                    .unwrap_or(base)
                    .saturating_sub(base);
                // the input is read about once; never claim to be done before the phase is
                bar.set_position(read.min(total_bytes * 99 / 100));
            }
            bar.finish_and_clear();
        });
        Progress {
            stop,
            handle: Some(handle),
        }
    }

    /// Runs `work`, a step that reads about `total_bytes` of the database at `path`, with a
    /// progress line (when `enabled`) that is gone before the step's result is reported.
    fn during<T>(
        label: &'static str,
        path: &str,
        total_bytes: u64,
        enabled: bool,
        work: impl FnOnce() -> T,
    ) -> T {
        let _shown = Progress::start(label, total_bytes, page_size_of(path), enabled);
        work()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The page size of a database file, for counting pages in progress messages (4096 when the
/// header cannot be read: the count is only shown, never used).
fn page_size_of(path: &str) -> u64 {
    let mut hdr = Vec::with_capacity(format::HEADER_LEN);
    let read = std::fs::File::open(path)
        .and_then(|f| f.take(format::HEADER_LEN as u64).read_to_end(&mut hdr));
    match (read, format::DbHeader::parse(&hdr)) {
        (Ok(_), Ok(h)) => u64::from(h.page_size),
        _ => 4096,
    }
}

pub fn main(args: CompactArgs) -> Result<i32, Failure> {
    let o = Opts::new(args)?;
    if fsutil::is_url(&o.db) {
        return Err(Failure::new(format!(
            "{}: --compact needs a local file",
            o.db
        )));
    }
    let kind = fsutil::inspect(&o.db)?;
    if kind == DbKind::Empty {
        return Err(Failure::new(format!(
            "{}: empty file, nothing to compact",
            o.db
        )));
    }
    let out = PathBuf::from(o.out.clone().unwrap_or_else(|| format!("{}.compact", o.db)));
    fsutil::check_output(&out, &o.db, o.force)?;
    fsutil::install_signal_handlers()?;

    let show = !o.quiet && std::io::stderr().is_terminal();
    let t0 = Instant::now();
    let in_size = fsutil::file_size(std::path::Path::new(&o.db));

    // open the input read-only
    let conn: Connection = match kind {
        DbKind::Compressed => {
            let input = Config {
                vfs_log: 0,
                threads: o.config.threads,
                ..Config::default()
            };
            api::open_readonly(&o.db, &input).map_err(|e| {
                Failure::new(format!("{}: cannot open compressed database: {}", o.db, e))
            })?
        }
        _ => Connection::open_with_flags(
            &o.db,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Failure::new(format!("{}: cannot open: {}", o.db, e)))?,
    };
    // fail early, with a clear message, if the input isn't a readable database
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| Failure::new(format!("{}: cannot read the database: {}", o.db, e)))?;
    if !o.quiet {
        eprintln!(
            "{}: {} database, {}",
            o.db,
            if kind == DbKind::Compressed {
                "compressed"
            } else {
                "uncompressed"
            },
            fsutil::human(in_size)
        );
    }

    // 1. VACUUM INTO a temporary plain file (the inner database as it will be stored), then
    //    compress its pages into a temporary compressed file with dictionaries trained per
    //    b-tree on the pages themselves (which the streaming VACUUM INTO the zstd VFS cannot:
    //    its dictionaries learn only from pages already written)
    let tmp1 = TempOutput::new(&out, "compact")?;
    let plain = tmp1.sibling("plain");
    // VACUUM INTO writes through the connection's VFS unless told otherwise: a compressed
    // input's is the zstd VFS (whose connection takes URIs), and the copy must be plain
    let plain_target = if kind == DbKind::Compressed {
        format!("file:{}?vfs=unix", fsutil::uri_path(&plain.path_str()))
    } else {
        plain.path_str()
    };
    Progress::during("copying", &o.db, in_size, show, || {
        // not synced: the plain copy is thrown away at the end
        conn.execute_batch(&format!(
            "PRAGMA page_size = {}; PRAGMA synchronous = OFF",
            o.config.inner_page_KiB * 1024
        ))
        .and_then(|_| conn.execute("VACUUM INTO ?1", [&plain_target]))
    })
    .map_err(|e| {
        Failure::new(format!(
            "copying {} into {}: {}",
            o.db,
            plain.path.display(),
            e
        ))
    })?;
    drop(conn);
    let plain_size = fsutil::file_size(&plain.path);
    Progress::during("compressing", &plain.path_str(), plain_size, show, || {
        api::pack_plain_file(&plain.path_str(), &tmp1.path_str(), &o.config)
    })
    .map_err(|e| {
        Failure::new(format!(
            "compressing {} into {}: {}",
            o.db,
            tmp1.path.display(),
            e
        ))
    })?;
    drop(plain);

    // 2. defragment: VACUUM the new outer file as an ordinary SQLite database (into a second
    //    temporary file, so no rollback journal is needed and the first stays intact meanwhile)
    let result = if o.defrag {
        let tmp2 = TempOutput::new(&out, "defrag")?;
        let c = Connection::open_with_flags(
            &tmp1.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| Failure::new(format!("{}: {}", tmp1.path.display(), e)))?;
        let tmp1_size = fsutil::file_size(&tmp1.path);
        Progress::during("defragmenting", &tmp1.path_str(), tmp1_size, show, || {
            // the outer page size asked for (VACUUM INTO uses the connection's page_size)
            c.execute_batch(&format!(
                "PRAGMA page_size = {}",
                o.config.outer_page_KiB * 1024
            ))
            .and_then(|_| c.execute("VACUUM INTO ?1", [tmp2.path_str()]))
        })
        .map_err(|e| Failure::new(format!("defragmenting {}: {}", tmp1.path.display(), e)))?;
        drop(c);
        drop(tmp1);
        tmp2
    } else {
        tmp1
    };
    crate::identity::stamp(&result.path)?;
    let out_size = fsutil::file_size(&result.path);
    result.commit(&out)?;
    let secs = t0.elapsed().as_secs_f64();
    if !o.quiet {
        eprintln!(
            "wrote {}: {} -> {} ({} -> {} bytes), ratio {:.2}x, {:.1}s",
            out.display(),
            fsutil::human(in_size),
            fsutil::human(out_size),
            fsutil::commas(in_size),
            fsutil::commas(out_size),
            if out_size > 0 {
                in_size as f64 / out_size as f64
            } else {
                0.0
            },
            secs
        );
    }
    Ok(0)
}
