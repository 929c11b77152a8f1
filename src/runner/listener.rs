//! Whose server answers on a port. benchy checks that a port is free and then the server binds
//! it seconds later (vLLM binds after its imports), so another process (another benchy run on
//! the same machine, say) can take it in between; its server would then answer benchy's probe
//! and be evaluated in place of the one benchy launched. A launched server is ready only when
//! the socket listening on its port belongs to a process of its own group.

use std::collections::BTreeSet;

use nix::unistd::Pid;

use super::group::live_members;

/// Whether the socket listening on `port` belongs to a live member of the process group
/// `pgid`; `None` where `/proc` cannot tell (then the probe alone decides).
pub fn owned_by_group(port: u16, pgid: Pid) -> Option<bool> {
    let inodes = listening_inodes(port)?;
    if inodes.is_empty() {
        return Some(false);
    }
    let members = live_members(pgid).ok()?;
    let owned = members.iter().any(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .filter_map(|target| socket_inode(&target.to_string_lossy()))
            .any(|inode| inodes.contains(&inode))
    });
    Some(owned)
}

/// The inodes of the TCP sockets listening on `port`, from `/proc/net/tcp` and `tcp6`
/// (proc_net(5): `local_address` is `HEXIP:HEXPORT`, `st` 0A is LISTEN, the inode is the tenth
/// field).
fn listening_inodes(port: u16) -> Option<BTreeSet<u64>> {
    let mut inodes = BTreeSet::new();
    let mut readable = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        readable = true;
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let listening_port = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if *state == "0A"
                && listening_port == Some(port)
                && let Ok(inode) = inode.parse()
            {
                inodes.insert(inode);
            }
        }
    }
    readable.then_some(inodes)
}

/// `socket:[12345]` -> 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn a_listener_of_this_process_group_is_found_and_others_are_not() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let own_group = nix::unistd::getpgrp();
        assert_eq!(owned_by_group(port, own_group), Some(true));
        // pid 1's group is not ours
        assert_eq!(owned_by_group(port, Pid::from_raw(1)), Some(false));
        drop(listener);
        assert_eq!(owned_by_group(port, own_group), Some(false));
    }

    #[test]
    fn socket_links_are_read() {
        assert_eq!(socket_inode("socket:[4242]"), Some(4242));
        assert_eq!(socket_inode("pipe:[4242]"), None);
    }
}
