//! File helpers: inspecting a database file's header, and temporary
//! output files that are removed if the program fails or is interrupted (SIGINT, SIGTERM,
//! SIGHUP), then renamed into place only on success.

use crate::Failure;
use genomicsqlite::format;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// What kind of database a local file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// An ordinary SQLite file.
    Plain,
    /// A GenomicSQLite compressed file (outer database with application_id "zstd").
    Compressed,
    /// A zero-length file (SQLite treats it as an empty database).
    Empty,
}

/// Check that `path` is a readable regular file holding a SQLite database and tell its kind.
/// Errors are one-line messages naming the file and the problem.
pub fn inspect(path: &str) -> Result<DbKind, Failure> {
    let md = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::new(format!("{}: no such file", path)))
        }
        Err(e) => return Err(Failure::new(format!("{}: {}", path, e))),
    };
    if md.is_dir() {
        return Err(Failure::new(format!(
            "{}: is a directory, not a database file",
            path
        )));
    }
    if !md.is_file() {
        return Err(Failure::new(format!("{}: not a regular file", path)));
    }
    let mut hdr = Vec::with_capacity(format::HEADER_LEN);
    fs::File::open(path)
        .and_then(|f| f.take(format::HEADER_LEN as u64).read_to_end(&mut hdr))
        .map_err(|e| Failure::new(format!("{}: cannot read: {}", path, e)))?;
    if hdr.is_empty() {
        return Ok(DbKind::Empty);
    }
    let hdr = format::DbHeader::parse(&hdr).map_err(|e| Failure::new(format!("{path}: {e}")))?;
    Ok(if hdr.application_id == format::APPLICATION_ID {
        DbKind::Compressed
    } else {
        DbKind::Plain
    })
}

/// An http(s) or s3 URL (case-sensitive, like the library's `genomicsqlite_uri`).
pub fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://") || s.starts_with("s3://")
}

/// Paths to delete if the process is interrupted: those of every live [`TempOutput`].
static CLEANUP: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// On SIGINT, SIGTERM or SIGHUP: delete the temporary outputs, then die of the signal as if
/// it had not been caught (so the exit status still tells the parent what happened). The
/// work happens on an ordinary thread that signal-hook wakes, not in a signal handler.
pub fn install_signal_handlers() -> Result<(), Failure> {
    static INSTALLED: OnceLock<Result<(), Failure>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])
                .map_err(|e| Failure::new(format!("cannot install signal handlers: {e}")))?;
            std::thread::spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    let paths = CLEANUP.lock().unwrap_or_else(|p| p.into_inner());
                    for p in paths.iter() {
                        let _ = fs::remove_file(p);
                    }
                    let _ = signal_hook::low_level::emulate_default_handler(sig);
                    std::process::exit(128 + sig);
                }
            });
            Ok(())
        })
        .clone()
}

/// The file itself, then the side files SQLite (and the zstd VFS, for its inner database) may
/// create next to it.
const SIDE_FILES: [&str; 7] = [
    "",
    "-journal",
    "-wal",
    "-shm",
    "-inner-journal",
    "-inner-wal",
    "-inner-shm",
];

/// A temporary file path (plus the SQLite side files a crash could leave next to it) that is
/// deleted when this guard drops or when the process gets SIGINT/SIGTERM/SIGHUP, unless
/// `commit` renamed it into place.
pub struct TempOutput {
    pub path: PathBuf,
    /// `path` and its side files; empty once committed or removed.
    paths: Vec<PathBuf>,
}

/// `path` as the path of a `file:` URI (the characters URIs give a meaning escaped).
pub fn uri_path(path: &str) -> String {
    path.replace('%', "%25")
        .replace('?', "%3f")
        .replace('#', "%23")
}

impl TempOutput {
    /// A temporary name in the same directory as `final_path`, clearly marked, with our pid.
    pub fn new(final_path: &Path, tag: &str) -> Result<TempOutput, Failure> {
        let name = final_path
            .file_name()
            .ok_or_else(|| Failure::new(format!("{}: not a file name", final_path.display())))?;
        let dir = match final_path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = dir.join(format!(
            "{}.genomicsqlite-{}-incomplete-{}",
            name.to_string_lossy(),
            tag,
            std::process::id()
        ));
        Ok(TempOutput::at(tmp))
    }

    /// Another temporary file named after this one (`PATH-suffix`), so that what a SIGKILL
    /// leaves behind is still recognizably this one's.
    pub fn sibling(&self, suffix: &str) -> TempOutput {
        let mut p = self.path.clone().into_os_string();
        p.push(format!("-{suffix}"));
        TempOutput::at(PathBuf::from(p))
    }

    fn at(tmp: PathBuf) -> TempOutput {
        let paths: Vec<PathBuf> = SIDE_FILES
            .iter()
            .map(|suffix| {
                let mut p = tmp.clone().into_os_string();
                p.push(suffix);
                PathBuf::from(p)
            })
            .collect();
        CLEANUP
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(paths.iter().cloned());
        let t = TempOutput { path: tmp, paths };
        t.remove_files();
        t
    }

    pub fn path_str(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    fn remove_files(&self) {
        for p in &self.paths {
            let _ = fs::remove_file(p);
        }
    }

    /// Stops watching this output's files (they were removed or renamed into place).
    fn release(&mut self) {
        CLEANUP
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|p| !self.paths.contains(p));
        self.paths.clear();
    }

    /// fsync the temporary file and rename it to `final_path` (replacing it if present).
    pub fn commit(mut self, final_path: &Path) -> Result<(), Failure> {
        let f = fs::File::open(&self.path)
            .map_err(|e| Failure::new(format!("{}: {}", self.path.display(), e)))?;
        f.sync_all()
            .map_err(|e| Failure::new(format!("{}: fsync: {}", self.path.display(), e)))?;
        drop(f);
        fs::rename(&self.path, final_path).map_err(|e| {
            Failure::new(format!(
                "renaming {} to {}: {}",
                self.path.display(),
                final_path.display(),
                e
            ))
        })?;
        if let Some(d) = final_path.parent() {
            let d = if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            };
            if let Ok(df) = fs::File::open(d) {
                let _ = df.sync_all();
            }
        }
        // the main file is gone (renamed); remove any side files, then forget
        for p in &self.paths[1..] {
            let _ = fs::remove_file(p);
        }
        self.release();
        Ok(())
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.paths.is_empty() {
            self.remove_files();
            self.release();
        }
    }
}

/// Check the output path before any work: refuse to overwrite without `force`, refuse
/// directories and the input itself.
pub fn check_output(out: &Path, input: &str, force: bool) -> Result<(), Failure> {
    if let Ok(md) = fs::metadata(out) {
        if md.is_dir() {
            return Err(Failure::new(format!(
                "{}: output path is a directory",
                out.display()
            )));
        }
        if let (Ok(a), Ok(b)) = (fs::canonicalize(out), fs::canonicalize(input)) {
            if a == b {
                return Err(Failure::new(format!(
                    "{}: output would overwrite the input",
                    out.display()
                )));
            }
        }
        if !force {
            return Err(Failure::new(format!(
                "{}: already exists (use -f to overwrite)",
                out.display()
            )));
        }
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        _ => Err(Failure::new(format!(
            "{}: output directory does not exist",
            dir.display()
        ))),
    }
}

pub fn file_size(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Bytes this process has read through read()-like system calls so far (Linux /proc).
pub fn proc_read_bytes() -> Option<u64> {
    let s = fs::read_to_string("/proc/self/io").ok()?;
    for line in s.lines() {
        if let Some(v) = line.strip_prefix("rchar:") {
            return v.trim().parse().ok();
        }
    }
    None
}

/// 1234567 -> "1,234,567"
pub fn commas(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn human(n: u64) -> String {
    let f = n as f64;
    if f >= 1e9 {
        format!("{:.2} GB", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.1} MB", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1} KB", f / 1e3)
    } else {
        format!("{} B", n)
    }
}
