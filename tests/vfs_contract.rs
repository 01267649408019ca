//! Contract tests of the VFS callbacks: they call the `zstd` and `web` VFSes exactly as SQLite
//! does, through the `sqlite3_vfs` registered in the linked SQLite and the `sqlite3_io_methods`
//! of each opened file, with `libsqlite3-sys`'s own declarations of those structs (so a layout
//! mistake in ours shows up as well), and check each callback's answer against a model: byte
//! contents at odd offsets, zero-filled short reads, sizes after writes and truncation, the
//! lock ladder as `SQLITE_FCNTL_LOCKSTATE` and `xCheckReservedLock` report it, file controls,
//! read-only refusals, and what is handed to the default VFS.
//!
//! The `web` VFS is read from a file served by the tests' own HTTP server on 127.0.0.1
//! (test-support's `FaultServer`, which stops by itself).
//! Run: `cargo test --release --test vfs_contract`.

use genomicsqlite_test_support::{random_bytes, rw, FaultServer};
use libsqlite3_sys as ffi;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;
use std::sync::Once;
use std::time::Duration;

const PAGE: usize = 4096;
const LOCK_NONE: c_int = ffi::SQLITE_LOCK_NONE;
const LOCK_SHARED: c_int = ffi::SQLITE_LOCK_SHARED;
const LOCK_RESERVED: c_int = ffi::SQLITE_LOCK_RESERVED;
const LOCK_EXCLUSIVE: c_int = ffi::SQLITE_LOCK_EXCLUSIVE;

/// Registers our VFSes in the linked SQLite (the Rust API does that on its first open).
fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("register.db");
        genomicsqlite::open(
            path.to_str().unwrap(),
            rw(),
            &genomicsqlite::Config::default(),
        )
        .unwrap();
    });
}

/// A VFS registered in the linked SQLite.
struct Vfs(*mut ffi::sqlite3_vfs);

impl Vfs {
    fn find(name: &CStr) -> Vfs {
        register();
        // SAFETY: plain lookup in the linked SQLite.
        let vfs = unsafe { ffi::sqlite3_vfs_find(name.as_ptr()) };
        assert!(!vfs.is_null(), "VFS {name:?} is not registered");
        Vfs(vfs)
    }

    fn get(&self) -> &ffi::sqlite3_vfs {
        // SAFETY: registered VFSes live as long as the process.
        unsafe { &*self.0 }
    }

    /// xOpen of `name` (built with `sqlite3_create_filename`, so URI parameters can be read
    /// from it as from the names SQLite passes) with `flags`: the result code, and the file
    /// with the flags xOpen reported.
    fn open(&self, name: Option<&Filename>, flags: c_int) -> (c_int, File) {
        let words = (self.get().szOsFile as usize).div_ceil(8);
        let mut file = File {
            buf: vec![0u64; words],
            open: false,
            out_flags: 0,
        };
        let x_open = self.get().xOpen.expect("xOpen");
        // SAFETY: the VFS's xOpen with a buffer of szOsFile bytes, as SQLite calls it.
        let rc = unsafe {
            x_open(
                self.0,
                name.map_or(std::ptr::null(), |n| n.0),
                file.raw(),
                flags,
                &mut file.out_flags,
            )
        };
        file.open = rc == ffi::SQLITE_OK;
        if !file.open {
            assert!(
                file.methods_ptr().is_null(),
                "a failed xOpen must leave pMethods null (SQLite would call xClose otherwise)"
            );
        }
        (rc, file)
    }

    fn access(&self, path: &str) -> bool {
        let path = CString::new(path).unwrap();
        let mut res: c_int = -1;
        // SAFETY: the VFS's xAccess with a valid name and out-pointer.
        let rc = unsafe {
            self.get().xAccess.unwrap()(self.0, path.as_ptr(), ffi::SQLITE_ACCESS_EXISTS, &mut res)
        };
        assert_eq!(rc, ffi::SQLITE_OK, "xAccess {path:?}");
        assert!(res == 0 || res == 1, "xAccess answered {res}");
        res == 1
    }

    fn delete(&self, path: &str) -> c_int {
        let path = CString::new(path).unwrap();
        // SAFETY: the VFS's xDelete with a valid name.
        unsafe { self.get().xDelete.unwrap()(self.0, path.as_ptr(), 0) }
    }

    fn full_pathname(&self, path: &str) -> String {
        let path = CString::new(path).unwrap();
        let n = self.get().mxPathname + 1;
        let mut out = vec![0 as c_char; n as usize];
        // SAFETY: the VFS's xFullPathname with an output buffer of mxPathname+1 bytes.
        let rc = unsafe {
            self.get().xFullPathname.unwrap()(self.0, path.as_ptr(), n, out.as_mut_ptr())
        };
        assert_eq!(rc, ffi::SQLITE_OK, "xFullPathname");
        // SAFETY: xFullPathname wrote a NUL-terminated string.
        unsafe { CStr::from_ptr(out.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }
}

/// A database file name as SQLite makes it for xOpen, with URI parameters.
struct Filename(ffi::sqlite3_filename);

impl Filename {
    fn new(path: &str, params: &[(&str, &str)]) -> Filename {
        let strings: Vec<CString> = params
            .iter()
            .flat_map(|(k, v)| [CString::new(*k).unwrap(), CString::new(*v).unwrap()])
            .collect();
        let mut ptrs: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        let path = CString::new(path).unwrap();
        let journal = CString::new(format!("{}-journal", path.to_str().unwrap())).unwrap();
        let wal = CString::new(format!("{}-wal", path.to_str().unwrap())).unwrap();
        // SAFETY: valid strings; SQLite copies them all.
        let name = unsafe {
            ffi::sqlite3_create_filename(
                path.as_ptr(),
                journal.as_ptr(),
                wal.as_ptr(),
                params.len() as c_int,
                ptrs.as_mut_ptr(),
            )
        };
        assert!(!name.is_null());
        Filename(name)
    }
}

impl Drop for Filename {
    fn drop(&mut self) {
        // SAFETY: made by sqlite3_create_filename, freed once.
        unsafe { ffi::sqlite3_free_filename(self.0) };
    }
}

/// An opened file: SQLite's buffer of szOsFile bytes (8-byte aligned, as SQLite's are).
struct File {
    buf: Vec<u64>,
    open: bool,
    out_flags: c_int,
}

impl File {
    fn raw(&mut self) -> *mut ffi::sqlite3_file {
        self.buf.as_mut_ptr().cast()
    }

    fn methods_ptr(&self) -> *const ffi::sqlite3_io_methods {
        // SAFETY: the buffer begins with sqlite3_file.
        unsafe { (*self.buf.as_ptr().cast::<ffi::sqlite3_file>()).pMethods }
    }

    fn methods(&self) -> &ffi::sqlite3_io_methods {
        assert!(self.open);
        // SAFETY: an open file's method table lives as long as its VFS.
        unsafe { &*self.methods_ptr() }
    }

    fn read(&mut self, offset: usize, amount: usize) -> (c_int, Vec<u8>) {
        // Filled with a marker first, so a short read that does not zero-fill is seen.
        let mut out = vec![0xA5u8; amount];
        let f = self.methods().xRead.unwrap();
        // SAFETY: xRead of an open file with a buffer of `amount` bytes.
        let rc = unsafe {
            f(
                self.raw(),
                out.as_mut_ptr().cast(),
                amount as c_int,
                offset as i64,
            )
        };
        (rc, out)
    }

    fn write(&mut self, offset: usize, data: &[u8]) -> c_int {
        let f = self.methods().xWrite.unwrap();
        // SAFETY: xWrite of an open file with `data.len()` bytes.
        unsafe {
            f(
                self.raw(),
                data.as_ptr().cast(),
                data.len() as c_int,
                offset as i64,
            )
        }
    }

    fn truncate(&mut self, size: usize) -> c_int {
        let f = self.methods().xTruncate.unwrap();
        // SAFETY: xTruncate of an open file.
        unsafe { f(self.raw(), size as i64) }
    }

    fn sync(&mut self) -> c_int {
        let f = self.methods().xSync.unwrap();
        // SAFETY: xSync of an open file.
        unsafe { f(self.raw(), ffi::SQLITE_SYNC_NORMAL) }
    }

    fn size(&mut self) -> usize {
        let f = self.methods().xFileSize.unwrap();
        let mut size: i64 = -1;
        // SAFETY: xFileSize of an open file with an out-pointer.
        let rc = unsafe { f(self.raw(), &mut size) };
        assert_eq!(rc, ffi::SQLITE_OK, "xFileSize");
        usize::try_from(size).expect("xFileSize gave a negative size")
    }

    fn lock(&mut self, level: c_int) -> c_int {
        let f = self.methods().xLock.unwrap();
        // SAFETY: xLock of an open file.
        unsafe { f(self.raw(), level) }
    }

    fn unlock(&mut self, level: c_int) -> c_int {
        let f = self.methods().xUnlock.unwrap();
        // SAFETY: xUnlock of an open file.
        unsafe { f(self.raw(), level) }
    }

    fn reserved(&mut self) -> bool {
        let f = self.methods().xCheckReservedLock.unwrap();
        let mut out: c_int = -1;
        // SAFETY: xCheckReservedLock of an open file with an out-pointer.
        let rc = unsafe { f(self.raw(), &mut out) };
        assert_eq!(rc, ffi::SQLITE_OK, "xCheckReservedLock");
        assert!(out == 0 || out == 1, "xCheckReservedLock answered {out}");
        out == 1
    }

    fn file_control(&mut self, op: c_int, arg: *mut c_void) -> c_int {
        let f = self.methods().xFileControl.unwrap();
        // SAFETY: xFileControl of an open file with the argument `op` documents.
        unsafe { f(self.raw(), op, arg) }
    }

    fn lock_state(&mut self) -> c_int {
        let mut level: c_int = -1;
        let rc = self.file_control(
            ffi::SQLITE_FCNTL_LOCKSTATE,
            (&mut level as *mut c_int).cast(),
        );
        assert_eq!(rc, ffi::SQLITE_OK, "SQLITE_FCNTL_LOCKSTATE");
        level
    }

    fn vfs_name(&mut self) -> String {
        let mut name: *mut c_char = std::ptr::null_mut();
        let rc = self.file_control(
            ffi::SQLITE_FCNTL_VFSNAME,
            (&mut name as *mut *mut c_char).cast(),
        );
        assert_eq!(rc, ffi::SQLITE_OK, "SQLITE_FCNTL_VFSNAME");
        assert!(!name.is_null());
        // SAFETY: a NUL-terminated string from sqlite3_malloc, ours to free.
        unsafe {
            let s = CStr::from_ptr(name).to_string_lossy().into_owned();
            ffi::sqlite3_free(name.cast());
            s
        }
    }

    /// SQLITE_FCNTL_PRAGMA as SQLite sends it: the result code and the message left in slot 0.
    fn pragma(&mut self, name: &str, value: Option<&str>) -> (c_int, Option<String>) {
        let name = CString::new(name).unwrap();
        let value = value.map(|v| CString::new(v).unwrap());
        let mut args: [*mut c_char; 3] = [
            std::ptr::null_mut(),
            name.as_ptr() as *mut c_char,
            value
                .as_ref()
                .map_or(std::ptr::null_mut(), |v| v.as_ptr() as *mut c_char),
        ];
        let rc = self.file_control(ffi::SQLITE_FCNTL_PRAGMA, args.as_mut_ptr().cast());
        let message = (!args[0].is_null()).then(|| {
            // SAFETY: a NUL-terminated string from sqlite3_malloc, ours to free.
            unsafe {
                let s = CStr::from_ptr(args[0]).to_string_lossy().into_owned();
                ffi::sqlite3_free(args[0].cast());
                s
            }
        });
        (rc, message)
    }

    fn device_characteristics(&mut self) -> c_int {
        let f = self.methods().xDeviceCharacteristics.unwrap();
        // SAFETY: xDeviceCharacteristics of an open file.
        unsafe { f(self.raw()) }
    }

    fn sector_size(&mut self) -> c_int {
        let f = self.methods().xSectorSize.unwrap();
        // SAFETY: xSectorSize of an open file.
        unsafe { f(self.raw()) }
    }

    fn close(mut self) -> c_int {
        let f = self.methods().xClose.unwrap();
        self.open = false;
        // SAFETY: xClose of an open file, once.
        unsafe { f(self.raw()) }
    }

    /// Reads `[offset, offset + amount)` and checks it against `model`, the bytes the file
    /// should hold: a read past the end must say SQLITE_IOERR_SHORT_READ and zero-fill.
    fn check_read(&mut self, model: &[u8], offset: usize, amount: usize) {
        let (rc, got) = self.read(offset, amount);
        let mut want = vec![0u8; amount];
        if offset < model.len() {
            let n = amount.min(model.len() - offset);
            want[..n].copy_from_slice(&model[offset..offset + n]);
        }
        let short = offset + amount > model.len();
        let want_rc = if short {
            ffi::SQLITE_IOERR_SHORT_READ
        } else {
            ffi::SQLITE_OK
        };
        assert_eq!(rc, want_rc, "xRead of {amount} bytes at {offset}");
        assert!(
            got == want,
            "xRead of {amount} bytes at {offset}: wrong bytes (short read: {short})"
        );
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // A test that failed midway still closes what it opened (the outer database).
        if self.open && !std::thread::panicking() {
            panic!("file left open; call close() and check its result");
        }
    }
}

/// Page 1 of a SQLite database with a 4 KiB page size (the store reads it at commit).
fn page_one() -> Vec<u8> {
    let mut page = random_bytes(PAGE, 7);
    page[..16].copy_from_slice(b"SQLite format 3\0");
    page[16..18].copy_from_slice(&(PAGE as u16).to_be_bytes());
    page
}

/// Writes `data` at `offset` through the file and into the model.
fn write_both(file: &mut File, model: &mut Vec<u8>, offset: usize, data: &[u8]) {
    assert_eq!(
        file.write(offset, data),
        ffi::SQLITE_OK,
        "xWrite of {} bytes at {offset}",
        data.len()
    );
    if model.len() < offset + data.len() {
        model.resize(offset + data.len(), 0);
    }
    model[offset..offset + data.len()].copy_from_slice(data);
}

const MAIN_RW: c_int =
    ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE;

#[test]
fn zstd_main_database_file() {
    let vfs = Vfs::find(c"zstd");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("contract.db");
    let name = Filename::new(path.to_str().unwrap(), &[]);
    let mut model = Vec::new();

    let (rc, mut file) = vfs.open(Some(&name), MAIN_RW);
    assert_eq!(rc, ffi::SQLITE_OK, "xOpen");
    assert_eq!(file.out_flags, MAIN_RW, "xOpen's flags out, read-write");
    assert_eq!(file.methods().iVersion, 1, "no xShm methods: no WAL");
    assert_eq!(file.sector_size(), 4096);
    assert_eq!(
        file.device_characteristics() & ffi::SQLITE_IOCAP_IMMUTABLE,
        0
    );
    assert_eq!(file.vfs_name(), "zstd");
    assert_eq!(file.size(), 0);

    // The lock ladder up, as SQLite climbs it for a write transaction.
    assert_eq!(file.lock_state(), LOCK_NONE);
    assert_eq!(file.lock(LOCK_SHARED), ffi::SQLITE_OK);
    assert_eq!(file.lock_state(), LOCK_SHARED);
    assert!(!file.reserved(), "nothing reserved under a SHARED lock");
    file.check_read(&model, 0, 100);
    assert_eq!(file.lock(LOCK_RESERVED), ffi::SQLITE_OK);
    assert_eq!(file.lock_state(), LOCK_RESERVED);
    assert!(file.reserved(), "RESERVED lock held");
    assert_eq!(file.lock(ffi::SQLITE_LOCK_PENDING), ffi::SQLITE_OK);
    assert_eq!(file.lock(LOCK_EXCLUSIVE), ffi::SQLITE_OK);
    assert_eq!(file.lock_state(), LOCK_EXCLUSIVE);
    assert_eq!(file.lock(7), ffi::SQLITE_MISUSE, "no such lock level");

    // Whole pages first (the first write sets the page size), then odd pieces: inside a page,
    // across a page boundary, and past the end (which leaves zeros in between).
    write_both(&mut file, &mut model, 0, &page_one());
    write_both(&mut file, &mut model, PAGE, &random_bytes(PAGE, 1));
    write_both(&mut file, &mut model, PAGE + 1001, &random_bytes(13, 2));
    write_both(&mut file, &mut model, 2 * PAGE - 7, &random_bytes(20, 3));
    write_both(&mut file, &mut model, 4 * PAGE + 3, &random_bytes(5, 4));
    assert_eq!(file.size(), 5 * PAGE, "size after writing into page 5");
    // The store keeps whole pages: the rest of page 5 reads as zeros.
    model.resize(5 * PAGE, 0);
    for (offset, amount) in [
        (0, 100),
        (PAGE + 999, 17),
        (2 * PAGE - 10, 30),
        (3 * PAGE, PAGE),
        (4 * PAGE, 9),
        (5 * PAGE - 50, 100),
        (9 * PAGE, 64),
    ] {
        file.check_read(&model, offset, amount);
    }
    assert_eq!(file.sync(), ffi::SQLITE_OK, "xSync");
    assert_eq!(
        file.file_control(ffi::SQLITE_FCNTL_COMMIT_PHASETWO, std::ptr::null_mut()),
        ffi::SQLITE_OK,
        "commit"
    );
    // And down again.
    assert_eq!(file.unlock(LOCK_SHARED), ffi::SQLITE_OK);
    assert_eq!(file.lock_state(), LOCK_SHARED);
    assert!(!file.reserved(), "RESERVED lock released");
    assert_eq!(file.unlock(LOCK_NONE), ffi::SQLITE_OK);
    assert_eq!(file.lock_state(), LOCK_NONE);

    // Truncation in a second transaction.
    assert_eq!(file.lock(LOCK_SHARED), ffi::SQLITE_OK);
    assert_eq!(file.lock(LOCK_RESERVED), ffi::SQLITE_OK);
    assert_eq!(file.truncate(2 * PAGE), ffi::SQLITE_OK, "xTruncate");
    model.truncate(2 * PAGE);
    assert_eq!(file.size(), 2 * PAGE, "size after xTruncate");
    file.check_read(&model, 2 * PAGE - 20, 40);
    assert_eq!(
        file.file_control(ffi::SQLITE_FCNTL_COMMIT_PHASETWO, std::ptr::null_mut()),
        ffi::SQLITE_OK
    );
    assert_eq!(file.unlock(LOCK_NONE), ffi::SQLITE_OK);

    // File controls: unknown ops are not ours; WAL is refused with a reason.
    assert_eq!(
        file.file_control(9999, std::ptr::null_mut()),
        ffi::SQLITE_NOTFOUND
    );
    assert_eq!(
        file.pragma("cache_size", Some("10")),
        (ffi::SQLITE_NOTFOUND, None)
    );
    let (rc, message) = file.pragma("journal_mode", Some("WAL"));
    assert_eq!(rc, ffi::SQLITE_ERROR);
    assert!(message.is_some_and(|m| m.contains("WAL")));
    assert_eq!(file.close(), ffi::SQLITE_OK, "xClose");

    // The committed bytes are there for a new open, which read-only refuses writes.
    let ro = ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_READONLY;
    let (rc, mut file) = vfs.open(Some(&name), ro);
    assert_eq!(rc, ffi::SQLITE_OK);
    assert_eq!(file.out_flags, ro);
    assert_eq!(file.lock(LOCK_SHARED), ffi::SQLITE_OK);
    assert_eq!(file.size(), 2 * PAGE);
    file.check_read(&model, 0, 2 * PAGE);
    file.check_read(&model, 77, 3000);
    assert_eq!(file.lock(LOCK_RESERVED) & 0xff, ffi::SQLITE_READONLY);
    assert_eq!(file.unlock(LOCK_NONE), ffi::SQLITE_OK);
    assert_eq!(file.close(), ffi::SQLITE_OK);

    // A database that does not exist is not created without SQLITE_OPEN_CREATE.
    let missing = Filename::new(dir.path().join("missing.db").to_str().unwrap(), &[]);
    let (rc, _) = vfs.open(
        Some(&missing),
        ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_READWRITE,
    );
    assert_eq!(rc, ffi::SQLITE_CANTOPEN);
    assert!(!dir.path().join("missing.db").exists());
}

#[test]
fn zstd_journal_lives_in_memory() {
    let vfs = Vfs::find(c"zstd");
    let dir = tempfile::tempdir().unwrap();
    let journal_path = format!("{}/j.db-journal", dir.path().display());
    let journal_name = CString::new(journal_path.clone()).unwrap();
    let flags =
        ffi::SQLITE_OPEN_MAIN_JOURNAL | ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE;
    let mut file = File {
        buf: vec![0u64; (vfs.get().szOsFile as usize).div_ceil(8)],
        open: false,
        out_flags: 0,
    };
    // SAFETY: the VFS's xOpen as SQLite calls it for a journal (a plain name, no parameters).
    let rc = unsafe {
        vfs.get().xOpen.unwrap()(
            vfs.0,
            journal_name.as_ptr(),
            file.raw(),
            flags,
            &mut file.out_flags,
        )
    };
    assert_eq!(rc, ffi::SQLITE_OK);
    file.open = true;
    let mut model = Vec::new();
    write_both(&mut file, &mut model, 5, &random_bytes(7, 9));
    assert_eq!(file.size(), 12);
    file.check_read(&model, 0, 20);
    file.check_read(&model, 3, 4);
    write_both(&mut file, &mut model, 0, &random_bytes(3, 1));
    file.check_read(&model, 0, 12);
    assert_eq!(file.truncate(8), ffi::SQLITE_OK);
    model.truncate(8);
    assert_eq!(file.size(), 8);
    file.check_read(&model, 6, 10);
    assert_eq!(file.sync(), ffi::SQLITE_OK);
    assert_eq!(
        file.file_control(9999, std::ptr::null_mut()),
        ffi::SQLITE_NOTFOUND
    );
    assert_eq!(file.close(), ffi::SQLITE_OK);
    assert!(
        !Path::new(&journal_path).exists(),
        "the journal touched the disk"
    );

    // WAL files are refused: a compressed database has no WAL mode.
    let wal = Filename::new(dir.path().join("j.db").to_str().unwrap(), &[]);
    let (rc, _) = vfs.open(
        Some(&wal),
        ffi::SQLITE_OPEN_WAL | ffi::SQLITE_OPEN_READWRITE,
    );
    assert_eq!(rc, ffi::SQLITE_CANTOPEN);
}

#[test]
fn zstd_hands_other_files_and_services_to_the_default_vfs() {
    let vfs = Vfs::find(c"zstd");
    let dir = tempfile::tempdir().unwrap();

    // A temporary database (no name): the default VFS's file, with its own method table.
    let ours = {
        let name = Filename::new(dir.path().join("m.db").to_str().unwrap(), &[]);
        let (rc, file) = vfs.open(Some(&name), MAIN_RW);
        assert_eq!(rc, ffi::SQLITE_OK);
        let methods = file.methods_ptr();
        assert_eq!(file.close(), ffi::SQLITE_OK);
        methods
    };
    let temp_flags = ffi::SQLITE_OPEN_TEMP_DB
        | ffi::SQLITE_OPEN_READWRITE
        | ffi::SQLITE_OPEN_CREATE
        | ffi::SQLITE_OPEN_DELETEONCLOSE
        | ffi::SQLITE_OPEN_EXCLUSIVE;
    let (rc, mut temp) = vfs.open(None, temp_flags);
    assert_eq!(rc, ffi::SQLITE_OK);
    assert_ne!(temp.methods_ptr(), ours, "a temp file went to our methods");
    let mut model = Vec::new();
    write_both(&mut temp, &mut model, 0, &random_bytes(PAGE, 5));
    temp.check_read(&model, 100, 50);
    temp.check_read(&model, PAGE - 10, 20);
    assert_eq!(temp.close(), ffi::SQLITE_OK);

    // Journal names are ours (in memory): a file of that name on disk belongs to the outer
    // database and is neither seen nor deleted.
    let outer_journal = dir.path().join("x.db-journal");
    std::fs::write(&outer_journal, b"outer").unwrap();
    let outer_journal = outer_journal.to_str().unwrap();
    assert!(!vfs.access(outer_journal));
    assert_eq!(vfs.delete(outer_journal), ffi::SQLITE_OK);
    assert!(
        Path::new(outer_journal).exists(),
        "xDelete removed the outer journal"
    );
    // Other names go to the default VFS.
    let plain = dir.path().join("plain.bin");
    std::fs::write(&plain, b"x").unwrap();
    let plain = plain.to_str().unwrap();
    assert!(vfs.access(plain));
    assert_eq!(vfs.delete(plain), ffi::SQLITE_OK);
    assert!(!Path::new(plain).exists());
    assert!(!vfs.access(plain));

    let full = vfs.full_pathname("rel/a.db");
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(Path::new(&full), cwd.join("rel/a.db"));

    let v = vfs.get();
    let mut now: i64 = 0;
    // SAFETY: the VFS's OS services with valid out-pointers.
    unsafe {
        assert_eq!(
            v.xCurrentTimeInt64.unwrap()(vfs.0, &mut now),
            ffi::SQLITE_OK
        );
        let mut random = [0 as c_char; 16];
        v.xRandomness.unwrap()(vfs.0, 16, random.as_mut_ptr());
        assert!(random.iter().any(|&b| b != 0), "xRandomness wrote nothing");
    }
    // Julian day in milliseconds: after 2020-01-01 (2458849.5 days).
    assert!(now > 2_458_849 * 86_400_000, "xCurrentTimeInt64 gave {now}");
}

#[test]
fn web_file_read_only() {
    let vfs = Vfs::find(c"web");
    // A plain SQLite database of a few pages, served over HTTP on 127.0.0.1.
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("served.db");
    let conn = genomicsqlite::rusqlite::Connection::open(&local).unwrap();
    conn.execute_batch(
        "PRAGMA page_size=1024; CREATE TABLE t(x); \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i<40) \
         INSERT INTO t SELECT randomblob(300) FROM n",
    )
    .unwrap();
    drop(conn);
    let bytes = std::fs::read(&local).unwrap();
    assert!(bytes.len() > 8 * 1024);
    let server = FaultServer::start(Duration::from_secs(120));
    server.put("/served.db", bytes.clone());
    let url = server.url("/served.db");
    let name = Filename::new("/__web__", &[("web_url", &url), ("web_nodbi", "1")]);

    // Asked for read-write, xOpen opens read-only and says so in its flags out.
    let ro = ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_READONLY;
    let (rc, mut file) = vfs.open(Some(&name), MAIN_RW);
    assert_eq!(rc, ffi::SQLITE_OK, "xOpen over the web");
    assert_eq!(file.out_flags, ro);
    assert_eq!(file.vfs_name(), "web");
    assert_ne!(
        file.device_characteristics() & ffi::SQLITE_IOCAP_IMMUTABLE,
        0
    );
    assert_eq!(file.size(), bytes.len());
    assert_eq!(file.lock(LOCK_SHARED), ffi::SQLITE_OK);
    for (offset, amount) in [
        (0, 100),
        (1023, 2),
        (3001, 4000),
        (bytes.len() - 10, 10),
        (bytes.len() - 10, 30),
        (bytes.len() + 5000, 16),
    ] {
        file.check_read(&bytes, offset, amount);
    }
    assert_eq!(file.write(0, &[0u8; 16]), ffi::SQLITE_READONLY);
    assert_eq!(file.truncate(1024), ffi::SQLITE_READONLY);
    assert_eq!(
        file.size(),
        bytes.len(),
        "a refused truncate changed the size"
    );
    file.check_read(&bytes, 0, 64);
    assert_eq!(
        file.file_control(9999, std::ptr::null_mut()),
        ffi::SQLITE_NOTFOUND
    );
    assert_eq!(file.unlock(LOCK_NONE), ffi::SQLITE_OK);
    assert_eq!(file.close(), ffi::SQLITE_OK);

    // A URI without web_url cannot be opened, and says so without crashing.
    let bare = Filename::new("/__web__", &[]);
    let (rc, _) = vfs.open(Some(&bare), ro);
    assert_eq!(rc, ffi::SQLITE_CANTOPEN);
}
