//! `benchy plugins list|doctor|install` (see [`crate::ops::plugins`]): `doctor` exits 2 when a
//! plugin file or a search path entry has a problem.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::{Format, PluginsCommand};
use crate::cli::exit;
use crate::ops::plugins::{self, Overview};
use crate::plugin::Registry;
use crate::util::stdio;
use crate::util::stdio::{errln, outln};

pub fn run(command: PluginsCommand, registry: &Registry) -> Result<ExitCode> {
    match command {
        PluginsCommand::List(args) => {
            print(&plugins::list(registry), args.format, "status")?;
            Ok(ExitCode::SUCCESS)
        }
        PluginsCommand::Doctor(args) => doctor(registry, args.format),
        PluginsCommand::Install(args) => {
            outln!("{}", plugins::install(&args.path, registry)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn doctor(registry: &Registry, format: Format) -> Result<ExitCode> {
    let overview = plugins::doctor(registry);
    print(&overview, format, "check")?;
    let (bad_files, bad_dirs) = overview.problems();
    if format == Format::Table {
        let dirs = if bad_dirs > 0 {
            format!("; {bad_dirs} search path entry(ies) with problems")
        } else {
            String::new()
        };
        errln!(
            "{} plugin file(s) checked: {bad_files} with problems{dirs}",
            overview.files()
        );
    }
    Ok(if bad_files + bad_dirs == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::BAD_INPUT)
    })
}

fn print(overview: &Overview, format: Format, status_header: &str) -> Result<()> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(overview)? + "\n",
        Format::Table => plugins::render(overview, status_header),
    };
    stdio::write_out(&text);
    Ok(())
}
