//! Writing to stdout and stderr without a panic. A reader that went away (`| head`, a closed
//! pipe) is no error of the command's: what is written after is dropped, and the exit code stays
//! the one the command decides (`std`'s print macros panic instead). The host writes through
//! here only; the crate denies the print macros.

use std::io::Write;

/// Writes `bytes` to stdout; a write error (a closed pipe) drops them.
pub fn write_out_bytes(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
}

/// Writes `text` to stdout; a write error drops it.
pub fn write_out(text: &str) {
    write_out_bytes(text.as_bytes());
}

/// Writes `text` and a newline to stderr; a write error drops them.
pub fn write_err_line(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
}

/// `print!`, through [`write_out`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::util::stdio::write_out(&format!($($arg)*))
    };
}

/// `println!`, through [`write_out`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::util::stdio::write_out(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!`, through [`write_err_line`].
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::util::stdio::write_err_line(&format!($($arg)*))
    };
}

pub(crate) use {errln, out, outln};
