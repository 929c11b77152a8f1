//! A problem a source or backend reports, with where it is: the file, line and key a person
//! fixes. It crosses the plugin boundary whole, so the place that prints it (the host) still
//! knows the file, line and key, and names the plugin that reported it.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// What is wrong, in a sentence that stands on its own after the location.
    pub message: String,
    /// The file (or flag, or URL) the problem is in, as the user wrote or sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// 1-based; only with a line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    /// The key at fault, as written (`temperature`, `defaults.batch_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Who reported it, when it is not benchy itself: set by the host to a plugin's label
    /// (`plugin NAME VERSION (PATH)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporter: Option<String>,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            ..Problem::default()
        }
    }

    /// The same problem, located in `file`.
    pub fn in_file(mut self, file: impl Into<String>) -> Problem {
        self.file = Some(file.into());
        self
    }

    /// The same problem, at `line` (and `column`) of its file.
    pub fn at(mut self, line: Option<u64>, column: Option<u64>) -> Problem {
        self.line = line;
        self.column = column;
        self
    }

    /// The same problem, naming the key at fault.
    pub fn key(mut self, key: impl Into<String>) -> Problem {
        self.key = Some(key.into());
        self
    }

    /// The same problem, reported by `reporter` (kept when one is already named: the innermost
    /// reporter is the one that knows).
    pub fn reported_by(mut self, reporter: impl Into<String>) -> Problem {
        self.reporter.get_or_insert_with(|| reporter.into());
        self
    }
}

/// `REPORTER: FILE:LINE:COLUMN: MESSAGE`, each part only when known.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(reporter) = &self.reporter {
            write!(f, "{reporter}: ")?;
        }
        if let Some(file) = &self.file {
            f.write_str(file)?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
                if let Some(column) = self.column {
                    write!(f, ":{column}")?;
                }
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_what_is_known_of_the_place() {
        assert_eq!(Problem::new("bad").to_string(), "bad");
        let located = Problem::new("`temperature` = -1: must be >= 0")
            .in_file("gc.json")
            .at(Some(3), None)
            .key("temperature");
        assert_eq!(
            located.to_string(),
            "gc.json:3: `temperature` = -1: must be >= 0"
        );
        let reported = located
            .reported_by("plugin site 0.1.0 (/p.so)")
            .reported_by("outer");
        assert_eq!(
            reported.to_string(),
            "plugin site 0.1.0 (/p.so): gc.json:3: `temperature` = -1: must be >= 0"
        );
        assert_eq!(reported.key.as_deref(), Some("temperature"));
    }

    #[test]
    fn round_trips_through_json_without_empty_fields() {
        let problem = Problem::new("x").in_file("a.yaml").at(Some(2), Some(5));
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"message": "x", "file": "a.yaml", "line": 2, "column": 5})
        );
        assert_eq!(serde_json::from_value::<Problem>(json).unwrap(), problem);
    }
}
