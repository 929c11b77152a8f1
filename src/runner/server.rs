//! Servers: start one from its spec and wait until it serves its model, or attach to one that
//! is already running (`--server-url`); then keep it until the run is done or interrupted, and
//! stop it. A server benchy attached to is never stopped by benchy.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use benchy_core::backend::ServerInfo;
use benchy_core::process::PORT_PLACEHOLDER;
use benchy_core::{ProcessSpec, Role};
use tokio::time::{Instant, MissedTickBehavior, interval, sleep_until};

use super::group::GroupChild;
use super::interrupt::{Interrupted, Interrupts, StopSignal};
use super::listener::owned_by_group;
use super::log_tail::{format_tail, latest_line};
use super::port::{self, is_loopback};
use super::progress::Console;
use super::readiness::{POLL_INTERVAL, Probe, ProbeState};
use super::{Runner, describe_status};

/// How long an existing server (`--server-url`) may take to list the model: the start-up time a
/// launched server gets by default, since it may still be loading.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(900);

/// A server's root from its root or its `/v1` API root, with or without a trailing slash.
pub fn server_root(url: &str) -> String {
    let root = url.trim_end_matches('/');
    root.strip_suffix("/v1").unwrap_or(root).to_owned()
}

/// A server that answers for its model.
#[derive(Debug)]
pub struct RunningServer {
    /// What clients use: the API root on loopback, the served model name and its context length
    /// as the server lists them.
    pub info: ServerInfo,
    /// The server's own version (vLLM's `/version`), when it tells.
    pub version: Option<String>,
    /// When benchy started it (or began probing an existing one) and when it was ready.
    pub started_at: SystemTime,
    pub ready_at: SystemTime,
    /// The server's log, when benchy started it.
    pub log: Option<PathBuf>,
    /// `None` when benchy attached to a server it did not start.
    launched: Option<Launched>,
    interrupts: Interrupts,
    console: Console,
}

#[derive(Debug)]
struct Launched {
    name: String,
    child: GroupChild,
    grace: Duration,
}

/// What ended one wait of the start-up loop.
enum Startup {
    Exited(std::io::Result<ExitStatus>),
    Interrupted(StopSignal),
    TimedOut,
    Probed(ProbeState),
}

impl Runner {
    /// Starts the server `spec` describes, with its log at `log_dir/<spec.log_file>`, and waits
    /// until its probe passes. `template` is the backend's view of the server (its `base_url`
    /// may hold the port placeholder). On every failure the server's process group is stopped
    /// before this returns.
    pub async fn start_server(
        &self,
        spec: &ProcessSpec,
        template: Option<&ServerInfo>,
        log_dir: &Path,
    ) -> Result<RunningServer> {
        let listen = spec
            .listen
            .as_ref()
            .with_context(|| format!("the server `{}` has no readiness probe", spec.name))?;
        debug_assert_eq!(spec.role, Role::Server);
        let choice = port::choose(&listen.host, listen.preferred_port)?;
        if let Some(note) = &choice.note {
            self.console.line(&format!("{}: {note}", spec.name));
        }
        if !is_loopback(&listen.host) {
            self.console.line(&format!(
                "warning: {} binds {}: it is reachable from other machines; benchy itself uses \
                 127.0.0.1",
                spec.name, listen.host
            ));
        }
        let spec = with_port(spec, choice.port);
        let info = ServerInfo {
            base_url: template.map_or_else(
                || format!("http://127.0.0.1:{}/v1", choice.port),
                |t| {
                    t.base_url
                        .replace(PORT_PLACEHOLDER, &choice.port.to_string())
                },
            ),
            model: listen.model.clone(),
            max_model_len: template.and_then(|t| t.max_model_len),
        };

        std::fs::create_dir_all(log_dir)
            .with_context(|| format!("cannot create {}", log_dir.display()))?;
        let log = log_dir.join(&spec.log_file);
        write_log_header(&log, &spec)?;
        self.console
            .line(&format!("{}: starting; log: {}", spec.name, log.display()));
        let started_at = SystemTime::now();
        let child = GroupChild::spawn(&spec, &log)?;
        let mut launched = Launched {
            name: spec.name.clone(),
            child,
            grace: Duration::from_secs_f64(spec.stop_grace_secs),
        };

        let root = format!("http://127.0.0.1:{}", choice.port);
        let mut probe = Probe::new(
            &root,
            &listen.health_path,
            &listen.models_path,
            vec![listen.model.clone()],
            true,
        )?;
        let deadline = spec
            .timeout_secs
            .map(|s| Instant::now() + Duration::from_secs_f64(s));
        let mut progress = self.console.process(&spec.name, "starting");
        let mut ticker = interval(POLL_INTERVAL);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last = ProbeState::NotReady("not asked yet".to_owned());
        loop {
            let event = tokio::select! {
                status = launched.child.wait() => Startup::Exited(status),
                signal = self.interrupts.after(0) => Startup::Interrupted(signal),
                () = until(deadline) => Startup::TimedOut,
                state = async { ticker.tick().await; probe.check().await } => Startup::Probed(state),
            };
            let pgid = nix::unistd::Pid::from_raw(launched.child.pid() as i32);
            match event {
                Startup::Probed(ProbeState::Ready)
                    if owned_by_group(choice.port, pgid) == Some(false) =>
                {
                    last = ProbeState::NotReady(format!(
                        "port {} is answered by a process outside {}'s group (another server \
                         took the port before it could bind it?)",
                        choice.port, spec.name
                    ));
                    progress.update(latest_line(&log));
                }
                Startup::Probed(ProbeState::Ready) => break,
                Startup::Probed(state) => {
                    last = state;
                    progress.update(latest_line(&log));
                }
                Startup::Exited(status) => {
                    drop(progress);
                    let status = describe_status(status);
                    self.stop_launched(&mut launched).await;
                    bail!(
                        "{} exited during start-up ({status})\n{}",
                        spec.name,
                        format_tail(&log)
                    );
                }
                Startup::Interrupted(signal) => {
                    drop(progress);
                    self.stop_launched(&mut launched).await;
                    return Err(Interrupted(signal).into());
                }
                Startup::TimedOut => {
                    drop(progress);
                    self.stop_launched(&mut launched).await;
                    bail!(
                        "{} was not ready after {} s (`startup_timeout`); last probe: {}\n{}",
                        spec.name,
                        spec.timeout_secs.unwrap_or_default(),
                        describe_probe(&last),
                        format_tail(&log)
                    );
                }
            }
        }
        self.console.line(&format!(
            "{}: ready after {:.1} s (pid {})",
            spec.name,
            progress.elapsed().as_secs_f64(),
            launched.child.pid()
        ));
        let info = ServerInfo {
            max_model_len: probe
                .served()
                .and_then(|s| s.max_model_len)
                .or(info.max_model_len),
            ..info
        };
        Ok(RunningServer {
            info,
            version: probe.server_version().await,
            started_at,
            ready_at: SystemTime::now(),
            log: Some(log),
            launched: Some(launched),
            interrupts: self.interrupts.clone(),
            console: self.console.clone(),
        })
    }

    /// Waits until the server at `url` (its root or its `/v1` API root) serves one of `models`
    /// (the first listed name is used), for up to [`ATTACH_TIMEOUT`]. Nothing is started, and
    /// [`RunningServer::stop`] leaves it running.
    pub async fn attach_server(&self, url: &str, models: &[String]) -> Result<RunningServer> {
        let root = server_root(url);
        let parsed = reqwest::Url::parse(&root)
            .map_err(|e| crate::failure::bad_input(format!("--server-url {url}: {e}")))?;
        let direct = parsed
            .host_str()
            .is_some_and(|h| is_loopback(h.trim_start_matches('[').trim_end_matches(']')));
        let started_at = SystemTime::now();
        let mut probe = Probe::new(&root, "/health", "/v1/models", models.to_vec(), direct)?;
        let deadline = Some(Instant::now() + ATTACH_TIMEOUT);
        let mut ticker = interval(POLL_INTERVAL);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last = ProbeState::NotReady("not asked yet".to_owned());
        loop {
            let event = tokio::select! {
                signal = self.interrupts.after(0) => Startup::Interrupted(signal),
                () = until(deadline) => Startup::TimedOut,
                state = async { ticker.tick().await; probe.check().await } => Startup::Probed(state),
            };
            match event {
                Startup::Probed(ProbeState::Ready) => break,
                Startup::Probed(state) => last = state,
                Startup::Interrupted(signal) => return Err(Interrupted(signal).into()),
                Startup::TimedOut => bail!(
                    "the server at {url} did not serve `{}` within {} s; last probe: {}",
                    models.join("` or `"),
                    ATTACH_TIMEOUT.as_secs_f64(),
                    describe_probe(&last)
                ),
                Startup::Exited(_) => unreachable!("no process to exit"),
            }
        }
        let served = probe.served().cloned();
        Ok(RunningServer {
            info: ServerInfo {
                base_url: format!("{root}/v1"),
                model: served
                    .as_ref()
                    .map_or_else(|| models[0].clone(), |s| s.id.clone()),
                max_model_len: served.and_then(|s| s.max_model_len),
            },
            version: probe.server_version().await,
            started_at,
            ready_at: SystemTime::now(),
            log: None,
            launched: None,
            interrupts: self.interrupts.clone(),
            console: self.console.clone(),
        })
    }

    /// Stops a launched server's group, saying so; a second signal kills at once.
    async fn stop_launched(&self, launched: &mut Launched) {
        stop_group(&self.console, &self.interrupts, launched).await;
    }
}

async fn stop_group(console: &Console, interrupts: &Interrupts, launched: &mut Launched) {
    if launched.child.group_alive() {
        console.line(&format!(
            "{}: stopping (SIGTERM, then SIGKILL after {} s; press Ctrl-C again to kill now)",
            launched.name,
            launched.grace.as_secs_f64()
        ));
    }
    let seen = interrupts.count();
    let status = launched
        .child
        .stop(launched.grace, async {
            interrupts.after(seen).await;
        })
        .await;
    tracing::debug!(name = %launched.name, status = %describe_status(status), "stopped");
}

impl RunningServer {
    /// How a server benchy started has exited, if it has (without waiting); `None` while it
    /// runs, and always for an attached server.
    pub fn try_exited(&mut self) -> Option<String> {
        let launched = self.launched.as_mut()?;
        launched.child.try_status().map(|s| describe_status(Ok(s)))
    }

    /// Keeps the server up until benchy is interrupted (then stops it and returns
    /// [`Interrupted`]) or the server exits by itself (an error with its log's tail).
    pub async fn serve_until_interrupted(mut self) -> Result<()> {
        let Some(launched) = self.launched.as_mut() else {
            let signal = self.interrupts.after(0).await;
            return Err(Interrupted(signal).into());
        };
        let name = launched.name.clone();
        let exited = tokio::select! {
            status = launched.child.wait() => Some(status),
            _ = self.interrupts.after(0) => None,
        };
        match exited {
            None => {
                let signal = self.interrupts.first().unwrap_or(StopSignal::Int);
                self.stop().await;
                Err(Interrupted(signal).into())
            }
            Some(status) => {
                self.stop().await;
                bail!(
                    "{name} exited unexpectedly ({})\n{}",
                    describe_status(status),
                    self.log.as_deref().map(format_tail).unwrap_or_default()
                )
            }
        }
    }

    /// Stops a server benchy started (its whole process group: SIGTERM, the grace, SIGKILL);
    /// leaves an attached server alone.
    pub async fn stop(&mut self) {
        if let Some(launched) = self.launched.as_mut() {
            stop_group(&self.console, &self.interrupts, launched).await;
        }
    }
}

/// The spec with its port placeholder replaced in arguments and environment.
fn with_port(spec: &ProcessSpec, port: u16) -> ProcessSpec {
    let port = port.to_string();
    let mut spec = spec.clone();
    for arg in &mut spec.args {
        *arg = arg.replace(PORT_PLACEHOLDER, &port);
    }
    for value in spec.env.values_mut() {
        value.value = value.value.replace(PORT_PLACEHOLDER, &port);
    }
    spec
}

/// The log starts with the command that wrote it (secrets shown as `***`).
fn write_log_header(log: &Path, spec: &ProcessSpec) -> Result<()> {
    let mut file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open the log file {}", log.display()))?;
    writeln!(file, "# benchy started: {}", spec.display_command())?;
    Ok(())
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

fn describe_probe(state: &ProbeState) -> String {
    match state {
        ProbeState::Ready => "ready".to_owned(),
        ProbeState::NotReady(why) => why.clone(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use benchy_core::EnvValue;

    use super::*;

    #[test]
    fn the_port_placeholder_is_replaced_everywhere() {
        let spec = ProcessSpec {
            env: BTreeMap::from([("PORT".into(), EnvValue::plain("{port}"))]),
            ..ProcessSpec::new(
                "s",
                Role::Server,
                "p",
                vec![
                    "--port".into(),
                    "{port}".into(),
                    "--url=http://h:{port}/".into(),
                ],
                "s.log",
            )
        };
        let spec = with_port(&spec, 4242);
        assert_eq!(spec.args, ["--port", "4242", "--url=http://h:4242/"]);
        assert_eq!(spec.env["PORT"].value, "4242");
    }
}
