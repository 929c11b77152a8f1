//! Short client commands (a scheduler's `sbatch`, `squeue`, `scancel`, a backend's questions):
//! run to their end with
//! their output captured, in a process group of their own (a Ctrl-C at the terminal is benchy's
//! to handle, and benchy may still need to run `scancel` after one), and killed when they take
//! longer than they may.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use benchy_core::ProcessSpec;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// What a client command answered.
#[derive(Debug)]
pub struct ClientOutput {
    /// Its exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl ClientOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Its exit in words, for an error message.
    pub fn exit(&self) -> String {
        self.code
            .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}"))
    }
}

/// Runs `program args` with `stdin` (if any) on its standard input, and waits for it up to
/// `limit`; past it, the command is killed and this is an error.
pub async fn run_client(
    program: &Path,
    args: &[String],
    stdin: Option<&str>,
    limit: Duration,
) -> Result<ClientOutput> {
    let mut command = Command::new(program);
    command.args(args);
    capture(command, program, stdin, limit).await
}

/// Runs a backend's short command (a question) to its end with its output captured, in its
/// folder and with its environment, and waits for it up to `limit`.
pub async fn run_spec(spec: &ProcessSpec, limit: Duration) -> Result<ClientOutput> {
    let program = Path::new(&spec.program);
    let mut command = Command::new(program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, &v.value)));
    if let Some(dir) = &spec.cwd {
        command.current_dir(dir);
    }
    capture(command, program, None, limit).await
}

async fn capture(
    mut command: Command,
    program: &Path,
    stdin: Option<&str>,
    limit: Duration,
) -> Result<ClientOutput> {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let shown = program.display();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run {shown}"))?;
    let pipe = child.stdin.take();
    let exchange = async {
        if let (Some(text), Some(mut pipe)) = (stdin, pipe) {
            pipe.write_all(text.as_bytes())
                .await
                .with_context(|| format!("cannot write to {shown}'s standard input"))?;
        }
        child
            .wait_with_output()
            .await
            .with_context(|| format!("cannot wait for {shown}"))
    };
    // The limit covers writing the input too (a command that stalls before reading a large
    // script); dropped on timeout, kill_on_drop ends the command.
    let Ok(output) = tokio::time::timeout(limit, exchange).await else {
        bail!("{shown} did not answer within {} s", limit.as_secs());
    };
    let output = output?;
    Ok(ClientOutput {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}
