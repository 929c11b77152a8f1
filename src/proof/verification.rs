//! Verification, in one place: for every task a backend evaluated, what its tool recorded as
//! used compared with what the backend sent, key by key; the verdict per task, what it does to
//! the run (a difference fails it), and how it is said.

use benchy_core::backend::{Sampling, TaskResult};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::proof::audit::json_eq;

/// How what a task's tool recorded compares with what the backend sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Check {
    /// Every key sent was recorded with the same value.
    #[serde(rename = "verified")]
    Verified,
    #[serde(rename = "differs")]
    Differs,
    /// A generating task without a record of what it used.
    #[serde(rename = "not recorded")]
    NotRecorded,
    /// A log-likelihood task: its requests carry no sampling parameters.
    #[serde(rename = "no sampling parameters")]
    NoSamplingParameters,
}

/// What a task's tool recorded as used, against what the backend sent.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub task: String,
    pub name: String,
    pub status: Check,
    pub sent: Option<Map<String, Json>>,
    pub recorded: Option<Map<String, Json>>,
    pub differences: Vec<String>,
}

impl Verification {
    /// Checks one result.
    pub fn of(result: &TaskResult) -> Verification {
        let (status, differences) = match (
            result.sampling,
            &result.sent_generation,
            &result.recorded_generation,
        ) {
            (Sampling::LoglikelihoodOnly, _, _) => (Check::NoSamplingParameters, Vec::new()),
            (_, Some(sent), Some(recorded)) => {
                let differences: Vec<String> = compare(sent, recorded)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                let status = if differences.is_empty() {
                    Check::Verified
                } else {
                    Check::Differs
                };
                (status, differences)
            }
            _ => (
                Check::NotRecorded,
                vec!["the tool recorded no generation parameters for a generating task".into()],
            ),
        };
        Verification {
            task: result.task.clone(),
            name: result.name.clone(),
            status,
            sent: result.sent_generation.clone(),
            recorded: result.recorded_generation.clone(),
            differences,
        }
    }

    pub fn failed(&self) -> bool {
        matches!(self.status, Check::Differs | Check::NotRecorded)
    }

    /// The verdict in one line, naming the backend whose tool kept the record.
    pub fn line(&self, backend: &str) -> String {
        match self.status {
            Check::Verified => format!(
                "{}: {backend} recorded exactly the parameters sent",
                self.name
            ),
            Check::NoSamplingParameters => format!(
                "{}: scored by log-likelihood; no sampling parameters were sent",
                self.name
            ),
            Check::Differs | Check::NotRecorded => {
                format!("{}: {}", self.name, self.differences.join("; "))
            }
        }
    }
}

/// One key whose recorded value is not the sent one.
#[derive(Clone, Debug, PartialEq)]
pub struct Difference {
    pub key: String,
    pub sent: Json,
    /// `None` when the key is missing from the record.
    pub recorded: Option<Json>,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.recorded {
            Some(recorded) => write!(
                f,
                "{}: sent {} but recorded {recorded}",
                self.key, self.sent
            ),
            None => write!(f, "{}: sent {} but not recorded", self.key, self.sent),
        }
    }
}

/// Every sent key must be recorded with the same value. Numbers compare by value (`0` equals
/// `0.0`: lm-eval casts YAML temperatures to float but keeps CLI ones as given). Keys recorded
/// but not sent (a task's own `until`, say) are not differences: they are the task's own.
pub fn compare(sent: &Map<String, Json>, recorded: &Map<String, Json>) -> Vec<Difference> {
    sent.iter()
        .filter_map(|(key, value)| {
            let found = recorded.get(key);
            match found {
                Some(r) if json_eq(value, r) => None,
                _ => Some(Difference {
                    key: key.clone(),
                    sent: value.clone(),
                    recorded: found.cloned(),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    /// The differences as the run's record words them.
    fn differences(sent: &Map<String, Json>, recorded: &Map<String, Json>) -> Vec<String> {
        compare(sent, recorded)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn equal_values_in_other_number_forms_match() {
        let sent = map(json!({"temperature": 0, "top_k": 20, "until": ["\n"]}));
        let recorded =
            map(json!({"temperature": 0.0, "top_k": 20, "until": ["\n"], "max_gen_toks": 16}));
        assert!(compare(&sent, &recorded).is_empty());
    }

    #[test]
    fn nested_objects_and_large_integers_compare_as_the_audit_does() {
        let sent = map(json!({"logit_bias": {"50256": -100}, "seed": 9007199254740993u64}));
        let recorded = map(json!({"logit_bias": {"50256": -100.0}, "seed": 9007199254740992u64}));
        assert_eq!(
            differences(&sent, &recorded),
            ["seed: sent 9007199254740993 but recorded 9007199254740992"]
        );
    }

    #[test]
    fn changed_and_missing_keys_are_differences() {
        let sent = map(json!({"temperature": 0.7, "top_p": 0.9}));
        let recorded = map(json!({"temperature": 0.0}));
        assert_eq!(
            differences(&sent, &recorded),
            [
                "temperature: sent 0.7 but recorded 0.0",
                "top_p: sent 0.9 but not recorded"
            ]
        );
    }
}
