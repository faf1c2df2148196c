//! Hand-written SVG plots: growth over time, degree distribution, capacity distribution.
//!
//! Each function returns a complete standalone SVG document (800 × 500, white background,
//! axes with ticks, numeric tick labels, axis titles and a title). No plotting crate, no
//! fonts and no native libraries are needed to produce them; text is rendered by the viewer
//! in its default sans-serif font.
//!
//! Degenerate input never panics and never writes `NaN` or an infinity: non-finite points
//! are skipped, a single value gets a small range around it, and when nothing is left to draw
//! the plot says "no data". Outputs stay small: long time series are thinned to a few points
//! per pixel column, and the capacity CCDF keeps at most about two thousand points whatever
//! the number of nodes.

use std::fmt::{Arguments, Write as _};

/// Width of every plot, in pixels.
const WIDTH: f64 = 800.0;
/// Height of every plot, in pixels.
const HEIGHT: f64 = 500.0;
/// Space left of the plot area (tick labels and the y-axis title).
const LEFT: f64 = 80.0;
/// Space right of the plot area.
const RIGHT: f64 = 30.0;
/// Space above the plot area (the title).
const TOP: f64 = 50.0;
/// Space below the plot area (tick labels and the x-axis title).
const BOTTOM: f64 = 60.0;
/// Width of the plot area.
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
/// Height of the plot area.
const PLOT_H: f64 = HEIGHT - TOP - BOTTOM;
/// Series colours, reused cyclically.
const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];
/// Line series longer than this are thinned per pixel column.
const MAX_LINE_POINTS: usize = 2000;
/// Series with at most this many points also get a marker on each point.
const MAX_MARKED_POINTS: usize = 30;
/// Minimum on-screen step (|dx| + |dy|, pixels) between two kept points of the CCDF.
/// The CCDF is monotone, so it keeps at most (PLOT_W + PLOT_H) / this + 2 points.
const CCDF_MIN_STEP: f64 = 0.6;

/// One named line of [`growth_over_time`].
#[derive(Clone, Copy, Debug)]
pub struct Series<'a> {
    /// Name shown in the legend.
    pub name: &'a str,
    /// `(x, y)` points in drawing order; non-finite points are skipped.
    pub points: &'a [(f64, f64)],
}

/// Lines over time (x: hours), e.g. nodes present and channels open; linear axes; several
/// series share the axes, with a legend when there are two or more. The y axis always
/// includes 0.
pub fn growth_over_time(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
) -> String {
    let finite: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect()
        })
        .collect();
    let all = finite.iter().flatten();
    let Some((x_min, x_max, y_min, y_max)) = bounds(all) else {
        return no_data(title, x_label, y_label);
    };
    let x_axis = Axis::linear(x_min, x_max);
    let y_axis = Axis::linear(y_min.min(0.0), y_max.max(0.0));

    let mut svg = begin(title, x_label, y_label);
    draw_axes(&mut svg, &x_axis, &y_axis);
    for (i, points) in finite.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let pixels: Vec<(f64, f64)> = points
            .iter()
            .map(|&(x, y)| (x_axis.px(x), y_axis.py(y)))
            .collect();
        let pixels = thin_columns(&pixels);
        if pixels.len() >= 2 {
            put(
                &mut svg,
                format_args!(
                    "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" \
                     stroke-linejoin=\"round\" points=\""
                ),
            );
            for (k, &(x, y)) in pixels.iter().enumerate() {
                let sep = if k == 0 { "" } else { " " };
                put(&mut svg, format_args!("{sep}{},{}", num(x), num(y)));
            }
            svg.push_str("\"/>\n");
        }
        if pixels.len() <= MAX_MARKED_POINTS {
            put(&mut svg, format_args!("<g fill=\"{colour}\">\n"));
            for &(x, y) in &pixels {
                put(
                    &mut svg,
                    format_args!("<circle cx=\"{}\" cy=\"{}\" r=\"3\"/>\n", num(x), num(y)),
                );
            }
            svg.push_str("</g>\n");
        }
    }
    if series.len() >= 2 {
        legend(&mut svg, series);
    }
    finish(svg)
}

/// Degree distribution as points on log-log axes: `(degree, number of nodes)` with degree
/// ≥ 1 and count ≥ 1 (others are skipped; the number of nodes of degree 0 is noted in the
/// plot), with powers of ten as ticks.
pub fn degree_distribution(title: &str, histogram: &[(u32, u64)]) -> String {
    let x_label = "degree (channels per node)";
    let y_label = "number of nodes";
    let points: Vec<(f64, f64)> = histogram
        .iter()
        .filter(|&&(d, c)| d >= 1 && c >= 1)
        .map(|&(d, c)| (f64::from(d), c as f64))
        .collect();
    let isolated: u64 = histogram
        .iter()
        .filter(|&&(d, _)| d == 0)
        .map(|&(_, c)| c)
        .sum();
    let Some((x_min, x_max, y_min, y_max)) = bounds(points.iter()) else {
        return no_data(title, x_label, y_label);
    };
    let x_axis = Axis::log(x_min, x_max);
    let y_axis = Axis::log(y_min, y_max);

    let mut svg = begin(title, x_label, y_label);
    draw_axes(&mut svg, &x_axis, &y_axis);
    put(
        &mut svg,
        format_args!("<g fill=\"{}\" fill-opacity=\"0.8\">\n", PALETTE[0]),
    );
    for &(x, y) in &points {
        put(
            &mut svg,
            format_args!(
                "<circle cx=\"{}\" cy=\"{}\" r=\"3\"/>\n",
                num(x_axis.px(x)),
                num(y_axis.py(y))
            ),
        );
    }
    svg.push_str("</g>\n");
    if isolated > 0 {
        note(&mut svg, &format!("{isolated} nodes of degree 0 not shown"));
    }
    finish(svg)
}

/// Capacity distribution: the complementary CDF `P(capacity ≥ x)` on log-log axes, over the
/// positive finite capacities (zeros are skipped and their number noted in the plot).
/// The curve is thinned on screen to at most about two thousand points, so a million values
/// give a file of a few tens of kilobytes.
pub fn capacity_distribution(title: &str, capacities: &[f64]) -> String {
    let x_label = "capacity x (tokens)";
    let y_label = "P(capacity ≥ x)";
    let mut values: Vec<f64> = capacities
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    let skipped = capacities.len() - values.len();
    if values.is_empty() {
        return no_data(title, x_label, y_label);
    }
    values.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    let nf = n as f64;
    let x_axis = Axis::log(values[0], values[n - 1]);
    // Down to 1/n, and at least one decade below 1 even for a single value.
    let y_axis = Axis::log((1.0 / nf).min(0.1), 1.0);

    // One point per distinct value x: the share of values ≥ x, kept when it moves far
    // enough on screen from the last kept point (and always the first and the last).
    let mut kept: Vec<(f64, f64)> = Vec::new();
    let mut pending: Option<(f64, f64)> = None;
    for (i, &v) in values.iter().enumerate() {
        if i > 0 && values[i - 1] == v {
            continue;
        }
        let p = (x_axis.px(v), y_axis.py((n - i) as f64 / nf));
        match kept.last() {
            Some(&(lx, ly)) if (p.0 - lx).abs() + (p.1 - ly).abs() < CCDF_MIN_STEP => {
                pending = Some(p);
            }
            _ => {
                kept.push(p);
                pending = None;
            }
        }
    }
    if let Some(p) = pending {
        kept.push(p);
    }

    let mut svg = begin(title, x_label, y_label);
    draw_axes(&mut svg, &x_axis, &y_axis);
    let colour = PALETTE[0];
    if kept.len() >= 2 {
        put(
            &mut svg,
            format_args!(
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" \
                 stroke-linejoin=\"round\" points=\""
            ),
        );
        // A step function: P(capacity ≥ x) drops at each value and is flat in between,
        // so each point is reached by a vertical then a horizontal segment.
        let (x0, y0) = kept[0];
        put(&mut svg, format_args!("{},{}", num(x0), num(y0)));
        for pair in kept.windows(2) {
            let ((px, _), (x, y)) = (pair[0], pair[1]);
            put(
                &mut svg,
                format_args!(" {},{} {},{}", num(px), num(y), num(x), num(y)),
            );
        }
        svg.push_str("\"/>\n");
    }
    if kept.len() <= MAX_MARKED_POINTS {
        put(&mut svg, format_args!("<g fill=\"{colour}\">\n"));
        for &(x, y) in &kept {
            put(
                &mut svg,
                format_args!("<circle cx=\"{}\" cy=\"{}\" r=\"3\"/>\n", num(x), num(y)),
            );
        }
        svg.push_str("</g>\n");
    }
    let mut text = format!("{} with positive capacity", nodes(n as u64));
    if skipped > 0 {
        let _ = write!(text, "; {skipped} with none not shown");
    }
    note(&mut svg, &text);
    finish(svg)
}

/// "1 node", "2 nodes".
fn nodes(count: u64) -> String {
    if count == 1 {
        "1 node".to_owned()
    } else {
        format!("{count} nodes")
    }
}

/// Appends formatted text; writing to a `String` cannot fail.
fn put(out: &mut String, args: Arguments<'_>) {
    let _ = out.write_fmt(args);
}

/// A coordinate with one decimal; anything non-finite (which the callers avoid) becomes 0
/// so that no `NaN` or infinity can reach the document.
fn num(v: f64) -> String {
    if v.is_finite() {
        let s = format!("{v:.1}");
        if s == "-0.0" {
            "0.0".to_owned()
        } else {
            s
        }
    } else {
        "0".to_owned()
    }
}

/// Escapes text for XML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab and newlines are not allowed in XML 1.0.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `(x_min, x_max, y_min, y_max)` of the points, or `None` when there are none.
fn bounds<'p>(points: impl Iterator<Item = &'p (f64, f64)>) -> Option<(f64, f64, f64, f64)> {
    points.fold(None, |acc, &(x, y)| match acc {
        None => Some((x, x, y, y)),
        Some((a, b, c, d)) => Some((a.min(x), b.max(x), c.min(y), d.max(y))),
    })
}

/// The document header, background, title and axis titles.
fn begin(title: &str, x_label: &str, y_label: &str) -> String {
    let mut svg = String::with_capacity(16 * 1024);
    put(
        &mut svg,
        format_args!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"white\"/>\n\
             <text x=\"{tx}\" y=\"30\" text-anchor=\"middle\" font-size=\"16\" \
             font-weight=\"bold\">{title}</text>\n\
             <text x=\"{tx}\" y=\"{xy}\" text-anchor=\"middle\" font-size=\"13\">{x_label}</text>\n\
             <text transform=\"translate(20 {yy}) rotate(-90)\" text-anchor=\"middle\" \
             font-size=\"13\">{y_label}</text>\n",
            w = WIDTH,
            h = HEIGHT,
            tx = num(LEFT + PLOT_W / 2.0),
            xy = num(HEIGHT - 15.0),
            yy = num(TOP + PLOT_H / 2.0),
            title = escape(title),
            x_label = escape(x_label),
            y_label = escape(y_label),
        ),
    );
    svg
}

/// Closes the document.
fn finish(mut svg: String) -> String {
    svg.push_str("</svg>\n");
    svg
}

/// A plot with an empty frame that says "no data".
fn no_data(title: &str, x_label: &str, y_label: &str) -> String {
    let mut svg = begin(title, x_label, y_label);
    plot_frame(&mut svg);
    put(
        &mut svg,
        format_args!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"16\" \
             fill=\"#666\">no data</text>\n",
            num(LEFT + PLOT_W / 2.0),
            num(TOP + PLOT_H / 2.0)
        ),
    );
    finish(svg)
}

/// The border of the plot area.
fn plot_frame(svg: &mut String) {
    put(
        svg,
        format_args!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>\n",
            num(LEFT),
            num(TOP),
            num(PLOT_W),
            num(PLOT_H)
        ),
    );
}

/// A small note in the top-right corner of the plot area.
fn note(svg: &mut String, text: &str) {
    put(
        svg,
        format_args!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\" fill=\"#444\">{}</text>\n",
            num(LEFT + PLOT_W - 8.0),
            num(TOP + 16.0),
            escape(text)
        ),
    );
}

/// The legend, top left inside the plot area: one line sample and name per series.
fn legend(svg: &mut String, series: &[Series<'_>]) {
    let longest = series
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    let (x, y) = (LEFT + 10.0, TOP + 10.0);
    let row = 18.0;
    let w = 44.0 + 7.0 * longest as f64;
    let h = row * series.len() as f64 + 8.0;
    put(
        svg,
        format_args!(
            "<g class=\"legend\">\n<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" \
             fill=\"white\" fill-opacity=\"0.85\" stroke=\"#999\"/>\n",
            num(x),
            num(y),
            num(w),
            num(h)
        ),
    );
    for (i, s) in series.iter().enumerate() {
        let cy = y + 4.0 + row * (i as f64 + 0.5);
        put(
            svg,
            format_args!(
                "<line x1=\"{}\" y1=\"{cy}\" x2=\"{}\" y2=\"{cy}\" stroke=\"{}\" \
                 stroke-width=\"2\"/>\n<text x=\"{}\" y=\"{}\">{}</text>\n",
                num(x + 8.0),
                num(x + 32.0),
                PALETTE[i % PALETTE.len()],
                num(x + 38.0),
                num(cy + 4.0),
                escape(s.name),
                cy = num(cy),
            ),
        );
    }
    svg.push_str("</g>\n");
}

/// Keeps, within each run of consecutive points in the same pixel column, the first, the
/// lowest, the highest and the last: the drawn line looks the same, and a time series
/// (increasing x) keeps at most four points per column.
fn thin_columns(pixels: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if pixels.len() <= MAX_LINE_POINTS {
        return pixels.to_vec();
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < pixels.len() {
        let column = pixels[start].0.floor();
        let mut end = start + 1;
        while end < pixels.len() && pixels[end].0.floor() == column {
            end += 1;
        }
        let run = &pixels[start..end];
        let (mut lo, mut hi) = (0, 0);
        for (k, p) in run.iter().enumerate() {
            if p.1 < run[lo].1 {
                lo = k;
            }
            if p.1 > run[hi].1 {
                hi = k;
            }
        }
        let mut picks = [0, lo, hi, run.len() - 1];
        picks.sort_unstable();
        let mut last = None;
        for k in picks {
            if last != Some(k) {
                out.push(run[k]);
                last = Some(k);
            }
        }
        start = end;
    }
    out
}

/// What a major tick shows.
enum Label {
    /// Plain text.
    Text(String),
    /// A power of ten, `10^exp`.
    Pow10(i32),
    /// Nothing (crowded axes).
    Hidden,
}

/// One major tick, at a position in the axis's own (possibly log10) coordinates.
struct Tick {
    at: f64,
    label: Label,
}

/// An axis: its range in axis coordinates (log10 of the value for log axes), its major
/// ticks and, for log axes, minor ticks (2..9 times each power of ten).
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<Tick>,
    minor: Vec<f64>,
}

impl Axis {
    /// A linear axis covering `[min, max]`, widened to "nice" tick values (1, 2 or 5 times a
    /// power of ten apart).
    fn linear(min: f64, max: f64) -> Self {
        let (mut lo, mut hi) = (min, max);
        if hi <= lo {
            let span = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            lo -= span;
            hi += span;
        }
        let step = nice_step((hi - lo) / 6.0);
        let (lo_n, hi_n) = ((lo / step).floor() * step, (hi / step).ceil() * step);
        let count = ((hi_n - lo_n) / step).round();
        let usable = step.is_finite()
            && step > 0.0
            && lo_n.is_finite()
            && hi_n.is_finite()
            && (1.0..=100.0).contains(&count);
        if !usable {
            // Only for ranges near the limits of f64: keep it simple and safe.
            return Self {
                lo,
                hi,
                log: false,
                ticks: Vec::new(),
                minor: Vec::new(),
            };
        }
        let largest = lo_n.abs().max(hi_n.abs());
        let (scale, suffix) = if largest >= 1e9 {
            (1e9, "G")
        } else if largest >= 1e6 {
            (1e6, "M")
        } else if largest >= 1e4 {
            (1e3, "k")
        } else {
            (1.0, "")
        };
        let ticks = (0..=count as usize)
            .map(|i| {
                let mut v = lo_n + i as f64 * step;
                if v.abs() < step * 1e-9 {
                    v = 0.0;
                }
                Tick {
                    at: v,
                    label: Label::Text(linear_label(v, step, scale, suffix)),
                }
            })
            .collect();
        Self {
            lo: lo_n,
            hi: hi_n,
            log: false,
            ticks,
            minor: Vec::new(),
        }
    }

    /// A log10 axis covering `[min, max]` (both > 0), widened to whole powers of ten.
    fn log(min: f64, max: f64) -> Self {
        let lo = min.log10().floor().clamp(-300.0, 300.0) as i32;
        let mut hi = max.log10().ceil().clamp(-300.0, 300.0) as i32;
        if hi <= lo {
            hi = lo + 1;
        }
        let decades = hi - lo;
        let every = (decades + 11) / 12;
        let ticks = (lo..=hi)
            .map(|e| Tick {
                at: f64::from(e),
                label: if (e - lo) % every == 0 {
                    Label::Pow10(e)
                } else {
                    Label::Hidden
                },
            })
            .collect();
        let minor = if decades <= 8 {
            (lo..hi)
                .flat_map(|e| (2..10).map(move |m| f64::from(e) + f64::from(m).log10()))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            lo: f64::from(lo),
            hi: f64::from(hi),
            log: true,
            ticks,
            minor,
        }
    }

    /// Where a value sits along the axis, 0 at `lo` and 1 at `hi`.
    fn frac(&self, v: f64) -> f64 {
        let t = if self.log { v.log10() } else { v };
        (t - self.lo) / (self.hi - self.lo)
    }

    /// Horizontal pixel of a value on this (x) axis.
    fn px(&self, v: f64) -> f64 {
        LEFT + self.frac(v) * PLOT_W
    }

    /// Vertical pixel of a value on this (y) axis.
    fn py(&self, v: f64) -> f64 {
        TOP + PLOT_H - self.frac(v) * PLOT_H
    }

    /// Pixel offset of a position given in axis coordinates, along an axis of `length`.
    fn offset(&self, at: f64, length: f64) -> f64 {
        (at - self.lo) / (self.hi - self.lo) * length
    }
}

/// 1, 2 or 5 times a power of ten, close to `raw`.
fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let nice = if norm < 1.5 {
        1.0
    } else if norm < 3.0 {
        2.0
    } else if norm < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// A linear tick label with just enough decimals for the step, in units of `scale`.
fn linear_label(v: f64, step: f64, scale: f64, suffix: &str) -> String {
    if v == 0.0 {
        return "0".to_owned();
    }
    let relative = step / scale;
    if relative < 1e-6 {
        return format!("{v:.1e}");
    }
    let decimals = if relative >= 1.0 {
        0
    } else {
        (-relative.log10() - 1e-9).ceil().clamp(0.0, 6.0) as usize
    };
    format!("{:.*}{suffix}", decimals, v / scale)
}

/// Grid, ticks, tick labels and the plot border.
fn draw_axes(svg: &mut String, x: &Axis, y: &Axis) {
    let bottom = TOP + PLOT_H;
    // Grid lines at major ticks.
    svg.push_str("<g stroke=\"#e5e5e5\" stroke-width=\"1\">\n");
    for t in &x.ticks {
        let px = num(LEFT + x.offset(t.at, PLOT_W));
        put(
            svg,
            format_args!(
                "<line x1=\"{px}\" y1=\"{}\" x2=\"{px}\" y2=\"{}\"/>\n",
                num(TOP),
                num(bottom)
            ),
        );
    }
    for t in &y.ticks {
        let py = num(bottom - y.offset(t.at, PLOT_H));
        put(
            svg,
            format_args!(
                "<line x1=\"{}\" y1=\"{py}\" x2=\"{}\" y2=\"{py}\"/>\n",
                num(LEFT),
                num(LEFT + PLOT_W)
            ),
        );
    }
    svg.push_str("</g>\n");
    plot_frame(svg);

    // Tick marks.
    svg.push_str("<g stroke=\"black\" stroke-width=\"1\">\n");
    for (at, len) in x
        .ticks
        .iter()
        .map(|t| (t.at, 6.0))
        .chain(x.minor.iter().map(|&m| (m, 3.0)))
    {
        let px = num(LEFT + x.offset(at, PLOT_W));
        put(
            svg,
            format_args!(
                "<line x1=\"{px}\" y1=\"{}\" x2=\"{px}\" y2=\"{}\"/>\n",
                num(bottom),
                num(bottom + len)
            ),
        );
    }
    for (at, len) in y
        .ticks
        .iter()
        .map(|t| (t.at, 6.0))
        .chain(y.minor.iter().map(|&m| (m, 3.0)))
    {
        let py = num(bottom - y.offset(at, PLOT_H));
        put(
            svg,
            format_args!(
                "<line x1=\"{}\" y1=\"{py}\" x2=\"{}\" y2=\"{py}\"/>\n",
                num(LEFT - len),
                num(LEFT)
            ),
        );
    }
    svg.push_str("</g>\n");

    // Tick labels.
    svg.push_str("<g fill=\"black\">\n");
    for t in &x.ticks {
        if let Some(label) = label_markup(&t.label) {
            put(
                svg,
                format_args!(
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{label}</text>\n",
                    num(LEFT + x.offset(t.at, PLOT_W)),
                    num(bottom + 20.0)
                ),
            );
        }
    }
    for t in &y.ticks {
        if let Some(label) = label_markup(&t.label) {
            put(
                svg,
                format_args!(
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{label}</text>\n",
                    num(LEFT - 9.0),
                    num(bottom - y.offset(t.at, PLOT_H) + 4.0)
                ),
            );
        }
    }
    svg.push_str("</g>\n");
}

/// SVG markup of a tick label: plain numbers for 0.001 to 1000, `10` with a superscript
/// exponent beyond.
fn label_markup(label: &Label) -> Option<String> {
    match label {
        Label::Hidden => None,
        Label::Text(text) => Some(escape(text)),
        Label::Pow10(e) => Some(match *e {
            0..=3 => format!("1{}", "0".repeat(*e as usize)),
            -3..=-1 => format!("0.{}1", "0".repeat((-e - 1) as usize)),
            _ => format!("10<tspan dy=\"-6\" font-size=\"9\">{e}</tspan>"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the document is one `<svg>` element with balanced tags, and returns the
    /// number of elements.
    fn assert_well_formed(svg: &str) -> usize {
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
        let mut stack: Vec<&str> = Vec::new();
        let mut elements = 0;
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            let close = rest[open..].find('>').expect("unclosed tag") + open;
            let tag = &rest[open + 1..close];
            assert!(!tag.contains('<'), "stray '<' in {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name.trim()), "mismatched </{name}>");
            } else {
                elements += 1;
                let name = tag.split_whitespace().next().expect("empty tag");
                if !tag.ends_with('/') {
                    stack.push(name);
                }
                if stack.is_empty() {
                    assert!(tag.ends_with('/'), "element outside <svg>");
                }
            }
            if stack.is_empty() {
                assert!(rest[close + 1..].trim().is_empty(), "content after </svg>");
            }
            // Text between tags must not hold a bare '&' that starts no entity.
            let text_end = rest[close + 1..]
                .find('<')
                .map_or(rest.len(), |i| i + close + 1);
            for (i, _) in rest[close + 1..text_end].match_indices('&') {
                let entity = &rest[close + 1 + i..text_end];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                        .iter()
                        .any(|e| entity.starts_with(e)),
                    "bare & in {entity}"
                );
            }
            rest = &rest[close + 1..];
        }
        assert!(stack.is_empty(), "unclosed {stack:?}");
        elements
    }

    fn assert_clean(svg: &str) {
        assert!(!svg.contains("NaN"), "NaN in output");
        assert!(!svg.contains("inf"), "inf in output");
        assert!(!svg.contains("-0.0\""), "negative zero in output");
    }

    fn check(svg: &str, texts: &[&str]) {
        assert_well_formed(svg);
        assert_clean(svg);
        for t in texts {
            assert!(svg.contains(t), "{t} missing");
        }
    }

    #[test]
    fn growth_plot_has_title_labels_legend_and_lines() {
        let nodes: Vec<(f64, f64)> = (0..100)
            .map(|i| (f64::from(i) * 0.5, f64::from(i * 10)))
            .collect();
        let channels: Vec<(f64, f64)> = (0..100)
            .map(|i| (f64::from(i) * 0.5, f64::from(i * 14)))
            .collect();
        let svg = growth_over_time(
            "Growth <of> the network & more",
            "time (hours)",
            "count",
            &[
                Series {
                    name: "nodes present",
                    points: &nodes,
                },
                Series {
                    name: "channels open",
                    points: &channels,
                },
            ],
        );
        check(
            &svg,
            &[
                "Growth &lt;of&gt; the network &amp; more",
                "time (hours)",
                "count",
                "nodes present",
                "channels open",
                "<polyline",
                "width=\"800\"",
                "fill=\"white\"",
            ],
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        // Ticks: y goes from 0 past 1386, x from 0 to 49.5.
        assert!(svg.contains(">0</text>"));
        assert!(svg.contains(">1400</text>") || svg.contains(">1500</text>"));
    }

    #[test]
    fn growth_plot_degenerate_inputs() {
        let empty = growth_over_time("Empty", "hours", "count", &[]);
        check(&empty, &["Empty", "hours", "count", "no data"]);
        let nan_only = [(f64::NAN, 1.0), (1.0, f64::INFINITY)];
        let svg = growth_over_time(
            "Only non-finite",
            "hours",
            "count",
            &[Series {
                name: "a",
                points: &nan_only,
            }],
        );
        check(&svg, &["no data"]);
        for points in [
            vec![(3.0, 7.0)],
            vec![(0.0, 0.0)],
            vec![(1.0, 5.0), (1.0, 5.0), (1.0, 5.0)],
            vec![(0.0, -4.0), (2.0, -4.0)],
            vec![(0.0, 1e-12), (1e-12, 2e-12)],
            vec![(0.0, 1e12), (1e9, 3e12)],
            vec![(-1e300, -1e300), (1e300, 1e300)],
            vec![(f64::MAX, f64::MAX), (f64::MIN, f64::MIN)],
        ] {
            let svg = growth_over_time(
                "Degenerate",
                "hours",
                "count",
                &[
                    Series {
                        name: "one",
                        points: &points,
                    },
                    Series {
                        name: "none",
                        points: &[],
                    },
                ],
            );
            check(&svg, &["Degenerate", "hours", "count", "one", "none"]);
            assert!(!svg.contains("no data"));
        }
        // A single point still shows up, as a marker.
        let svg = growth_over_time(
            "One",
            "h",
            "n",
            &[Series {
                name: "x",
                points: &[(3.0, 7.0)],
            }],
        );
        assert!(svg.contains("<circle"));
    }

    #[test]
    fn long_series_are_thinned() {
        let points: Vec<(f64, f64)> = (0..1_000_000)
            .map(|i| (f64::from(i) / 1000.0, f64::from(i % 977)))
            .collect();
        let svg = growth_over_time(
            "Long",
            "h",
            "n",
            &[Series {
                name: "x",
                points: &points,
            }],
        );
        check(&svg, &["Long"]);
        assert!(svg.len() < 120_000, "{}", svg.len());
    }

    #[test]
    fn degree_distribution_log_log() {
        let hist = [(0, 12), (1, 500), (2, 300), (3, 120), (10, 4), (250, 1)];
        let svg = degree_distribution("Degree distribution", &hist);
        check(
            &svg,
            &[
                "Degree distribution",
                "degree (channels per node)",
                "number of nodes",
                "12 nodes of degree 0 not shown",
                ">1</text>",
                ">100</text>",
                ">1000</text>",
            ],
        );
        assert_eq!(svg.matches("<circle").count(), 5);
        // Large ranges use superscript exponents.
        let svg = degree_distribution("Wide", &[(1, 1_000_000), (100_000, 1)]);
        check(&svg, &["Wide", "10<tspan"]);
    }

    #[test]
    fn degree_distribution_degenerate_inputs() {
        check(
            &degree_distribution("Nothing", &[]),
            &["Nothing", "no data", "degree"],
        );
        check(
            &degree_distribution("Zeros", &[(0, 5), (3, 0)]),
            &["Zeros", "no data"],
        );
        let svg = degree_distribution("Single", &[(3, 7)]);
        check(&svg, &["Single"]);
        assert_eq!(svg.matches("<circle").count(), 1);
        let svg = degree_distribution("Ones", &[(1, 1)]);
        check(&svg, &["Ones"]);
        let svg = degree_distribution("Max", &[(u32::MAX, u64::MAX)]);
        check(&svg, &["Max"]);
    }

    #[test]
    fn capacity_distribution_ccdf() {
        let caps: Vec<f64> = (0..1000).map(|i| f64::from(i % 50)).collect();
        let svg = capacity_distribution("Capacities", &caps);
        check(
            &svg,
            &[
                "Capacities",
                "capacity x (tokens)",
                "P(capacity ≥ x)",
                "980 nodes with positive capacity; 20 with none not shown",
                "<polyline",
            ],
        );
    }

    #[test]
    fn capacity_distribution_degenerate_inputs() {
        check(&capacity_distribution("None", &[]), &["None", "no data"]);
        check(
            &capacity_distribution("Zero", &[0.0, 0.0, f64::NAN, -1.0, f64::INFINITY]),
            &["Zero", "no data"],
        );
        let svg = capacity_distribution("One", &[5.0]);
        check(
            &svg,
            &[
                "One",
                "<circle",
                "1 node with positive capacity",
                ">0.1</text>",
            ],
        );
        let svg = capacity_distribution("Equal", &[5.0; 1000]);
        check(&svg, &["Equal"]);
        let svg = capacity_distribution("Tiny", &[1e-300, 1e300, f64::MIN_POSITIVE, f64::MAX]);
        check(&svg, &["Tiny"]);
    }

    #[test]
    fn capacity_distribution_of_a_million_values_is_small() {
        // Log-normal-ish spread over many decades, deterministic.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let caps: Vec<f64> = (0..1_000_000)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if i % 10 == 0 {
                    0.0
                } else {
                    let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                    10f64.powf(6.0 * u * u)
                }
            })
            .collect();
        let svg = capacity_distribution("Million", &caps);
        check(&svg, &["Million", "900000 nodes with positive capacity"]);
        assert!(svg.len() < 300_000, "{} bytes", svg.len());
        let points = svg
            .split("points=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a polyline")
            .split(' ')
            .count();
        // Two vertices (corner and point) per kept point.
        assert!(points <= 4000, "{points} points");
        assert!(points > 100, "{points} points");
    }

    #[test]
    fn labels_and_escaping() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("x\u{1}y"), "x y");
        assert_eq!(linear_label(1_500_000.0, 500_000.0, 1e6, "M"), "1.5M");
        assert_eq!(linear_label(20_000.0, 10_000.0, 1e3, "k"), "20k");
        assert_eq!(linear_label(0.30000000000000004, 0.1, 1.0, ""), "0.3");
        assert_eq!(linear_label(0.25, 0.05, 1.0, ""), "0.25");
        assert_eq!(linear_label(7.0, 1.0, 1.0, ""), "7");
        assert_eq!(nice_step(0.7), 0.5);
        assert_eq!(nice_step(170.0), 200.0);
        assert_eq!(nice_step(9.0), 10.0);
        assert_eq!(num(-0.01), "0.0");
        assert_eq!(num(f64::NAN), "0");
    }
}
