//! Hub repository ids, checked as huggingface_hub's `validate_repo_id` checks them.

/// A Hub repo id: `name` or `namespace/name`, each part of letters, digits, `-`, `_`, `.`, at
/// most 96 characters, not starting or ending with `-` or `.`, without `--` or `..`.
pub fn check_repo_id(id: &str) -> Result<(), String> {
    let parts: Vec<&str> = id.split('/').collect();
    if id.is_empty() {
        return Err("is empty; expected a Hub repo id like `org/name` or a path".into());
    }
    if id.contains("..") || id.contains("--") {
        return Err(format!(
            "`{id}` is not a Hub repo id: `..` and `--` are not allowed"
        ));
    }
    if parts.len() > 2 {
        return Err(format!(
            "`{id}` is not a Hub repo id (`org/name`); write a local model directory as a path \
             starting with `/`, `./` or `../`"
        ));
    }
    for part in parts {
        let valid_chars = part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if part.is_empty()
            || part.len() > 96
            || !valid_chars
            || part.starts_with(['-', '.'])
            || part.ends_with(['-', '.'])
        {
            return Err(format!(
                "`{id}` is not a Hub repo id: each part must be 1-96 letters, digits, `-`, `_` \
                 or `.`, not starting or ending with `-` or `.`"
            ));
        }
    }
    Ok(())
}
