//! What the user sees while processes run: on a terminal, one live line per process with the
//! elapsed time and the latest line of its log (indicatif); otherwise plain lines now and then,
//! which read well in CI logs and files.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::env_vars::EnvVars;
use crate::util::secrets;
use crate::util::stdio::errln;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Without a terminal, a process that is still starting or running is reported this often.
const PLAIN_EVERY: Duration = Duration::from_secs(15);

/// The longest log excerpt shown on a live line.
const EXCERPT_CHARS: usize = 120;

/// All live lines of a run, and the lines printed above them.
#[derive(Clone, Debug)]
pub struct Console {
    live: Option<MultiProgress>,
    /// Where a suite is, put in front of every line while it is set.
    stage: Arc<Mutex<Option<Stage>>>,
}

/// Where a suite is: which model of how many, how many of its tasks are done, and how long the
/// suite has run.
#[derive(Clone, Debug)]
pub struct Stage {
    pub model: usize,
    pub models: usize,
    pub name: String,
    pub tasks_done: usize,
    pub tasks: usize,
    pub since: Instant,
}

impl Stage {
    /// `[model 3 of 21 qwen: 2 of 3 tasks done, 12m04s]`.
    fn prefix(&self) -> String {
        let secs = self.since.elapsed().as_secs();
        format!(
            "[model {} of {} {}: {} of {} tasks done, {}m{:02}s] ",
            self.model,
            self.models,
            self.name,
            self.tasks_done,
            self.tasks,
            secs / 60,
            secs % 60
        )
    }
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
            stage: Arc::default(),
        }
    }

    /// Sets (or clears) where the suite is.
    pub fn set_stage(&self, stage: Option<Stage>) {
        *self.stage.lock().expect("not poisoned") = stage;
    }

    /// Counts `tasks` more tasks of the current model as done.
    pub fn tasks_done(&self, tasks: usize) {
        if let Some(stage) = self.stage.lock().expect("not poisoned").as_mut() {
            stage.tasks_done += tasks;
        }
    }

    fn prefix(&self) -> String {
        let stage = self.stage.lock().expect("not poisoned");
        stage.as_ref().map(Stage::prefix).unwrap_or_default()
    }

    /// Prints one line on stderr above any live lines.
    pub fn line(&self, text: &str) {
        let text = secrets::mask(&(self.prefix() + text));
        match &self.live {
            Some(multi) => multi.suspend(|| errln!("{text}")),
            None => errln!("{text}"),
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
