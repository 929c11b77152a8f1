//! `benchy cache stats|prune|clear`: the response cache in benchy's home.

use std::process::ExitCode;

use anyhow::Result;

use crate::cache::store::{Store, Unusable, now};
use crate::cli::args::CacheCommand;
use crate::settings::Settings;
use crate::util::bad_input::bad_input;
use crate::util::stdio::{errln, outln};
use crate::util::table;

pub fn run(command: &CacheCommand, settings: &Settings) -> Result<ExitCode> {
    let path = crate::cache::path(&settings.cache_dir().value);
    let before = match command {
        CacheCommand::Prune {
            older_than: Some(age),
            ..
        } => Some(now() - seconds(age)?),
        _ => None,
    };
    let store = match Store::open(&path) {
        Ok((store, None)) => store,
        Ok((store, Some(aside))) => {
            errln!(
                "warning: {} was not a benchy cache: set aside as {}",
                path.display(),
                aside.display()
            );
            store
        }
        Err(Unusable::Newer(format)) => {
            return Err(bad_input(format!(
                "{} is a cache of a newer benchy (format {format})",
                path.display()
            )));
        }
        Err(Unusable::Failed(why)) => anyhow::bail!("the response cache cannot be opened: {why}"),
    };
    match command {
        CacheCommand::Stats => stats(&store)?,
        CacheCommand::Prune { model, .. } => {
            let removed = store.prune(before, model.as_deref())?;
            outln!("removed {removed} answers from {}", path.display());
        }
        CacheCommand::Clear => {
            let removed = store.prune(None, None)?;
            outln!("removed {removed} answers from {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn stats(store: &Store) -> Result<()> {
    let rows = store.stats()?;
    let (entries, bytes, hits) = rows.iter().fold((0, 0, 0), |(e, b, h), (_, en, by, hi)| {
        (e + en, b + by, h + hi)
    });
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(model, entries, bytes, hits)| {
            vec![
                model.clone(),
                entries.to_string(),
                size(*bytes),
                hits.to_string(),
            ]
        })
        .collect();
    outln!("{}", store.path().display());
    outln!(
        "{}",
        table::render(&["model", "answers", "size", "hits"], &cells)
    );
    outln!("total: {entries} answers, {}, {hits} hits", size(bytes));
    Ok(())
}

/// `30d`, `12h`, `90m`, `45s` in seconds.
fn seconds(age: &str) -> Result<i64> {
    let (number, unit) = age.split_at(age.len().saturating_sub(1));
    let scale = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => 0,
    };
    match number.parse::<i64>() {
        Ok(n) if scale > 0 && n >= 0 => Ok(n * scale),
        _ => Err(bad_input(format!(
            "--older-than {age}: give an age such as 30d, 12h or 90m"
        ))),
    }
}

/// Bytes as `512 B` or `1.2 MiB`.
fn size(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    for unit in ["KiB", "MiB", "GiB"] {
        if value < 1024.0 {
            return format!("{value:.1} {unit}");
        }
        value /= 1024.0;
    }
    format!("{value:.1} TiB")
}
