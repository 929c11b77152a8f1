//! The catalog of known families' modes, shipped in the binary from `configs/modes/`: each file
//! names a family, the repository names it matches (`Qwen3.5-*`, matched case-insensitively
//! against the part of `model.name` after the owner) and its modes, each preset naming the card
//! it was read from and when. A run config's own `modes:` beat the catalog's.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use benchy_source_yaml::yaml;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::modes::Mode;
use super::raw::RawMode;

/// The catalog files, as shipped.
const FILES: [(&str, &str); 9] = [
    ("qwen3.yaml", include_str!("../../configs/modes/qwen3.yaml")),
    (
        "qwen3.5.yaml",
        include_str!("../../configs/modes/qwen3.5.yaml"),
    ),
    (
        "qwen3.5-397b.yaml",
        include_str!("../../configs/modes/qwen3.5-397b.yaml"),
    ),
    (
        "qwen3.6.yaml",
        include_str!("../../configs/modes/qwen3.6.yaml"),
    ),
    (
        "deepseek-r1.yaml",
        include_str!("../../configs/modes/deepseek-r1.yaml"),
    ),
    (
        "gpt-oss.yaml",
        include_str!("../../configs/modes/gpt-oss.yaml"),
    ),
    (
        "smollm3.yaml",
        include_str!("../../configs/modes/smollm3.yaml"),
    ),
    (
        "gemma-4.yaml",
        include_str!("../../configs/modes/gemma-4.yaml"),
    ),
    (
        "magistral.yaml",
        include_str!("../../configs/modes/magistral.yaml"),
    ),
];

/// A family of models and its modes.
#[derive(Clone, Debug)]
pub struct Family {
    pub name: String,
    /// `configs/modes/FILE`.
    pub file: String,
    /// Repository names it matches, `*` standing for any text.
    pub patterns: Vec<String>,
    pub modes: Vec<Mode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFamily {
    family: String,
    models: Vec<String>,
    modes: BTreeMap<String, Spanned<RawMode>>,
}

/// Every family of the catalog.
pub fn families() -> &'static [Family] {
    static FAMILIES: OnceLock<Vec<Family>> = OnceLock::new();
    FAMILIES.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, text)| {
                read_family(name, text).unwrap_or_else(|e| panic!("the shipped catalog: {e}"))
            })
            .collect()
    })
}

fn read_family(name: &str, text: &str) -> Result<Family, String> {
    let file = format!("configs/modes/{name}");
    let raw: RawFamily = yaml::from_str(text, &file).map_err(|e| e.to_string())?;
    let modes = raw
        .modes
        .iter()
        .map(|(mode, spanned)| {
            let defined_in = format!("{file}:{} ({})", spanned.referenced.line(), raw.family);
            Mode::read(mode, spanned, &file, defined_in).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Family {
        name: raw.family,
        file,
        patterns: raw.models,
        modes,
    })
}

/// The family whose most specific pattern matches the repository name `name` (the part after
/// the owner), when one does: `Qwen3.5-397B*` beats `Qwen3.5-*` for `Qwen3.5-397B-A17B`.
pub fn for_model(name: &str) -> Option<&'static Family> {
    families()
        .iter()
        .filter_map(|family| {
            family
                .patterns
                .iter()
                .filter(|p| glob_matches(p, name))
                .map(|p| p.len() - p.matches('*').count())
                .max()
                .map(|specificity| (specificity, family))
        })
        .max_by_key(|(specificity, _)| *specificity)
        .map(|(_, family)| family)
}

/// `*` matches any text; everything else matches itself, ignoring ASCII case.
fn glob_matches(pattern: &str, name: &str) -> bool {
    let (pattern, name) = (pattern.to_ascii_lowercase(), name.to_ascii_lowercase());
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use benchy_core::Key;

    #[test]
    fn every_shipped_file_is_in_the_catalog_and_every_preset_names_its_card_and_date() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/modes");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut shipped: Vec<String> = FILES.iter().map(|(n, _)| (*n).to_owned()).collect();
        shipped.sort();
        assert_eq!(on_disk, shipped);
        for family in families() {
            assert!(!family.modes.is_empty(), "{}", family.name);
            for mode in &family.modes {
                let card = mode.card.as_deref().unwrap_or_default();
                assert!(
                    card.starts_with("https://huggingface.co/"),
                    "{}",
                    mode.defined_in
                );
                let read = mode.read.as_deref().unwrap_or_default();
                assert_eq!(read.len(), 10, "{}: read {read:?}", mode.defined_in);
            }
        }
    }

    #[test]
    fn the_most_specific_family_matches_by_repository_name() {
        let family = |name: &str| for_model(name).map(|f| f.name.as_str());
        assert_eq!(family("Qwen3.5-9B"), Some("Qwen3.5"));
        assert_eq!(family("qwen3.5-397b-a17b"), Some("Qwen3.5 397B"));
        assert_eq!(family("Qwen3-8B"), Some("Qwen3"));
        assert_eq!(family("DeepSeek-R1-Distill-Qwen-7B"), Some("DeepSeek-R1"));
        assert_eq!(family("gpt-oss-20b"), Some("gpt-oss"));
        assert_eq!(family("Llama-3.1-8B-Instruct"), None);
        assert_eq!(family("Qwen2.5-7B"), None);
    }

    #[test]
    fn a_catalog_preset_is_a_layer_with_its_switch() {
        let qwen = for_model("Qwen3.5-9B").unwrap();
        let instruct = qwen.modes.iter().find(|m| m.name == "instruct").unwrap();
        assert!(!instruct.thinks);
        assert_eq!(instruct.template_kwargs(), ["enable_thinking"]);
        assert!(instruct.layer.entries.contains_key(&Key::PresencePenalty));
        assert!(
            instruct
                .layer
                .source
                .to_string()
                .starts_with("mode:instruct (configs/modes/qwen3.5.yaml:")
        );
    }

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_matches("a*", "abc"));
        assert!(glob_matches("*c", "abc"));
        assert!(glob_matches("a*c", "abc"));
        assert!(glob_matches("a*b*c", "aXbYc"));
        assert!(!glob_matches("a*c", "abcd"));
        assert!(!glob_matches("abc", "abcd"));
        assert!(glob_matches("abc", "ABC"));
        assert!(glob_matches("a*bc", "abc"));
        assert!(!glob_matches("ab*b", "ab"));
    }
}
