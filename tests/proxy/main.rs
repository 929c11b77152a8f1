//! Integration tests of the proxy, each against a small upstream on loopback. All run on a
//! current-thread runtime, as benchy does.

mod audit_e2e;
mod cache;
mod common;
mod faults;
mod forwarding;
mod shutdown;
mod streaming;
