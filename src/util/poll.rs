//! Waiting for a condition the kernel settles on its own time (a process group emptying, a
//! socket closing), by looking again until a limit.

use std::time::{Duration, Instant};

/// Checks `holds` every `interval` until it is true or `limit` has passed; whether it held.
pub fn eventually(limit: Duration, interval: Duration, mut holds: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if holds() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(interval);
    }
}
