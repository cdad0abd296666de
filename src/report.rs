//! `warta eval --report DIR`: pictures of an evaluation to look at — a confusion-matrix heatmap
//! and per-label precision/recall/F1 bars, each as PNG and SVG (plotters), and an `index.html`
//! that shows them beside the numbers. Text is drawn with an embedded DejaVu Sans, so a report
//! renders the same on a machine with no fonts installed.

use crate::error::Error;
use crate::eval::Metrics;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Write as _;
use std::path::Path;

const FONT: &[u8] = include_bytes!("../data/fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

/// What an evaluation produced, for drawing.
pub struct Evaluation<'a> {
    /// Label names, in the order of the confusion matrix's rows and columns.
    pub labels: &'a [String],
    /// `confusion[true][predicted]` counts; `None` for a multi-label model, where one row can
    /// be right and wrong at once and a square matrix does not apply.
    pub confusion: Option<Vec<Vec<u64>>>,
    pub metrics: &'a Metrics,
    /// Shown in the page heading: the model version and the data files.
    pub model: String,
    pub data: Vec<String>,
}

fn register_font() -> Result<(), Error> {
    static ONCE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *ONCE.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok()
            && plotters::style::register_font(FAMILY, FontStyle::Bold, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(Error::Internal("the embedded report font does not load".into()))
    }
}

fn draw_err<E: std::error::Error + Send + Sync>(what: &str) -> impl FnOnce(DrawingAreaErrorKind<E>) -> Error + '_ {
    move |e| Error::Internal(format!("drawing {what}: {e}"))
}

/// Write the report into `dir` (created if missing). Returns the files written.
pub fn write(dir: &Path, ev: &Evaluation<'_>) -> Result<Vec<String>, Error> {
    register_font()?;
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("cannot create {}: {e}", dir.display()),
        ))
    })?;
    let mut files = Vec::new();
    // the labels that occur, in model order (a label with no rows and no predictions is noise)
    let shown: Vec<usize> = (0..ev.labels.len())
        .filter(|&i| ev.metrics.per_label.contains_key(&ev.labels[i]))
        .collect();
    if let Some(cm) = &ev.confusion {
        let size = heatmap_size(shown.len());
        let png = dir.join("confusion.png");
        heatmap(
            BitMapBackend::new(&png, size).into_drawing_area(),
            ev.labels,
            &shown,
            cm,
        )?;
        let svg = dir.join("confusion.svg");
        heatmap(SVGBackend::new(&svg, size).into_drawing_area(), ev.labels, &shown, cm)?;
        files.extend(["confusion.png".to_string(), "confusion.svg".to_string()]);
    }
    let size = bars_size(shown.len());
    let png = dir.join("per_label.png");
    bars(BitMapBackend::new(&png, size).into_drawing_area(), ev, &shown)?;
    let svg = dir.join("per_label.svg");
    bars(SVGBackend::new(&svg, size).into_drawing_area(), ev, &shown)?;
    files.extend(["per_label.png".to_string(), "per_label.svg".to_string()]);

    let html = dir.join("index.html");
    std::fs::write(&html, page(ev, &shown)).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("cannot write {}: {e}", html.display()),
        ))
    })?;
    files.push("index.html".into());
    Ok(files)
}

fn heatmap_size(n: usize) -> (u32, u32) {
    let side = (260 + 56 * n as u32).clamp(480, 2400);
    (side + 80, side)
}

fn bars_size(n: usize) -> (u32, u32) {
    (900, (170 + 54 * n as u32).clamp(330, 4000))
}

/// Long label names would eat the plot: keep the start and mark the cut.
fn short(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_string()
    } else {
        let mut s: String = name.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// A white → deep-blue ramp; `t` in [0, 1].
fn blue(t: f64) -> RGBColor {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0))
}

fn heatmap<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    labels: &[String],
    shown: &[usize],
    cm: &[Vec<u64>],
) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    let err = draw_err::<DB::ErrorType>;
    root.fill(&WHITE).map_err(err("the background"))?;
    let n = shown.len().max(1);
    let count = |t: usize, p: usize| cm.get(t).and_then(|r| r.get(p)).copied().unwrap_or(0);
    // colour by the share of the true label's rows, so rare labels read as clearly as common ones
    let row_total: Vec<u64> = shown
        .iter()
        .map(|&t| shown.iter().map(|&p| count(t, p)).sum())
        .collect();
    let mut chart = ChartBuilder::on(&root)
        .caption("Confusion matrix: rows true label, columns predicted", (FAMILY, 22))
        .margin(16)
        .margin_right(40)
        .x_label_area_size(70)
        .y_label_area_size(170)
        .build_cartesian_2d(0f64..n as f64, 0f64..n as f64)
        .map_err(err("the chart"))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(0)
        .y_labels(0)
        .draw()
        .map_err(err("the axes"))?;
    let centred = |size: u32| TextStyle::from((FAMILY, size).into_font()).pos(Pos::new(HPos::Center, VPos::Center));
    for (ti, &t) in shown.iter().enumerate() {
        let y = (n - 1 - ti) as f64; // first label at the top
        for (pi, &p) in shown.iter().enumerate() {
            let c = count(t, p);
            let share = if row_total[ti] > 0 {
                c as f64 / row_total[ti] as f64
            } else {
                0.0
            };
            let x = pi as f64;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x, y), (x + 1.0, y + 1.0)],
                    blue(share).filled(),
                )))
                .map_err(err("a cell"))?;
            let ink = if share > 0.5 { WHITE } else { BLACK };
            chart
                .draw_series(std::iter::once(Text::new(
                    c.to_string(),
                    (x + 0.5, y + 0.5),
                    centred(15).color(&ink),
                )))
                .map_err(err("a count"))?;
        }
    }
    // label names: true labels left of their rows; predicted labels under their columns,
    // on two staggered lines so that longer names fit
    let left = TextStyle::from((FAMILY, 15).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    let (x0, _) = chart.backend_coord(&(0.0, 0.0));
    let (x1, _) = chart.backend_coord(&(1.0, 0.0));
    let room = ((2 * (x1 - x0).max(1)) / 9).max(4) as usize; // characters in two cell widths
    for (i, &l) in shown.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, (n - 1 - i) as f64 + 0.5));
        root.draw(&Text::new(short(&labels[l], 22), (x - 8, y), left.clone()))
            .map_err(err("a row label"))?;
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        let y = y + 14 + if i % 2 == 1 { 18 } else { 0 };
        root.draw(&Text::new(short(&labels[l], room), (x, y), centred(14)))
            .map_err(err("a column label"))?;
    }
    let (_, bottom) = chart.backend_coord(&(0.0, 0.0));
    let (mid, _) = chart.backend_coord(&(n as f64 / 2.0, 0.0));
    root.draw(&Text::new("predicted", (mid, bottom + 56), centred(16)))
        .map_err(err("the axis name"))?;
    root.present().map_err(err("the file"))
}

fn bars<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, ev: &Evaluation<'_>, shown: &[usize]) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    let err = draw_err::<DB::ErrorType>;
    root.fill(&WHITE).map_err(err("the background"))?;
    let n = shown.len().max(1);
    let caption = format!(
        "Per label: precision, recall, F1 (accuracy {:.3}, macro-F1 {:.3}, n={})",
        ev.metrics.accuracy, ev.metrics.macro_f1, ev.metrics.n
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, (FAMILY, 18))
        .margin(16)
        .x_label_area_size(64)
        .y_label_area_size(190)
        .build_cartesian_2d(0f64..1.0, 0f64..n as f64)
        .map_err(err("the chart"))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(11)
        .x_label_formatter(&|v| format!("{v:.1}"))
        .x_label_style((FAMILY, 14))
        .draw()
        .map_err(err("the axes"))?;
    let series: [(&str, RGBColor); 3] = [
        ("precision", RGBColor(66, 133, 244)),
        ("recall", RGBColor(251, 140, 0)),
        ("F1", RGBColor(52, 168, 83)),
    ];
    for (si, &(_, colour)) in series.iter().enumerate() {
        let rects: Vec<_> = shown
            .iter()
            .enumerate()
            .filter_map(|(row, &l)| {
                let m = ev.metrics.per_label.get(&ev.labels[l])?;
                let v = [m.precision, m.recall, m.f1][si];
                let v = if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
                // first label at the top; three thin bars per label
                let top = (n - 1 - row) as f64 + 0.85 - 0.25 * si as f64;
                Some(Rectangle::new([(0.0, top - 0.22), (v, top)], colour.filled()))
            })
            .collect();
        chart.draw_series(rects).map_err(err("the bars"))?;
    }
    // the legend under the axis, where it hides no bar
    let (right, bottom) = chart.backend_coord(&(1.0, 0.0));
    let top = bottom + 62;
    for (i, (name, colour)) in series.iter().enumerate() {
        let x = right - 300 + 100 * i as i32;
        root.draw(&Rectangle::new([(x, top - 26), (x + 12, top - 14)], colour.filled()))
            .map_err(err("the legend"))?;
        let style = TextStyle::from((FAMILY, 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new(*name, (x + 18, top - 20), style))
            .map_err(err("the legend"))?;
    }
    // label names left of their bars, on the whole picture (the plot area clips its own text)
    let style = TextStyle::from((FAMILY, 15).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    for (row, &l) in shown.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, (n - 1 - row) as f64 + 0.5));
        root.draw(&Text::new(short(&ev.labels[l], 22), (x - 8, y), style.clone()))
            .map_err(err("a label name"))?;
    }
    root.present().map_err(err("the file"))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(ev: &Evaluation<'_>, shown: &[usize]) -> String {
    let m = ev.metrics;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>warta eval report</title>\n\
         <style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}th{{background:#f3f3f3}}\
         td:first-child,th:first-child{{text-align:left}}img{{max-width:100%;border:1px solid #eee}}</style>\n\
         </head><body>\n<h1>warta eval report</h1>\n<p>Model <code>{}</code> on {}.</p>\n\
         <p><b>accuracy {:.4}</b> · <b>macro-F1 {:.4}</b> · n = {}</p>\n",
        escape(&ev.model),
        ev.data
            .iter()
            .map(|d| format!("<code>{}</code>", escape(d)))
            .collect::<Vec<_>>()
            .join(", "),
        m.accuracy,
        m.macro_f1,
        m.n
    );
    h.push_str("<h2>Per label</h2>\n<table><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>\n");
    for &l in shown {
        if let Some(x) = m.per_label.get(&ev.labels[l]) {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td></tr>",
                escape(&ev.labels[l]),
                x.precision,
                x.recall,
                x.f1,
                x.support
            );
        }
    }
    h.push_str("</table>\n<p><img src=\"per_label.png\" alt=\"per-label precision, recall and F1\"> <a href=\"per_label.svg\">SVG</a></p>\n");
    match &ev.confusion {
        Some(cm) => {
            h.push_str("<h2>Confusion matrix</h2>\n<p>Rows: true label; columns: predicted. Colour: share of the true label's rows.</p>\n");
            h.push_str("<p><img src=\"confusion.png\" alt=\"confusion matrix heatmap\"> <a href=\"confusion.svg\">SVG</a></p>\n<table><tr><th>true \\ predicted</th>");
            for &p in shown {
                let _ = write!(h, "<th>{}</th>", escape(&ev.labels[p]));
            }
            h.push_str("</tr>\n");
            for &t in shown {
                let _ = write!(h, "<tr><td>{}</td>", escape(&ev.labels[t]));
                for &p in shown {
                    let c = cm.get(t).and_then(|r| r.get(p)).copied().unwrap_or(0);
                    let _ = write!(h, "<td>{c}</td>");
                }
                h.push_str("</tr>\n");
            }
            h.push_str("</table>\n");
        }
        None => h.push_str(
            "<p>Multi-label model: no confusion matrix (a row can be both right and wrong); per-label figures above.</p>\n",
        ),
    }
    h.push_str("</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::score;

    #[test]
    fn writes_pictures_and_page() {
        let labels: Vec<String> = ["drugs", "migration", "defense <&>"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let truth = [0, 0, 1, 1, 1, 2, 2, 0];
        let predicted = [0, 1, 1, 1, 2, 2, 2, 0];
        let metrics = score(&truth, &predicted, &labels);
        let mut cm = vec![vec![0u64; 3]; 3];
        for (&t, &p) in truth.iter().zip(&predicted) {
            cm[t][p] += 1;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let ev = Evaluation {
            labels: &labels,
            confusion: Some(cm),
            metrics: &metrics,
            model: "v1".into(),
            data: vec!["dev.jsonl".into()],
        };
        let files = write(dir.path(), &ev).expect("report");
        assert_eq!(files.len(), 5);
        let png = std::fs::read(dir.path().join("confusion.png")).expect("png");
        assert_eq!(&png[1..4], b"PNG");
        let svg = std::fs::read_to_string(dir.path().join("per_label.svg")).expect("svg");
        assert!(
            svg.contains("<svg") && svg.contains("migration"),
            "label names are drawn"
        );
        let html = std::fs::read_to_string(dir.path().join("index.html")).expect("html");
        assert!(html.contains("defense &lt;&amp;&gt;") && html.contains("confusion.png"));
        assert!(html.contains(&format!("{:.4}", metrics.accuracy)));
    }
}
