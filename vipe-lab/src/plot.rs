//! Figures, drawn from a results directory's CSVs (so `vipe-lab plot DIR` redraws
//! exactly what `run` drew): SVG and PNG through plotters, labelled axes with units,
//! 95% CI error bars, log axes where x spans two decades or more, a legend, and the
//! experiment's reference points or model overlaid.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::experiment::{DynExperiment, FigureKind, FigureSpec, Reference};
use crate::param::{ParamKind, ParamSpec};

const WIDTH: u32 = 900;
const HEIGHT: u32 = 600;
const FONT: &str = "sans-serif";

/// Okabe–Ito: distinguishable with every common colour-vision deficiency.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    // Not black: published points are drawn in black.
    RGBColor(140, 86, 75),
];

/// Viridis anchors: a sequential map for more series than the palette has colours (a
/// sweep's curves then read in the order of the swept value).
const VIRIDIS: [(f64, f64, f64); 5] = [
    (68.0, 1.0, 84.0),
    (59.0, 82.0, 139.0),
    (33.0, 145.0, 140.0),
    (94.0, 201.0, 98.0),
    (220.0, 200.0, 30.0),
];

/// Colour `i` of `n` series: the palette, or viridis when there are more than it holds.
fn color(i: usize, n: usize) -> RGBColor {
    if n <= PALETTE.len() {
        return PALETTE[i % PALETTE.len()];
    }
    let t = i as f64 / (n - 1).max(1) as f64 * (VIRIDIS.len() - 1) as f64;
    let k = (t.floor() as usize).min(VIRIDIS.len() - 2);
    let f = t - k as f64;
    let (a, b) = (VIRIDIS[k], VIRIDIS[k + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// One CSV as rows of `column → cell`.
struct Table {
    rows: Vec<BTreeMap<String, String>>,
}

impl Table {
    fn read(path: &Path) -> Result<Table, String> {
        let mut reader =
            csv::Reader::from_path(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| format!("reading {}: {e}", path.display()))?
            .iter()
            .map(String::from)
            .collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| format!("reading {}: {e}", path.display()))?;
            rows.push(
                header
                    .iter()
                    .cloned()
                    .zip(record.iter().map(String::from))
                    .collect(),
            );
        }
        Ok(Table { rows })
    }
}

fn number(row: &BTreeMap<String, String>, column: &str) -> Option<f64> {
    row.get(column)?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Style {
    /// Measured: line, filled markers, error bars.
    Measured,
    /// A model: dashed line.
    Model,
    /// Published points: hollow markers.
    Published,
    /// A CDF curve: plain line.
    Curve,
}

/// A drawn point: x, y and the ends of its confidence interval.
type Point = (f64, f64, Option<(f64, f64)>);

struct Series {
    label: String,
    color: RGBColor,
    style: Style,
    /// (x, y, CI ends).
    points: Vec<Point>,
}

/// The points of a series that the figure's axes can show: a value of 0 or less has no
/// place on a log axis (plotters would draw it at the axis' end, as if it were the
/// smallest value shown), so it is left out.
fn drawable(figure: &Figure, points: &[Point]) -> Vec<Point> {
    points
        .iter()
        .copied()
        .filter(|&(x, y, _)| (!figure.x_log || x > 0.0) && (!figure.y_log || y > 0.0))
        .collect()
}

struct Figure {
    title: String,
    x_label: String,
    y_label: String,
    x_log: bool,
    y_log: bool,
    /// The legend goes in a band kept free above the data (line figures); otherwise in
    /// the emptiest corner (CDFs).
    legend_on_top: bool,
    series: Vec<Series>,
    /// Names of the x values 0, 1, 2, … when x is a text parameter (empty otherwise).
    x_categories: Vec<String>,
}

/// Draws every figure of `exp` from the CSVs in `dir`; returns the files written.
pub fn draw_all(exp: &dyn DynExperiment, dir: &Path) -> Result<Vec<PathBuf>, String> {
    register_font();
    let specs = exp.params();
    let summary = Table::read(&dir.join("summary.csv"))?;
    let mut files = Vec::new();
    for spec in exp.figures() {
        let figure = match &spec.kind {
            FigureKind::Line { x, ys } => line_figure(&spec, &specs, &summary, x, ys)?,
            FigureKind::Cdf { sample } | FigureKind::Pdf { sample } => {
                let column = exp
                    .samples()
                    .iter()
                    .find(|s| s.name == *sample)
                    .map_or(*sample, |s| s.value_column);
                let pdf = matches!(spec.kind, FigureKind::Pdf { .. });
                let file = format!("{sample}_{}.csv", if pdf { "pdf" } else { "cdf" });
                let table = Table::read(&dir.join(file))?;
                distribution_figure(&spec, &specs, &table, column, pdf)
            }
        };
        files.extend(render(&figure, dir, spec.file)?);
    }
    Ok(files)
}

/// The parameters that take more than one value in `rows`.
fn varying(specs: &[ParamSpec], rows: &[BTreeMap<String, String>]) -> Vec<&'static str> {
    specs
        .iter()
        .filter(|s| {
            let mut values: Vec<&String> = rows.iter().filter_map(|r| r.get(s.name)).collect();
            values.sort();
            values.dedup();
            values.len() > 1
        })
        .map(|s| s.name)
        .collect()
}

fn group_label(row: &BTreeMap<String, String>, names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n}={}", row.get(*n).map_or("", String::as_str)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn line_figure(
    spec: &FigureSpec,
    specs: &[ParamSpec],
    summary: &Table,
    x: &str,
    ys: &[crate::experiment::Y],
) -> Result<Figure, String> {
    let x_spec = specs
        .iter()
        .find(|s| s.name == x)
        .ok_or_else(|| format!("figure {}: no parameter '{x}' for x", spec.file))?;
    // A text parameter on x is drawn as categories, in the order the summary lists them.
    let mut categories: Vec<String> = Vec::new();
    if matches!(x_spec.kind, ParamKind::Text { .. }) {
        for row in &summary.rows {
            if let Some(v) = row.get(x)
                && !categories.contains(v)
            {
                categories.push(v.clone());
            }
        }
    }
    let x_of = |r: &BTreeMap<String, String>| -> Option<f64> {
        if categories.is_empty() {
            number(r, x)
        } else {
            let v = r.get(x)?;
            categories.iter().position(|c| c == v).map(|i| i as f64)
        }
    };
    let others: Vec<&str> = varying(specs, &summary.rows)
        .into_iter()
        .filter(|n| *n != x)
        .collect();
    // Rows grouped by the other varying parameters, in first-seen order.
    let mut groups: Vec<(String, Vec<&BTreeMap<String, String>>)> = Vec::new();
    for row in &summary.rows {
        let key = group_label(row, &others);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, rows)) => rows.push(row),
            None => groups.push((key, vec![row])),
        }
    }
    let mut series = Vec::new();
    let mut measured = 0;
    for (key, rows) in &groups {
        for y in ys {
            let column = y.column();
            let ci = y.ci_columns();
            let mut points: Vec<Point> = rows
                .iter()
                .filter_map(|r| {
                    let xv = x_of(r)?;
                    let yv = number(r, &column)?;
                    let band = ci
                        .as_ref()
                        .and_then(|(lo, hi)| Some((number(r, lo)?, number(r, hi)?)));
                    Some((xv, yv, band))
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let label = match (ys.len() > 1, key.is_empty()) {
                (true, true) => y.label(),
                (true, false) => format!("{}, {key}", y.label()),
                (false, true) => y.label(),
                (false, false) => key.clone(),
            };
            series.push(Series {
                label,
                color: color(measured, groups.len() * ys.len()),
                style: Style::Measured,
                points,
            });
            measured += 1;
        }
        for reference in &spec.references {
            if let Reference::Model { label, value } = reference
                && categories.is_empty()
            {
                // The model is smooth in x: evaluate it at 100 x values across the
                // group's range, the group's other parameters held.
                let xs: Vec<f64> = rows.iter().filter_map(|r| number(r, x)).collect();
                let (lo, hi) = xs
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                        (l.min(v), h.max(v))
                    });
                let log = spans_decades(&xs);
                let first = rows[0];
                let points: Vec<Point> = (0..=100)
                    .filter(|_| lo.is_finite())
                    .filter_map(|i| {
                        let t = f64::from(i) / 100.0;
                        let xv = if log {
                            (lo.ln() + t * (hi.ln() - lo.ln())).exp()
                        } else {
                            lo + t * (hi - lo)
                        };
                        let lookup = |name: &str| {
                            if name == x {
                                Some(xv)
                            } else {
                                number(first, name)
                            }
                        };
                        Some((xv, value(&lookup)?, None))
                    })
                    .collect();
                let model_color = if groups.len() == 1 {
                    RGBColor(90, 90, 90)
                } else {
                    color(measured - 1, groups.len() * ys.len())
                };
                series.push(Series {
                    label: if key.is_empty() {
                        label.to_string()
                    } else {
                        format!("{label}, {key}")
                    },
                    color: model_color,
                    style: Style::Model,
                    points,
                });
            }
        }
    }
    for reference in &spec.references {
        if let Reference::Points { label, points } = reference {
            series.push(Series {
                label: label.to_string(),
                color: RGBColor(0, 0, 0),
                style: Style::Published,
                points: points.iter().map(|&(x, y)| (x, y, None)).collect(),
            });
        }
    }
    let xs: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    Ok(Figure {
        title: spec.title.into(),
        x_label: x_spec.label(),
        y_label: spec.y_label.into(),
        x_log: categories.is_empty() && spans_decades(&xs),
        y_log: spec.y_log,
        legend_on_top: true,
        series,
        x_categories: categories,
    })
}

/// One curve per point: a CDF drawn as steps, or a PDF (fraction at each value) as a
/// line with markers.
fn distribution_figure(
    spec: &FigureSpec,
    specs: &[ParamSpec],
    table: &Table,
    sample: &str,
    pdf: bool,
) -> Figure {
    let names = varying(specs, &table.rows);
    let mut curves: Vec<Series> = Vec::new();
    let column = if pdf { "fraction" } else { "cdf" };
    for row in &table.rows {
        let key = group_label(row, &names);
        let (Some(v), Some(q)) = (number(row, sample), number(row, column)) else {
            continue;
        };
        if curves.last().is_none_or(|c| c.label != key) {
            curves.push(Series {
                label: key.clone(),
                color: PALETTE[0],
                style: if pdf { Style::Measured } else { Style::Curve },
                points: Vec::new(),
            });
        }
        let curve = curves.last_mut().expect("pushed above");
        // Steps: the CDF jumps at each value.
        if !pdf && let Some(&(_, last_q, _)) = curve.points.last() {
            curve.points.push((v, last_q, None));
        }
        curve.points.push((v, q, None));
    }
    for reference in &spec.references {
        if let Reference::Points { label, points } = reference {
            curves.push(Series {
                label: label.to_string(),
                color: RGBColor(0, 0, 0),
                style: Style::Published,
                points: points.iter().map(|&(x, y)| (x, y, None)).collect(),
            });
        }
    }
    // Markers help a few discrete values; past 40 per curve they hide the shape.
    for c in &mut curves {
        if c.style == Style::Measured && c.points.len() > 40 {
            c.style = Style::Curve;
        }
    }
    let n = curves
        .iter()
        .filter(|c| c.style != Style::Published)
        .count();
    for (i, curve) in curves.iter_mut().enumerate().take(n) {
        curve.color = color(i, n);
    }
    // One measured curve (nothing swept): name it, published points or not.
    if n == 1 && curves[0].label.is_empty() {
        curves[0].label = "all seeds pooled".into();
    }
    let xs: Vec<f64> = curves
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    Figure {
        title: spec.title.into(),
        x_label: spec.y_label.into(),
        y_label: if pdf {
            "fraction of samples (PDF)".into()
        } else {
            "fraction ≤ x (empirical CDF)".into()
        },
        x_log: !pdf && spans_decades(&xs),
        y_log: false,
        legend_on_top: pdf,
        series: curves,
        x_categories: Vec::new(),
    }
}

/// Whether positive values span two decades or more (then x is drawn on a log scale).
fn spans_decades(values: &[f64]) -> bool {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    min > 0.0 && max / min >= 100.0
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("the bundled DejaVu Sans is a valid font"));
        plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold())
            .unwrap_or_else(|_| panic!("the bundled DejaVu Sans Bold is a valid font"));
    });
}

fn render(figure: &Figure, dir: &Path, file: &str) -> Result<Vec<PathBuf>, String> {
    let svg = dir.join(format!("{file}.svg"));
    let png = dir.join(format!("{file}.png"));
    {
        let root = SVGBackend::new(&svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, figure).map_err(|e| format!("drawing {}: {e}", svg.display()))?;
        root.present()
            .map_err(|e| format!("writing {}: {e}", svg.display()))?;
    }
    {
        let root = BitMapBackend::new(&png, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root, figure).map_err(|e| format!("drawing {}: {e}", png.display()))?;
        root.present()
            .map_err(|e| format!("writing {}: {e}", png.display()))?;
    }
    Ok(vec![svg, png])
}

/// The range of the drawn values (CI ends included), padded; log ranges stay positive.
/// A linear range starts at zero when the data sit closer to zero than their own span;
/// `headroom` (a fraction of the span) is left free above the data for the legend.
fn range(values: impl Iterator<Item = f64>, log: bool, headroom: f64) -> Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && (!log || *v > 0.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return if log { 1.0..10.0 } else { 0.0..1.0 };
    }
    if log {
        let (l, h) = (lo.ln(), hi.ln());
        let span = (h - l).max(0.5);
        return (l - 0.05 * span).exp()..(h + (0.05 + headroom) * span).exp();
    }
    let (mut lo, mut hi) = (lo, hi);
    if hi - lo < 1e-12 {
        let pad = if hi.abs() > 0.0 { hi.abs() * 0.1 } else { 1.0 };
        lo -= pad;
        hi += pad;
    }
    let span = hi - lo;
    let from_zero = lo >= 0.0 && lo <= span;
    let bottom = if from_zero { 0.0 } else { lo - 0.05 * span };
    let span = hi - bottom;
    bottom..hi + (0.05 + headroom) * span
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, figure: &Figure) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let xs: Vec<f64> = figure
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    // Whole numbers on x (hop counts) get whole-number ticks once the span allows.
    let whole_x = !xs.is_empty() && xs.iter().all(|x| x.fract() == 0.0);
    let xs = xs.into_iter();
    let ys = figure.series.iter().flat_map(|s| {
        s.points
            .iter()
            .flat_map(|p| [Some(p.1), p.2.map(|c| c.0), p.2.map(|c| c.1)])
            .flatten()
    });
    let x = if figure.x_categories.is_empty() {
        range(xs, figure.x_log, 0.0)
    } else {
        -0.5..figure.x_categories.len() as f64 - 0.5
    };
    // Line figures keep a band above the data for the legend (one row per series).
    let headroom = if figure.legend_on_top {
        0.07 * figure.series.len() as f64 + 0.04
    } else {
        0.0
    };
    let y = range(ys, figure.y_log, headroom);
    let labels = TickLabels {
        x: if figure.x_log {
            None
        } else if whole_x && x.end - x.start >= 5.0 {
            Some(0)
        } else {
            decimals(&x)
        },
        y: if figure.y_log { None } else { decimals(&y) },
        categories: figure.x_categories.clone(),
    };
    match (figure.x_log, figure.y_log) {
        (false, false) => chart(root, figure, labels, x, y),
        (true, false) => chart(root, figure, labels, x.log_scale(), y),
        (false, true) => chart(root, figure, labels, x, y.log_scale()),
        (true, true) => chart(root, figure, labels, x.log_scale(), y.log_scale()),
    }
}

/// Decimals of the tick labels of a linear axis (`None`: plotters' own, for log axes),
/// so that every label on an axis has as many.
struct TickLabels {
    x: Option<usize>,
    y: Option<usize>,
    /// Category names at x = 0, 1, 2, … (then no other x label is drawn).
    categories: Vec<String>,
}

/// A tick label in SI style (`300k`, `2.5M`), for log axes and large numbers.
fn si(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = format!("{scaled:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}{suffix}")
}

/// Decimals for ~10 ticks across a linear `range`; `None` (SI labels) past a million.
fn decimals(range: &Range<f64>) -> Option<usize> {
    if range.end.abs().max(range.start.abs()) >= 1e6 {
        return None;
    }
    let step = (range.end - range.start) / 10.0;
    if step <= 0.0 || !step.is_finite() {
        return Some(2);
    }
    Some((-(step.log10().floor())).max(0.0) as usize)
}

/// A tick label with `decimals` digits after the point, "-0" shown as "0".
fn tick(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
        text[1..].to_string()
    } else {
        text
    }
}

fn chart<DB, X, Y>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure,
    labels: TickLabels,
    x: X,
    y: Y,
) -> Result<(), String>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let mut chart = ChartBuilder::on(root)
        .caption(&figure.title, (FONT, 24).into_font().style(FontStyle::Bold))
        .margin(18)
        .x_label_area_size(56)
        .y_label_area_size(80)
        .build_cartesian_2d(x, y)
        .map_err(err)?;
    let x_ticks = |v: &f64| {
        if labels.categories.is_empty() {
            return labels.x.map_or_else(|| si(*v), |d| tick(*v, d));
        }
        let i = v.round();
        match labels.categories.get(i as usize) {
            Some(name) if (v - i).abs() < 1e-6 && i >= 0.0 => name.clone(),
            _ => String::new(),
        }
    };
    let y_ticks = |v: &f64| labels.y.map_or_else(|| si(*v), |d| tick(*v, d));
    let mut mesh = chart.configure_mesh();
    mesh.x_label_formatter(&x_ticks);
    mesh.y_label_formatter(&y_ticks);
    mesh.x_desc(&figure.x_label)
        .y_desc(&figure.y_label)
        .axis_desc_style((FONT, 18))
        .label_style((FONT, 15))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04))
        .x_labels(10)
        .y_labels(10)
        .draw()
        .map_err(err)?;
    for s in &figure.series {
        let color = s.color;
        let drawn = drawable(figure, &s.points);
        let points: Vec<(f64, f64)> = drawn.iter().map(|p| (p.0, p.1)).collect();
        match s.style {
            Style::Measured => {
                chart
                    .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                    .map_err(err)?
                    .label(&s.label)
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(0, 0), (22, 0)], color.stroke_width(2))
                            + Circle::new((11, 0), 4, color.filled())
                    });
                chart
                    .draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))
                    .map_err(err)?;
                chart
                    .draw_series(drawn.iter().filter_map(|&(x, y, ci)| {
                        let (lo, hi) = ci?;
                        Some(ErrorBar::new_vertical(
                            x,
                            lo,
                            y,
                            hi,
                            color.stroke_width(2),
                            12,
                        ))
                    }))
                    .map_err(err)?;
            }
            Style::Model => {
                chart
                    .draw_series(DashedLineSeries::new(points, 8, 6, color.stroke_width(2)))
                    .map_err(err)?
                    .label(&s.label)
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(0, 0), (9, 0)], color.stroke_width(2))
                            + PathElement::new(vec![(14, 0), (22, 0)], color.stroke_width(2))
                    });
            }
            Style::Published => {
                chart
                    .draw_series(
                        points
                            .iter()
                            .map(|&p| Cross::new(p, 6, color.stroke_width(2))),
                    )
                    .map_err(err)?
                    .label(&s.label)
                    .legend(move |(x, y)| Cross::new((x + 11, y), 6, color.stroke_width(2)));
            }
            Style::Curve => {
                chart
                    .draw_series(LineSeries::new(points, color.stroke_width(2)))
                    .map_err(err)?
                    .label(&s.label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(2))
                    });
            }
        }
    }
    chart
        .configure_series_labels()
        .position(legend_position(figure))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, 15))
        .margin(12)
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Upper left for line figures (their band above the data is free); otherwise the
/// corner with the fewest drawn points, so the legend hides as little as it can.
fn legend_position(figure: &Figure) -> SeriesLabelPosition {
    if figure.legend_on_top {
        return SeriesLabelPosition::UpperLeft;
    }
    let points: Vec<(f64, f64)> = figure
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| (p.0, p.1)))
        .collect();
    if points.is_empty() {
        return SeriesLabelPosition::UpperRight;
    }
    let scale = |v: f64, log: bool| if log && v > 0.0 { v.ln() } else { v };
    let (xs, ys): (Vec<f64>, Vec<f64>) = points
        .iter()
        .map(|&(x, y)| (scale(x, figure.x_log), scale(y, figure.y_log)))
        .unzip();
    let mid = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    };
    let (mx, my) = (mid(&xs), mid(&ys));
    let count = |right: bool, upper: bool| {
        xs.iter()
            .zip(&ys)
            .filter(|&(&x, &y)| (x >= mx) == right && (y >= my) == upper)
            .count()
    };
    [
        (count(true, true), SeriesLabelPosition::UpperRight),
        (count(false, true), SeriesLabelPosition::UpperLeft),
        (count(true, false), SeriesLabelPosition::LowerRight),
        (count(false, false), SeriesLabelPosition::LowerLeft),
    ]
    .into_iter()
    .min_by_key(|(n, _)| *n)
    .map(|(_, p)| p)
    .expect("four corners")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_at_or_below_zero_are_left_off_log_axes_only() {
        let figure = |x_log, y_log| Figure {
            title: String::new(),
            x_label: String::new(),
            y_label: String::new(),
            x_log,
            y_log,
            legend_on_top: true,
            series: Vec::new(),
            x_categories: Vec::new(),
        };
        let points = [
            (1e6, 0.0, None),
            (1e6, 5.0, None),
            (0.0, 5.0, None),
            (-1.0, -1.0, None),
        ];
        assert_eq!(drawable(&figure(false, false), &points).len(), 4);
        assert_eq!(
            drawable(&figure(false, true), &points),
            [(1e6, 5.0, None), (0.0, 5.0, None)]
        );
        assert_eq!(drawable(&figure(true, true), &points), [(1e6, 5.0, None)]);
    }
}
