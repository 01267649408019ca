//! Forking a test process and waiting for the child with a time limit, for the tests that check
//! that a child never hangs on a lock a thread of its parent held at the `fork()`.

use std::time::{Duration, Instant};

/// How long a child may take before it counts as hung (and is killed).
pub const CHILD_LIMIT: Duration = Duration::from_secs(5);

/// How a child ended.
#[derive(Debug, PartialEq)]
pub enum Child {
    Exited(i32),
    Hung,
}

/// Forks; the child runs `body` and exits with its status without running any destructor or
/// exit handler (it shares them with the parent; a panic exits 99). Waits for the child at most
/// [`CHILD_LIMIT`].
pub fn fork_and_wait(body: impl FnOnce() -> i32) -> Child {
    // SAFETY: the child only runs `body` (which may take locks: that is what is tested) and
    // leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(99);
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(code) };
    }
    let deadline = Instant::now() + CHILD_LIMIT;
    loop {
        let mut status = 0;
        // SAFETY: waits for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Child::Exited(if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -1
            });
        }
        if Instant::now() > deadline {
            // SAFETY: our own child, then reaped.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Child::Hung;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
