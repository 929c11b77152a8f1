//! Whose server answers on a port. benchy checks that a port is free and then the server binds
//! it seconds later (vLLM binds after its imports), so another process (another benchy run on
//! the same machine, say) can take it in between; its server would then answer benchy's probe
//! and be evaluated in place of the one benchy launched. A launched server is ready only when
//! the socket listening on its port belongs to a process of its own group.

use nix::unistd::Pid;

use crate::util::procfs;

/// Whether the socket listening on `port` belongs to a live member of the process group
/// `pgid`; `None` where `/proc` cannot tell (then the probe alone decides).
pub fn owned_by_group(port: u16, pgid: Pid) -> Option<bool> {
    let inodes = procfs::listening_inodes(port)?;
    if inodes.is_empty() {
        return Some(false);
    }
    let members = procfs::live_group_members(pgid.as_raw()).ok()?;
    let owned = members
        .iter()
        .any(|&pid| !procfs::socket_inodes(pid).is_disjoint(&inodes));
    Some(owned)
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::time::Duration;

    use super::*;
    use crate::util::poll::eventually;

    #[test]
    fn a_listener_of_this_process_group_is_found_and_others_are_not() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let own_group = nix::unistd::getpgrp();
        assert_eq!(owned_by_group(port, own_group), Some(true));
        // pid 1's group is not ours
        assert_eq!(owned_by_group(port, Pid::from_raw(1)), Some(false));
        drop(listener);
        // A test spawning a program at this moment holds a copy of the socket between its fork
        // and exec, in this process group: the socket may outlive the drop by that instant.
        let released = || owned_by_group(port, own_group) == Some(false);
        assert!(eventually(
            Duration::from_secs(5),
            Duration::from_millis(10),
            released
        ));
    }
}
