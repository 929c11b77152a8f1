//! The wire audit: what every request of a job actually carried, checked against what its
//! backend said it must carry (a [`benchy_core::Expectation`]), and what the server did with it.
//! Each completions body is classified as generation, scoring or malformed; generation requests
//! must carry every resolved key with its resolved value, and no other field but those the
//! job's tool is known to add and those that change nothing generated
//! ([`benchy_core::process::NEUTRAL_KEYS`]: the audit is an allow-list), and a prompt that is
//! there; scoring requests may carry only the keys their tool fixes. Each generation answer is
//! read as it passes: one the server ended at the token limit with fewer tokens than the
//! request's budget was cut by a cap of the server's own. The audit keeps counts and the first
//! deviations for a serialisable report; it never keeps a prompt, an answer or a header.

mod answer;
mod answers;
mod reshape;
mod scan;

pub use answers::Answers;
use answers::Samples;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use benchy_core::process::is_neutral;
use benchy_core::{Expectation, Expected};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::proxy::{Inspect, Outcome, Payload, Seen};
use scan::{Size, pick_members};

/// How many deviations the report keeps (all are counted).
const MAX_DEVIATIONS: usize = 20;
/// How many distinct paths are counted separately; the rest share one bucket, so that a
/// client hitting many paths cannot grow the audit without bound.
const MAX_PATHS: usize = 256;
const OTHER_PATHS: &str = "(other paths)";
/// How many distinct values per key the scoring summary lists.
const MAX_VALUES: usize = 4;
/// The fewest tokens a generation request's prompt may hold: fewer is a prompt cut away (a token
/// budget that leaves the context no room keeps only its last tokens).
const MIN_PROMPT_TOKENS: usize = 4;
/// The most of one answer kept to read it; a longer one is passed on unread.
const MAX_ANSWER_BYTES: usize = 16 << 20;

/// What a request was, for the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A completions request that generates text.
    Generation,
    /// A log-likelihood request: `echo: true`, `logprobs` set, `max_tokens` <= 1.
    Scoring,
    /// A completions body that is not a JSON object (forwarded as sent all the same).
    Malformed,
    /// A completions body over the proxy's inspection cap (forwarded uninspected).
    TooLarge,
    /// Any other request (not a POST to `.../completions`): forwarded unread.
    Other,
}

/// How a request's key differed from what was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mismatch {
    /// A key every request must carry was absent.
    Missing,
    /// The key's value broke its rule.
    Different,
    /// A field without a rule (and not one that changes nothing generated) was present.
    Unexpected,
    /// The prompt arrived empty, or with fewer tokens than a prompt can be.
    ShortPrompt,
    /// The answer ended at the token limit with fewer tokens than the request's budget: the
    /// server capped it.
    Capped,
}

/// One key of one request that did not match.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deviation {
    /// The proxy's request number.
    pub seq: u64,
    /// The request path.
    pub path: String,
    /// Whether it was a generation or a scoring request.
    pub kind: Kind,
    /// The key in the request body.
    pub key: String,
    pub problem: Mismatch,
    /// The rule the value had to meet (absent for [`Mismatch::Unexpected`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
    /// The value sent (absent for [`Mismatch::Missing`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub got: Option<Value>,
}

impl Deviation {
    /// `request 5 /v1/completions: temperature is different, expected {"exactly":0.7}, got 0`.
    pub fn describe(&self) -> String {
        let at = format!("request {} {}", self.seq, self.path);
        let got = self
            .got
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let budget = match &self.expected {
            Some(Expected::Exactly(budget)) => budget.to_string(),
            _ => String::new(),
        };
        let problem = match self.problem {
            Mismatch::Missing => "is missing",
            Mismatch::Different => "is different",
            Mismatch::Unexpected => "is not in the resolved set",
            Mismatch::ShortPrompt => {
                return format!("{at}: the prompt arrived with {got} (no room left for it?)");
            }
            Mismatch::Capped => {
                return format!(
                    "{at}: the answer was cut at {got} tokens (finish_reason length) while the \
                     request's budget was {budget}: the server capped it"
                );
            }
        };
        let mut line = format!("{at}: `{}` {problem}", self.key);
        if let Some(expected) = &self.expected {
            line += &format!(
                ", expected {}",
                serde_json::to_string(expected).unwrap_or_default()
            );
        }
        if let Some(got) = &self.got {
            line += &format!(", got {got}");
        }
        line
    }
}

/// Requests of one kind, checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Checked {
    /// How many there were.
    pub requests: u64,
    /// How many carried exactly what they had to.
    pub matched: u64,
    /// How many did not (each with at least one deviation).
    pub mismatched: u64,
}

/// How often a key appeared in scoring requests, and with which values.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KeyUse {
    /// Requests that carried the key.
    pub requests: u64,
    /// The first few distinct values, each with its count.
    pub values: Vec<ValueCount>,
    /// Requests whose value was not among those listed.
    pub other_values: u64,
}

/// A value and how many requests carried it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValueCount {
    pub value: Value,
    pub requests: u64,
}

/// What [`Audit::report`] returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AuditReport {
    /// What the job's requests had to carry; `None` when its backend said nothing (the requests
    /// are counted, not checked).
    pub expects: Option<Expectation>,
    /// Requests seen, of every kind.
    pub requests: u64,
    /// Requests by path and kind.
    pub by_path: BTreeMap<String, BTreeMap<Kind, u64>>,
    /// Requests by kind.
    pub by_kind: BTreeMap<Kind, u64>,
    /// The generation requests' check.
    pub generation: Checked,
    /// The scoring requests' check.
    pub scoring: Checked,
    /// Which sampling keys scoring requests carried, with which values.
    pub scoring_keys: BTreeMap<String, KeyUse>,
    /// Responses by status (`"200"`, `"500"`, ...), and `"no answer"` for the proxy's 502s.
    pub responses: BTreeMap<String, u64>,
    /// Generation requests whose prompt arrived empty or near-empty.
    pub short_prompts: u64,
    /// Generation answers the server cut below their request's budget.
    pub capped_answers: u64,
    /// What the generation answers said.
    pub answers: Answers,
    /// All deviations counted.
    pub deviations_total: u64,
    /// The first [`MAX_DEVIATIONS`] deviations, in order.
    pub deviations: Vec<Deviation>,
}

impl AuditReport {
    /// The verdict in one line: `412 of 412 generation requests carried exactly the resolved
    /// set`, with the scoring requests and deviations when there are any.
    pub fn verdict(&self) -> String {
        if self.expects.is_none() {
            return format!("{} requests, not checked (no expectation)", self.requests);
        }
        checked_line(&self.generation, Some(&self.scoring), self.deviations_total)
    }
}

/// `412 of 412 generation requests carried exactly the resolved set`, then the `scoring`
/// requests (when given and there were any) and the deviations (when any): the words of a job's
/// verdict and of the run's.
pub fn checked_line(generation: &Checked, scoring: Option<&Checked>, deviations: u64) -> String {
    let mut line = format!(
        "{} of {} generation requests carried exactly the resolved set",
        generation.matched, generation.requests
    );
    if let Some(scoring) = scoring.filter(|s| s.requests > 0) {
        line += &format!(
            "; {} of {} scoring requests carried no sampling parameter of their own",
            scoring.matched, scoring.requests
        );
    }
    if deviations > 0 {
        line += &format!("; {deviations} deviations");
    }
    line
}

/// The auditing inspector. Cheap to share: wrap it in an `Arc`, pass a clone to the proxy and
/// keep one for [`Audit::report`].
#[derive(Debug)]
pub struct Audit {
    /// The report's expectation, also kept outside the lock so that requests are judged
    /// without taking it.
    expects: Option<Expectation>,
    /// Only the counts are behind the lock; the parse and the check happen before taking it.
    state: Mutex<AuditReport>,
    /// The generation requests whose answers are still coming, by request number.
    pending: Mutex<HashMap<u64, Pending>>,
    /// Each answer's tokens and time, for the percentiles.
    samples: Mutex<Samples>,
}

/// A generation request whose answer is being read.
#[derive(Debug)]
struct Pending {
    path: String,
    /// The request's token budget, as the server takes it.
    budget: Option<u64>,
    /// Whether the request itself already deviated (and was counted so).
    deviated: bool,
    /// When the proxy forwarded it.
    sent: Instant,
    /// The answer so far; `None` once it grew past [`MAX_ANSWER_BYTES`].
    body: Option<Vec<u8>>,
}

/// The verdict on one body, computed without the lock.
struct Verdict {
    kind: Kind,
    /// The sampling keys a scoring request carried.
    scoring_keys: Map<String, Value>,
    deviations: Vec<Deviation>,
    /// The token budget of a generation request.
    budget: Option<u64>,
}

impl Verdict {
    /// A request that is only counted: no body to check.
    fn unchecked(kind: Kind) -> Verdict {
        Verdict {
            kind,
            scoring_keys: Map::new(),
            deviations: Vec::new(),
            budget: None,
        }
    }
}

impl Audit {
    /// An audit of requests that must meet `expects`; with `None`, requests are only counted.
    pub fn new(expects: Option<Expectation>) -> Audit {
        Audit {
            state: Mutex::new(AuditReport {
                expects: expects.clone(),
                ..AuditReport::default()
            }),
            expects,
            pending: Mutex::new(HashMap::new()),
            samples: Mutex::new(Samples::default()),
        }
    }

    /// The stop strings applied to answers, in a thinking mode.
    fn answer_stops(&self) -> Option<&benchy_core::AnswerStops> {
        self.expects.as_ref()?.answer_stops.as_ref()
    }

    /// A snapshot of everything counted so far.
    pub fn report(&self) -> AuditReport {
        let mut report = self.lock().clone();
        let samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        report.answers = report.answers.with_percentiles(&samples);
        report
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AuditReport> {
        // A panic while holding the lock (there is no code that could) must not end auditing.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The verdict on one completions body.
    fn judge(&self, seq: u64, path: &str, body: &[u8]) -> Verdict {
        let Some(picked) = pick_members(body) else {
            return Verdict::unchecked(Kind::Malformed);
        };
        let mut members = picked.members;
        let kind = if is_scoring(&members) {
            Kind::Scoring
        } else {
            Kind::Generation
        };
        // The budget the server takes: a chat request's `max_completion_tokens` first.
        let budget = ["max_completion_tokens", "max_tokens"]
            .iter()
            .find_map(|key| members.get(*key).and_then(Value::as_u64));
        let mut deviations = match &self.expects {
            Some(expects) => check(expects, kind, &members, seq, path),
            None => Vec::new(),
        };
        if kind == Kind::Generation
            && let Some(system) = self.expects.as_ref().and_then(|e| e.system.as_deref())
        {
            deviations.extend(system_deviation(seq, path, body, system));
        }
        if kind == Kind::Generation
            && self.expects.is_some()
            && let Some(short) = picked.prompt.and_then(too_short)
        {
            deviations.push(Deviation {
                seq,
                path: path.to_owned(),
                kind,
                key: "prompt".to_owned(),
                problem: Mismatch::ShortPrompt,
                expected: None,
                got: Some(short),
            });
        }
        members.retain(|key, _| !is_neutral(key));
        let scoring_keys = if kind == Kind::Scoring {
            members
        } else {
            Map::new()
        };
        Verdict {
            kind,
            scoring_keys,
            deviations,
            budget,
        }
    }

    /// The answer to request `seq` has ended: one the server cut below its budget is a
    /// deviation of the request's.
    fn read_answer(&self, seq: u64, pending: Pending) {
        let Some(answer) = pending.body.as_deref().and_then(answer::parse) else {
            return;
        };
        let seconds = pending.sent.elapsed().as_secs_f64();
        let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        self.lock()
            .answers
            .add(&mut samples, &answer, seconds, pending.budget);
        drop(samples);
        let (Some(budget), cut, Some(produced)) = (
            pending.budget,
            answer.cut() as u64,
            answer.completion_tokens,
        ) else {
            return;
        };
        // Each choice cut by the request's own budget holds `budget` tokens: fewer in all is a
        // choice the server stopped sooner.
        if cut == 0 || produced >= cut.saturating_mul(budget) {
            return;
        }
        let capped = Deviation {
            seq,
            path: pending.path,
            kind: Kind::Generation,
            key: "max_tokens".to_owned(),
            problem: Mismatch::Capped,
            expected: Some(Expected::Exactly(json!(budget))),
            got: Some(json!(produced / cut.max(1))),
        };
        let mut s = self.lock();
        s.capped_answers += 1;
        s.record_late(capped, pending.deviated);
    }
}

/// The deviation of a chat request whose first message is not the mode's system prompt.
fn system_deviation(seq: u64, path: &str, body: &[u8], system: &str) -> Option<Deviation> {
    let request: Value = serde_json::from_slice(body).ok()?;
    let first = request.get("messages").and_then(|m| m.get(0));
    let sent = first
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("system"))
        .and_then(|m| m.get("content"));
    let problem = match sent {
        Some(Value::String(text)) if text == system => return None,
        Some(_) => Mismatch::Different,
        None => Mismatch::Missing,
    };
    Some(Deviation {
        seq,
        path: path.to_owned(),
        kind: Kind::Generation,
        key: "system message".to_owned(),
        problem,
        expected: Some(Expected::Exactly(json!(system))),
        got: sent.cloned(),
    })
}

/// What a prompt that is too short to be one arrived as: `"1 token"`, `"no text"`.
fn too_short(size: Size) -> Option<Value> {
    match size {
        Size::Tokens(n) if n < MIN_PROMPT_TOKENS => {
            Some(json!(format!("{n} token{}", if n == 1 { "" } else { "s" })))
        }
        Size::Chars(0) => Some(json!("no text")),
        _ => None,
    }
}

/// The deviations of one request of `kind` from `expects`.
fn check(
    expects: &Expectation,
    kind: Kind,
    members: &Map<String, Value>,
    seq: u64,
    path: &str,
) -> Vec<Deviation> {
    let deviation =
        |key: &str, problem, expected: Option<&Expected>, got: Option<&Value>| Deviation {
            seq,
            path: path.to_owned(),
            kind,
            key: key.to_owned(),
            problem,
            expected: expected.cloned(),
            got: got.cloned(),
        };
    let (required, optional) = match kind {
        Kind::Scoring => (&BTreeMap::new(), &expects.scoring),
        _ => (&expects.generation, &expects.added),
    };
    // `max_completion_tokens` is the budget vLLM takes first: without a rule of its own it must
    // be the request's `max_tokens` (or meet that key's rule when the request has none).
    let budget_rule = members.get("max_tokens").map_or_else(
        || {
            required
                .get("max_tokens")
                .or_else(|| optional.get("max_tokens"))
                .cloned()
        },
        |max_tokens| Some(Expected::Exactly(max_tokens.clone())),
    );
    let rule_of = |key: &str| {
        required
            .get(key)
            .or_else(|| optional.get(key))
            .cloned()
            .or_else(|| {
                (key == "max_completion_tokens")
                    .then(|| budget_rule.clone())
                    .flatten()
            })
    };
    let mut found = Vec::new();
    for (key, rule) in required {
        match members.get(key) {
            None => found.push(deviation(key, Mismatch::Missing, Some(rule), None)),
            Some(got) if !meets(got, rule) => {
                found.push(deviation(key, Mismatch::Different, Some(rule), Some(got)));
            }
            Some(_) => {}
        }
    }
    for (key, got) in members {
        if required.contains_key(key) || is_neutral(key) {
            continue;
        }
        match rule_of(key) {
            Some(rule) if !meets(got, &rule) => {
                found.push(deviation(key, Mismatch::Different, Some(&rule), Some(got)));
            }
            Some(_) => {}
            None => found.push(deviation(key, Mismatch::Unexpected, None, Some(got))),
        }
    }
    found
}

/// Whether `got` meets `rule`.
fn meets(got: &Value, rule: &Expected) -> bool {
    match rule {
        Expected::Exactly(want) => json_eq(got, want),
        Expected::StartsWith(items) => got.as_array().is_some_and(|list| {
            list.len() >= items.len() && list.iter().zip(items).all(|(g, w)| json_eq(g, w))
        }),
        Expected::Any => true,
    }
}

impl Inspect for Audit {
    fn request(&self, seen: &Seen<'_>) {
        let verdict = match seen.payload {
            Payload::Body(body) => self.judge(seen.seq, seen.path, body),
            Payload::NotRead => Verdict::unchecked(Kind::Other),
            Payload::TooLarge => Verdict::unchecked(Kind::TooLarge),
        };
        if verdict.kind == Kind::Generation && self.expects.is_some() {
            let pending = Pending {
                path: seen.path.to_owned(),
                budget: verdict.budget,
                deviated: !verdict.deviations.is_empty(),
                sent: Instant::now(),
                body: Some(Vec::new()),
            };
            self.pending().insert(seen.seq, pending);
        }
        let mut s = self.lock();
        s.count(seen.path, verdict.kind);
        s.record(verdict);
    }

    fn response(&self, seq: u64, outcome: Outcome) {
        let key = match &outcome {
            Outcome::Answered(status) => status.as_str(),
            Outcome::NoAnswer => "no answer",
        };
        if !matches!(outcome, Outcome::Answered(status) if status.is_success()) {
            self.pending().remove(&seq);
        }
        // Looked up first: the status is almost always counted already, so no key is copied.
        let mut s = self.lock();
        match s.responses.get_mut(key) {
            Some(count) => *count += 1,
            None => {
                s.responses.insert(key.to_owned(), 1);
            }
        }
    }

    fn response_data(&self, seq: u64, data: &[u8]) {
        let mut pending = self.pending();
        let Some(body) = pending.get_mut(&seq).and_then(|p| p.body.as_mut()) else {
            return;
        };
        if body.len() + data.len() <= MAX_ANSWER_BYTES {
            body.extend_from_slice(data);
        } else if let Some(p) = pending.get_mut(&seq) {
            p.body = None;
        }
    }

    fn response_end(&self, seq: u64, whole: bool) {
        let Some(pending) = self.pending().remove(&seq) else {
            return;
        };
        if whole {
            self.read_answer(seq, pending);
        }
    }

    /// A generation answer of a thinking mode gets the task's stop strings after its reasoning.
    fn reshapes(&self, seq: u64) -> bool {
        self.answer_stops().is_some() && self.pending().contains_key(&seq)
    }

    fn reshape(&self, _seq: u64, body: &[u8]) -> Option<Vec<u8>> {
        let (body, cut) = reshape::cut_answers(body, self.answer_stops()?)?;
        self.lock().answers.cut_at_stop += cut;
        Some(body)
    }
}

impl AuditReport {
    /// One more request of `kind` on `path` (paths bounded, see [`MAX_PATHS`]).
    fn count(&mut self, path: &str, kind: Kind) {
        self.requests += 1;
        *self.by_kind.entry(kind).or_default() += 1;
        let bucket = if self.by_path.contains_key(path) || self.by_path.len() < MAX_PATHS {
            path
        } else {
            OTHER_PATHS
        };
        // `get_mut` first: the path is almost always known, and this avoids copying it.
        match self.by_path.get_mut(bucket) {
            Some(kinds) => *kinds.entry(kind).or_default() += 1,
            None => {
                self.by_path
                    .insert(bucket.to_owned(), BTreeMap::from([(kind, 1)]));
            }
        }
    }

    /// A deviation found after the request was counted (in its answer): the request becomes a
    /// mismatch unless it already was one.
    fn record_late(&mut self, deviation: Deviation, counted_mismatched: bool) {
        if !counted_mismatched {
            self.generation.matched = self.generation.matched.saturating_sub(1);
            self.generation.mismatched += 1;
        }
        self.deviations_total += 1;
        if self.deviations.len() < MAX_DEVIATIONS {
            self.deviations.push(deviation);
        }
    }

    /// A checked request's verdict and, for scoring requests, the keys it carried.
    fn record(&mut self, verdict: Verdict) {
        let checked = match verdict.kind {
            Kind::Generation => &mut self.generation,
            Kind::Scoring => &mut self.scoring,
            _ => return,
        };
        checked.requests += 1;
        if verdict.deviations.is_empty() {
            checked.matched += 1;
        } else {
            checked.mismatched += 1;
            let short = verdict
                .deviations
                .iter()
                .filter(|d| d.problem == Mismatch::ShortPrompt);
            self.short_prompts += short.count() as u64;
            self.deviations_total += verdict.deviations.len() as u64;
            let room = MAX_DEVIATIONS.saturating_sub(self.deviations.len());
            self.deviations
                .extend(verdict.deviations.into_iter().take(room));
        }
        for (key, value) in verdict.scoring_keys {
            let used = self.scoring_keys.entry(key).or_default();
            used.requests += 1;
            if let Some(seen) = used.values.iter_mut().find(|v| json_eq(&v.value, &value)) {
                seen.requests += 1;
            } else if used.values.len() < MAX_VALUES {
                used.values.push(ValueCount { value, requests: 1 });
            } else {
                used.other_values += 1;
            }
        }
    }
}

/// A log-likelihood request, as lm-evaluation-harness sends them: the prompt echoed back with
/// its log-probabilities, and at most one generated token.
fn is_scoring(members: &Map<String, Value>) -> bool {
    let echo = members.get("echo") == Some(&Value::Bool(true));
    let logprobs = !matches!(
        members.get("logprobs"),
        None | Some(Value::Null) | Some(Value::Bool(false))
    );
    let short = members
        .get("max_tokens")
        .and_then(Value::as_f64)
        .is_some_and(|n| n <= 1.0);
    echo && logprobs && short
}

pub(crate) use benchy_core::json::json_eq;

#[cfg(test)]
mod tests {
    use http::Method;
    use serde_json::json;

    use super::*;

    /// lm-eval's expectation for a resolved set: its values exactly, the stop strings it extends
    /// with its end-of-sequence string, its default seed, and the scoring payload's fixed keys.
    fn audit() -> Audit {
        let exactly = |v: Value| Expected::Exactly(v);
        Audit::new(Some(Expectation {
            generation: BTreeMap::from([
                ("temperature".into(), exactly(json!(0.7))),
                ("top_p".into(), exactly(json!(0.6))),
                ("top_k".into(), exactly(json!(20))),
                ("max_tokens".into(), exactly(json!(32))),
                ("stop".into(), Expected::StartsWith(vec![json!("\n")])),
            ]),
            added: BTreeMap::from([("seed".into(), exactly(json!(1234)))]),
            scoring: BTreeMap::from([
                ("temperature".into(), exactly(json!(0))),
                ("max_tokens".into(), exactly(json!(1))),
                ("seed".into(), exactly(json!(1234))),
            ]),
            ..Expectation::default()
        }))
    }

    fn send(audit: &Audit, seq: u64, path: &str, body: &Value) {
        let bytes = serde_json::to_vec(body).unwrap();
        audit.request(&Seen {
            seq,
            method: &Method::POST,
            path,
            payload: Payload::Body(&bytes),
        });
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(json_eq(&json!(0), &json!(0.0)));
        assert!(json_eq(&json!(20), &json!(20.0)));
        assert!(json_eq(&json!([1, {"a": 2.0}]), &json!([1.0, {"a": 2}])));
        assert!(!json_eq(&json!(0.7), &json!(0.70001)));
        assert!(!json_eq(&json!(1), &json!("1")));
        assert!(!json_eq(&json!("\n"), &json!(["\n"])));
        assert!(json_eq(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!json_eq(
            &json!(9007199254740993u64),
            &json!(9007199254740992u64)
        ));
        assert!(!json_eq(&json!(-1), &json!(u64::MAX)));
    }

    #[test]
    fn an_exact_generation_request_matches_with_its_tools_additions() {
        let a = audit();
        send(
            &a,
            1,
            "/v1/completions",
            &json!({
                "model": "m", "prompt": "Q: 2+2?\nA:", "temperature": 0.7, "top_p": 0.6,
                "top_k": 20.0, "max_tokens": 32, "stop": ["\n", "</s>"], "seed": 1234,
                "stream": false
            }),
        );
        let r = a.report();
        assert_eq!(
            r.generation,
            Checked {
                requests: 1,
                matched: 1,
                mismatched: 0
            }
        );
        assert!(r.expects.is_some() && r.deviations_total == 0, "{r:?}");
        assert_eq!(
            r.verdict(),
            "1 of 1 generation requests carried exactly the resolved set"
        );
        assert_eq!(r.by_path["/v1/completions"][&Kind::Generation], 1);
    }

    #[test]
    fn each_kind_of_deviation_is_recorded() {
        let a = audit();
        send(
            &a,
            7,
            "/v1/chat/completions",
            &json!({
                "messages": [{"role": "user", "content": "hi"}],
                "temperature": 0.0, "top_p": 0.6, "max_tokens": 32, "stop": ["x", "\n"],
                "seed": 1, "min_p": 0.1
            }),
        );
        let r = a.report();
        assert_eq!(r.generation.mismatched, 1);
        assert_eq!(r.deviations_total, 5);
        let got: Vec<(&str, Mismatch)> = r
            .deviations
            .iter()
            .map(|d| (d.key.as_str(), d.problem))
            .collect();
        assert_eq!(
            got,
            [
                ("stop", Mismatch::Different),
                ("temperature", Mismatch::Different),
                ("top_k", Mismatch::Missing),
                ("seed", Mismatch::Different),
                ("min_p", Mismatch::Unexpected),
            ]
        );
        let temperature = &r.deviations[1];
        assert_eq!(temperature.seq, 7);
        assert_eq!(temperature.expected, Some(Expected::Exactly(json!(0.7))));
        assert_eq!(temperature.got, Some(json!(0.0)));
        // "absent" is a field left out, not a null
        let missing = serde_json::to_value(&r.deviations[2]).unwrap();
        assert!(missing.get("got").is_none(), "{missing}");
        assert!(r.verdict().ends_with("; 5 deviations"), "{}", r.verdict());
    }

    #[test]
    fn added_keys_are_optional_and_non_sampling_keys_are_ignored() {
        let a = audit();
        send(
            &a,
            1,
            "/v1/completions",
            &json!({
                "prompt": "x", "temperature": 0.7, "top_p": 0.6, "top_k": 20, "max_tokens": 32,
                "stop": ["\n"], "model": "anything", "stream": true, "user": "u", "logprobs": null
            }),
        );
        assert_eq!(a.report().generation.matched, 1);
    }

    #[test]
    fn scoring_requests_may_carry_only_what_their_tool_fixes() {
        let a = audit();
        for seq in 1..=3 {
            send(
                &a,
                seq,
                "/v1/completions",
                &json!({
                    "prompt": [1, 2, 3], "echo": true, "logprobs": 1, "max_tokens": 1,
                    "temperature": 0, "seed": 1234
                }),
            );
        }
        send(
            &a,
            4,
            "/v1/completions",
            &json!({"prompt": [1], "echo": true, "logprobs": 1, "max_tokens": 1, "top_p": 0.6}),
        );
        let r = a.report();
        assert_eq!(
            r.scoring,
            Checked {
                requests: 4,
                matched: 3,
                mismatched: 1
            }
        );
        assert_eq!(r.deviations[0].key, "top_p");
        assert_eq!(r.deviations[0].kind, Kind::Scoring);
        assert_eq!(r.scoring_keys["temperature"].requests, 3);
        assert!(!r.scoring_keys.contains_key("echo"));
    }

    #[test]
    fn without_an_expectation_requests_are_counted_not_checked() {
        let a = Audit::new(None);
        send(
            &a,
            1,
            "/v1/completions",
            &json!({"prompt": "x", "temperature": 2}),
        );
        let r = a.report();
        assert_eq!((r.generation.requests, r.deviations_total), (1, 0));
        assert!(r.expects.is_none());
        assert_eq!(r.verdict(), "1 requests, not checked (no expectation)");
    }

    #[test]
    fn malformed_other_and_too_large_are_counted() {
        let a = audit();
        for (seq, body) in [(1, &b"{not json"[..]), (2, b"[1,2]"), (3, b"")] {
            a.request(&Seen {
                seq,
                method: &Method::POST,
                path: "/v1/completions",
                payload: Payload::Body(body),
            });
        }
        a.request(&Seen {
            seq: 4,
            method: &Method::GET,
            path: "/v1/models",
            payload: Payload::NotRead,
        });
        a.request(&Seen {
            seq: 5,
            method: &Method::POST,
            path: "/v1/completions",
            payload: Payload::TooLarge,
        });
        a.response(4, Outcome::Answered(http::StatusCode::OK));
        a.response(5, Outcome::NoAnswer);
        let r = a.report();
        assert_eq!(r.requests, 5);
        assert_eq!(
            r.by_kind,
            BTreeMap::from([(Kind::Malformed, 3), (Kind::TooLarge, 1), (Kind::Other, 1)])
        );
        assert_eq!(r.by_path["/v1/models"], BTreeMap::from([(Kind::Other, 1)]));
        assert_eq!(
            r.responses,
            BTreeMap::from([("200".to_owned(), 1), ("no answer".to_owned(), 1)])
        );
        assert_eq!(r.generation.requests, 0);
    }

    #[test]
    fn deviations_are_capped_but_counted_and_paths_bounded() {
        let a = audit();
        for seq in 1..=30 {
            send(
                &a,
                seq,
                &format!("/p{seq}/completions"),
                &json!({"prompt": "x"}),
            );
        }
        for seq in 0..300 {
            a.request(&Seen {
                seq,
                method: &Method::GET,
                path: &format!("/x/{seq}"),
                payload: Payload::NotRead,
            });
        }
        let r = a.report();
        assert_eq!(r.deviations.len(), MAX_DEVIATIONS);
        assert_eq!(r.deviations_total, 30 * 5);
        assert_eq!(r.generation.mismatched, 30);
        assert_eq!(r.by_path.len(), MAX_PATHS + 1);
        assert_eq!(r.by_path[OTHER_PATHS][&Kind::Other], 330 - MAX_PATHS as u64);
    }

    /// The audit is an allow-list: every field that may change what is generated and has no
    /// rule is named, `max_completion_tokens` meets the budget's rule.
    #[test]
    fn every_field_without_a_rule_is_a_deviation_but_the_neutral_ones() {
        let a = audit();
        let fields = [
            ("min_tokens", json!(3)),
            ("ignore_eos", json!(true)),
            ("stop_token_ids", json!([2])),
            ("logit_bias", json!({"50256": -100})),
            ("bad_words", json!(["x"])),
            ("use_beam_search", json!(true)),
            ("top_n_sigma", json!(1.0)),
            ("response_format", json!({"type": "json_object"})),
        ];
        for (seq, (key, value)) in (1..).zip(&fields) {
            let mut body = json!({
                "model": "m", "prompt": "Q: 2+2?\nA:", "temperature": 0.7, "top_p": 0.6,
                "top_k": 20, "max_tokens": 32, "stop": ["\n"], "seed": 1234, "stream": true,
                "stream_options": {"include_usage": true}, "user": "u", "echo": false
            });
            body[*key] = value.clone();
            send(&a, seq, "/v1/completions", &body);
        }
        send(
            &a,
            20,
            "/v1/chat/completions",
            &json!({
                "messages": [{"role": "user", "content": "hi"}], "temperature": 0.7,
                "top_p": 0.6, "top_k": 20, "max_tokens": 32, "max_completion_tokens": 3,
                "stop": ["\n"]
            }),
        );
        let r = a.report();
        let named: Vec<(&str, Mismatch)> = r
            .deviations
            .iter()
            .map(|d| (d.key.as_str(), d.problem))
            .collect();
        let mut expected: Vec<(&str, Mismatch)> = fields
            .iter()
            .map(|(k, _)| (*k, Mismatch::Unexpected))
            .collect();
        expected.push(("max_completion_tokens", Mismatch::Different));
        assert_eq!(named, expected);
        assert_eq!(r.generation.mismatched, 9);
    }

    #[test]
    fn an_empty_or_near_empty_prompt_is_a_deviation() {
        let a = audit();
        let body = |prompt: Value| {
            json!({"prompt": prompt, "temperature": 0.7, "top_p": 0.6, "top_k": 20,
                   "max_tokens": 32, "stop": ["\n"]})
        };
        send(&a, 1, "/v1/completions", &body(json!([17])));
        send(&a, 2, "/v1/completions", &body(json!("")));
        send(&a, 3, "/v1/completions", &body(json!([1, 2, 3, 4, 5])));
        let r = a.report();
        assert_eq!(r.short_prompts, 2);
        assert_eq!(r.generation.matched, 1);
        assert_eq!(
            r.deviations[0].describe(),
            "request 1 /v1/completions: the prompt arrived with \"1 token\" (no room left for it?)"
        );
    }

    /// An answer the server ended at the token limit below the request's budget was capped by
    /// the server; one that used its whole budget, or stopped, was not.
    #[test]
    fn an_answer_cut_below_its_budget_is_a_deviation_of_its_request() {
        let a = audit();
        let request = json!({"prompt": [1, 2, 3, 4], "temperature": 0.7, "top_p": 0.6,
                             "top_k": 20, "max_tokens": 32, "stop": ["\n"]});
        let answers = [
            (
                1,
                r#"{"choices": [{"index": 0, "text": "abc", "finish_reason": "length"}], "usage": {"completion_tokens": 3}}"#,
            ),
            (
                2,
                r#"{"choices": [{"index": 0, "text": "abc", "finish_reason": "length"}], "usage": {"completion_tokens": 32}}"#,
            ),
            (
                3,
                r#"{"choices": [{"index": 0, "text": "abc", "finish_reason": "stop"}], "usage": {"completion_tokens": 3}}"#,
            ),
        ];
        for (seq, answer) in answers {
            send(&a, seq, "/v1/completions", &request);
            a.response(seq, Outcome::Answered(http::StatusCode::OK));
            let (head, tail) = answer.as_bytes().split_at(20);
            a.response_data(seq, head);
            a.response_data(seq, tail);
            a.response_end(seq, true);
        }
        // an answer cut off on the way is not judged
        send(&a, 4, "/v1/completions", &request);
        a.response_data(4, answers[0].1.as_bytes());
        a.response_end(4, false);
        let r = a.report();
        assert_eq!(r.capped_answers, 1);
        let counted = Answers {
            seconds_p50: 0.0,
            seconds_p90: 0.0,
            ..r.answers.clone()
        };
        assert_eq!(
            counted,
            Answers {
                requests: 3,
                answers: 3,
                stopped: 1,
                cut: 2,
                completion_tokens: 38,
                completion_tokens_p50: 3,
                completion_tokens_p90: 32,
                completion_tokens_max: 32,
                budget: Some(32),
                ..Answers::default()
            }
        );
        assert!(r.answers.seconds_p90 >= r.answers.seconds_p50);
        assert_eq!(r.generation.matched, 3);
        assert_eq!(r.generation.mismatched, 1);
        assert_eq!(
            r.deviations[0].describe(),
            "request 1 /v1/completions: the answer was cut at 3 tokens (finish_reason length) \
             while the request's budget was 32: the server capped it"
        );
        assert!(a.pending().is_empty(), "nothing is kept once answered");
    }
}
