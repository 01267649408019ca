//! Helpers shared by the tests of the genomicsqlite crates (a dev-dependency only): the
//! repository's paths, scratch directories, pseudo-random test data, the `genomicsqlite`
//! command of the build under test, forked children with a time limit, and the local servers the web tests read from
//! ([`FaultServer`], [`Nginx`]), all on 127.0.0.1 and stopping by themselves.

pub mod fault_server;
pub mod fork;
pub mod nginx;

pub use fault_server::{Fault, FaultServer};
pub use fork::{fork_and_wait, Child};
pub use nginx::Nginx;

use rusqlite::OpenFlags;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root directory (where tests/ and the workspace's Cargo.toml are).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support/ is inside the repository")
        .to_path_buf()
}

/// An empty directory `$TMPDIR/gsq-TAG-PID` (emptied if it exists), readable by others so that
/// nginx workers can serve from it. The test removes it when done.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gsq-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let _ = Command::new("chmod").args(["755"]).arg(&d).status();
    d
}

/// A small deterministic pseudo-random generator (xorshift64) for test data and access patterns.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// `n` pseudo-random bytes, the same for the same `seed`.
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    (0..n).map(|_| (r.next_u64() >> 24) as u8).collect()
}

/// The `genomicsqlite` command of this build (crate cli/), next to the test executable's
/// directory: `target/<profile>/genomicsqlite`. Built by `cargo build` (or `cargo test`) at the
/// workspace root.
pub fn command() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    // target/<profile>/deps/TEST-HASH -> target/<profile>/genomicsqlite
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable is in target/<profile>/deps")
        .join("genomicsqlite");
    assert!(
        bin.exists(),
        "{} not found: build the command first (`cargo build --release` at the repository root)",
        bin.display()
    );
    bin
}

/// Open flags: read-write, created if missing.
pub fn rw() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
}

/// Open flags: read-only.
pub fn ro() -> OpenFlags {
    OpenFlags::SQLITE_OPEN_READ_ONLY
}
