//! `--dry-run`: the resolved parameters with their sources, and the exact commands, with
//! nothing started.

use benchy_core::ProcessSpec;
use benchy_core::process::PORT_PLACEHOLDER;

use super::Eval;
use crate::commands::explain::explain_table;
use crate::secrets;

impl Eval<'_> {
    pub(super) fn dry_run(&self) -> String {
        let mut out = explain_table(&self.resolution);
        out += "\nCommands (nothing was started):\n";
        if let Some(server) = &self.server {
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
        for check in &self.job_plan.checks {
            out += &format!(
                "\n  check before starting ({}):\n    $ {}\n",
                check.name,
                secrets::shown_command(check)
            );
        }
        for job in &self.job_plan.processes {
            out += &job_lines(job);
        }
        out += &format!(
            "\nUp to {} job(s) at once; outputs would go to {}\n",
            self.jobs,
            self.folder.dir.display()
        );
        secrets::mask(&out)
    }
}

fn job_lines(job: &ProcessSpec) -> String {
    let cwd = job
        .cwd
        .as_ref()
        .map(|c| format!(" in {}", c.display()))
        .unwrap_or_default();
    format!(
        "\n  {} (task(s) {}){cwd}:\n    $ {}\n",
        job.name,
        job.tasks.join(", "),
        secrets::shown_command(job)
    )
}
