//! The test harness: every test gets a fresh temporary directory as its working directory and
//! HOME, and an environment without the caller's Hugging Face and benchy variables, so no test
//! depends on the machine or on another test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// Variables a test must not inherit from whoever runs `cargo test`, besides the Hugging Face
/// ones (`benchy_testkit::python::HUB_VARIABLES`).
const SCRUBBED: &[&str] = &[
    "BENCHY_PLUGIN_PATH",
    "BENCHY_LM_EVAL",
    "BENCHY_INSPECT",
    // `make test` exports it; a test that wants the setup environment sets it itself
    "BENCHY_HOME",
    "XDG_DATA_HOME",
    // settings files: only the test's own (HOME is the test directory)
    "XDG_CONFIG_HOME",
    "BENCHY_CONFIG",
];

/// `benchy config explain` of the run config most tests write, as JSON.
pub const EXPLAIN_JSON: &[&str] = &[
    "config",
    "explain",
    "-c",
    "models/run.yaml",
    "--format",
    "json",
];

pub struct TestEnv {
    pub dir: TempDir,
    envs: Vec<(String, String)>,
    online: bool,
}

impl TestEnv {
    pub fn new() -> Self {
        TestEnv {
            dir: tempfile::tempdir().expect("temp dir"),
            envs: Vec::new(),
            online: false,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` to `relative` under the test directory, creating folders.
    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Sets an environment variable for every command this env runs.
    pub fn env(&mut self, key: &str, value: &str) -> &mut Self {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Lets commands reach a (stand-in) Hub at `endpoint`: sets HF_ENDPOINT and drops the
    /// default HF_HUB_OFFLINE=1.
    pub fn hub(&mut self, endpoint: &str) -> &mut Self {
        self.online = true;
        self.env("HF_ENDPOINT", endpoint)
    }

    /// A `benchy` command in the test directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_benchy"));
        cmd.args(args).current_dir(self.dir.path());
        for key in SCRUBBED.iter().chain(benchy_testkit::python::HUB_VARIABLES) {
            cmd.env_remove(key);
        }
        cmd.env("HOME", self.dir.path());
        // Offline by default: a test that wants the network (a stand-in Hub) says so.
        if !self.online {
            cmd.env("HF_HUB_OFFLINE", "1");
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd
    }

    /// `benchy config explain -c models/run.yaml --format json EXTRA...`: the run config most
    /// tests write there.
    pub fn explain_json(&self, extra: &[&str]) -> Run {
        let args: Vec<&str> = EXPLAIN_JSON.iter().chain(extra).copied().collect();
        self.run(&args)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().expect("benchy runs");
        Run::from(output)
    }

    /// `benchy args` with `relative` (under the test directory) as its working directory.
    pub fn run_in(&self, relative: &str, args: &[&str]) -> Run {
        let mut command = self.command(args);
        command.current_dir(self.path().join(relative));
        Run::from(command.output().expect("benchy runs"))
    }
}

/// A finished command with its output as text.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics with the whole output unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// The repository root (for the shipped configs and the shared reference files).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `benchy` running in the background: its stdout read line by line, its stderr collected, so
/// a test can wait for a line, send a signal, and wait for the exit.
pub struct Background {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl TestEnv {
    /// Starts `benchy args` without waiting for it.
    pub fn spawn(&self, args: &[&str]) -> Background {
        use std::io::{BufRead, BufReader, Read};
        use std::process::Stdio;
        use std::sync::{Arc, Mutex, mpsc};

        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("benchy starts");
        let (tx, lines) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let all_out = Arc::clone(&stdout);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                all_out.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let mut err = child.stderr.take().unwrap();
        let all_err = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                all_err
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Background {
            child,
            lines,
            stdout,
            stderr,
        }
    }
}

impl Background {
    /// The next stdout line, waiting up to `limit`; panics with the output so far if none comes.
    #[track_caller]
    pub fn next_line(&self, limit: std::time::Duration) -> String {
        self.lines.recv_timeout(limit).unwrap_or_else(|_| {
            panic!(
                "no stdout line within {limit:?}\n--- stderr so far\n{}",
                self.stderr()
            )
        })
    }

    /// Waits until stderr contains `needle` (up to `limit`).
    #[track_caller]
    pub fn wait_stderr(&self, needle: &str, limit: std::time::Duration) {
        let deadline = std::time::Instant::now() + limit;
        while !self.stderr().contains(needle) {
            assert!(
                std::time::Instant::now() < deadline,
                "stderr never said {needle:?}\n--- stderr\n{}",
                self.stderr()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal` to benchy itself (not its children: they are in their own group).
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal).expect("signal");
    }

    /// Waits for benchy to exit, up to `limit` (a test that would hang fails instead, and kills
    /// benchy so nothing is left behind).
    #[track_caller]
    pub fn wait(mut self, limit: std::time::Duration) -> Run {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // let the reader threads drain the pipes
                std::thread::sleep(std::time::Duration::from_millis(50));
                use std::os::unix::process::ExitStatusExt;
                return Run {
                    code: status
                        .code()
                        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
                    stdout: self.stdout.lock().unwrap().clone(),
                    stderr: self.stderr(),
                };
            }
            if std::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "benchy did not exit within {limit:?}\n--- stderr\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Background {
    /// A test that fails half-way still stops its benchy (and so benchy's server): SIGTERM, a
    /// minute for benchy's own stop, then SIGKILL.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal(nix::sys::signal::Signal::SIGTERM);
            let stopped = eventually(std::time::Duration::from_secs(60), || {
                self.child.try_wait().ok().flatten().is_some()
            });
            if !stopped {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port` (`body` as JSON for a POST); the whole response,
/// status line first.
pub fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    text
}

/// The live (not zombie) processes whose process group is `pgid` (benchy's own `/proc` reader).
pub fn live_group_members(pgid: i32) -> Vec<i32> {
    benchy::util::procfs::live_group_members(pgid).expect("/proc is readable")
}

/// Every live process descending from `pid` (children, their children...).
pub fn descendants(pid: i32) -> Vec<i32> {
    benchy::util::procfs::descendants(pid).expect("/proc is readable")
}

pub use benchy::util::procfs::alive;

/// Waits up to `limit` for `check` to hold.
pub fn eventually(limit: std::time::Duration, check: impl FnMut() -> bool) -> bool {
    benchy::util::poll::eventually(limit, std::time::Duration::from_millis(20), check)
}

/// Fails unless `output` says `needle`, showing both.
#[track_caller]
pub fn says(output: &str, needle: &str) {
    assert!(output.contains(needle), "{needle}\n--- output\n{output}");
}
