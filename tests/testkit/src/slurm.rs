//! A real Slurm for tests: Debian's `slurmctld`, `slurmd` and `munge` (`make setup` installs
//! them) started as a private one-node cluster with this machine's CPUs, on 127.0.0.1, from a
//! `slurm.conf` generated in a temporary folder, with its own munge key and socket. Clients
//! reach it with `SLURM_CONF` ([`SlurmCluster::conf`]). Dropping it stops the daemons by PID and
//! kills what its jobs left running (slurmstepd detaches from slurmd, so job processes outlive
//! it), found by their environment's `SLURM_CLUSTER_NAME`, never by a name pattern. It must run
//! as root (the daemons and jobs run as root) and lives on the thread that started it (the
//! daemons get SIGTERM when that thread ends). Start to idle node: about half a second.
//!
//! ```no_run
//! let cluster = benchy_testkit::slurm::SlurmCluster::start();
//! let out = cluster.command("sbatch").args(["--wrap", "true"]).output().unwrap();
//! # let _ = out;
//! ```

use std::fs::File;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::find_program;

const TEMPLATE: &str = include_str!("slurm.conf.template");

/// The programs a cluster needs, each in the package `make setup` installs it from.
const PROGRAMS: &[&str] = &[
    "munged",
    "mungekey",
    "munge",
    "slurmctld",
    "slurmd",
    "scontrol",
    "sinfo",
    "sbatch",
    "squeue",
    "scancel",
];

/// How long the cluster may take to come up before the start is retried (a port taken between
/// choosing and binding makes a daemon exit) or fails.
const READY: Duration = Duration::from_secs(30);

/// A running one-node cluster; stopped, with its jobs' processes, on drop.
#[derive(Debug)]
pub struct SlurmCluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
    name: String,
    node: String,
    /// The daemons, in start order (munged, slurmctld, slurmd).
    daemons: Vec<(&'static str, Child)>,
}

impl SlurmCluster {
    /// Starts a cluster and waits until its node is idle. Panics (saying what to do) when not
    /// root, when Slurm is not installed, or when the cluster does not come up.
    pub fn start() -> SlurmCluster {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the Slurm tests start a private Slurm, whose daemons and jobs run as root: run them \
             as root"
        );
        if let Some(missing) = PROGRAMS.iter().find(|p| find_program(p).is_none()) {
            panic!("Slurm is missing (`{missing}` not found): run `make setup`");
        }
        let mut last = String::new();
        for _ in 0..3 {
            match SlurmCluster::try_start() {
                Ok(cluster) => return cluster,
                Err(why) => last = why,
            }
        }
        panic!("the test Slurm did not start: {last}");
    }

    fn try_start() -> Result<SlurmCluster, String> {
        // Short: munge's and slurmstepd's sockets live under it (108 bytes at most), and every
        // folder above munge's socket must be searchable by all, or munged refuses it.
        let dir = tempfile::Builder::new()
            .prefix("slurm")
            .tempdir_in("/tmp")
            .map_err(|e| e.to_string())?;
        for sub in ["etc", "munge", "state", "spool", "log", "run"] {
            std::fs::create_dir(dir.path().join(sub)).map_err(|e| e.to_string())?;
        }
        for open in [dir.path().to_owned(), dir.path().join("munge")] {
            std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| e.to_string())?;
        }
        let conf = dir.path().join("etc/slurm.conf");
        let mut cluster = SlurmCluster {
            conf,
            name: String::new(),
            node: String::new(),
            daemons: Vec::new(),
            dir,
        };
        cluster.start_munge()?;
        cluster.write_conf()?;
        let conf = cluster.conf.display().to_string();
        cluster.spawn("slurmctld", &["-D", "-i", "-f", &conf])?;
        cluster.wait_until("slurmctld", |c| {
            c.bounded(&["scontrol", "ping"])
                .is_some_and(|o| String::from_utf8_lossy(&o.stdout).contains("is UP"))
        })?;
        let node = cluster.node.clone();
        cluster.spawn("slurmd", &["-D", "-N", &node, "-f", &conf])?;
        cluster.wait_until("slurmd", |c| {
            c.bounded(&["sinfo", "-h", "-n", &node, "-o", "%T"])
                .is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        })?;
        Ok(cluster)
    }

    fn start_munge(&mut self) -> Result<(), String> {
        let munge = self.dir.path().join("munge");
        let key = munge.join("munge.key");
        let created = Command::new(find_program("mungekey").unwrap_or_default())
            .arg(format!("--keyfile={}", key.display()))
            .arg("--create")
            .output()
            .map_err(|e| e.to_string())?;
        if !created.status.success() {
            return Err(format!(
                "mungekey: {}",
                String::from_utf8_lossy(&created.stderr)
            ));
        }
        let socket = munge.join("munge.sock");
        self.spawn(
            "munged",
            &[
                "-F",
                &format!("--key-file={}", key.display()),
                &format!("--socket={}", socket.display()),
                &format!(
                    "--pid-file={}",
                    self.dir.path().join("run/munged.pid").display()
                ),
                &format!("--seed-file={}", munge.join("munged.seed").display()),
            ],
        )?;
        let socket = socket.display().to_string();
        self.wait_until("munged", |c| {
            c.bounded(&["munge", "-S", &socket, "-n"])
                .is_some_and(|o| o.status.success())
        })
    }

    /// `slurm.conf` for this machine: its CPUs and memory as `slurmd -C` reports them, two free
    /// ports, a cluster name of its own.
    fn write_conf(&mut self) -> Result<(), String> {
        let probe = Command::new(find_program("slurmd").unwrap_or_default())
            .arg("-C")
            .output()
            .map_err(|e| e.to_string())?;
        let probe = String::from_utf8_lossy(&probe.stdout).into_owned();
        let field = |name: &str| {
            probe
                .split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .map(str::to_owned)
                .ok_or_else(|| format!("`slurmd -C` printed no {name}: {probe}"))
        };
        let (cpus, memory) = (field("CPUs=")?, field("RealMemory=")?);
        let ctld_port = free_port(None)?;
        let slurmd_port = free_port(Some(ctld_port))?;
        let hostname =
            std::fs::read_to_string("/proc/sys/kernel/hostname").map_err(|e| e.to_string())?;
        let hostname = hostname.trim().split('.').next().unwrap_or_default();
        self.name = format!("c{ctld_port}");
        self.node = format!("n{ctld_port}");
        let conf = TEMPLATE
            .replace("@DIR@", &self.dir.path().display().to_string())
            .replace("@CLUSTER@", &self.name)
            .replace("@HOSTNAME@", hostname)
            .replace("@CTLD_PORT@", &ctld_port.to_string())
            .replace("@SLURMD_PORT@", &slurmd_port.to_string())
            .replace("@NODENAME@", &self.node)
            .replace("@CPUS@", &cpus)
            .replace("@MEMORY@", &memory);
        std::fs::write(&self.conf, conf).map_err(|e| e.to_string())?;
        std::fs::write(self.dir.path().join("etc/plugstack.conf"), "").map_err(|e| e.to_string())
    }

    /// Starts a daemon in the foreground, its output in `log/<name>.out`.
    fn spawn(&mut self, name: &'static str, args: &[&str]) -> Result<(), String> {
        let log = File::create(self.dir.path().join(format!("log/{name}.out")))
            .map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(find_program(name).unwrap_or_default());
        command
            .args(args)
            .env("SLURM_CONF", &self.conf)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err);
        stop_with_this_thread(&mut command);
        let child = command.spawn().map_err(|e| format!("{name}: {e}"))?;
        self.daemons.push((name, child));
        Ok(())
    }

    /// Polls `ready` until it holds; a daemon that exits meanwhile, or the time running out, is
    /// an error with the daemons' logs.
    fn wait_until(
        &mut self,
        what: &str,
        ready: impl Fn(&SlurmCluster) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + READY;
        while !ready(self) {
            let exited = self
                .daemons
                .iter_mut()
                .find_map(|(name, child)| child.try_wait().ok().flatten().map(|_| *name));
            if exited.is_some() || Instant::now() > deadline {
                let why = exited.map_or("not ready in time".to_owned(), |d| format!("{d} exited"));
                return Err(format!("{what}: {why}\n{}", self.logs()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// The daemons' own logs, for a failure message.
    fn logs(&self) -> String {
        let logs = std::fs::read_dir(self.dir.path().join("log"))
            .into_iter()
            .flatten()
            .flatten();
        logs.map(|entry| {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("--- {}\n{}", entry.path().display(), tail.join("\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
    }

    /// The cluster's `slurm.conf`: `SLURM_CONF` for every client.
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// A Slurm client command (`sbatch`, `squeue`, `scancel`...) talking to this cluster.
    pub fn command(&self, program: &str) -> Command {
        let mut command =
            Command::new(find_program(program).unwrap_or_else(|| PathBuf::from(program)));
        command.env("SLURM_CONF", &self.conf);
        command
    }

    /// A client command's output, bounded (a client blocks about 10 s when the controller is
    /// gone); `None` when it did not answer in time.
    fn bounded(&self, words: &[&str]) -> Option<Output> {
        let mut child = self
            .command(words[0])
            .args(&words[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(2);
        while child.try_wait().ok()?.is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().ok()
    }

    /// `squeue` for job `id`, one line per array task, `INDEX|STATE`, finished ones included.
    pub fn job_states(&self, id: &str) -> Vec<(u32, String)> {
        let out = self
            .command("squeue")
            .args(["-h", "-r", "-t", "all", "-j", id, "-o", "%K|%T"])
            .output()
            .expect("squeue runs");
        let mut states: Vec<(u32, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (index, state) = l.trim().split_once('|')?;
                Some((index.parse().ok()?, state.to_owned()))
            })
            .collect();
        states.sort();
        states
    }

    /// Every job the cluster still holds as pending or running (`squeue`'s default view).
    pub fn queued(&self) -> String {
        let out = self
            .command("squeue")
            .args(["-h", "-o", "%i %T"])
            .output()
            .expect("squeue runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The live processes of this cluster's jobs: slurmstepd (its environment names this
    /// cluster's `slurm.conf`), everything a job runs (its environment names this cluster), and
    /// their descendants.
    pub fn job_processes(&self) -> Vec<i32> {
        let conf = format!("SLURM_CONF={}", self.conf.display());
        let cluster = format!("SLURM_CLUSTER_NAME={}", self.name);
        let processes = processes();
        let mut found: Vec<i32> = processes
            .iter()
            .filter(|p| {
                let stepd = p.comm == "slurmstepd" && p.environ.contains(&conf);
                stepd || p.environ.contains(&cluster)
            })
            .map(|p| p.pid)
            .collect();
        // descendants, whatever their environment
        loop {
            let more: Vec<i32> = processes
                .iter()
                .filter(|p| found.contains(&p.ppid) && !found.contains(&p.pid))
                .map(|p| p.pid)
                .collect();
            if more.is_empty() {
                break;
            }
            found.extend(more);
        }
        found.retain(|&pid| pid != std::process::id() as i32);
        found
    }

    fn stop_daemon(&mut self, name: &str) {
        if let Some((_, child)) = self.daemons.iter_mut().find(|(n, _)| *n == name) {
            stop(child);
        }
    }
}

impl Drop for SlurmCluster {
    /// slurmd and slurmctld first (no job starts afterwards), then what the jobs left running,
    /// then munged.
    fn drop(&mut self) {
        self.stop_daemon("slurmd");
        self.stop_daemon("slurmctld");
        let left = self.job_processes();
        for &pid in &left {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while left.iter().any(|&pid| process(pid).is_some()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stop_daemon("munged");
    }
}

/// SIGTERM, ten seconds, SIGKILL; reaped.
fn stop(child: &mut Child) {
    if child.try_wait().ok().flatten().is_some() {
        return;
    }
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asks the kernel to SIGTERM the daemon when the thread that started it ends (a test process
/// killed outright leaves no cluster behind).
#[allow(unsafe_code)]
fn stop_with_this_thread(command: &mut Command) {
    // SAFETY: runs between fork and exec; prctl is an async-signal-safe system call and the
    // error is made from a raw errno value without allocating.
    unsafe {
        command
            .pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(io::Error::from));
    }
}

/// A free TCP port on 127.0.0.1 below the ephemeral range (so no outgoing connection takes it
/// before the daemon binds it), other than `besides`; tried from a place that differs between
/// clusters started at once.
fn free_port(besides: Option<u16>) -> Result<u16, String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let start = (nanos ^ std::process::id()) % 12000;
    (0..12000u32)
        .map(|i| 20000 + ((start + i * 7) % 12000) as u16)
        .find(|&port| {
            Some(port) != besides && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
        })
        .ok_or_else(|| "no free port in 20000-31999".to_owned())
}

/// A process as `/proc` shows it.
struct Process {
    pid: i32,
    ppid: i32,
    comm: String,
    environ: Vec<String>,
}

fn processes() -> Vec<Process> {
    let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    entries
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter_map(process)
        .collect()
}

/// Process `pid`, unless it is gone or a zombie.
fn process(pid: i32) -> Option<Process> {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    // after the command's `(name)`, which may hold spaces: the state, then the parent
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let (state, ppid) = (fields.next()?, fields.next()?.parse().ok()?);
    if state == "Z" {
        return None;
    }
    let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
    let environ = std::fs::read(dir.join("environ")).unwrap_or_default();
    let environ = environ
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    Some(Process {
        pid,
        ppid,
        comm: comm.trim().to_owned(),
        environ,
    })
}
