//! "Did you mean": the nearest of the known names to a mistyped one, by the measure clap uses
//! for its own suggestions (Jaro similarity above 0.7), so benchy's and clap's agree.

/// The candidate most like `word`, if any is close enough.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro(word, candidate), candidate))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn finds_the_closest_name_or_none() {
        let names = ["eval", "serve", "config", "plugins"];
        assert_eq!(nearest("evaluate", names), Some("eval"));
        assert_eq!(nearest("confgi", names), Some("config"));
        assert_eq!(nearest("xyz", names), None);
    }
}
