//! A submitted array's models as they stand: each model's run records, read as `benchy results`
//! reads them, with its array task's state from the scheduler when there is one to ask.

use super::queue::Queue;
use super::submission::Submission;
use crate::results::read::Found;
use crate::results::standing::ModelStanding;

/// Every model of `submission`, in array-index order. `queue` is the scheduler's view of the
/// array, `None` when it could not be asked (then the records alone decide).
pub fn of_submission(
    submission: &Submission,
    found: &Found,
    queue: Option<&Queue>,
) -> Vec<ModelStanding> {
    submission
        .models
        .iter()
        .map(|task| {
            let short_name = task.model.short_name();
            // by folder name: the records were read from this run id's folder, whatever path
            // led there
            let run = found.runs.iter().find(|r| r.short_name == short_name);
            let names: Vec<String> = task.model.tasks.iter().map(|t| t.name.clone()).collect();
            let id = submission.task_id(task.index);
            let job = match queue {
                Some(queue) => match queue.tasks.get(&task.index) {
                    Some(queued) => format!("{id} {}", queued.state),
                    None => format!("{id} not listed"),
                },
                None => id,
            };
            let scheduled = queue.map(|q| q.scheduled(task.index));
            ModelStanding::of(short_name, run, &names, scheduled, Some(job))
        })
        .collect()
}
