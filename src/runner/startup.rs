//! The start-up ledger: how long each phase of a launched server's start took, read from its log
//! as it is written (the phases and their log markers are the server backend's description).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use benchy_core::process::StartupPhase;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::util::time::seconds_between;

/// One phase and its time: from the previous phase's end (or the launch) to its marker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseTime {
    pub phase: String,
    pub seconds: f64,
}

/// A server's start-up, phase by phase, the last one `ready` (the marker of the last phase seen
/// to the first probe that found the model served).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StartupLedger {
    pub phases: Vec<PhaseTime>,
    /// Launch to ready.
    pub seconds: f64,
}

impl StartupLedger {
    /// One line for people: the total, its share of the model's wall time (from `started` to
    /// `finished`, the run record's stamps) when it has ended, then each phase.
    pub fn describe(&self, started: Option<&str>, finished: Option<&str>) -> String {
        let wall = started
            .zip(finished)
            .and_then(|(start, end)| seconds_between(start, end));
        let share = wall.filter(|w| *w > 0.0).map_or_else(String::new, |wall| {
            format!(
                " of the model's {wall:.1} s ({:.0} %)",
                100.0 * self.seconds / wall
            )
        });
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|p| format!("{} {:.1} s", p.phase, p.seconds))
            .collect();
        format!("{:.1} s{share}: {}", self.seconds, phases.join(", "))
    }
}

/// Watches a server's log during its start for the markers of its phases.
pub struct PhaseWatch {
    log: PathBuf,
    read: u64,
    /// The last line read so far, still being written.
    partial: String,
    phases: Vec<StartupPhase>,
    /// When each phase's marker was first seen, by index into `phases`.
    seen: Vec<(usize, Instant)>,
    launched: Instant,
}

impl PhaseWatch {
    pub fn new(log: &Path, phases: &[StartupPhase]) -> PhaseWatch {
        PhaseWatch {
            log: log.to_owned(),
            read: 0,
            partial: String::new(),
            phases: phases.to_vec(),
            seen: Vec::new(),
            launched: Instant::now(),
        }
    }

    /// Reads what the log gained since the last look and notes the markers it holds: a marker
    /// is dated when it is seen, so the precision is the probe's interval (the server's output
    /// must not be buffered: the vLLM backend sets `PYTHONUNBUFFERED`).
    pub fn look(&mut self) {
        if self.phases.is_empty() {
            return;
        }
        let Ok(text) = self.gained() else { return };
        self.partial.push_str(&text);
        let Some(end) = self.partial.rfind('\n') else {
            return;
        };
        let lines: String = self.partial.drain(..=end).collect();
        let now = Instant::now();
        for line in lines.lines() {
            for (i, phase) in self.phases.iter().enumerate() {
                if line.contains(&phase.marker) && !self.seen.iter().any(|(j, _)| *j == i) {
                    self.seen.push((i, now));
                }
            }
        }
    }

    fn gained(&mut self) -> std::io::Result<String> {
        let mut file = File::open(&self.log)?;
        file.seek(SeekFrom::Start(self.read))?;
        let mut bytes = Vec::new();
        self.read += file.read_to_end(&mut bytes)? as u64;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The ledger once the server is ready: the phases seen, in the order they were seen.
    pub fn ledger(mut self) -> StartupLedger {
        self.look();
        let ready = Instant::now();
        let mut phases = Vec::new();
        let mut from = self.launched;
        for (i, at) in &self.seen {
            phases.push(PhaseTime {
                phase: self.phases[*i].name.clone(),
                seconds: at.duration_since(from).as_secs_f64(),
            });
            from = *at;
        }
        phases.push(PhaseTime {
            phase: "ready".into(),
            seconds: ready.duration_since(from).as_secs_f64(),
        });
        StartupLedger {
            phases,
            seconds: ready.duration_since(self.launched).as_secs_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn phase(name: &str, marker: &str) -> StartupPhase {
        StartupPhase {
            name: name.into(),
            marker: marker.into(),
        }
    }

    #[test]
    fn phases_are_dated_when_their_marker_line_is_complete_and_seen_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        std::fs::write(&log, "# benchy started\n").unwrap();
        let phases = [
            phase("engine start", "Initializing"),
            phase("weights", "Loading weights"),
        ];
        let mut watch = PhaseWatch::new(&log, &phases);
        let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        write!(file, "INFO Loading wei").unwrap();
        watch.look();
        assert!(watch.seen.is_empty(), "half a line is not a marker yet");
        writeln!(file, "ghts took 0.1 s\nINFO Loading weights took 0.2 s").unwrap();
        watch.look();
        writeln!(file, "INFO Initializing a V1 LLM engine").unwrap();
        watch.look();
        let ledger = watch.ledger();
        let names: Vec<&str> = ledger.phases.iter().map(|p| p.phase.as_str()).collect();
        assert_eq!(
            names,
            ["weights", "engine start", "ready"],
            "in the order seen"
        );
        let sum: f64 = ledger.phases.iter().map(|p| p.seconds).sum();
        assert!((sum - ledger.seconds).abs() < 1e-6, "{ledger:?}");
        let shown = StartupLedger {
            seconds: 30.0,
            ..ledger
        }
        .describe(Some("2026-01-01T00:00:00Z"), Some("2026-01-01T00:02:00Z"));
        assert!(
            shown.starts_with("30.0 s of the model's 120.0 s (25 %): weights "),
            "{shown}"
        );
    }

    #[test]
    fn a_server_without_phases_has_only_its_ready_time() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        std::fs::write(&log, "Loading weights took 1 s\n").unwrap();
        let mut watch = PhaseWatch::new(&log, &[]);
        watch.look();
        let ledger = watch.ledger();
        assert_eq!(ledger.phases.len(), 1);
        assert_eq!(ledger.phases[0].phase, "ready");
    }
}
