//! Choosing a server's port: the provider's when it is free, else one the system hands out, so
//! two runs (or two users) on one machine never collide on a fixed port.

use std::collections::BTreeSet;
use std::net::{TcpListener, ToSocketAddrs};
use std::sync::Mutex;

use anyhow::{Context, Result};

/// The chosen port and, when it is not the one asked for, the one line saying why.
#[derive(Debug, PartialEq, Eq)]
pub struct PortChoice {
    pub port: u16,
    pub note: Option<String>,
}

/// Ports chosen for servers of this process that may not have bound them yet: two servers
/// starting side by side (a suite's models on one node) never get the same one.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// Picks the port a server binding `host` will use, held for it until [`release`]. The check
/// binds the address the server will bind (with `SO_REUSEADDR`, as Rust's listener and uvicorn
/// both set it), so a port held by another listener is busy while one in `TIME_WAIT` is free.
pub fn choose(host: &str, preferred: Option<u16>) -> Result<PortChoice> {
    let choice = match preferred {
        Some(port) if !handed_out(port) && bindable(host, port) => PortChoice { port, note: None },
        Some(port) => {
            let free = free_port(host)?;
            PortChoice {
                port: free,
                note: Some(format!("port {port} is busy; using port {free}")),
            }
        }
        None => {
            let free = free_port(host)?;
            PortChoice {
                port: free,
                note: Some(format!("no port in the provider config; using port {free}")),
            }
        }
    };
    held().insert(choice.port);
    Ok(choice)
}

/// A port [`choose`] gave a server, handed back when the server is done with it.
#[derive(Debug)]
pub struct Held(pub u16);

impl Drop for Held {
    fn drop(&mut self) {
        held().remove(&self.0);
    }
}

fn held() -> std::sync::MutexGuard<'static, BTreeSet<u16>> {
    HANDED_OUT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn handed_out(port: u16) -> bool {
    held().contains(&port)
}

fn bindable(host: &str, port: u16) -> bool {
    TcpListener::bind((host, port)).is_ok()
}

/// A port the system hands out that no server of this process holds.
fn free_port(host: &str) -> Result<u16> {
    let addr = (host, 0)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve the server's host `{host}`"))?
        .next()
        .with_context(|| format!("the server's host `{host}` has no address"))?;
    // Held until one is found, so the system hands out another each time.
    let mut passed_over = Vec::new();
    loop {
        let listener =
            TcpListener::bind(addr).with_context(|| format!("cannot bind a port on `{host}`"))?;
        let port = listener.local_addr()?.port();
        if !handed_out(port) {
            return Ok(port);
        }
        passed_over.push(listener);
    }
}

/// Whether `host` is a loopback address (clients always use 127.0.0.1; anything else exposes
/// the server beyond this machine).
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Whether `port` can be bound within a moment: a test spawning a program holds a copy of
    /// a just-dropped listener between its fork and exec.
    fn soon_bindable(port: u16) -> bool {
        crate::util::poll::eventually(Duration::from_secs(5), Duration::from_millis(10), || {
            bindable("127.0.0.1", port)
        })
    }

    #[test]
    fn a_free_preferred_port_is_kept() {
        let port = free_port("127.0.0.1").unwrap();
        assert!(soon_bindable(port));
        assert_eq!(
            choose("127.0.0.1", Some(port)).unwrap(),
            PortChoice { port, note: None }
        );
    }

    #[test]
    fn a_busy_port_is_replaced_and_said() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = held.local_addr().unwrap().port();
        let choice = choose("127.0.0.1", Some(busy)).unwrap();
        assert_ne!(choice.port, busy);
        assert_eq!(
            choice.note.unwrap(),
            format!("port {busy} is busy; using port {}", choice.port)
        );
        assert!(soon_bindable(choice.port));
    }

    #[test]
    fn no_port_gets_a_free_one() {
        let choice = choose("127.0.0.1", None).unwrap();
        assert!(
            choice
                .note
                .unwrap()
                .starts_with("no port in the provider config")
        );
    }

    #[test]
    fn loopback_is_recognised() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("::1"));
        assert!(is_loopback("localhost"));
        assert!(!is_loopback("0.0.0.0"));
        assert!(!is_loopback("192.0.2.1"));
    }
}
