//! How errors become exit codes: 2 for bad input (nothing started), 1 for a run that failed,
//! 0 for a broken pipe (the reader went away, as with `| head`), 130 or 143 when interrupted by
//! SIGINT or SIGTERM (after everything benchy started was stopped).

use std::process::ExitCode;

use benchy_core::{BackendError, LayerError, SourceError};

use crate::plugin::registry::Unknown;
use crate::run_config::ConfigError;
use crate::runner::Interrupted;
use crate::store::run_lock::LockError;
use crate::util::bad_input::BadInput;
use crate::util::secrets;
use crate::util::stdio::errln;

/// A run failed.
pub const FAILED: u8 = 1;
/// Bad input: nothing was started.
pub const BAD_INPUT: u8 = 2;

/// Prints the error chain on stderr and picks the exit code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    let broken_pipe = err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    // Interrupted is not a failure to explain: say what happened, exit as a shell expects.
    if let Some(interrupted) = err.chain().find_map(|c| c.downcast_ref::<Interrupted>()) {
        errln!("{interrupted}");
        return ExitCode::from(interrupted.0.exit_code());
    }
    errln!("error: {}", secrets::mask(&err.to_string()));
    for cause in err.chain().skip(1) {
        errln!("  caused by: {}", secrets::mask(&cause.to_string()));
    }
    if err.chain().any(is_bad_input) {
        ExitCode::from(BAD_INPUT)
    } else {
        ExitCode::from(FAILED)
    }
}

/// Whether an error is the user's input to fix: benchy's own [`BadInput`], a run config, a
/// generation layer, a name no source or backend answers, a run folder another run holds, or a
/// source or backend saying so.
pub fn is_bad_input(error: &(dyn std::error::Error + 'static)) -> bool {
    error.is::<BadInput>()
        || error.is::<ConfigError>()
        || error.is::<LayerError>()
        || error.is::<Unknown>()
        || matches!(error.downcast_ref(), Some(LockError::Held { .. }))
        || matches!(error.downcast_ref(), Some(SourceError::Input(_)))
        || matches!(error.downcast_ref(), Some(BackendError::Input(_)))
}
