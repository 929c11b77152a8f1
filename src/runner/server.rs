//! Servers: start one from its spec and wait until it serves its model, or attach to one that
//! is already running (`--server-url`); then keep it until the run is done or interrupted, and
//! stop it. A server benchy attached to is never stopped by benchy.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use benchy_core::backend::ServerInfo;
use benchy_core::process::PORT_PLACEHOLDER;
use benchy_core::{Listen, ProcessSpec};
use tokio::time::{Instant, MissedTickBehavior, interval, sleep_until};

use super::group::GroupChild;
use super::interrupt::{Interrupted, Interrupts, StopSignal};
use super::listener::owned_by_group;
use super::log_tail::{format_tail, latest_line};
use super::port::{self, is_loopback};
use super::progress::{Console, Progress};
use super::readiness::{POLL_INTERVAL, Probe, ProbeState};
use super::startup::{PhaseWatch, StartupLedger};
use super::{Runner, describe_status};
use crate::runner::server_url::ServerUrl;
use crate::util::secrets;

/// How long an existing server (`--server-url`) may take to list the model: the start-up time a
/// launched server gets by default, since it may still be loading.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(900);

/// A server that answers for its model.
#[derive(Debug)]
pub struct RunningServer {
    /// What clients use: the API root on loopback, the served model name and its context length
    /// as the server lists them.
    pub info: ServerInfo,
    /// The server's own version (its `version_path`, or `/version` of an attached server), when
    /// it tells.
    pub version: Option<String>,
    /// When benchy started it (or began probing an existing one) and when it was ready.
    pub started_at: SystemTime,
    pub ready_at: SystemTime,
    /// The server's log, when benchy started it.
    pub log: Option<PathBuf>,
    /// How long each phase of its start took, when benchy started it.
    pub startup: Option<StartupLedger>,
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
    /// Its port, held from other servers of this process while it runs.
    _port: port::Held,
}

/// Why a server did not become ready.
enum NotReady {
    /// The launched server exited (its status in words).
    Exited(String),
    Interrupted(StopSignal),
    /// The deadline passed; the last probe's answer.
    TimedOut(String),
}

/// The launched process a readiness wait also watches: its exit ends the wait, and the port
/// must be held by its own process group.
struct Watched<'a> {
    launched: &'a mut Launched,
    port: u16,
    log: &'a Path,
    phases: &'a mut PhaseWatch,
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
        let held = self.choose_port(&spec.name, listen)?;
        let port = held.0;
        let spec = with_port(spec, port);
        let log = open_log(log_dir, &spec)?;
        self.console
            .line(&format!("{}: starting; log: {}", spec.name, log.display()));
        let started_at = SystemTime::now();
        let mut launched = Launched {
            name: spec.name.clone(),
            child: GroupChild::spawn(&spec, &log)?,
            grace: Duration::from_secs_f64(spec.stop_grace_secs),
            _port: held,
        };
        let root = format!("http://127.0.0.1:{port}");
        let models = vec![listen.model.clone()];
        let mut probe = Probe::new(
            &root,
            &listen.health_path,
            &listen.models_path,
            models,
            true,
        )?;
        let deadline = spec.timeout_secs.map(Duration::from_secs_f64);
        let mut phases = PhaseWatch::new(&log, &listen.startup_phases);
        let watched = Watched {
            launched: &mut launched,
            port,
            log: &log,
            phases: &mut phases,
        };
        let waited = self
            .wait_ready(&mut probe, deadline, &spec.name, Some(watched))
            .await;
        if let Err(not_ready) = waited {
            self.stop_launched(&mut launched).await;
            return Err(self.not_ready_error(not_ready, &spec, &log));
        }
        let startup = phases.ledger();
        let info = ServerInfo {
            base_url: template.map_or_else(
                || format!("{root}/v1"),
                |t| t.base_url.replace(PORT_PLACEHOLDER, &port.to_string()),
            ),
            model: listen.model.clone(),
            max_model_len: probe
                .served()
                .and_then(|s| s.max_model_len)
                .or(template.and_then(|t| t.max_model_len)),
            capacity: template.and_then(|t| t.capacity.clone()),
        };
        let version = match &listen.version_path {
            Some(path) => probe.server_version(path).await,
            None => None,
        };
        let mut server = self.running(info, version, started_at, Some(log), Some(launched));
        server.startup = Some(startup);
        Ok(server)
    }

    /// Waits until the server at `url` (its root or its `/v1` API root) serves one of `models`
    /// (the first listed name is used), for up to [`ATTACH_TIMEOUT`]. Nothing is started, and
    /// [`RunningServer::stop`] leaves it running.
    pub async fn attach_server(&self, url: &ServerUrl, models: &[String]) -> Result<RunningServer> {
        let root = url.root();
        let started_at = SystemTime::now();
        let mut probe = Probe::new(
            root,
            "/health",
            "/v1/models",
            models.to_vec(),
            url.is_loopback(),
        )?;
        let waited = self
            .wait_ready(&mut probe, Some(ATTACH_TIMEOUT), "the server", None)
            .await;
        match waited {
            Ok(()) => {}
            Err(NotReady::Interrupted(signal)) => return Err(Interrupted(signal).into()),
            Err(NotReady::TimedOut(last) | NotReady::Exited(last)) => bail!(
                "the server at {root} did not serve `{}` within {} s; last probe: {last}",
                models.join("` or `"),
                ATTACH_TIMEOUT.as_secs_f64(),
            ),
        }
        let served = probe.served().cloned();
        let info = ServerInfo {
            base_url: url.api_base(),
            model: served
                .as_ref()
                .map_or_else(|| models[0].clone(), |s| s.id.clone()),
            max_model_len: served.and_then(|s| s.max_model_len),
            capacity: None,
        };
        let version = probe.server_version("/version").await;
        Ok(self.running(info, version, started_at, None, None))
    }

    /// The port the server will bind: the provider's when free, else a free one, said in a line.
    fn choose_port(&self, name: &str, listen: &Listen) -> Result<port::Held> {
        let choice = port::choose(&listen.host, listen.preferred_port)?;
        if let Some(note) = &choice.note {
            self.console.line(&format!("{name}: {note}"));
        }
        if !is_loopback(&listen.host) {
            self.console.line(&format!(
                "warning: {name} binds {}: it is reachable from other machines; benchy itself \
                 uses 127.0.0.1",
                listen.host
            ));
        }
        Ok(port::Held(choice.port))
    }

    /// Probes every [`POLL_INTERVAL`] until the server is ready, the deadline passes, benchy is
    /// interrupted or the watched process exits. The watched process must hold the port.
    async fn wait_ready(
        &self,
        probe: &mut Probe,
        deadline: Option<Duration>,
        name: &str,
        mut watched: Option<Watched<'_>>,
    ) -> Result<(), NotReady> {
        let deadline = deadline.map(|d| Instant::now() + d);
        let mut progress = self.console.process(name, "starting");
        let mut ticker = interval(POLL_INTERVAL);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last = "not asked yet".to_owned();
        loop {
            let exited = async {
                match watched.as_mut() {
                    Some(w) => describe_status(w.launched.child.wait().await),
                    None => std::future::pending().await,
                }
            };
            let state = tokio::select! {
                status = exited => return Err(NotReady::Exited(status)),
                signal = self.interrupts.after(0) => return Err(NotReady::Interrupted(signal)),
                () = until(deadline) => return Err(NotReady::TimedOut(last)),
                state = async { ticker.tick().await; probe.check().await } => state,
            };
            match (state, watched.as_ref()) {
                (ProbeState::Ready, None) => break,
                (ProbeState::Ready, Some(w)) => match foreign_listener(w) {
                    None => break,
                    Some(why) => last = why,
                },
                (ProbeState::NotReady(why), _) => last = why,
            }
            if let Some(w) = watched.as_mut() {
                w.phases.look();
            }
            progress.update(watched.as_ref().and_then(|w| latest_line(w.log)));
        }
        self.say_ready(progress, name, watched.as_ref());
        Ok(())
    }

    fn say_ready(&self, progress: Progress, name: &str, watched: Option<&Watched<'_>>) {
        let elapsed = progress.elapsed().as_secs_f64();
        drop(progress);
        if let Some(w) = watched {
            self.console.line(&format!(
                "{name}: ready after {elapsed:.1} s (pid {})",
                w.launched.child.pid()
            ));
        }
    }

    /// The error for a launched server that did not become ready, with its log's tail.
    fn not_ready_error(
        &self,
        not_ready: NotReady,
        spec: &ProcessSpec,
        log: &Path,
    ) -> anyhow::Error {
        match not_ready {
            NotReady::Interrupted(signal) => Interrupted(signal).into(),
            NotReady::Exited(status) => anyhow::anyhow!(
                "{} exited during start-up ({status})\n{}",
                spec.name,
                format_tail(log)
            ),
            NotReady::TimedOut(last) => anyhow::anyhow!(
                "{} was not ready after {} s (`startup_timeout`); last probe: {last}\n{}",
                spec.name,
                spec.timeout_secs.unwrap_or_default(),
                format_tail(log)
            ),
        }
    }

    fn running(
        &self,
        info: ServerInfo,
        version: Option<String>,
        started_at: SystemTime,
        log: Option<PathBuf>,
        launched: Option<Launched>,
    ) -> RunningServer {
        RunningServer {
            info,
            version,
            started_at,
            ready_at: SystemTime::now(),
            log,
            startup: None,
            launched,
            interrupts: self.interrupts.clone(),
            console: self.console.clone(),
        }
    }

    /// Stops a launched server's group, saying so; a second signal kills at once.
    async fn stop_launched(&self, launched: &mut Launched) {
        stop_group(&self.console, &self.interrupts, launched).await;
    }
}

/// Why the port does not count as the watched server's yet: another process group's socket
/// listens on it (another run's server took the port before this one could bind it).
fn foreign_listener(watched: &Watched<'_>) -> Option<String> {
    let pgid = nix::unistd::Pid::from_raw(watched.launched.child.pid() as i32);
    (owned_by_group(watched.port, pgid) == Some(false)).then(|| {
        format!(
            "port {} is answered by a process outside {}'s group (another server took the \
             port before it could bind it?)",
            watched.port, watched.launched.name
        )
    })
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
        self.stop().await;
        match exited {
            None => Err(Interrupted(self.interrupts.first().unwrap_or(StopSignal::Int)).into()),
            Some(status) => bail!(
                "{name} exited unexpectedly ({})\n{}",
                describe_status(status),
                self.log.as_deref().map(format_tail).unwrap_or_default()
            ),
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

/// Creates `log_dir` and the server's log in it, which starts with the command that writes it
/// (secrets as `***`).
fn open_log(log_dir: &Path, spec: &ProcessSpec) -> Result<PathBuf> {
    std::fs::create_dir_all(log_dir)
        .with_context(|| format!("cannot create {}", log_dir.display()))?;
    let log = log_dir.join(&spec.log_file);
    let mut file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("cannot open the log file {}", log.display()))?;
    writeln!(file, "# benchy started: {}", secrets::shown_command(spec))?;
    Ok(log)
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use benchy_core::{EnvValue, Role};

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
