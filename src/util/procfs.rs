//! What Linux's `/proc` says about processes and sockets, read in one place: the runner uses it
//! to tell when a process group is empty and who owns a listening port, and the tests use it to
//! prove that nothing was left running. Only live processes count: a zombie (`Z`) or dead (`X`)
//! process has exited and merely waits to be reaped.

use std::collections::BTreeSet;
use std::io;

/// One process as `/proc/<pid>/stat` describes it (proc_pid_stat(5): after the parenthesised
/// command come the state, the parent's pid and the process group).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    pub state: char,
    pub ppid: i32,
    pub pgid: i32,
}

impl Stat {
    /// Running or sleeping, not an exited process waiting to be reaped.
    pub fn is_live(&self) -> bool {
        !matches!(self.state, 'Z' | 'X')
    }
}

/// The process `pid`, or `None` when it does not exist (any more).
pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last `)`.
    let (_, after) = text.rsplit_once(')')?;
    let mut fields = after.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgid = fields.next()?.parse().ok()?;
    Some(Stat {
        pid,
        state,
        ppid,
        pgid,
    })
}

/// Every live process.
pub fn live_processes() -> io::Result<Vec<Stat>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // A process may exit between read_dir and read: it is simply not there any more.
        if let Some(stat) = stat(pid).filter(Stat::is_live) {
            found.push(stat);
        }
    }
    Ok(found)
}

/// The live processes of process group `pgid`.
pub fn live_group_members(pgid: i32) -> io::Result<Vec<i32>> {
    Ok(live_processes()?
        .into_iter()
        .filter(|p| p.pgid == pgid)
        .map(|p| p.pid)
        .collect())
}

/// Whether process `pid` is alive (and not a zombie).
pub fn alive(pid: i32) -> bool {
    stat(pid).is_some_and(|s| s.is_live())
}

/// Every live process descending from `pid` (children, their children...).
pub fn descendants(pid: i32) -> io::Result<Vec<i32>> {
    let processes = live_processes()?;
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(next) = frontier.pop() {
        for child in processes.iter().filter(|p| p.ppid == next) {
            found.push(child.pid);
            frontier.push(child.pid);
        }
    }
    Ok(found)
}

/// The inodes of the TCP sockets listening on `port`, from `/proc/net/tcp` and `tcp6`
/// (proc_net(5): `local_address` is `HEXIP:HEXPORT`, `st` 0A is LISTEN, the inode is the tenth
/// field); `None` when neither table can be read.
pub fn listening_inodes(port: u16) -> Option<BTreeSet<u64>> {
    let mut inodes = BTreeSet::new();
    let mut readable = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        readable = true;
        inodes.extend(
            text.lines()
                .skip(1)
                .filter_map(|line| listening_on(line, port)),
        );
    }
    readable.then_some(inodes)
}

/// The inode of one `/proc/net/tcp` line's socket when it listens on `port`.
fn listening_on(line: &str, port: u16) -> Option<u64> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
    let local_port = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
    (*state == "0A" && local_port == port).then(|| inode.parse().ok())?
}

/// The inodes of the sockets process `pid` holds open (its `/proc/<pid>/fd` links).
pub fn socket_inodes(pid: i32) -> BTreeSet<u64> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| socket_inode(&target.to_string_lossy()))
        .collect()
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
    use std::time::Duration;

    use super::*;
    use crate::util::poll::eventually;

    #[test]
    fn this_process_is_live_in_its_group_and_holds_its_listener() {
        let me = std::process::id() as i32;
        let own = stat(me).unwrap();
        assert!(own.is_live());
        assert!(live_group_members(own.pgid).unwrap().contains(&me));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let listening = listening_inodes(port).unwrap();
        assert_eq!(listening.len(), 1);
        assert!(socket_inodes(me).is_superset(&listening));
        drop(listener);
        // Another test may listen on the freed port by now: only this socket must be gone. A
        // test spawning a program at the same moment holds a copy of the descriptor between
        // its fork and exec, so the socket may outlive the drop by that instant.
        let gone = || listening_inodes(port).unwrap().is_disjoint(&listening);
        assert!(
            eventually(Duration::from_secs(5), Duration::from_millis(10), gone),
            "the dropped listener on port {port} still listens"
        );
    }

    #[test]
    fn socket_links_are_read() {
        assert_eq!(socket_inode("socket:[4242]"), Some(4242));
        assert_eq!(socket_inode("pipe:[4242]"), None);
    }
}
