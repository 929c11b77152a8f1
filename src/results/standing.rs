//! How a run stands, model by task: done, failed, running, pending or missing. A task is done
//! when its run says so (its completion record, or results in a run that did not fail it); while
//! the scheduler still holds the model's job, what is not done is pending or running; once it
//! does not, what is not done failed (the run recorded a failure) or is missing (nothing will do
//! it). This is the check a leaderboard runs before publishing (`benchy status --missing`).

use crate::store::read::{StoredRun, TaskState};
use crate::util::table;

/// Where a model's job is, in a scheduler's words reduced to what benchy acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheduled {
    /// Not started yet (pending, held, requeued, being configured).
    Waiting,
    /// On a node (running, completing, suspended).
    Active,
    /// Over: completed, failed, cancelled, timed out, or no longer known to the scheduler.
    Ended,
}

/// Where a task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    Done,
    Failed,
    Running,
    Pending,
    Missing,
}

impl Standing {
    pub fn word(self) -> &'static str {
        match self {
            Standing::Done => "done",
            Standing::Failed => "failed",
            Standing::Running => "running",
            Standing::Pending => "pending",
            Standing::Missing => "missing",
        }
    }

    /// How a task stands from what its run recorded (`None`: no run folder, or the run does not
    /// know the task) and, when a scheduler runs the model, where its job is.
    pub fn of(recorded: Option<TaskState>, scheduled: Option<Scheduled>) -> Standing {
        if recorded == Some(TaskState::Done) {
            return Standing::Done;
        }
        match (scheduled, recorded) {
            (Some(Scheduled::Waiting), _) => Standing::Pending,
            (Some(Scheduled::Active), _) => Standing::Running,
            (_, Some(TaskState::Failed)) => Standing::Failed,
            // no scheduler (a local suite): the run's own word
            (None, Some(TaskState::Running)) => Standing::Running,
            (None, Some(TaskState::Pending)) => Standing::Pending,
            // a run that says it runs while its job is over was killed (a time limit, a node)
            _ => Standing::Missing,
        }
    }
}

/// A model and how each of its tasks stands.
#[derive(Clone, Debug)]
pub struct ModelStanding {
    /// The model's folder name.
    pub model: String,
    pub tasks: Vec<(String, Standing)>,
    /// Its job, as the scheduler names and states it (`12_0 RUNNING`), when one runs it.
    pub job: Option<String>,
    /// The node's devices its server holds or held (`0,1`), when a suite shared them out.
    pub devices: String,
}

impl ModelStanding {
    /// A model as its stored run says, its tasks those the run knows unless `tasks` names them.
    pub fn of(
        short_name: String,
        run: Option<&StoredRun>,
        tasks: &[String],
        scheduled: Option<Scheduled>,
        job: Option<String>,
    ) -> ModelStanding {
        let names: Vec<String> = if tasks.is_empty() {
            run.map(|r| r.tasks.iter().map(|t| t.name.clone()).collect())
                .unwrap_or_default()
        } else {
            tasks.to_vec()
        };
        let tasks = names
            .into_iter()
            .map(|name| {
                let recorded = run.and_then(|r| r.task(&name)).map(|t| t.state);
                (name, Standing::of(recorded, scheduled))
            })
            .collect();
        ModelStanding {
            model: short_name,
            tasks,
            job,
            devices: run.map(|r| r.devices.join(",")).unwrap_or_default(),
        }
    }

    /// Whether every task is done.
    pub fn done(&self) -> bool {
        self.tasks.iter().all(|(_, s)| *s == Standing::Done)
    }
}

/// Models by tasks, each cell a task's standing (`-` where the model has no such task), and
/// each model's job when a scheduler runs them.
fn table(models: &[ModelStanding]) -> String {
    let mut tasks: Vec<&str> = Vec::new();
    for (name, _) in models.iter().flat_map(|m| &m.tasks) {
        if !tasks.contains(&name.as_str()) {
            tasks.push(name);
        }
    }
    let jobs = models.iter().any(|m| m.job.is_some());
    let devices = models.iter().any(|m| !m.devices.is_empty());
    let mut header = vec!["model"];
    header.extend(&tasks);
    if jobs {
        header.push("job");
    }
    if devices {
        header.push("devices");
    }
    let rows: Vec<Vec<String>> = models
        .iter()
        .map(|m| {
            let mut row = vec![m.model.clone()];
            row.extend(tasks.iter().map(|t| {
                let standing = m.tasks.iter().find(|(name, _)| name == t);
                standing.map_or("-", |(_, s)| s.word()).to_owned()
            }));
            if jobs {
                row.push(m.job.clone().unwrap_or_default());
            }
            if devices {
                row.push(m.devices.clone());
            }
            row
        })
        .collect();
    table::render(&header, &rows)
}

/// The table and the counts under it, as `benchy status` and `eval --wait` print them.
pub fn report(models: &[ModelStanding]) -> String {
    format!("{}\n{}", table(models), summary(models))
}

/// `3 models, 6 tasks: 4 done, 2 missing`.
fn summary(models: &[ModelStanding]) -> String {
    let all: Vec<Standing> = models
        .iter()
        .flat_map(|m| m.tasks.iter().map(|(_, s)| *s))
        .collect();
    let counts: Vec<String> = [
        Standing::Done,
        Standing::Failed,
        Standing::Running,
        Standing::Pending,
        Standing::Missing,
    ]
    .into_iter()
    .filter_map(|standing| {
        let n = all.iter().filter(|s| **s == standing).count();
        (n > 0).then(|| format!("{n} {}", standing.word()))
    })
    .collect();
    format!(
        "{}, {}: {}",
        table::counted(models.len(), "model"),
        table::counted(all.len(), "task"),
        counts.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_wins_the_scheduler_decides_the_rest_and_without_it_the_record_does() {
        use Scheduled::{Active, Ended, Waiting};
        use TaskState::{Done, Failed, Interrupted, Running};
        // a requeued model's finished tasks stay done, the others wait or run again
        assert_eq!(Standing::of(Some(Done), Some(Waiting)), Standing::Done);
        assert_eq!(Standing::of(Some(Failed), Some(Waiting)), Standing::Pending);
        assert_eq!(
            Standing::of(Some(Interrupted), Some(Active)),
            Standing::Running
        );
        assert_eq!(Standing::of(None, Some(Waiting)), Standing::Pending);
        // the job is over: what failed failed, the rest is missing
        assert_eq!(Standing::of(Some(Failed), Some(Ended)), Standing::Failed);
        assert_eq!(Standing::of(Some(Running), Some(Ended)), Standing::Missing);
        assert_eq!(Standing::of(None, Some(Ended)), Standing::Missing);
        // no scheduler: the record alone
        assert_eq!(Standing::of(Some(Running), None), Standing::Running);
        assert_eq!(Standing::of(Some(Interrupted), None), Standing::Missing);
    }
}
