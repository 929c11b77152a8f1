//! Verification: what a consumer recorded as used, compared with what benchy sent.

use serde_json::{Map, Value as Json};

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
                Some(r) if same(value, r) => None,
                _ => Some(Difference {
                    key: key.clone(),
                    sent: value.clone(),
                    recorded: found.cloned(),
                }),
            }
        })
        .collect()
}

fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Json) -> Map<String, Json> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn equal_values_in_other_number_forms_match() {
        let sent = map(json!({"temperature": 0, "top_k": 20, "until": ["\n"]}));
        let recorded =
            map(json!({"temperature": 0.0, "top_k": 20, "until": ["\n"], "max_gen_toks": 16}));
        assert!(compare(&sent, &recorded).is_empty());
    }

    #[test]
    fn changed_and_missing_keys_are_differences() {
        let sent = map(json!({"temperature": 0.7, "top_p": 0.9}));
        let recorded = map(json!({"temperature": 0.0}));
        let diff: Vec<String> = compare(&sent, &recorded)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            diff,
            [
                "temperature: sent 0.7 but recorded 0.0",
                "top_p: sent 0.9 but not recorded"
            ]
        );
    }
}
