//! Plain text tables for the terminal and for `summary.md`-style output.

/// Renders rows under a header with columns padded to their widest cell. Cells are user text of
/// any length (a 65,534-character `--set` key): padding is counted here, never through a format
/// width, which the standard library caps at 65,535.
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            match widths.get_mut(i) {
                Some(width) => *width = (*width).max(cell.chars().count()),
                None => widths.push(cell.chars().count()),
            }
        }
    }
    let line = |cells: &[&str]| {
        let mut out = String::from(" ");
        for (cell, width) in cells.iter().zip(&widths) {
            out.push(' ');
            out.push_str(cell);
            let padding = width.saturating_sub(cell.chars().count()) + 1;
            out.extend(std::iter::repeat_n(' ', padding));
        }
        out.truncate(out.trim_end().len());
        out
    };
    let mut out = vec![line(header)];
    for row in rows {
        out.push(line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    out.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn columns_line_up_under_the_header() {
        let rows = vec![vec!["temperature".to_owned(), "0.7".to_owned()]];
        assert_eq!(
            render(&["parameter", "value"], &rows),
            "  parameter    value\n  temperature  0.7\n"
        );
    }

    #[test]
    fn a_cell_longer_than_any_format_width_is_kept_whole() {
        let key = "k".repeat(70_000);
        let text = render(
            &["parameter", "value"],
            &[vec![key.clone(), "1".to_owned()]],
        );
        assert!(text.contains(&format!("  {key}  1\n")));
    }

    proptest! {
        /// Any text in any cell: no panic, one line per row (plus the header) when cells hold
        /// no line break, and every cell's text in the output.
        #[test]
        fn any_cells_render(
            rows in prop::collection::vec(prop::collection::vec(".{0,300}", 0..5), 0..6),
        ) {
            let text = render(&["a", "b", "c"], &rows);
            for cell in rows.iter().flatten() {
                prop_assert!(text.contains(cell.trim_end()));
            }
            if rows.iter().flatten().all(|c| !c.contains(['\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{2028}', '\u{2029}'])) {
                prop_assert_eq!(text.lines().count(), rows.len() + 1);
            }
        }
    }
}
