//! Tasks in a mode: the route each takes, what a thinking mode sends and expects, and the
//! questions asked before planning.

use benchy_core::backend::{ModeView, PlanRequest};
use benchy_core::{BackendError, Expected, Key, ParamValue};
use serde_json::json;

use super::plan::{answered, lm_eval};
use super::*;
use crate::jobs::group;
use crate::routes::Route;
use crate::task_types::TaskTypes;

fn mode(name: &str, thinks: bool, by_task: bool) -> ModeView {
    ModeView {
        name: name.into(),
        defined_in: "run.yaml:9".into(),
        chosen_by: "run.yaml:3".into(),
        by_task,
        system_prompt: None,
        thinks,
        think_end: "</think>".into(),
    }
}

/// A task in `mode` with the mode's switch and budget resolved.
fn in_mode(name: &str, task_name: &str, mode: ModeView) -> TaskView {
    let switch = json!({"enable_thinking": mode.thinks});
    let mut t = task(
        name,
        task_name,
        json!({}),
        resolved(&[
            (Key::Temperature, ParamValue::Float(0.6)),
            (Key::MaxNewTokens, ParamValue::Int(4096)),
            (Key::ChatTemplateKwargs, ParamValue::Json(switch)),
        ]),
    );
    t.mode = Some(mode);
    t
}

/// A plan request of `view` against the test's server.
fn request(view: &RunView) -> PlanRequest {
    PlanRequest {
        run: view.clone(),
        server: Some(server()),
        options: options(),
        answers: Default::default(),
    }
}

fn types() -> TaskTypes {
    TaskTypes::read(&answered(&[
        ("gsm8k", "generate_until"),
        ("hellaswag", "multiple_choice"),
    ]))
}

#[test]
fn generating_tasks_in_a_mode_go_over_chat_and_scoring_ones_stay_on_completions() {
    let view = run(vec![
        in_mode("gen", "gsm8k", mode("instruct", false, false)),
        in_mode("mc", "hellaswag", mode("instruct", false, false)),
    ]);
    let jobs = group(&view, |_| Ok(lm_eval()), &types()).unwrap();
    assert_eq!(jobs.len(), 2, "one job per route");
    assert!(jobs[0].route.is_chat());
    assert_eq!(jobs[1].route, Route::Completions);
    assert_eq!(
        jobs[0].gen_kwargs["chat_template_kwargs"],
        json!({"enable_thinking": false})
    );
    assert!(!jobs[1].gen_kwargs.contains_key("chat_template_kwargs"));
    let request = request(&view);
    let chat = jobs[0].spec(&request, &server(), &mut Vec::new());
    assert_eq!(arg(&chat.args, "--model"), Some("local-chat-completions"));
    let expects = chat.expects.unwrap();
    assert_eq!(
        expects.generation["chat_template_kwargs"],
        Expected::Exactly(json!({"enable_thinking": false}))
    );
    assert_eq!(
        expects.answer_stops, None,
        "a mode that does not think keeps its stops"
    );
    let completions = jobs[1].spec(&request, &server(), &mut Vec::new());
    assert_eq!(arg(&completions.args, "--model"), Some("local-completions"));
    assert!(
        !completions
            .expects
            .unwrap()
            .generation
            .contains_key("chat_template_kwargs"),
        "no template renders over completions"
    );
}

#[test]
fn a_thinking_mode_sends_no_stop_and_cuts_the_answer_after_the_reasoning() {
    let view = run(vec![in_mode("gen", "gsm8k", mode("thinking", true, false))]);
    let jobs = group(&view, |_| Ok(lm_eval()), &types()).unwrap();
    assert_eq!(jobs[0].gen_kwargs["until"], json!([]));
    assert_eq!(jobs[0].gen_kwargs["max_gen_toks"], json!(4096));
    let request = request(&view);
    let spec = jobs[0].spec(&request, &server(), &mut Vec::new());
    assert_eq!(
        json_arg(&spec.args, "--model_args")["think_end_token"],
        json!("</think>")
    );
    let expects = spec.expects.unwrap();
    assert_eq!(expects.generation["stop"], Expected::Exactly(json!([])));
    assert!(!expects.added.contains_key("stop"));
    let stops = expects.answer_stops.unwrap();
    assert_eq!(stops.stops, ["Question:", "\n\n"]);
    assert_eq!(stops.think_end, "</think>");
    let notes = crate::thinking::notes(&view.tasks[0], &lm_eval(), &types(), &stops.stops);
    assert!(
        notes[0].message.contains("carry no stop string"),
        "{notes:?}"
    );
    assert!(
        notes[1]
            .message
            .contains("max_new_tokens 4096 (from test:x) replaces the 256 tokens"),
        "{notes:?}"
    );
}

#[test]
fn a_mode_a_task_asks_for_is_refused_where_the_task_only_scores() {
    let view = run(vec![in_mode(
        "mc",
        "hellaswag",
        mode("instruct", false, true),
    )]);
    let err = group(&view, |_| Ok(lm_eval()), &types()).unwrap_err();
    let BackendError::Input(problem) = err else {
        panic!("{err:?}")
    };
    assert!(
        problem
            .message
            .starts_with("run.yaml:3: `mode`: task `mc` asks for mode `instruct`"),
        "{}",
        problem.message
    );
}

#[test]
fn a_mode_s_system_prompt_starts_every_request() {
    let mut magistral = mode("thinking", true, false);
    magistral.system_prompt = Some("Think first.".into());
    let view = run(vec![in_mode("gen", "gsm8k", magistral)]);
    let jobs = group(&view, |_| Ok(lm_eval()), &types()).unwrap();
    let request = request(&view);
    let spec = jobs[0].spec(&request, &server(), &mut Vec::new());
    assert_eq!(
        arg(&spec.args, "--system_instruction"),
        Some("Think first.")
    );
    assert_eq!(
        spec.expects.unwrap().system.as_deref(),
        Some("Think first.")
    );
}

#[test]
fn lm_eval_is_asked_about_every_task_when_it_can_be_and_a_mode_needs_it() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("lm_eval");
    let at = |program: &std::path::Path| {
        let program = program.to_owned();
        move |_: &TaskView| {
            Ok(crate::executable::LmEval {
                program: program.clone(),
                origin: "test".into(),
                cwd: None,
            })
        }
    };
    let view = run(vec![
        in_mode("gen", "gsm8k", mode("instruct", false, false)),
        task("plain", "arc_easy", json!({}), sampling()),
    ]);
    std::fs::write(&program, "#!/opt/venv/bin/python3\n").unwrap();
    let questions = crate::routes::questions(&view, at(&program), &TaskTypes::default()).unwrap();
    assert_eq!(
        questions.len(),
        1,
        "one question per lm-eval and include path"
    );
    let q = &questions[0];
    assert_eq!(q.program, "/opt/venv/bin/python3");
    assert_eq!(q.args[2], "gsm8k,arc_easy");
    assert_eq!(q.args[3], "/tasks");
    assert_eq!(q.tasks, ["gen", "plain"]);
    // a stand-in that is no Python entry script: the plain task is planned without asking, the
    // task in a mode cannot be
    std::fs::write(&program, "#!/bin/sh\nexit 0\n").unwrap();
    let plain = run(vec![task("plain", "arc_easy", json!({}), sampling())]);
    let asked = crate::routes::questions(&plain, at(&program), &TaskTypes::default()).unwrap();
    assert!(asked.is_empty());
    let refused = crate::routes::questions(&view, at(&program), &TaskTypes::default());
    assert!(
        matches!(&refused, Err(BackendError::Input(p)) if p.message.contains("not lm-eval's Python entry script")),
        "{refused:?}"
    );
}
