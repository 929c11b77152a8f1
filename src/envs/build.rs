//! Building one environment: `uv venv` (relocatable, so the folder can be renamed into place),
//! `uv pip install` of its requirements with its overrides, and a check that the module imports
//! at the version asked for, each a process the runner supervises (logs, progress, Ctrl-C,
//! nothing left running), in a temporary folder renamed into place once complete.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use benchy_core::{ProcessSpec, PythonEnv, Role};

use super::uv::{self, Failure};
use super::{EnvInfo, EnvStore, MARKER};
use crate::runner::Interrupted;
use crate::runner::Runner;
use crate::runner::jobs::{EndedEarly, JobPolicy};
use crate::runner::log_tail::{format_tail, last_lines};
use crate::util::bad_input::BadInput;

/// The import check prints this before the version, so the version is found among warnings.
const VERSION_MARK: &str = "benchy-version: ";

pub async fn build(store: &EnvStore, env: &PythonEnv, runner: &Runner) -> Result<EnvInfo> {
    let partial = store
        .root
        .join(format!(".{}.partial-{}", env.name, std::process::id()));
    remove_stale(store, env);
    std::fs::create_dir_all(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    runner.say(&format!(
        "{}: building the Python environment with uv in {} (once; it is reused after)",
        env.name,
        store.path(&env.name).display()
    ));
    let steps = steps(env, &partial)?;
    let logs = partial.join(".benchy-build");
    let policy = JobPolicy {
        parallel: 1,
        stop_on_failure: true,
    };
    let report = runner.run_jobs(&steps, policy, &logs, None).await?;
    if let Some(EndedEarly::Interrupted(signal)) = report.ended_early {
        return Err(Interrupted(signal).into());
    }
    if let Some(failed) = report.outcomes.iter().find(|o| !o.succeeded()) {
        return Err(failure(env, failed.name.as_str(), &failed.log_file));
    }
    let imported = imported_version(&logs.join(&steps[steps.len() - 1].log_file));
    if let (Some(want), Some(got)) = (&env.version, &imported)
        && want != got
    {
        return Err(anyhow!(
            "{}: {} {got} imports, not the {want} asked for (check the pins in {})",
            env.name,
            env.module.as_deref().unwrap_or("the module"),
            env.requested_in
                .file
                .as_deref()
                .unwrap_or("the provider config")
        ));
    }
    let info = EnvInfo {
        name: env.name.clone(),
        requirements: env.requirements.clone(),
        overrides: env.overrides.clone(),
        module: env.module.clone(),
        version: imported,
        built_at: crate::util::time::now(),
    };
    crate::util::atomic::write_json(&partial.join(MARKER), &info)?;
    let target = store.path(&env.name);
    std::fs::rename(&partial, &target)
        .with_context(|| format!("cannot move {} to {}", partial.display(), target.display()))?;
    runner.say(&format!("{}: ready ({})", env.name, target.display()));
    Ok(info)
}

/// Partial builds of killed builders (the lock is held now, so none is running).
fn remove_stale(store: &EnvStore, env: &PythonEnv) {
    let prefix = format!(".{}.partial-", env.name);
    for entry in std::fs::read_dir(&store.root)
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The build's processes, in order.
fn steps(env: &PythonEnv, partial: &Path) -> Result<Vec<ProcessSpec>> {
    let uv = uv::program()?;
    let folder = partial.display().to_string();
    let python = format!("{folder}/bin/python");
    let mut install = vec![
        "pip".into(),
        "install".into(),
        "--python".into(),
        python.clone(),
    ];
    install.extend(env.requirements.iter().cloned());
    if !env.overrides.is_empty() {
        let file = partial.join(".benchy-overrides.txt");
        std::fs::write(&file, env.overrides.join("\n") + "\n")?;
        install.extend(["--override".into(), file.display().to_string()]);
    }
    let step = |name: &str, program: &str, args: Vec<String>, log: &str| ProcessSpec {
        stop_grace_secs: 5.0,
        ..ProcessSpec::new(
            format!("{}: {name}", env.name),
            Role::Job,
            program,
            args,
            log,
        )
    };
    let mut steps = vec![
        step(
            "uv venv",
            &uv,
            vec![
                "venv".into(),
                "--relocatable".into(),
                "--allow-existing".into(),
                "--python".into(),
                "python3".into(),
                folder,
            ],
            "1-venv.log",
        ),
        step("uv pip install", &uv, install, "2-install.log"),
    ];
    if let Some(module) = &env.module {
        let code = format!("import {module}; print('{VERSION_MARK}' + {module}.__version__)");
        steps.push(step(
            "import check",
            &python,
            vec!["-c".into(), code],
            "3-import.log",
        ));
    }
    Ok(steps)
}

/// The version the import check printed.
fn imported_version(log: &Path) -> Option<String> {
    last_lines(log, 20)
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix(VERSION_MARK))
        .map(|v| v.trim().to_owned())
}

/// A failed step: bad input when the package index has no such version (uv cannot resolve),
/// naming where it was asked; otherwise a failed run with uv's last lines.
fn failure(env: &PythonEnv, step: &str, log: &Path) -> anyhow::Error {
    let tail = format_tail(log);
    match uv::classify(&tail) {
        Failure::NotOnIndex => BadInput(format!(
            "{}: the package index does not have what `{}` asks for ({}):\n{tail}",
            env.requested_in.file.as_deref().unwrap_or(&env.name),
            env.requested_in.key.as_deref().unwrap_or("vllm_version"),
            env.requirements.join(" ")
        ))
        .into(),
        Failure::Other => anyhow!("{step} failed; the environment was not built:\n{tail}"),
    }
}
