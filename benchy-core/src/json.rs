//! JSON values compared as the tools that read them compare them.

use serde_json::{Number, Value};

/// JSON equality with numbers compared by value (`0` equals `0.0`, `20` equals `20.0`), as
/// Python compares them after `json.loads`. Integers are compared exactly when both sides are
/// integers, so large seeds do not lose precision through `f64`.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_eq(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn number_eq(x: &Number, y: &Number) -> bool {
    if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
        return x == y;
    }
    match (x.as_f64(), y.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_compare_by_value_and_large_integers_exactly() {
        assert!(json_eq(&json!({"t": [0, 20]}), &json!({"t": [0.0, 20.0]})));
        assert!(!json_eq(
            &json!(9007199254740993_u64),
            &json!(9007199254740992_u64)
        ));
        assert!(!json_eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
    }
}
