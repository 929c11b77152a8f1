//! How many of a model's jobs (groups of tasks with different parameters) run at once: a count,
//! or `auto`, every job side by side up to a cap. A served model takes concurrent requests from
//! several evaluator processes, and each evaluator start costs seconds, so side by side is the
//! default.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// `auto` runs at most this many jobs at once: each is an evaluator process of its own.
pub const AUTO_MAX: usize = 4;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Jobs {
    /// Every job at once, up to [`AUTO_MAX`].
    #[default]
    Auto,
    Count(u16),
}

impl Jobs {
    /// How many of `planned` jobs run at once.
    pub fn at_once(self, planned: usize) -> usize {
        match self {
            Jobs::Auto => planned.clamp(1, AUTO_MAX),
            Jobs::Count(n) => usize::from(n),
        }
    }

    /// For people: `auto` says its cap.
    pub fn explained(self) -> String {
        match self {
            Jobs::Auto => format!("auto (up to {AUTO_MAX})"),
            Jobs::Count(n) => n.to_string(),
        }
    }
}

impl FromStr for Jobs {
    type Err = String;

    fn from_str(text: &str) -> Result<Jobs, String> {
        if text == "auto" {
            return Ok(Jobs::Auto);
        }
        match text.parse::<u16>() {
            Ok(n) if n >= 1 => Ok(Jobs::Count(n)),
            _ => Err(format!(
                "{text:?}: `auto` or a whole number from 1 to 65535"
            )),
        }
    }
}

/// As `--jobs` reads it: passed on to the array tasks of a Slurm job this way.
impl fmt::Display for Jobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Jobs::Auto => write!(f, "auto"),
            Jobs::Count(n) => write!(f, "{n}"),
        }
    }
}

impl Serialize for Jobs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Jobs::Auto => serializer.serialize_str("auto"),
            Jobs::Count(n) => serializer.serialize_u16(*n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_runs_every_job_up_to_the_cap_and_a_count_is_a_count() {
        assert_eq!(Jobs::Auto.at_once(2), 2);
        assert_eq!(Jobs::Auto.at_once(0), 1);
        assert_eq!(Jobs::Auto.at_once(9), AUTO_MAX);
        assert_eq!(Jobs::Count(1).at_once(3), 1);
        assert_eq!("auto".parse(), Ok(Jobs::Auto));
        assert_eq!("3".parse(), Ok(Jobs::Count(3)));
        assert!("0".parse::<Jobs>().is_err());
        assert!("many".parse::<Jobs>().is_err());
        for jobs in [Jobs::Auto, Jobs::Count(3)] {
            assert_eq!(jobs.to_string().parse(), Ok(jobs), "written as it is read");
        }
    }
}
