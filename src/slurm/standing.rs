//! A submitted run's models as they stand: each model's run records, read as `benchy results`
//! reads them, with its array task's state from the scheduler when its array was asked.

use super::queue::Queues;
use super::submission::Submission;
use crate::results::standing::ModelStanding;
use crate::store::read::Found;

/// Every model of `submission`. `queues` holds the arrays the scheduler was asked about; a model
/// whose array is not among them is judged by its records alone.
pub fn of_submission(
    submission: &Submission,
    found: &Found,
    queues: &Queues,
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
            let queue = queues.get(&task.job_id);
            let job = match queue.map(|q| q.tasks.get(&task.index)) {
                Some(Some(queued)) => format!("{} {}", task.id(), queued.state),
                Some(None) => format!("{} not listed", task.id()),
                None => task.id(),
            };
            let scheduled = queue.map(|q| q.scheduled(task.index));
            ModelStanding::of(short_name, run, &names, scheduled, Some(job))
        })
        .collect()
}
