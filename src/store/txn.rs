//! Outer transactions: the inner database's locks map onto the outer connection, so that every
//! inner transaction is exactly one outer transaction and rollback and crash recovery are the
//! outer database's:
//! - inner SHARED: a long-lived "snapshot" statement is stepped once, which holds the outer
//!   read transaction (and its SHARED lock) for as long as the inner one lasts, even across the
//!   COMMIT of an inner write transaction;
//! - inner RESERVED: `BEGIN IMMEDIATE` on the outer;
//! - inner commit (`SQLITE_FCNTL_COMMIT_PHASETWO`, sent after the inner journal is finalized):
//!   outer `COMMIT`; an inner rollback or failure ends in an outer `ROLLBACK` when the inner lock
//!   drops;
//! - inner NONE: the outer read transaction is kept ("held") for the next inner transaction,
//!   which then needs no lock, hot-journal check or change-counter read of the outer file, and
//!   finds the pages read ahead and the outer page cache still valid. No other connection can
//!   commit while we hold the outer SHARED lock, so the held snapshot is as current as a fresh
//!   one. It is released (the snapshot statement reset) as soon as a transaction starts while
//!   another connection holds the outer RESERVED lock (one `fcntl` to find out, at most every
//!   [`WRITER_CHECK_INTERVAL`]), after [`MAX_HOLD`] in any case, and by a background thread once
//!   the connection has been idle for [`IDLE_RELEASE`]: so a writer's commit waits at most about
//!   that long.

use super::codec::PageCodec;
use super::PageStore;
use crate::error::{Error, Result};
use crate::ffi::*;
use crate::flags::LockLevel;
use std::os::raw::c_int;
use std::time::{Duration, Instant};

/// How long an inner COMMIT waits for outer readers to finish (it cannot be retried by SQLite
/// once the inner journal is finalized).
pub(super) const COMMIT_BUSY_TIMEOUT_MS: c_int = 60_000;
/// How long opening waits for another connection's commit to finish (commits hold the lock
/// briefly). An open cannot see the connection's own busy timeout, so this stays short and
/// callers that want to wait longer retry (as the Python `connect()` does, up to its `timeout`).
pub(super) const OPEN_BUSY_TIMEOUT_MS: c_int = 2_000;
/// How long an idle connection keeps its outer read transaction between inner transactions.
pub const IDLE_RELEASE: Duration = Duration::from_millis(20);
/// How long an outer read transaction is kept across inner ones at most, even while reads keep
/// coming: bounds the wait of a process that needs the outer lock without first announcing it
/// with RESERVED (rolling back a crashed writer's journal takes PENDING directly).
const MAX_HOLD: Duration = Duration::from_millis(100);
/// How often a held outer read transaction asks whether a writer waits, at most: a waiting
/// writer's busy handler sleeps for milliseconds between tries anyway, and a lookup served from
/// the cache takes microseconds, so asking once per transaction would be much of its cost.
const WRITER_CHECK_INTERVAL: Duration = Duration::from_millis(1);

/// The transaction state of the outer connection, mirroring the inner lock level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OuterTxn {
    None,
    Read,
    Write,
}

/// The outer read transaction kept between inner ones, and when to let it go.
pub(super) struct Hold {
    /// The outer read transaction is held between inner transactions (inner lock NONE).
    held: bool,
    /// A release of the held transaction is scheduled with [`crate::vfs::idle`].
    release_scheduled: bool,
    /// Another connection wanted to write when this outer read transaction began: do not hold
    /// it past the inner transaction.
    contended: bool,
    /// When the current outer read transaction began.
    read_since: Instant,
    /// When the last inner transaction ended.
    last_used: Instant,
    /// When we last asked whether another connection wants to write.
    last_check: Instant,
}

impl Default for Hold {
    fn default() -> Self {
        let now = Instant::now();
        Hold {
            held: false,
            release_scheduled: false,
            contended: false,
            read_since: now,
            last_used: now,
            last_check: now,
        }
    }
}

impl<C: PageCodec> PageStore<C> {
    /// Inner lock level rose from NONE to SHARED: start the outer read transaction, or carry
    /// on with the held one if nobody else wants to write.
    pub fn begin_read(&mut self) -> Result<()> {
        if std::mem::take(&mut self.hold.held) {
            let now = Instant::now();
            if now.duration_since(self.hold.read_since) < MAX_HOLD
                && (now.duration_since(self.hold.last_check) < WRITER_CHECK_INTERVAL
                    || !self.writer_waiting(now))
            {
                return Ok(());
            }
            self.end_read();
        }
        if self.txn != OuterTxn::None {
            return Ok(());
        }
        // Checked before our own SHARED lock exists, so that it can only be another's.
        self.hold.contended = self.writer_waiting(Instant::now());
        // Not reset on success: the stepped statement is what holds the read transaction.
        if let Err(e) = self.queries.snapshot.step() {
            self.queries.snapshot.reset();
            return Err(e);
        }
        self.txn = OuterTxn::Read;
        self.hold.read_since = Instant::now();
        // What we know of the database (and pages read ahead) stays valid unless another
        // connection committed since: SQLite counts those commits in PRAGMA data_version.
        let checked = self.outer_data_version().and_then(|version| {
            if self.seen_version != Some(version) {
                self.refresh()?;
                self.seen_version = Some(version);
            }
            Ok(())
        });
        if let Err(e) = checked {
            self.end_read();
            return Err(e);
        }
        Ok(())
    }

    /// Whether another connection wants to write (asked of the outer file's VFS; should that
    /// fail, as if one did, so that we let go).
    fn writer_waiting(&mut self, now: Instant) -> bool {
        self.hold.last_check = now;
        self.conn.writer_waiting().unwrap_or(true)
    }

    fn outer_data_version(&mut self) -> Result<i64> {
        let mut stmt = self.queries.data_version.once();
        stmt.step()?;
        Ok(stmt.column_i64(0))
    }

    /// Inner lock rose to RESERVED: start the outer write transaction.
    pub fn begin_write(&mut self) -> Result<()> {
        if self.opts.readonly {
            return Err(Error::new(
                SQLITE_READONLY,
                format!("{} is open read-only", self.opts.display_name),
            ));
        }
        match self.txn {
            OuterTxn::Write => return Ok(()),
            OuterTxn::None => self.begin_read()?,
            OuterTxn::Read => {}
        }
        self.conn.exec("BEGIN IMMEDIATE")?;
        self.txn = OuterTxn::Write;
        // No read-ahead while writing: a page read ahead could be overtaken by a write.
        if let Some(p) = self.prefetcher.as_mut() {
            p.clear();
        }
        // Nothing to re-read: our read snapshot held SHARED since begin_read checked
        // data_version, so no other connection can have committed in between.
        Ok(())
    }

    /// Inner transaction committed: commit the outer one, keeping the read snapshot.
    pub fn commit(&mut self) -> Result<()> {
        if self.txn != OuterTxn::Write {
            return Ok(());
        }
        if std::mem::take(&mut self.page1_written) {
            self.recut_to_header_page_size()?;
        }
        self.flush()?;
        self.conn.set_busy_timeout(COMMIT_BUSY_TIMEOUT_MS);
        let r = self.conn.exec("COMMIT");
        self.conn.set_busy_timeout(0);
        r?;
        self.txn = OuterTxn::Read;
        Ok(())
    }

    /// Inner lock dropped to `level` (SHARED or NONE): a write transaction that was not
    /// committed is rolled back; at NONE the read snapshot is held for the next transaction
    /// (or, after a rollback or when a writer waits, ends). Returns true when the caller must
    /// schedule [`PageStore::release_if_idle`] (at [`IDLE_RELEASE`] from now).
    pub fn unlock(&mut self, level: LockLevel) -> bool {
        let mut rolled_back = false;
        if self.txn == OuterTxn::Write {
            rolled_back = true;
            if !self.conn.autocommit() {
                let _ = self.conn.exec("ROLLBACK");
            }
            self.txn = OuterTxn::Read;
            if let Some(p) = self.pipeline.as_mut() {
                p.abandon();
            }
            self.page1_written = false;
            self.seen_version = None;
            self.codec.forget();
            // Anything cached about the outer state may now be wrong.
            let _ = self.refresh();
            if level > LockLevel::None {
                // ROLLBACK may have aborted the snapshot statement; take a fresh one.
                self.queries.snapshot.reset();
                if self.queries.snapshot.step().is_err() {
                    self.queries.snapshot.reset();
                    self.txn = OuterTxn::None;
                }
            }
        }
        if level != LockLevel::None {
            return false;
        }
        if rolled_back || self.hold.contended || self.txn != OuterTxn::Read {
            self.end_read();
            return false;
        }
        self.hold.held = true;
        self.hold.last_used = Instant::now();
        !std::mem::replace(&mut self.hold.release_scheduled, true)
    }

    /// Called by the idle-release thread at the time [`PageStore::unlock`] asked for: ends the
    /// held read transaction if it has been idle for [`IDLE_RELEASE`]. Returns when to look
    /// again (`None`: nothing held, the next [`PageStore::unlock`] schedules anew).
    pub fn release_if_idle(&mut self, now: Instant) -> Option<Instant> {
        if !self.hold.held {
            self.hold.release_scheduled = false;
            return None;
        }
        let due = self.hold.last_used + IDLE_RELEASE;
        if now < due {
            return Some(due);
        }
        self.hold.held = false;
        self.hold.release_scheduled = false;
        self.end_read();
        None
    }

    fn end_read(&mut self) {
        self.queries.snapshot.reset();
        self.txn = OuterTxn::None;
    }

    /// Whether this connection holds an outer write transaction.
    pub fn in_write(&self) -> bool {
        self.txn == OuterTxn::Write
    }
}
