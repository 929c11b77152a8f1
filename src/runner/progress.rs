//! What the user sees while processes run: on a terminal, one live line per process with the
//! elapsed time and the latest line of its log (indicatif); otherwise plain lines now and then,
//! which read well in CI logs and files.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use crate::env_vars::EnvVars;
use crate::secrets;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Without a terminal, a process that is still starting or running is reported this often.
const PLAIN_EVERY: Duration = Duration::from_secs(15);

/// The longest log excerpt shown on a live line.
const EXCERPT_CHARS: usize = 120;

/// All live lines of a run, and the lines printed above them.
#[derive(Clone, Debug)]
pub struct Console {
    live: Option<MultiProgress>,
}

impl Console {
    /// Live lines when stderr is a terminal, unless `NO_COLOR` or `BENCHY_LOG` is set (log
    /// records and redraws would interleave).
    pub fn detect() -> Console {
        let live = std::io::stderr().is_terminal()
            && std::env::var_os(EnvVars::NO_COLOR).is_none()
            && std::env::var_os(EnvVars::BENCHY_LOG).is_none();
        Console {
            live: live.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// Prints one line on stderr above any live lines.
    pub fn line(&self, text: &str) {
        let text = secrets::mask(text);
        match &self.live {
            Some(multi) => multi.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    /// A live line for process `name` doing `what` ("starting", "running").
    pub fn process(&self, name: &str, what: &str) -> Progress {
        let bar = self.live.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} [{elapsed}] {wide_msg}")
                    .expect("a valid template"),
            );
            bar.set_prefix(format!("{name} {what}"));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            console: self.clone(),
            bar,
            label: format!("{name}: {what}"),
            started: Instant::now(),
            next_plain: Instant::now() + PLAIN_EVERY,
        }
    }
}

/// One process's live line (or its plain reports).
#[derive(Debug)]
pub struct Progress {
    console: Console,
    bar: Option<ProgressBar>,
    label: String,
    started: Instant,
    next_plain: Instant,
}

impl Progress {
    /// Shows the latest log line; without a terminal, prints it now and then.
    pub fn update(&mut self, latest: Option<String>) {
        let latest = latest.map(|l| excerpt(&l)).unwrap_or_default();
        match &self.bar {
            Some(bar) => bar.set_message(latest),
            None if Instant::now() >= self.next_plain => {
                self.next_plain += PLAIN_EVERY;
                self.console.line(&format!(
                    "{} for {:.0} s: {latest}",
                    self.label,
                    self.started.elapsed().as_secs_f64()
                ));
            }
            None => {}
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            if let Some(multi) = &self.console.live {
                multi.remove(bar);
            }
        }
    }
}

fn excerpt(line: &str) -> String {
    if line.chars().count() <= EXCERPT_CHARS {
        return line.to_owned();
    }
    let cut: String = line.chars().take(EXCERPT_CHARS - 1).collect();
    format!("{cut}…")
}
