//! `benchy envs list|build|remove`: the Python environments benchy builds for servers that ask
//! for a version of their own (see [`crate::ops::envs`]).

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::{EnvsCommand, Format};
use crate::envs::EnvStore;
use crate::ops::envs;
use crate::plugin::Registry;
use crate::util::env_vars::benchy_home;
use crate::util::stdio;

pub fn run(command: EnvsCommand, registry: &Registry) -> Result<ExitCode> {
    let store = EnvStore::new(&benchy_home());
    match command {
        EnvsCommand::List(args) => {
            let wanted = envs::wanted(&args.configs, registry)?;
            let text = envs::list(&store, &wanted, args.format == Format::Json)?;
            stdio::write_out(&text);
        }
        EnvsCommand::Build(args) => envs::build(&store, &envs::wanted(&args.configs, registry)?)?,
        EnvsCommand::Remove { names } => envs::remove(&store, &names)?,
    }
    Ok(ExitCode::SUCCESS)
}
