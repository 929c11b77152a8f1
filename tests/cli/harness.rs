//! The test harness: every test gets a fresh temporary directory as its working directory and
//! HOME, and an environment without the caller's Hugging Face and benchy variables, so no test
//! depends on the machine or on another test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// Variables a test must not inherit from whoever runs `cargo test`.
const SCRUBBED: &[&str] = &[
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_HOME",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_ENDPOINT",
    "HF_HUB_OFFLINE",
    "BENCHY_PLUGIN_PATH",
    "BENCHY_LM_EVAL",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
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
        for key in SCRUBBED {
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

    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().expect("benchy runs");
        Run::from(output)
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
