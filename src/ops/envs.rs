//! The Python environments benchy builds for servers that ask for a version of their own
//! (`vllm_version` in a provider config), under benchy's home: which run configs want which,
//! listing, building and removing them (`benchy envs`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use benchy_core::PythonEnv;
use benchy_core::backend::RunOptions;

use crate::envs::EnvStore;
use crate::ops::planning::{ServerPlan, config_view};
use crate::plugin::Registry;
use crate::run_config::RunConfig;
use crate::run_config::inputs;
use crate::runner::{self, Runner};
use crate::util::bad_input::bad_input;
use crate::util::env_vars::benchy_home;
use crate::util::stdio::{errln, outln};
use crate::util::table;

/// Each environment some run config's server asks for, with those run configs.
pub type Wanted = BTreeMap<String, (PythonEnv, Vec<PathBuf>)>;

/// The environments the servers of the given run configs ask for, each with the configs.
pub fn wanted(configs: &[PathBuf], registry: &Registry) -> Result<Wanted> {
    let mut wanted: Wanted = BTreeMap::new();
    for path in inputs::expand(configs)? {
        let config = RunConfig::load(&path)?;
        let view = config_view(&config);
        let options = RunOptions {
            run_dir: std::env::temp_dir(),
            limit: None,
            log_samples: false,
            home: benchy_home(),
            max_concurrent: None,
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

/// Every environment built, and those `wanted` that are not: as JSON for scripts, or a table.
pub fn list(store: &EnvStore, wanted: &Wanted, json: bool) -> Result<String> {
    let built = store.list();
    let wanted_by = |name: &str| -> Vec<String> {
        wanted
            .get(name)
            .map(|(_, configs)| configs.iter().map(|c| c.display().to_string()).collect())
            .unwrap_or_default()
    };
    let text = match json {
        true => {
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
        false => {
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
    Ok(text)
}

/// Builds every environment `wanted` that is not built yet, printing each one's path.
pub fn build(store: &EnvStore, wanted: &Wanted) -> Result<()> {
    if wanted.is_empty() {
        errln!("none of these run configs asks for a Python environment of its own");
        return Ok(());
    }
    runner::runtime()?.block_on(async {
        let runner = Runner::new()?;
        for (env, _) in wanted.values() {
            let info = store.ensure(env, &runner).await?;
            outln!(
                "{} {}",
                store.path(&info.name).display(),
                info.version.as_deref().unwrap_or("")
            );
        }
        Ok(())
    })
}

/// Removes the environments `names`; one that is not there is bad input.
pub fn remove(store: &EnvStore, names: &[String]) -> Result<()> {
    for name in names {
        if store.ready(name).is_none() {
            return Err(bad_input(format!(
                "no environment `{name}` in {}; `benchy envs list` shows them",
                store.path("").display()
            )));
        }
        store.remove(name)?;
        errln!("removed {}", store.path(name).display());
    }
    Ok(())
}
