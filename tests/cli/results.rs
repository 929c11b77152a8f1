//! `benchy results`, `compare` and `report` on two runs this test makes with the real lm-eval
//! against recording servers: one model, the same tasks, the parameters differing only in one
//! source's temperature (`file:a.json` says 0.7, `file:b.json` 0.6), and the servers answering
//! differently so the numbers move. The report is opened in a real headless Chromium.

use std::path::Path;
use std::process::Command;

use benchy_testkit::openai::{OpenAiOptions, RecordingOpenAi};
use serde_json::{Value as Json, json};

use crate::eval::lm_eval;
use crate::harness::{TestEnv, repo_root};

const SOURCE_A: &str = r#"{"do_sample": true, "temperature": 0.7, "top_p": 0.9}"#;
const SOURCE_B: &str = r#"{"do_sample": true, "temperature": 0.6, "top_p": 0.9}"#;

/// The run config: the shipped demo tasks, `gen` (arithmetic answered by generation; with
/// `--limit 4` the answers are 5, 8, 8 and 15) and `mc` (multiple choice).
fn runs_env() -> TestEnv {
    let mut env = TestEnv::new();
    env.env("BENCHY_LM_EVAL", lm_eval().to_str().unwrap());
    env.write("model/config.json", "{}");
    env.write("a.json", SOURCE_A);
    env.write("b.json", SOURCE_B);
    let include = repo_root().join("configs/tasks/lm-eval");
    for (name, task) in [("gen", "benchy_demo_gen"), ("mc", "benchy_demo_mc")] {
        env.write(
            &format!("tasks/{name}.yaml"),
            &format!(
                "name: {name}\ntask_name: {task}\ninclude_path: {}\n",
                include.display()
            ),
        );
    }
    env.write(
        "run.yaml",
        "model:\n  name: ./model\ntasks:\n  - gen\n  - mc\n",
    );
    env
}

/// `benchy eval` as run `run_id`, its parameters from `source`, against a server answering
/// `answer` to every question.
fn eval(env: &TestEnv, run_id: &str, source: &str, answer: &str) {
    let server = RecordingOpenAi::start(OpenAiOptions {
        model: "model".into(),
        completion: answer.into(),
        ..OpenAiOptions::default()
    });
    let url = server.base_url();
    let args = [
        "eval",
        "-c",
        "run.yaml",
        "--source",
        source,
        "--run-id",
        run_id,
        "--output-dir",
        "out",
        "--limit",
        "4",
        "--server-url",
        &url,
    ];
    env.run(&args).expect_code(0);
}

#[test]
fn two_runs_differing_in_a_sources_temperature_in_results_compare_and_the_report_in_chromium() {
    let env = runs_env();
    // " 8" is right twice in four questions, " 5" once
    eval(&env, "r1", "file:a.json", " 8");
    eval(&env, "r2", "file:b.json", " 5");
    leaderboard(&env);
    comparison(&env);
    report(&env);
}

/// Two rows of one model, told apart by the temperature; JSON and CSV files with `--out`.
fn leaderboard(env: &TestEnv) {
    let table = env.run(&["results", "out"]);
    table.expect_code(0);
    assert!(table.stderr.is_empty(), "{}", table.stderr);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].contains("gen (exact_match,none)") && lines[0].contains("mc (acc,none)"),
        "{}",
        table.stdout
    );
    // best overall first: 0.5 on gen beats 0.25, mc being the same
    assert!(
        lines[1].contains("model (temperature=0.7)"),
        "{}",
        table.stdout
    );
    assert!(
        lines[2].contains("model (temperature=0.6)"),
        "{}",
        table.stdout
    );
    assert!(lines[1].contains("0.5000 ± 0.2887"), "{}", table.stdout);

    let json = env.run(&["results", "out", "--format", "json", "--out", "publish"]);
    json.expect_code(0);
    let records = json.json();
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), 2, "{records:#?}");
    assert_eq!(records[0]["setup"], json!({"temperature": "0.7"}));
    assert_eq!(records[0]["gen_score"], json!(0.5));
    assert_eq!(records[1]["gen_score"], json!(0.25));
    assert_eq!(records[0]["status"], "ok");
    assert_eq!(records[0]["runs"], json!(["r1"]));
    let written: Json = serde_json::from_str(
        &std::fs::read_to_string(env.path().join("publish/leaderboard_table.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(&written, &json.json());
    let csv = std::fs::read_to_string(env.path().join("publish/leaderboard_table.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    for column in [
        "model_name",
        "overall_score",
        "gen_score",
        "gen_stderr",
        "mc_score",
    ] {
        assert!(header.split(',').any(|c| c == column), "{header}");
    }
    assert_eq!(csv.lines().count(), 3, "{csv}");
}

/// The metrics side by side, and the one parameter that differs with both sources.
fn comparison(env: &TestEnv) {
    let run = env.run(&["compare", "out/r1/model", "out/r2/model"]);
    run.expect_code(0);
    let text = &run.stdout;
    assert!(
        text.contains("temperature 0.7 (file:a.json) -> 0.6 (file:b.json)"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains("benchy_demo_gen") && l.contains("exact_match,none"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("0.5000 ± 0.2887")
            && line.contains("0.2500 ± 0.2500")
            && line.contains("-0.2500"),
        "{line}"
    );
    // 0.25 is well within twice the combined standard error (0.76); no answer was cut
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[words.len() - 4..], ["no", "0%", "->", "0%"], "{line}");
    assert!(
        text.contains("Other differences that change numbers:\n  none"),
        "same tools, limit, few-shot and chat mode: {text}"
    );

    // run ids with a model name, for CI: a drop of 0.25 fails a 0.1 budget, not a 0.3 one
    let ci = |budget: &str| {
        env.run(&[
            "compare",
            "r1",
            "r2",
            "--model",
            "model",
            "--output-dir",
            "out",
            "--fail-on-regression",
            budget,
        ])
    };
    let failed = ci("exact_match=0.1");
    failed.expect_code(1);
    assert!(
        failed
            .stderr
            .contains("gen benchy_demo_gen exact_match,none dropped by 0.2500"),
        "{}",
        failed.stderr
    );
    ci("exact_match=0.3").expect_code(0);
    let unknown = ci("f1=0.1");
    unknown.expect_code(2);
    assert!(unknown.stderr.contains("`f1`"), "{}", unknown.stderr);

    let json = env.run(&[
        "compare",
        "out/r1/model",
        "out/r2/model",
        "--format",
        "json",
    ]);
    json.expect_code(0);
    let parameters = &json.json()["parameters"];
    assert_eq!(
        parameters,
        &json!([{"kind": "parameter", "task": null, "name": "temperature",
                 "a": {"value": "0.7", "source": "file:a.json"},
                 "b": {"value": "0.6", "source": "file:b.json"}}])
    );
}

/// The report in a real headless Chromium: the charts are on the screenshot, and the page's text
/// holds the table and the parameters.
fn report(env: &TestEnv) {
    env.run(&["report", "out", "-o", "site/report.html"])
        .expect_code(0);
    let page = env.path().join("site/report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    for fetching in ["<script", "<link", "src=", "url("] {
        assert!(
            !html.contains(fetching),
            "the page fetches nothing: {fetching}"
        );
    }
    assert!(
        html.contains("href=\"../out/r1/model/\""),
        "a link to the run folder"
    );

    let text = chromium(env, &page, &["--dump-dom"]);
    for expected in [
        "Leaderboard",
        "model (temperature=0.7)",
        "model (temperature=0.6)",
        "0.5000 ± 0.2887",
        "file:a.json",
        "file:b.json",
        "top_p",
        "verified",
        "no sampling parameters",
        "generation requests carried exactly the resolved set",
    ] {
        assert!(
            text.contains(expected),
            "the page shows {expected}:\n{text}"
        );
    }

    let shot = env.path().join("shot.png");
    let flag = format!("--screenshot={}", shot.display());
    chromium(env, &page, &[&flag, "--window-size=1200,1600"]);
    let image = Image::read(&shot);
    // The bars are the page's only saturated colours; where they are is the chart area.
    let bars = image
        .bounding_box(Image::saturated)
        .expect("coloured bars on the screenshot");
    let coloured = image.count(bars, Image::saturated);
    // two charts of two bars, each bar hundreds of pixels long and about 18 high
    assert!(coloured > 5_000, "only {coloured} bar pixels in {bars:?}");
    // the error bars and labels: dark pixels among the bars
    let dark = image.count(bars, |p| p[0] < 80 && p[1] < 80 && p[2] < 80);
    assert!(dark > 200, "only {dark} dark pixels in {bars:?}");
}

/// Runs Debian's chromium headless on `page` with `extra` flags; its stdout.
fn chromium(env: &TestEnv, page: &Path, extra: &[&str]) -> String {
    let program = benchy_testkit::find_program("chromium").unwrap_or_else(|| {
        panic!("chromium is missing: run `make setup` (it installs Debian's chromium)")
    });
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(program)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.path().display()),
        ])
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .current_dir(env.path())
        .env("HOME", env.path())
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A decoded screenshot, as RGB(A) rows.
struct Image {
    width: usize,
    height: usize,
    channels: usize,
    pixels: Vec<u8>,
}

/// `(left, top, right, bottom)`, inclusive.
type Area = (usize, usize, usize, usize);

impl Image {
    fn read(path: &Path) -> Image {
        let file = std::io::BufReader::new(std::fs::File::open(path).expect("the screenshot"));
        let mut decoder = png::Decoder::new(file);
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
        let info = reader.next_frame(&mut pixels).expect("a frame");
        Image {
            width: info.width as usize,
            height: info.height as usize,
            channels: info.line_size / info.width as usize,
            pixels,
        }
    }

    fn pixel(&self, x: usize, y: usize) -> &[u8] {
        let at = (y * self.width + x) * self.channels;
        &self.pixels[at..at + 3]
    }

    /// A strong colour, not a grey: a chart's bar.
    fn saturated(p: &[u8]) -> bool {
        let (max, min) = (p.iter().max().unwrap(), p.iter().min().unwrap());
        max - min > 100
    }

    fn bounding_box(&self, wanted: fn(&[u8]) -> bool) -> Option<Area> {
        let mut area: Option<Area> = None;
        for y in 0..self.height {
            for x in 0..self.width {
                if wanted(self.pixel(x, y)) {
                    let (l, t, r, b) = area.unwrap_or((x, y, x, y));
                    area = Some((l.min(x), t.min(y), r.max(x), b.max(y)));
                }
            }
        }
        area
    }

    fn count(&self, (l, t, r, b): Area, wanted: impl Fn(&[u8]) -> bool) -> usize {
        (t..=b)
            .flat_map(|y| (l..=r).map(move |x| (x, y)))
            .filter(|&(x, y)| wanted(self.pixel(x, y)))
            .count()
    }
}
