//! `benchy envs list|build|remove`: the Python environments benchy builds for servers that ask
//! for a version of their own (`vllm_version` in a provider config), under benchy's home.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use benchy_core::PythonEnv;
use benchy_core::backend::RunOptions;

use crate::cli::{EnvsArgs, EnvsCommand, Format};
use crate::env_vars::benchy_home;
use crate::envs::EnvStore;
use crate::failure::bad_input;
use crate::planning::{ServerPlan, config_view};
use crate::plugin::Registry;
use crate::run_config::RunConfig;
use crate::runner::{self, Runner};
use crate::table;

pub fn run(command: EnvsCommand, registry: &Registry) -> Result<ExitCode> {
    let store = EnvStore::new(&benchy_home());
    match command {
        EnvsCommand::List(args) => list(&store, &wanted(&args, registry)?, args.format),
        EnvsCommand::Build(args) => build(&store, &wanted(&args, registry)?),
        EnvsCommand::Remove { names } => remove(&store, &names),
    }
}

/// The environments the servers of the given run configs ask for, each with the configs.
fn wanted(
    args: &EnvsArgs,
    registry: &Registry,
) -> Result<BTreeMap<String, (PythonEnv, Vec<PathBuf>)>> {
    let mut wanted: BTreeMap<String, (PythonEnv, Vec<PathBuf>)> = BTreeMap::new();
    for path in crate::suite::inputs::expand(&args.configs)? {
        let config = RunConfig::load(&path)?;
        let view = config_view(&config);
        let options = RunOptions {
            run_dir: std::env::temp_dir(),
            limit: None,
            log_samples: false,
            home: benchy_home(),
        };
        let server = ServerPlan::new(registry, &view, &options)?;
        for env in server.plan.environments {
            let entry = wanted
                .entry(env.name.clone())
                .or_insert_with(|| (env, Vec::new()));
            entry.1.push(path.clone());
        }
    }
    Ok(wanted)
}

fn list(
    store: &EnvStore,
    wanted: &BTreeMap<String, (PythonEnv, Vec<PathBuf>)>,
    format: Format,
) -> Result<ExitCode> {
    let built = store.list();
    let wanted_by = |name: &str| -> Vec<String> {
        wanted
            .get(name)
            .map(|(_, configs)| configs.iter().map(|c| c.display().to_string()).collect())
            .unwrap_or_default()
    };
    let text = match format {
        Format::Json => {
            let items: Vec<serde_json::Value> = built
                .iter()
                .map(|e| {
                    let mut item = serde_json::to_value(e).unwrap_or_default();
                    item["wanted_by"] = serde_json::json!(wanted_by(&e.info.name));
                    item
                })
                .collect();
            serde_json::to_string_pretty(&items)? + "\n"
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = built
                .iter()
                .map(|e| {
                    vec![
                        e.info.name.clone(),
                        e.info.version.clone().unwrap_or_else(|| "-".into()),
                        format!(
                            "{:.0} MB (+{:.1} GB shared)",
                            e.size as f64 / 1e6,
                            e.shared as f64 / 1e9
                        ),
                        e.last_used.clone().unwrap_or_else(|| "never".into()),
                        wanted_by(&e.info.name).join(", "),
                    ]
                })
                .collect();
            let missing: Vec<&String> =
                wanted.keys().filter(|n| store.ready(n).is_none()).collect();
            let mut out = table::render(
                &["environment", "version", "size", "last used", "wanted by"],
                &rows,
            );
            for name in missing {
                out += &format!("  {name}: not built yet (benchy envs build -c ...)\n");
            }
            out
        }
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn build(
    store: &EnvStore,
    wanted: &BTreeMap<String, (PythonEnv, Vec<PathBuf>)>,
) -> Result<ExitCode> {
    if wanted.is_empty() {
        eprintln!("none of these run configs asks for a Python environment of its own");
        return Ok(ExitCode::SUCCESS);
    }
    runner::runtime()?.block_on(async {
        let runner = Runner::new()?;
        for (env, _) in wanted.values() {
            let info = store.ensure(env, &runner).await?;
            println!(
                "{} {}",
                store.path(&info.name).display(),
                info.version.as_deref().unwrap_or("")
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn remove(store: &EnvStore, names: &[String]) -> Result<ExitCode> {
    for name in names {
        if store.ready(name).is_none() {
            return Err(bad_input(format!(
                "no environment `{name}` in {}; `benchy envs list` shows them",
                store.path("").display()
            )));
        }
        store.remove(name)?;
        eprintln!("removed {}", store.path(name).display());
    }
    Ok(ExitCode::SUCCESS)
}
