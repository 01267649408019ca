//! `genomicsqlite DB --compact`: [re]compress a plain or compressed database into a new
//! compressed file with VACUUM INTO, then defragment the new outer file.
//!
//! Safety: the input is opened read-only. The output is written under a temporary name in the
//! output's directory (`OUT.genomicsqlite-compact-incomplete-PID`) and renamed to OUT only when
//! everything succeeded; on error or SIGINT/SIGTERM/SIGHUP the temporary files are deleted. A
//! SIGKILL can leave only such a temporary file, never a partial OUT.

use crate::api;
use crate::fsutil::{self, DbKind, TempOutput};
use crate::{opt_any, opt_value, Failure};
use genomicsqlite::Config;
use rusqlite::{Connection, OpenFlags};
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

/// Parses the value of `flag` and stores it into the configuration with `set`; the library's
/// [`Config::validate`] decides what is allowed.
fn set_option<T: std::str::FromStr>(
    config: &mut Config,
    flag: &str,
    value: &str,
    set: impl FnOnce(&mut Config, T),
) -> Result<(), Failure> {
    let n = value
        .trim()
        .parse::<T>()
        .map_err(|_| Failure::usage(format!("{flag}: expected an integer, got {value:?}")))?;
    set(config, n);
    config
        .validate()
        .map_err(|e| Failure::usage(format!("{flag}: {e}")))
}

fn parse(args: Vec<String>) -> Result<Option<Opts>, Failure> {
    let mut o = Opts {
        db: String::new(),
        out: None,
        config: Config {
            outer_page_KiB: 64,
            // the library's own messages on stderr are off; our error messages carry them
            vfs_log: 0,
            ..Config::default()
        },
        defrag: true,
        force: false,
        quiet: false,
    };
    let mut db: Option<String> = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].clone();
        let c = &mut o.config;
        if a == "-h" || a == "--help" {
            print!("{}", crate::COMPACT_HELP);
            return Ok(None);
        } else if a == "--no-defrag" {
            o.defrag = false;
        } else if a == "-f" || a == "--force" {
            o.force = true;
        } else if a == "-q" || a == "--quiet" {
            o.quiet = true;
        } else if let Some(v) = opt_value(&args, &mut i, "-o")? {
            o.out = Some(v);
        } else if let Some(v) = opt_any(&args, &mut i, &["--level", "-l"])? {
            set_option(c, "--level", &v, |c, n| c.zstd_level = n)?;
        } else if let Some(v) = opt_value(&args, &mut i, "--inner-page-KiB")? {
            set_option(c, "--inner-page-KiB", &v, |c, n| c.inner_page_KiB = n)?;
        } else if let Some(v) = opt_value(&args, &mut i, "--outer-page-KiB")? {
            set_option(c, "--outer-page-KiB", &v, |c, n| c.outer_page_KiB = n)?;
        } else if let Some(v) = opt_any(&args, &mut i, &["-@", "--threads"])? {
            set_option(c, "-@", &v, |c, n| c.threads = n)?;
        } else if a.starts_with('-') && a.len() > 1 {
            return Err(Failure::usage(format!(
                "unknown --compact option {:?} (see genomicsqlite DB --compact --help)",
                a
            )));
        } else if db.is_none() {
            db = Some(a);
        } else {
            return Err(Failure::usage(format!("unexpected argument {:?}", a)));
        }
        i += 1;
    }
    o.db = db.ok_or_else(|| Failure::usage("--compact: missing DB_FILENAME"))?;
    Ok(Some(o))
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
        if !enabled || fsutil::proc_read_bytes().is_none() || total_bytes == 0 {
            return Progress { stop, handle: None };
        }
        let s2 = stop.clone();
        let handle = std::thread::spawn(move || {
            let base = fsutil::proc_read_bytes().unwrap_or(0);
            let t0 = Instant::now();
            let total_pages = total_bytes.div_ceil(page_size.max(1));
            let mut shown = false;
            while !s2.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(250));
                if s2.load(Ordering::SeqCst) {
                    break;
                }
                let el = t0.elapsed().as_secs_f64();
                if el < 1.0 {
                    continue;
                }
                let read = fsutil::proc_read_bytes()
                    .unwrap_or(base)
                    .saturating_sub(base);
                let done = read.min(total_bytes * 99 / 100);
                let pages = done / page_size.max(1);
                let rate = done as f64 / el;
                let eta = if rate > 0.0 {
                    (total_bytes - done) as f64 / rate
                } else {
                    0.0
                };
                eprint!(
                    "\r{}: {:3}%  {} / {} pages  {:.1} MB/s  ETA {}:{:02}   ",
                    label,
                    done * 100 / total_bytes,
                    fsutil::commas(pages),
                    fsutil::commas(total_pages),
                    rate / 1e6,
                    (eta as u64) / 60,
                    (eta as u64) % 60
                );
                shown = true;
            }
            if shown {
                eprint!("\r{}: done{:60}\n", label, "");
            }
        });
        Progress {
            stop,
            handle: Some(handle),
        }
    }
    fn finish(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
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

fn page_size_of(path: &str) -> u64 {
    let mut hdr = [0u8; 18];
    if let Ok(mut f) = std::fs::File::open(path) {
        use std::io::Read;
        if f.read_exact(&mut hdr).is_ok() {
            let p = u16::from_be_bytes([hdr[16], hdr[17]]) as u64;
            return if p == 1 { 65536 } else { p };
        }
    }
    4096
}

pub fn main(args: Vec<String>) -> Result<i32, Failure> {
    let o = match parse(args)? {
        Some(o) => o,
        None => return Ok(0),
    };
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
    fsutil::install_signal_handlers();

    let show = !o.quiet && fsutil::stderr_is_tty();
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
            api::open_readonly(&o.db, &input)
                .map_err(|e| format!("{}: cannot open compressed database: {}", o.db, e))?
        }
        _ => Connection::open_with_flags(
            &o.db,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("{}: cannot open: {}", o.db, e))?,
    };
    // fail early, with a clear message, if the input isn't a readable database
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| format!("{}: cannot read the database: {}", o.db, e))?;
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

    // 1. VACUUM INTO a temporary compressed file
    let tmp1 = TempOutput::new(&out, "compact")?;
    {
        let p = Progress::start("compressing", in_size, page_size_of(&o.db), show);
        let r = api::vacuum_into(&conn, &tmp1.path_str(), &o.config);
        p.finish();
        r.map_err(|e| format!("compressing {} into {}: {}", o.db, tmp1.path.display(), e))?;
    }
    drop(conn);

    // 2. defragment: VACUUM the new outer file as an ordinary SQLite database (into a second
    //    temporary file, so no rollback journal is needed and the first stays intact meanwhile)
    let result = if o.defrag {
        let tmp2 = TempOutput::new(&out, "defrag")?;
        let c = Connection::open_with_flags(
            &tmp1.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("{}: {}", tmp1.path.display(), e))?;
        let sz = fsutil::file_size(&tmp1.path);
        let p = Progress::start("defragmenting", sz, page_size_of(&tmp1.path_str()), show);
        // the outer page size asked for (VACUUM INTO uses the connection's page_size setting)
        let r = c
            .execute_batch(&format!(
                "PRAGMA page_size = {}",
                o.config.outer_page_KiB * 1024
            ))
            .and_then(|_| c.execute("VACUUM INTO ?1", [tmp2.path_str()]));
        p.finish();
        r.map_err(|e| format!("defragmenting {}: {}", tmp1.path.display(), e))?;
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
