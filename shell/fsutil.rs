//! File helpers: inspecting a database file's header, terminal detection, and temporary
//! output files that are removed if the program fails or is interrupted (SIGINT, SIGTERM,
//! SIGHUP), then renamed into place only on success.

use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::raw::c_int;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, Ordering};

pub const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
pub const ZSTD_APPLICATION_ID: u32 = 0x7a73_7464;

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
pub fn inspect(path: &str) -> Result<DbKind, String> {
    let md = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("{}: no such file", path))
        }
        Err(e) => return Err(format!("{}: {}", path, e)),
    };
    if md.is_dir() {
        return Err(format!("{}: is a directory, not a database file", path));
    }
    if !md.is_file() {
        return Err(format!("{}: not a regular file", path));
    }
    let mut f = fs::File::open(path).map_err(|e| format!("{}: cannot read: {}", path, e))?;
    let mut hdr = [0u8; 100];
    let mut n = 0;
    while n < hdr.len() {
        match f.read(&mut hdr[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("{}: cannot read: {}", path, e)),
        }
    }
    if n == 0 {
        return Ok(DbKind::Empty);
    }
    if n < 100 || &hdr[..16] != SQLITE_MAGIC {
        return Err(format!("{}: not a SQLite database (bad file header)", path));
    }
    let app_id = u32::from_be_bytes([hdr[68], hdr[69], hdr[70], hdr[71]]);
    Ok(if app_id == ZSTD_APPLICATION_ID {
        DbKind::Compressed
    } else {
        DbKind::Plain
    })
}

/// An http(s) or s3 URL (case-sensitive, like the library's `genomicsqlite_uri`).
pub fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://") || s.starts_with("s3://")
}

extern "C" {
    fn isatty(fd: c_int) -> c_int;
    fn signal(signum: c_int, handler: usize) -> usize;
    fn raise(sig: c_int) -> c_int;
    fn unlink(path: *const std::os::raw::c_char) -> c_int;
}

pub fn stdin_is_tty() -> bool {
    unsafe { isatty(0) == 1 }
}
pub fn stderr_is_tty() -> bool {
    unsafe { isatty(2) == 1 }
}

const SIGHUP: c_int = 1;
const SIGINT: c_int = 2;
const SIGTERM: c_int = 15;

// Paths to unlink from the signal handler. Each slot holds a leaked CString (or null); the
// handler only calls unlink() (async-signal-safe) on them.
const SLOTS: usize = 32;
static CLEANUP: [AtomicPtr<std::os::raw::c_char>; SLOTS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];

extern "C" fn on_signal(sig: c_int) {
    for slot in CLEANUP.iter() {
        let p = slot.load(Ordering::SeqCst);
        if !p.is_null() {
            unsafe {
                unlink(p);
            }
        }
    }
    unsafe {
        signal(sig, 0); // SIG_DFL
        raise(sig);
    }
}

pub fn install_signal_handlers() {
    let h = on_signal as extern "C" fn(c_int) as usize;
    unsafe {
        signal(SIGINT, h);
        signal(SIGTERM, h);
        signal(SIGHUP, h);
    }
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
    slots: Vec<usize>,
}

impl TempOutput {
    /// A temporary name in the same directory as `final_path`, clearly marked, with our pid.
    pub fn new(final_path: &Path, tag: &str) -> Result<TempOutput, String> {
        let name = final_path
            .file_name()
            .ok_or_else(|| format!("{}: not a file name", final_path.display()))?;
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
        let mut t = TempOutput {
            path: tmp.clone(),
            slots: Vec::new(),
        };
        for suffix in SIDE_FILES {
            let mut p = tmp.clone().into_os_string();
            p.push(suffix);
            let c = CString::new(p.to_string_lossy().into_owned())
                .map_err(|_| "file name contains a NUL byte".to_string())?;
            let raw = c.into_raw();
            let mut placed = false;
            for (i, slot) in CLEANUP.iter().enumerate() {
                if slot
                    .compare_exchange(
                        std::ptr::null_mut(),
                        raw,
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    )
                    .is_ok()
                {
                    t.slots.push(i);
                    placed = true;
                    break;
                }
            }
            if !placed {
                drop(unsafe { CString::from_raw(raw) });
                return Err("internal error: too many temporary files".into());
            }
        }
        t.remove_files();
        Ok(t)
    }

    pub fn path_str(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    fn remove_files(&self) {
        for suffix in SIDE_FILES {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = fs::remove_file(&p);
        }
    }

    fn release_slots(&mut self) {
        for &i in &self.slots {
            let p = CLEANUP[i].swap(std::ptr::null_mut(), Ordering::SeqCst);
            if !p.is_null() {
                drop(unsafe { CString::from_raw(p) });
            }
        }
        self.slots.clear();
    }

    /// fsync the temporary file and rename it to `final_path` (replacing it if present).
    pub fn commit(mut self, final_path: &Path) -> Result<(), String> {
        let f =
            fs::File::open(&self.path).map_err(|e| format!("{}: {}", self.path.display(), e))?;
        f.sync_all()
            .map_err(|e| format!("{}: fsync: {}", self.path.display(), e))?;
        drop(f);
        fs::rename(&self.path, final_path).map_err(|e| {
            format!(
                "renaming {} to {}: {}",
                self.path.display(),
                final_path.display(),
                e
            )
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
        for suffix in &SIDE_FILES[1..] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = fs::remove_file(&p);
        }
        self.release_slots();
        Ok(())
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if !self.slots.is_empty() {
            self.remove_files();
            self.release_slots();
        }
    }
}

/// Check the output path before any work: refuse to overwrite without `force`, refuse
/// directories and the input itself.
pub fn check_output(out: &Path, input: &str, force: bool) -> Result<(), String> {
    if let Ok(md) = fs::metadata(out) {
        if md.is_dir() {
            return Err(format!("{}: output path is a directory", out.display()));
        }
        if let (Ok(a), Ok(b)) = (fs::canonicalize(out), fs::canonicalize(input)) {
            if a == b {
                return Err(format!(
                    "{}: output would overwrite the input",
                    out.display()
                ));
            }
        }
        if !force {
            return Err(format!(
                "{}: already exists (use -f to overwrite)",
                out.display()
            ));
        }
    }
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        _ => Err(format!(
            "{}: output directory does not exist",
            dir.display()
        )),
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
