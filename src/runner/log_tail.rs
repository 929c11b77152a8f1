//! Reading the end of a child's log file: the last lines for an error message, the latest line
//! for the progress display. Children write the file directly, so benchy never sits between a
//! server and its output.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How many lines of a log a failure shows.
pub const FAILURE_TAIL_LINES: usize = 40;

/// The most bytes read from the end of a log; 40 long lines fit.
const TAIL_BYTES: u64 = 64 * 1024;

/// The last `n` non-empty lines of the file at `path` (fewer if it has fewer; none if it cannot
/// be read). Invalid UTF-8 is replaced, carriage-return progress bars keep their last state.
pub fn last_lines(path: &Path, n: usize) -> Vec<String> {
    let Ok(text) = read_end(path) else {
        return Vec::new();
    };
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            line.rsplit('\r')
                .next()
                .unwrap_or(line)
                .trim_end()
                .to_owned()
        })
        .filter(|line| !line.is_empty())
        .collect();
    let skip = lines.len().saturating_sub(n);
    lines.drain(..skip);
    lines
}

/// The latest non-empty line of the log, if any.
pub fn latest_line(path: &Path) -> Option<String> {
    last_lines(path, 1).pop()
}

fn read_end(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    // The child may be writing fast: read what was measured, not what it writes meanwhile.
    file.take(TAIL_BYTES).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    // A read that starts mid-file starts mid-line: drop the partial first line.
    Ok(if start > 0 {
        text.split_once('\n')
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or_default()
    } else {
        text
    })
}

/// The tail as an indented block for an error message.
pub fn format_tail(path: &Path) -> String {
    let lines = last_lines(path, FAILURE_TAIL_LINES);
    if lines.is_empty() {
        return format!("(the log {} is empty)", path.display());
    }
    format!(
        "last {} lines of {}:\n{}",
        lines.len(),
        path.display(),
        lines
            .iter()
            .map(|l| format!("  | {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_and_drops_blank_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let text: String = (1..=50).map(|i| format!("line {i}\n\n")).collect();
        std::fs::write(&path, text + "loading 10%\rloading 90%\n").unwrap();
        let lines = last_lines(&path, 3);
        assert_eq!(lines, ["line 49", "line 50", "loading 90%"]);
        assert_eq!(latest_line(&path).as_deref(), Some("loading 90%"));
    }

    #[test]
    fn a_long_log_is_read_from_its_end_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let long = "x".repeat(1000);
        let text: String = (0..200).map(|i| format!("{i} {long}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let lines = last_lines(&path, 40);
        assert_eq!(lines.len(), 40);
        assert!(lines[39].starts_with("199 "));
        assert!(lines[0].starts_with("160 "));
    }

    #[test]
    fn a_missing_or_empty_log_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        assert!(last_lines(&path, 5).is_empty());
        std::fs::write(&path, "").unwrap();
        assert!(format_tail(&path).contains("is empty"));
    }
}
