//! `--dry-run`: for every model, the resolved parameters with their sources, what resume would
//! do with each task, the environment its server runs from, and the exact commands; then the
//! suite's checks. Nothing is started.

use benchy_core::ProcessSpec;
use benchy_core::process::PORT_PLACEHOLDER;

use super::Suite;
use super::model::{Decisions, Model};
use crate::resolution::explain::explain_table;
use crate::store::completion::Decision;
use crate::util::secrets;

impl Suite<'_> {
    pub(super) fn dry_run(&self) -> String {
        let mut out = String::new();
        let decisions = self.decisions();
        for (i, (model, decisions)) in self.models.iter().zip(&decisions).enumerate() {
            if self.models.len() > 1 {
                out += &format!(
                    "== model {} of {}: {} ({})\n\n",
                    i + 1,
                    self.models.len(),
                    model.short_name(),
                    model.resolution.config.path.display()
                );
            }
            out += &self.model_lines(model, decisions);
        }
        match self.task_checks(&decisions) {
            Ok(checks) => {
                for check in checks {
                    out += &format!(
                        "\ncheck before starting ({}):\n  $ {}\n",
                        check.name,
                        secrets::shown_command(&check)
                    );
                }
            }
            Err(err) => out += &format!("\nthe checks cannot be planned: {err:#}\n"),
        }
        out += &format!(
            "\nJobs of a model at once: {}; outputs would go to {}\n",
            self.jobs.explained(),
            self.dir.display()
        );
        secrets::mask(&out)
    }

    fn model_lines(&self, model: &Model, decisions: &Decisions) -> String {
        let mut out = explain_table(&model.resolution);
        out += "\nTasks:\n";
        for (task, decision) in decisions {
            let what = match decision {
                Decision::Done(_) => "done, would be skipped".to_owned(),
                Decision::Run => "would run".to_owned(),
                Decision::Rerun => "done before, would run again (--rerun)".to_owned(),
                Decision::Changed(changes) => format!("would run again: {}", changes.join("; ")),
                Decision::Unreadable(why) => format!("would run again: {why}"),
            };
            out += &format!("  {}: {what}\n", task.name);
        }
        out += "\nCommands (nothing was started):\n";
        if let Some(server) = model.server.launched() {
            for env in &server.plan.environments {
                let state = match self.envs.ready(&env.name) {
                    Some(_) => "exists",
                    None => "missing, would be built first",
                };
                out += &format!(
                    "\n  environment {} ({state}): {}\n",
                    env.name,
                    self.envs.path(&env.name).display()
                );
            }
            let port = server
                .spec
                .listen
                .as_ref()
                .and_then(|l| l.preferred_port)
                .map_or_else(
                    || "a free port".to_owned(),
                    |p| format!("{p} when free, else a free port"),
                );
            out += &format!(
                "\n  server ({PORT_PLACEHOLDER}: {port}):\n    $ {}\n",
                secrets::shown_command(&server.spec)
            );
        }
        for job in &model.job_plan.processes {
            out += &job_lines(job);
        }
        out + &format!("\n  outputs: {}\n\n", model.folder.dir.display())
    }
}

fn job_lines(job: &ProcessSpec) -> String {
    let cwd = job
        .cwd
        .as_ref()
        .map(|c| format!(" in {}", c.display()))
        .unwrap_or_default();
    let mut out = format!(
        "\n  {} (task(s) {}){cwd}:\n    $ {}\n",
        job.name,
        job.tasks.join(", "),
        secrets::shown_command(job)
    );
    for (path, text) in &job.files {
        out += &format!("    written first, {}:\n", path.display());
        for line in secrets::mask(text).lines() {
            out += &format!("      {line}\n");
        }
    }
    out
}
