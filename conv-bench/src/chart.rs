//! An SVG bar chart of the PyTorch/ours ratios: one group of bars per case, a log scale,
//! bars growing from the 1x line (right: faster than PyTorch, left: slower).

use std::fmt::Write;

/// One bar series: its legend and colour.
pub struct Series {
    pub name: String,
    pub colour: &'static str,
}

/// The colours of successive series.
pub const COLOURS: [&str; 6] = [
    "#4e79a7", "#a0cbe8", "#f28e2b", "#ffbe7d", "#59a14f", "#8cd17d",
];

const LABEL: f64 = 130.0;
const PLOT: f64 = 560.0;
const BAR: f64 = 11.0;
const GAP: f64 = 9.0;
const TOP: f64 = 60.0;

/// The chart: `groups` are (label, one value per series; `None` draws no bar).
pub fn svg(title: &str, series: &[Series], groups: &[(String, Vec<Option<f64>>)]) -> String {
    let values = groups.iter().flat_map(|g| g.1.iter().flatten());
    let (lo, hi) = values.fold((1.0f64, 1.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (lo, hi) = (lo.log10().floor().min(-1.0), hi.log10().ceil().max(1.0));
    let x = |v: f64| LABEL + (v.log10() - lo) / (hi - lo) * PLOT;
    let group_height = series.len() as f64 * BAR + GAP;
    let height = TOP + groups.len() as f64 * group_height + 30.0;
    let width = LABEL + PLOT + 70.0;
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(w, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        w,
        r#"<text x="10" y="18" font-size="14">{}</text>"#,
        escape(title)
    );
    for (i, one) in series.iter().enumerate() {
        let lx = LABEL + i as f64 * 140.0;
        let _ = writeln!(
            w,
            r#"<rect x="{lx}" y="28" width="12" height="10" fill="{}"/><text x="{}" y="37">{}</text>"#,
            one.colour,
            lx + 16.0,
            escape(&one.name)
        );
    }
    let bottom = height - 30.0;
    if groups.iter().all(|g| g.1.iter().all(Option::is_none)) {
        let _ = writeln!(
            w,
            r#"<text x="{}" y="{}" fill="darkred">no ratios in this run (PyTorch was not timed)</text>"#,
            LABEL + 10.0,
            TOP + 12.0
        );
    }
    for power in lo as i32..=hi as i32 {
        let gx = x(10f64.powi(power));
        let (stroke, label) = if power == 0 {
            ("#000", "1x (PyTorch)".to_string())
        } else {
            ("#ddd", format!("{}x", 10f64.powi(power)))
        };
        let _ = writeln!(
            w,
            r#"<line x1="{gx:.1}" y1="{}" x2="{gx:.1}" y2="{bottom}" stroke="{stroke}"/><text x="{gx:.1}" y="{}" text-anchor="middle">{label}</text>"#,
            TOP - 6.0,
            bottom + 14.0
        );
    }
    for (g, (label, values)) in groups.iter().enumerate() {
        let gy = TOP + g as f64 * group_height;
        let _ = writeln!(
            w,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LABEL - 8.0,
            gy + series.len() as f64 * BAR / 2.0 + 4.0,
            escape(label)
        );
        for (i, value) in values.iter().enumerate() {
            let Some(v) = value.filter(|v| v.is_finite() && *v > 0.0) else {
                continue;
            };
            let (a, b) = (x(1.0).min(x(v)), x(1.0).max(x(v)));
            let by = gy + i as f64 * BAR;
            let colour = series.get(i).map_or("#888", |s| s.colour);
            let _ = writeln!(
                w,
                r#"<rect x="{a:.1}" y="{by:.1}" width="{:.1}" height="{}" fill="{colour}"><title>{}</title></rect><text x="{:.1}" y="{:.1}" font-size="9">{}</text>"#,
                (b - a).max(0.5),
                BAR - 1.0,
                escape(&crate::report::ratio(v)),
                b + 3.0,
                by + BAR - 2.5,
                escape(&crate::report::ratio(v))
            );
        }
    }
    let _ = writeln!(w, "</svg>");
    s
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_sit_on_a_log_scale_from_the_one_line() {
        let series = [
            Series {
                name: "fwd 1t".into(),
                colour: COLOURS[0],
            },
            Series {
                name: "fwd+bwd <1t>".into(),
                colour: COLOURS[1],
            },
        ];
        let groups = vec![
            ("tiny".to_string(), vec![Some(10.0), Some(0.1)]),
            ("3x3 & co".to_string(), vec![None, Some(1.0)]),
        ];
        let svg = svg("ratios", &series, &groups);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        // The scale is 0.1x .. 10x over 560 px from x = 130: 1x at 410.
        assert!(
            svg.contains(r#"<rect x="410.0" y="60.0" width="280.0""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"<rect x="130.0" y="71.0" width="280.0""#),
            "{svg}"
        );
        assert!(svg.contains("fwd+bwd &lt;1t&gt;") && svg.contains("3x3 &amp; co"));
        assert_eq!(svg.matches("<title>").count(), 3);
        assert!(!svg.contains("no ratios"));
        let empty = vec![("tiny".to_string(), vec![None, None])];
        assert!(super::svg("ratios", &series, &empty).contains("no ratios in this run"));
    }
}
