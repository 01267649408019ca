//! A persistent cache of web reads on local disk (`web_cache_dir` / `SQLITE_WEB_CACHE_DIR`),
//! shared by any number of processes (issue #13: thousands of short jobs querying one published
//! database should download its pages once per machine, not once per job).
//!
//! # Layout
//! ```text
//! DIR/<sha256(URL)>/head                      validators + first chunk of the last version seen
//! DIR/<sha256(URL)>/open.lock                 held while a process opens the URL cold
//! DIR/<sha256(URL)>/<version>-<chunk>/c<N>    chunk N (aligned, `chunk` bytes) of that version
//! DIR/<sha256(URL)>/<version>-<chunk>/dbi-<sha256(.dbi URL)>   the .dbi, for that version
//! DIR/evict.lock                              held by the process trimming the cache
//! ```
//! `<version>` is a digest of the file's size, ETag, Last-Modified and its first 100 bytes (the
//! SQLite header, which changes on every write and, for compacted files, carries a random
//! identity): when the file on the server changes, its old entries sit under another name, so
//! they are never served for the new one and never mixed with its pages, and they are deleted as
//! soon as a process sees the change.
//!
//! # Why it is safe to share
//! * Every entry is written to a temporary name in its directory and renamed into place, so a
//!   reader sees a whole entry or none. Each entry carries its length and SHA-256; an entry that
//!   does not check out (a torn write on a filesystem without atomic rename, a damaged disk) is
//!   deleted and fetched again. A killed writer leaves only a temporary file, which nobody reads
//!   and the trimming process deletes after a while.
//! * Entries are written only from responses whose validators matched the version opened (the
//!   web reader checks every response), so an entry never holds another version's bytes.
//! * A process that needs an entry another process is fetching waits on that entry's lock file
//!   (`flock`, which also works on shared filesystems that support it) for at most
//!   [`LOCK_WAIT`], then reads what the other process wrote: 16 processes starting together
//!   download about what one does. A lock that is not granted in time is simply not waited for.
//! * Any failure of the cache itself (directory full, read-only, deleted, damaged) turns the
//!   cache off for that file with one warning per process; reads go to the web as without it.
//!
//! # Size bound
//! Reading an entry refreshes its modification time (at most once a minute); a process that has
//! written an eighth of the budget (and each process at its first write, and again when it closes
//! the file after writing) walks the directory and deletes the least recently used entries until
//! the total is 90% of `web_cache_MiB`. So while files are open the cache may exceed the bound by
//! what the open readers wrote since their last walk (at most an eighth of it each), and once they
//! are closed it is within the bound. A walk that finds another process walking is skipped and
//! retried at the next write, so concurrent writers cannot make each other's walks vanish.

use super::dbi::DbiSource;
use super::file::WebFile;
use super::http::{Client, Fetched, Identity, Want};
use super::{display_url, Log, WebError, WebOptions};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

/// Longest wait for another process's download of the same entry.
const LOCK_WAIT: Duration = Duration::from_secs(10);
/// Temporary files older than this belong to a killed writer.
const STALE_TEMP: Duration = Duration::from_secs(600);
const MAGIC: &[u8; 8] = b"GSQWC\x001\n";
/// Entry framing: magic, payload length (u64 LE), SHA-256 of the payload.
const FRAME: usize = 8 + 8 + 32;
/// One warning per process about the cache itself.
static WARNED: AtomicBool = AtomicBool::new(false);
static TEMP_SERIAL: AtomicU64 = AtomicU64::new(0);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex(&h.finalize()[..16])
}

fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// The payload of a framed entry, if it is whole and undamaged.
fn decode(mut bytes: Vec<u8>) -> Option<Vec<u8>> {
    if bytes.len() < FRAME || &bytes[..8] != MAGIC {
        return None;
    }
    let len = u64::from_le_bytes(bytes[8..16].try_into().ok()?);
    if len != (bytes.len() - FRAME) as u64 || Sha256::digest(&bytes[FRAME..])[..] != bytes[16..48] {
        return None;
    }
    Some(bytes.split_off(FRAME))
}

/// What `head` records: the validators of the version last seen and its first chunk.
#[derive(Debug, PartialEq)]
struct HeadMeta {
    size: u64,
    etag: Option<String>,
    last_modified: Option<String>,
}

impl HeadMeta {
    fn of(id: &Identity) -> Option<HeadMeta> {
        Some(HeadMeta {
            size: id.total?,
            etag: id.etag.clone(),
            last_modified: id.last_modified.clone(),
        })
    }

    fn to_json(&self) -> Vec<u8> {
        serde_json::json!({
            "size": self.size, "etag": self.etag, "last_modified": self.last_modified
        })
        .to_string()
        .into_bytes()
    }

    fn from_json(bytes: &[u8]) -> Option<HeadMeta> {
        let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        Some(HeadMeta {
            size: v.get("size")?.as_u64()?,
            etag: text("etag"),
            last_modified: text("last_modified"),
        })
    }
}

/// The disk cache as seen by one open file.
pub(crate) struct DiskCache {
    root: PathBuf,
    url_dir: PathBuf,
    budget: u64,
    /// Size of the chunk entries: `web_small_KiB` (the length of `head`'s first bytes) until
    /// [`begin`](Self::begin) sets the reader's chunk size.
    chunk: u64,
    log: Log,
    off: AtomicBool,
    /// Directory of the open version's entries and the file size, once the file is open.
    version: OnceLock<(PathBuf, u64)>,
    /// Whether `head` already describes the open version.
    head_current: AtomicBool,
    written: AtomicU64,
    trimmed_once: AtomicBool,
}

/// A held entry lock (released on drop, also by the kernel if the process dies).
pub(crate) struct EntryLock(File);

impl Drop for EntryLock {
    /// Unlocks explicitly: closing our descriptor alone would not release the `flock` while a
    /// `fork()` child still has a copy of it (the lock belongs to the shared open file), and
    /// other processes would wait for the lock as long as that child lives.
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl Drop for DiskCache {
    /// A reader that wrote since its last walk walks once more as it closes, so a closed cache
    /// is within its bound (the last eighth written would otherwise stay over it).
    fn drop(&mut self) {
        if self.on() && self.written.load(Ordering::Relaxed) > 0 {
            self.trim();
        }
    }
}

impl DiskCache {
    /// The cache for `url`, or `None` when `web_cache_dir` is not set.
    pub(crate) fn new(opts: &WebOptions, url: &str) -> Option<DiskCache> {
        let root = PathBuf::from(opts.cache_dir.as_ref().filter(|d| !d.is_empty())?);
        let url_dir = root.join(digest_hex(&[url.as_bytes()]));
        Some(DiskCache {
            root,
            url_dir,
            budget: opts.disk_cache_mib.saturating_mul(1024 * 1024),
            chunk: opts.small_kib as u64 * 1024,
            log: Log::new(opts.log_level).scoped("web: "),
            off: AtomicBool::new(false),
            version: OnceLock::new(),
            head_current: AtomicBool::new(false),
            written: AtomicU64::new(0),
            trimmed_once: AtomicBool::new(false),
        })
    }

    fn on(&self) -> bool {
        !self.off.load(Ordering::Relaxed)
    }

    /// Turn the cache off for this file after a failure of the cache itself.
    fn fail(&self, what: &str, err: &dyn std::fmt::Display) {
        self.off.store(true, Ordering::Relaxed);
        if !WARNED.swap(true, Ordering::Relaxed) {
            self.log.emit(1, || {
                format!(
                    "warning: web cache {} unusable ({what}: {err}); reading from the web without it",
                    self.root.display()
                )
            });
        }
    }

    /// A damaged entry: warn once, delete it, and treat it as missing.
    fn damaged(&self, path: &Path) {
        if !WARNED.swap(true, Ordering::Relaxed) {
            self.log.emit(1, || {
                format!(
                    "warning: web cache entry {} is damaged; deleted, fetching it again",
                    path.display()
                )
            });
        }
        let _ = fs::remove_file(path);
    }

    fn read_entry(&self, path: &Path) -> Option<Vec<u8>> {
        if !self.on() {
            return None;
        }
        let mut f = File::open(path).ok()?;
        let mut bytes = Vec::new();
        if f.read_to_end(&mut bytes).is_err() {
            return None;
        }
        match decode(bytes) {
            Some(p) => {
                // LRU: refresh the entry's time, at most once a minute.
                let stale = f
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > Duration::from_secs(60));
                if stale {
                    let _ = f.set_modified(SystemTime::now());
                }
                Some(p)
            }
            None => {
                self.damaged(path);
                None
            }
        }
    }

    /// Write an entry atomically (temporary name, then rename). Failures turn the cache off.
    fn write_entry(&self, path: &Path, payload: &[u8]) {
        if !self.on() {
            return;
        }
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return;
        };
        let tmp = dir.join(format!(
            ".tmp-{}-{}-{}",
            name.to_string_lossy(),
            std::process::id(),
            TEMP_SERIAL.fetch_add(1, Ordering::Relaxed)
        ));
        let framed = encode(payload);
        let attempt = || -> std::io::Result<()> {
            let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            f.write_all(&framed)?;
            drop(f);
            fs::rename(&tmp, path)
        };
        let mut res = attempt();
        if matches!(&res, Err(e) if e.kind() == std::io::ErrorKind::NotFound) {
            // First use, or the directory was deleted while in use: make it and try again.
            let _ = fs::remove_file(&tmp);
            res = fs::create_dir_all(dir).and_then(|_| attempt());
        }
        match res {
            Ok(()) => {
                let n = framed.len() as u64;
                let since = self.written.fetch_add(n, Ordering::Relaxed) + n;
                if !self.trimmed_once.swap(true, Ordering::Relaxed) || since > self.budget / 8 {
                    self.trim();
                }
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                self.fail(&format!("writing {}", path.display()), &e);
            }
        }
    }

    /// Take the lock file `path`, waiting at most [`LOCK_WAIT`] for another process holding it.
    /// `None` when it cannot be had in time (the caller goes ahead without it).
    fn lock(&self, path: &Path) -> Option<EntryLock> {
        if !self.on() {
            return None;
        }
        let open = || OpenOptions::new().create(true).append(true).open(path);
        let f = match open() {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(path.parent()?).ok()?;
                open().ok()?
            }
            Err(e) => {
                self.fail(&format!("creating {}", path.display()), &e);
                return None;
            }
        };
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match f.try_lock() {
                Ok(()) => return Some(EntryLock(f)),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(_) => return None,
            }
        }
    }

    /// Open through the cache: the cached version if the server still has it (see
    /// [`revalidate`](Self::revalidate)); otherwise the lock held while this process opens the
    /// URL cold (first chunk and .dbi), so that processes starting together wait for the first
    /// one and then find both here. A warm open takes no lock: many processes revalidate at once.
    pub(crate) fn open_warm(
        disk: Option<&DiskCache>,
        client: &Client,
        url: &str,
        deadline: Instant,
    ) -> (Option<Fetched>, Option<EntryLock>) {
        let Some(d) = disk else {
            return (None, None);
        };
        if let Some(first) = d.revalidate(client, url, deadline) {
            return (Some(first), None);
        }
        let lock = d.lock(&d.url_dir.join("open.lock"));
        (d.revalidate(client, url, deadline), lock)
    }

    /// Warm open: if `head` records a version, check with one small request (the first 100
    /// bytes) that the server still has it; then the first chunk comes from `head`. `None` (a
    /// cold open follows) when there is no usable `head`, the request fails, or the file changed
    /// (whose old entries are then deleted).
    pub(crate) fn revalidate(
        &self,
        client: &Client,
        url: &str,
        deadline: Instant,
    ) -> Option<Fetched> {
        let head = self.read_entry(&self.url_dir.join("head"))?;
        let meta_len = u32::from_le_bytes(head.get(..4)?.try_into().ok()?) as usize;
        let meta = HeadMeta::from_json(head.get(4..4 + meta_len)?)?;
        let first = head.get(4 + meta_len..)?.to_vec();
        if (first.len() as u64) < meta.size.min(self.chunk) {
            return None;
        }
        let probe = client
            .get(
                url,
                Want::Range {
                    start: 0,
                    end: 99,
                    total: None,
                },
                Some(deadline),
            )
            .ok()?;
        let n = probe.body.len().min(100);
        let same = !probe.whole_file
            && HeadMeta::of(&probe.identity).as_ref() == Some(&meta)
            && first.get(..n) == Some(&probe.body[..n])
            && n as u64 == meta.size.min(100);
        if !same {
            self.log.emit(2, || {
                format!(
                    "web cache: {} changed on the server; dropping its cached version",
                    display_url(url)
                )
            });
            self.reclaim_versions(None);
            let _ = fs::remove_file(self.url_dir.join("head"));
            return None;
        }
        self.head_current.store(true, Ordering::Relaxed);
        self.log
            .emit(3, || format!("web cache: {} revalidated", display_url(url)));
        Some(Fetched {
            body: first,
            identity: probe.identity,
            whole_file: false,
            new_connection: probe.new_connection,
        })
    }

    /// Delete the URL's version directories other than those of version `keep` (with any
    /// chunk size: processes with another `web_small_KiB` still use them).
    fn reclaim_versions(&self, keep: Option<&str>) {
        let Ok(rd) = fs::read_dir(&self.url_dir) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let kept = keep.is_some_and(|v| name.to_string_lossy().starts_with(&format!("{v}-")));
            if !kept && e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }

    /// The file is open: remember its version and the chunk size the reader chose for it
    /// (entries go to their directory) and record the version in `head` with the first bytes
    /// (`web_small_KiB` of them), dropping entries of any other version.
    pub(crate) fn begin(&mut self, identity: &Identity, first: &[u8], chunk: u64) {
        self.chunk = chunk;
        let Some(meta) = HeadMeta::of(identity) else {
            return;
        };
        let header = &first[..first.len().min(100)];
        let meta_json = meta.to_json();
        let version = digest_hex(&[&meta_json, header]);
        let dir = self.url_dir.join(format!("{version}-{}", self.chunk));
        let _ = self.version.set((dir.clone(), meta.size));
        if !self.head_current.load(Ordering::Relaxed) {
            self.reclaim_versions(Some(&version));
            let mut payload = (meta_json.len() as u32).to_le_bytes().to_vec();
            payload.extend_from_slice(&meta_json);
            payload.extend_from_slice(first);
            self.write_entry(&self.url_dir.join("head"), &payload);
        }
    }

    fn chunk_path(dir: &Path, c: u64) -> PathBuf {
        dir.join(format!("c{c}"))
    }

    fn read_chunk(&self, dir: &Path, size: u64, c: u64) -> Option<Vec<u8>> {
        let want = size.saturating_sub(c * self.chunk).min(self.chunk);
        let path = Self::chunk_path(dir, c);
        let data = self.read_entry(&path)?;
        if data.len() as u64 != want {
            self.damaged(&path);
            return None;
        }
        Some(data)
    }

    /// Chunks `first..=last`: from disk where present; otherwise, holding the lock of the first
    /// missing chunk (so that concurrent processes fetch it once), from `net`, saving them.
    pub(crate) fn fetch_through(
        &self,
        first: u64,
        last: u64,
        net: impl Fn(u64, u64) -> Result<Vec<Vec<u8>>, WebError>,
    ) -> Result<Vec<Vec<u8>>, WebError> {
        let Some((dir, size)) = self.version.get().filter(|_| self.on()) else {
            return net(first, last);
        };
        let mut parts: Vec<Option<Vec<u8>>> = (first..=last)
            .map(|c| self.read_chunk(dir, *size, c))
            .collect();
        let missing = |parts: &[Option<Vec<u8>>]| {
            let a = parts.iter().position(Option::is_none)?;
            let b = parts.iter().rposition(Option::is_none)?;
            Some((first + a as u64, first + b as u64))
        };
        if let Some((a, _)) = missing(&parts) {
            let _lock = self.lock(&dir.join(format!("c{a}.lock")));
            for (k, p) in parts.iter_mut().enumerate() {
                if p.is_none() {
                    *p = self.read_chunk(dir, *size, first + k as u64);
                }
            }
            if let Some((a, b)) = missing(&parts) {
                let fetched = net(a, b)?;
                for (k, data) in fetched.into_iter().enumerate() {
                    let c = a + k as u64;
                    self.write_entry(&Self::chunk_path(dir, c), &data);
                    parts[(c - first) as usize] = Some(data);
                }
            }
        }
        Ok(parts.into_iter().flatten().collect())
    }

    fn dbi_path(&self, loc: &str) -> Option<PathBuf> {
        let lower = loc.get(..8).unwrap_or(loc).to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return None; // a local .dbi is read from where it is
        }
        let (dir, _) = self.version.get()?;
        Some(dir.join(format!("dbi-{}", digest_hex(&[loc.as_bytes()]))))
    }

    /// The .dbi at `loc` for the open version, if cached.
    pub(crate) fn load_dbi(&self, loc: &str) -> Option<DbiSource> {
        let bytes = self.read_entry(&self.dbi_path(loc)?)?;
        self.log.emit(3, || {
            format!(
                "web cache: .dbi {} ({} bytes) from the cache",
                display_url(loc),
                bytes.len()
            )
        });
        Some(DbiSource {
            origin: display_url(loc),
            bytes,
        })
    }

    /// Keep the .dbi downloaded from `loc` for the open version.
    pub(crate) fn store_dbi(&self, loc: &str, dbi: &DbiSource) {
        if let Some(path) = self.dbi_path(loc) {
            self.write_entry(&path, &dbi.bytes);
        }
    }

    /// Delete stale temporary files and, over budget, the least recently used entries down to
    /// 90% of it. One walker at a time: a caller that finds the walk taken leaves its count of
    /// bytes written standing, so its next write tries again.
    fn trim(&self) {
        let Ok(f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("evict.lock"))
        else {
            return;
        };
        if f.try_lock().is_err() {
            return;
        }
        let _held = EntryLock(f);
        // Bytes written from here on count towards the next walk: this one may not see them.
        self.written.store(0, Ordering::Relaxed);
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        let mut total = 0u64;
        let mut dirs = vec![self.root.clone()];
        while let Some(d) = dirs.pop() {
            let Ok(rd) = fs::read_dir(&d) else { continue };
            for e in rd.flatten() {
                let Ok(md) = e.metadata() else { continue };
                let p = e.path();
                if md.is_dir() {
                    dirs.push(p);
                    continue;
                }
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.ends_with(".lock") {
                    continue;
                }
                let mtime = md.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                if name.starts_with(".tmp-") {
                    if mtime.elapsed().is_ok_and(|a| a > STALE_TEMP) {
                        let _ = fs::remove_file(&p);
                    }
                    continue;
                }
                total += md.len();
                entries.push((mtime, md.len(), p));
            }
        }
        if total <= self.budget {
            return;
        }
        entries.sort();
        let goal = self.budget / 10 * 9;
        let mut removed = 0u64;
        for (_, len, p) in entries {
            if total <= goal {
                break;
            }
            if fs::remove_file(&p).is_ok() {
                total -= len;
                removed += 1;
            }
        }
        self.log.emit(3, || {
            format!("web cache: trimmed {removed} least recently used entries")
        });
    }
}

impl WebFile {
    /// Keep a .dbi just downloaded for this file in the disk cache (if there is one).
    pub(crate) fn remember_dbi(&self, dbi: &DbiSource) {
        let i = self.inner();
        if let (Some(d), Some(loc)) = (&i.disk, self.dbi_location()) {
            d.store_dbi(&loc, dbi);
        }
    }

    /// The .dbi from the disk cache, or else downloaded (and then kept there).
    pub(crate) fn fetch_dbi_cached(&self) -> Result<Option<DbiSource>, WebError> {
        let i = self.inner();
        if let (Some(d), Some(loc)) = (&i.disk, self.dbi_location()) {
            if let Some(dbi) = d.load_dbi(&loc) {
                return Ok(Some(dbi));
            }
        }
        let dbi = self.fetch_dbi()?;
        if let Some(s) = &dbi {
            self.remember_dbi(s);
        }
        Ok(dbi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_detect_damage() {
        let framed = encode(b"hello pages");
        assert_eq!(decode(framed.clone()).as_deref(), Some(&b"hello pages"[..]));
        let mut torn = framed.clone();
        torn.truncate(framed.len() - 1);
        assert_eq!(decode(torn), None);
        let mut flipped = framed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(decode(flipped), None);
        assert_eq!(decode(Vec::new()), None);
    }

    fn cached_bytes(dir: &Path) -> u64 {
        let mut total = 0;
        for e in fs::read_dir(dir).unwrap().flatten() {
            if e.file_name().to_string_lossy().starts_with('c') {
                total += e.metadata().unwrap().len();
            }
        }
        total
    }

    /// A walk skipped because another process held the walk lock is retried at the next write,
    /// and closing the cache walks once more, so the closed cache is within its bound.
    #[test]
    fn bound_holds_after_a_skipped_walk_and_at_close() {
        let root = genomicsqlite_test_support::temp_dir("disk-cache-bound");
        let opts = WebOptions {
            cache_dir: Some(root.to_string_lossy().into_owned()),
            disk_cache_mib: 1,
            ..WebOptions::default()
        };
        let entries = root.join("entries");
        let entry = vec![7u8; 16 << 10];
        let cache = DiskCache::new(&opts, "http://127.0.0.1/x.db").unwrap();
        // Another walker holds the lock while this process writes 1.5 MiB: no walk can run.
        let other = OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join("evict.lock"))
            .unwrap();
        other.lock().unwrap();
        for n in 0..95 {
            cache.write_entry(&entries.join(format!("c{n}")), &entry);
        }
        assert!(cached_bytes(&entries) > 1 << 20);
        other.unlock().unwrap();
        // The next write walks: the skipped walks' bytes were not forgotten.
        cache.write_entry(&entries.join("c95"), &entry);
        assert!(
            cached_bytes(&entries) <= 1 << 20,
            "{}",
            cached_bytes(&entries)
        );
        // Writes below an eighth of the bound do not walk; closing does.
        for n in 96..103 {
            cache.write_entry(&entries.join(format!("c{n}")), &entry);
        }
        drop(cache);
        assert!(
            cached_bytes(&entries) <= 1 << 20,
            "{}",
            cached_bytes(&entries)
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
