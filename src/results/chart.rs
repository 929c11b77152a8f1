//! A task's bar chart for the report: one horizontal bar per leaderboard row (long labels stay
//! readable, and 21 models fit), its length the row's value, with an error bar of one standard
//! error either side. Drawn by plotters into SVG text that the report embeds, so the page needs
//! no network and no script.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

/// One bar: its label, value, standard error and colour (an index into plotters' palette, the
/// same for a row in every chart).
#[derive(Clone, Debug)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub stderr: Option<f64>,
    pub color: usize,
}

/// Pixels per bar, and around the plot.
const BAR_HEIGHT: u32 = 28;
const WIDTH: u32 = 760;
const FRAME: u32 = 90;

/// The chart as an `<svg>` element; the first bar is drawn at the top.
pub fn bar_chart(title: &str, axis: &str, bars: &[Bar]) -> Result<String, String> {
    let mut svg = String::new();
    let height = FRAME + BAR_HEIGHT * bars.len().max(1) as u32;
    draw(&mut svg, (WIDTH, height), title, axis, bars).map_err(|e| e.to_string())?;
    Ok(svg)
}

fn draw(
    svg: &mut String,
    size: (u32, u32),
    title: &str,
    axis: &str,
    bars: &[Bar],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, size).into_drawing_area();
    root.fill(&WHITE)?;
    let (low, high) = x_range(bars);
    let longest = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(0);
    let label_area = (longest as u32 * 7 + 16).clamp(60, 320);
    let count = bars.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(label_area)
        .build_cartesian_2d(low..high, (0..count).into_segmented())?;
    // Segment 0 is at the bottom; the first bar goes at the top.
    let row = move |i: usize| count - 1 - i;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(count.max(1))
        .y_label_formatter(&|y| match y {
            SegmentValue::CenterOf(i) if *i < count => bars[row(*i)].label.clone(),
            _ => String::new(),
        })
        .x_desc(axis)
        // plotters sizes these by the chart's height by default: charts of few bars would get
        // smaller letters than charts of many.
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 13))
        .draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(i, bar)| {
        let corners = [
            (0.0, SegmentValue::Exact(row(i))),
            (bar.value, SegmentValue::Exact(row(i) + 1)),
        ];
        let mut rectangle = Rectangle::new(corners, Palette99::pick(bar.color).filled());
        rectangle.set_margin(5, 5, 0, 0);
        rectangle
    }))?;
    chart.draw_series(bars.iter().enumerate().filter_map(|(i, bar)| {
        let se = bar.stderr?;
        Some(ErrorBar::new_horizontal(
            SegmentValue::CenterOf(row(i)),
            bar.value - se,
            bar.value,
            bar.value + se,
            BLACK.stroke_width(2),
            10,
        ))
    }))?;
    root.present()?;
    Ok(())
}

/// From 0 (or the lowest value reached) to a little past the highest value reached.
fn x_range(bars: &[Bar]) -> (f64, f64) {
    let reach = |b: &Bar, sign: f64| b.value + sign * b.stderr.unwrap_or(0.0);
    let low = bars.iter().map(|b| reach(b, -1.0)).fold(0.0, f64::min);
    let high = bars.iter().map(|b| reach(b, 1.0)).fold(0.0, f64::max);
    let span = (high - low).max(1e-9);
    (
        low.min(0.0) - if low < 0.0 { span * 0.05 } else { 0.0 },
        high + span * 0.08,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_error_bars_and_labels_are_drawn() {
        let bars = vec![
            Bar {
                label: "tiny (temperature=0.7)".into(),
                value: 0.5,
                stderr: Some(0.1),
                color: 0,
            },
            Bar {
                label: "tiny (temperature=0.6)".into(),
                value: 0.25,
                stderr: None,
                color: 1,
            },
        ];
        let svg = bar_chart("gen", "exact_match,none", &bars).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("tiny (temperature=0.7)"), "{svg}");
        assert!(svg.contains("exact_match,none"), "{svg}");
        // two bars and one error bar's three lines at least
        assert!(svg.matches("<rect").count() >= 3, "{svg}");
        assert!(svg.matches("<line").count() >= 3, "{svg}");
    }

    #[test]
    fn the_range_covers_every_error_bar() {
        let bar = |value, stderr| Bar {
            label: String::new(),
            value,
            stderr: Some(stderr),
            color: 0,
        };
        let (low, high) = x_range(&[bar(0.9, 0.2), bar(-0.1, 0.05)]);
        assert!(low < -0.15 && high > 1.1, "{low} {high}");
        assert_eq!(x_range(&[]).0, 0.0);
    }
}
