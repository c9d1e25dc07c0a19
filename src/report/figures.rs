//! Figures, each drawn once per backend (PNG for quick viewing, SVG for papers).
//!
//! Every figure states its units on the axes and the profile and corpus in its
//! caption, so a PNG lifted out of the report still says what it shows.

use std::ops::Range;
use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The report's one font, shipped with the source so figures render the same everywhere.
const FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";
const SIZE: (u32, u32) = (960, 540);
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn register_font() -> Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT)
            .map_err(|_| anyhow!("the bundled DejaVuSans.ttf could not be loaded"));
    });
    result
}

fn plot_error<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

/// 1234567 -> "1.2M": axis labels for counts spanning decades.
pub fn si(x: f64) -> String {
    let (scale, suffix) = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|(s, _)| x.abs() >= *s)
        .unwrap_or((1.0, ""));
    let v = x / scale;
    if (v - v.round()).abs() < 0.05 {
        format!("{v:.0}{suffix}")
    } else {
        format!("{v:.1}{suffix}")
    }
}

/// Captions carry profile and corpus, so they run long: shrink the font to fit the width.
fn caption_size(caption: &str) -> u32 {
    let chars = caption.chars().count().max(1) as u32;
    (SIZE.0 * 17 / 10 / chars).clamp(10, 18)
}

pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Something drawable on any plotters backend.
pub trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static;
}

/// Writes `dir/name.png` and `dir/name.svg`.
pub fn save(figure: &impl Figure, dir: &Path, name: &str) -> Result<()> {
    register_font()?;
    std::fs::create_dir_all(dir)?;
    let png = dir.join(format!("{name}.png"));
    let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    figure.draw(&root)?;
    root.present().map_err(plot_error)?;
    let svg = dir.join(format!("{name}.svg"));
    let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    figure.draw(&root)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

/// Grouped vertical bars: one group per label, one bar per series.
pub struct Bars {
    pub caption: String,
    pub y_label: String,
    pub labels: Vec<String>,
    /// (series name, one value per label)
    pub series: Vec<(String, Vec<f64>)>,
}

impl Figure for Bars {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        // Headroom above the tallest bar for its value label and the legend.
        let top = self.series.iter().flat_map(|(_, v)| v).copied().fold(0.0, f64::max).max(1e-9) * 1.35;
        let n = self.labels.len().max(1) as f64;
        let labels = self.labels.clone();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.caption, (FAMILY, caption_size(&self.caption)))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5..n - 0.5, 0.0..top)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(self.labels.len().max(1))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    labels.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_desc(&self.y_label)
            .label_style((FAMILY, 14))
            .draw()
            .map_err(plot_error)?;
        let width = 0.8 / self.series.len().max(1) as f64;
        for (s, (name, values)) in self.series.iter().enumerate() {
            let c = color(s);
            let bars = values.iter().enumerate().map(move |(i, &v)| {
                let x0 = i as f64 - 0.4 + s as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width * 0.95, v)], c.filled())
            });
            chart
                .draw_series(bars)
                .map_err(plot_error)?
                .label(name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
            // Each bar's value above it: a share of 0.001 next to one of 0.9 is otherwise invisible.
            let style = TextStyle::from((FAMILY, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
            let values_on_bars = values.iter().enumerate().map(move |(i, &v)| {
                let x = i as f64 - 0.4 + s as f64 * width + width * 0.475;
                Text::new(format!("{v:.3}"), (x, v), style.clone())
            });
            chart.draw_series(values_on_bars).map_err(plot_error)?;
        }
        if self.series.len() > 1 {
            chart
                .configure_series_labels()
                .label_font((FAMILY, 14))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(plot_error)?;
        }
        Ok(())
    }
}

/// One line per series on shared axes, with marked points (spikes) per series.
pub struct Lines {
    pub caption: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub series: Vec<Curve>,
}

/// A named line with optional marked points (loss spikes, observed values).
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub marks: Vec<(f64, f64)>,
}

impl Lines {
    fn bounds(&self) -> (Range<f64>, Range<f64>) {
        let points = self.series.iter().flat_map(|c| c.points.iter().chain(&c.marks));
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in points {
            if x.is_finite() && y.is_finite() {
                (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
            }
        }
        if x0 > x1 {
            return (0.0..1.0, 0.0..1.0);
        }
        let pad = ((y1 - y0) * 0.05).max(1e-6);
        let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
        (x0..x1, (y0 - pad)..(y1 + pad))
    }
}

impl Figure for Lines {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (xs, ys) = self.bounds();
        if self.log_x {
            let mut chart = ChartBuilder::on(root)
                .caption(&self.caption, (FAMILY, caption_size(&self.caption)))
                .margin(14)
                .margin_right(40)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(xs.log_scale(), ys)
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .y_desc(&self.y_label)
                .x_label_formatter(&|x| si(*x))
                .label_style((FAMILY, 14))
                .draw()
                .map_err(plot_error)?;
            draw_lines(&mut chart, &self.series)
        } else {
            let mut chart = ChartBuilder::on(root)
                .caption(&self.caption, (FAMILY, caption_size(&self.caption)))
                .margin(14)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(xs, ys)
                .map_err(plot_error)?;
            chart
                .configure_mesh()
                .x_desc(&self.x_label)
                .x_label_formatter(&|x| si(*x))
                .y_desc(&self.y_label)
                .label_style((FAMILY, 14))
                .draw()
                .map_err(plot_error)?;
            draw_lines(&mut chart, &self.series)
        }
    }
}

fn draw_lines<'a, DB, X>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    series: &[Curve],
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
{
    for (i, curve) in series.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(curve.points.iter().copied(), c.stroke_width(2)))
            .map_err(plot_error)?
            .label(curve.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
        chart
            .draw_series(curve.marks.iter().map(|&p| Cross::new(p, 6, BLACK.stroke_width(2))))
            .map_err(plot_error)?;
    }
    chart
        .configure_series_labels()
        .label_font((FAMILY, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(plot_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_captions_get_a_smaller_font() {
        assert_eq!(caption_size("short"), 18);
        assert!(caption_size(&"x".repeat(140)) < 13);
    }

    #[test]
    fn si_labels_are_short() {
        assert_eq!(si(1_345_423_360.0), "1.3B");
        assert_eq!(si(100_000.0), "100k");
        assert_eq!(si(2.5), "2.5");
    }

    #[test]
    fn figures_render_to_png_and_svg_with_their_text() {
        let dir = tempfile::tempdir().unwrap();
        let bars = Bars {
            caption: "usable tokens (profile smoke, synthetic corpus)".into(),
            y_label: "tokens".into(),
            labels: vec!["Y01".into(), "Y06".into()],
            series: vec![("tokens".into(), vec![10.0, 20.0])],
        };
        save(&bars, dir.path(), "bars").unwrap();
        let lines = Lines {
            caption: "loss".into(),
            x_label: "non-embedding parameters".into(),
            y_label: "loss (nats/token)".into(),
            log_x: true,
            series: vec![Curve {
                name: "fit".into(),
                points: vec![(1e4, 3.0), (1e6, 2.0)],
                marks: vec![(1e5, 2.5)],
            }],
        };
        save(&lines, dir.path(), "lines").unwrap();
        for name in ["bars", "lines"] {
            let png = std::fs::read(dir.path().join(format!("{name}.png"))).unwrap();
            assert_eq!(&png[..4], b"\x89PNG");
            let svg = std::fs::read_to_string(dir.path().join(format!("{name}.svg"))).unwrap();
            assert!(svg.contains("<svg"));
        }
        let svg = std::fs::read_to_string(dir.path().join("bars.svg")).unwrap();
        assert!(svg.contains("Y06") && svg.contains("usable tokens"), "labels and caption are drawn");
    }
}
