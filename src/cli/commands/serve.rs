//! `benchy serve`: the model's server with the resolved parameters as its defaults, until
//! Ctrl-C (see [`crate::ops::serve`]).

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::args::ServeArgs;
use crate::ops::serve::{self, ServeOptions};
use crate::plugin::Registry;
use crate::settings::Settings;

pub fn run(args: &ServeArgs, registry: &Registry, settings: &Settings) -> Result<ExitCode> {
    let server_url = args.server.checked_url()?;
    let options = ServeOptions {
        config: args.resolve.single_config("serve")?.to_owned(),
        resolve: args.resolve.options(),
        server_url,
        audit: args.audit,
    };
    serve::run(&options, registry, settings)
}
