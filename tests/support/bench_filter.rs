//! Whether `cargo bench` asked for another benchmark: it passes `--bench`, and a filter argument
//! that does not name this one means skip it.

pub fn asked_for_another(name: &str) -> bool {
    std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !name.contains(&a))
}
