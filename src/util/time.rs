//! The wall clock as benchy writes it: RFC 3339 in UTC, the form every time in a record takes.

use std::time::SystemTime;

/// A wall-clock time as RFC 3339 (UTC).
pub fn stamp(time: SystemTime) -> String {
    jiff::Timestamp::try_from(time).map_or_else(|_| String::new(), |t| t.to_string())
}

/// Seconds from one [`stamp`] to another; `None` when either is not one.
pub fn seconds_between(from: &str, to: &str) -> Option<f64> {
    let from: jiff::Timestamp = from.parse().ok()?;
    let to: jiff::Timestamp = to.parse().ok()?;
    Some(to.duration_since(from).as_secs_f64())
}

/// The current time, as [`stamp`] writes it.
pub fn now() -> String {
    stamp(SystemTime::now())
}
