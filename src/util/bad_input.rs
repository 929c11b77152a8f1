//! Bad input: an error in what the user gave benchy (a file, a flag, a name). Any layer raises
//! it; the command line turns it into exit code 2 (see `cli::exit`).

use std::fmt;

/// An error in what the user gave benchy: exit code 2, nothing started.
#[derive(Debug)]
pub struct BadInput(pub String);

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Shorthand for returning a [`BadInput`] through `anyhow`.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    BadInput(message.into()).into()
}
