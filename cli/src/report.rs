//! The HTML report: one self-contained file (inline CSS, SVG and one small script; nothing
//! fetched) with the summary, each check's score distribution as a small bar chart, and the
//! worst rows with their question, answer and the judge's explanation. Every text from the
//! data is HTML-escaped.
//!
//! The script only checks, once the page is laid out, that every chart has a size, and says
//! so on `<body data-charts-rendered="N">` (`"no"` otherwise), for browser tests.

use std::fmt::Write as _;

use serde_json::Value;
use uptrain_plugin::{JudgeCost, Row};

use crate::stats::{CheckStats, score};
use crate::summary::{Summary, num};

/// Bars per chart.
const BINS: usize = 10;
/// Worst rows shown.
const WORST: usize = 10;
const WIDTH: f64 = 240.0;
const HEIGHT: f64 = 90.0;

/// Marks the body with the number of charts laid out with a size.
const SCRIPT: &str = "document.addEventListener('DOMContentLoaded',function(){\
var c=document.querySelectorAll('svg.histogram'),ok=c.length>0;\
c.forEach(function(s){var b=s.getBoundingClientRect();if(!(b.width>0&&b.height>0))ok=false;});\
document.body.setAttribute('data-charts-rendered',ok?String(c.length):'no');});";

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:1.4em}table{border-collapse:collapse;margin:1em 0}\
td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}\
.charts{display:flex;flex-wrap:wrap;gap:1.5em}.chart{border:1px solid #ddd;padding:.5em}\
.bar{fill:#4a7bd0}.axis{stroke:#888}.fail{color:#b00020;font-weight:bold}\
.pass{color:#1b7f3b}.why{white-space:pre-wrap;color:#555;font-size:.9em}\
.note{color:#666}";

/// The report.
pub(crate) fn html(summary: &Summary, rows: &[Row]) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = write!(
        out,
        "<title>Answer quality: {}</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>",
        escape(summary.outcome)
    );
    let verdict_class = if summary.outcome == "passed" {
        "pass"
    } else {
        "fail"
    };
    let _ = write!(
        out,
        "<h1>Answer quality: <span class=\"{verdict_class}\">{}</span></h1><p class=\"note\">{}</p>",
        escape(&summary.outcome.replace('_', " ")),
        escape(summary.footer().lines().next().unwrap_or_default())
    );
    out.push_str(&summary_table(summary));
    out.push_str(&grading_cost(summary));
    out.push_str("<h2>Score distributions</h2><div class=\"charts\">");
    for stats in &summary.checks {
        out.push_str(&chart(stats));
    }
    out.push_str("</div>");
    out.push_str(&worst_rows(summary, rows));
    if !summary.input_errors.is_empty() {
        out.push_str("<h2>Not graded</h2><ul>");
        for e in &summary.input_errors {
            let _ = write!(out, "<li>{}</li>", escape(e));
        }
        out.push_str("</ul>");
    }
    out.push_str("</body></html>\n");
    out
}

fn summary_table(summary: &Summary) -> String {
    let mut out = String::from(
        "<table><tr><th>check</th><th>mean</th><th>min</th><th>scored</th><th>failed (judge errors)</th><th>gate</th></tr>",
    );
    for s in &summary.checks {
        let gate: Vec<String> = summary
            .gate
            .iter()
            .filter(|v| v.check == s.check)
            .map(|v| {
                let (class, word) = if v.passed {
                    ("pass", "pass")
                } else {
                    ("fail", "FAIL")
                };
                format!(
                    "<span class=\"{class}\">{word}</span> ({} {})",
                    escape(v.rule),
                    v.limit
                )
            })
            .collect();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.check),
            num(s.mean),
            num(s.min),
            s.scored,
            s.failed,
            gate.join(", ")
        );
    }
    out.push_str("</table>");
    out
}

/// What grading cost: requests, tokens by kind, the cost and the entry that priced it (its
/// source is in the JSON summary: the page names no address).
fn grading_cost(summary: &Summary) -> String {
    let usage = &summary.judge_usage;
    let mut out = String::from("<h2>Grading cost</h2><table>");
    let _ = write!(
        out,
        "<tr><th>judge requests</th><td>{}</td></tr>",
        usage.requests
    );
    match &usage.tokens {
        Some(t) => {
            let detail =
                |n: Option<u64>| n.map_or_else(|| "not reported".to_owned(), |n| n.to_string());
            let _ = write!(
                out,
                "<tr><th>prompt tokens</th><td>{} ({} cached, {} cache-write)</td></tr>\
                 <tr><th>completion tokens</th><td>{} ({} reasoning)</td></tr>\
                 <tr><th>total tokens</th><td>{}</td></tr>",
                t.prompt_tokens,
                detail(t.cache_read_tokens),
                detail(t.cache_write_tokens),
                t.completion_tokens,
                detail(t.reasoning_tokens),
                t.total_tokens
            );
        }
        None => out.push_str("<tr><th>tokens</th><td>none: no judge model was called</td></tr>"),
    }
    let _ = write!(
        out,
        "<tr><th>cost</th><td class=\"cost\">{}</td></tr>",
        escape(&usage.cost.to_string())
    );
    if let JudgeCost::Priced(cost) = &usage.cost {
        let p = &cost.provenance;
        let _ = write!(
            out,
            "<tr><th>priced by</th><td>{} of {}, price table {}</td></tr>",
            escape(&p.entry),
            escape(&p.date),
            escape(&p.table_version)
        );
    }
    out.push_str("</table>");
    out
}

/// A bar chart of one check's scores over `0..=max(1, highest)`.
fn chart(stats: &CheckStats) -> String {
    let top = stats.max.unwrap_or(1.0).max(1.0);
    let mut counts = [0usize; BINS];
    for &s in &stats.scores {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let bin = ((s / top) * BINS as f64)
            .floor()
            .clamp(0.0, (BINS - 1) as f64) as usize;
        counts[bin] += 1;
    }
    let highest = counts.iter().copied().max().unwrap_or(0).max(1);
    let bar_w = WIDTH / BINS as f64;
    let mut svg = format!(
        "<svg class=\"histogram\" data-check=\"{}\" width=\"{WIDTH}\" height=\"{}\" viewBox=\"0 0 {WIDTH} {}\" role=\"img\" aria-label=\"{} scores\">",
        escape(&stats.check),
        HEIGHT + 16.0,
        HEIGHT + 16.0,
        escape(&stats.check)
    );
    for (i, &count) in counts.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let h = HEIGHT * count as f64 / highest as f64;
        #[allow(clippy::cast_precision_loss)]
        let x = i as f64 * bar_w;
        let _ = write!(
            svg,
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\"><title>{count} rows</title></rect>",
            x + 1.0,
            HEIGHT - h,
            bar_w - 2.0
        );
    }
    let _ = write!(
        svg,
        "<line class=\"axis\" x1=\"0\" y1=\"{HEIGHT}\" x2=\"{WIDTH}\" y2=\"{HEIGHT}\"/>\
         <text x=\"0\" y=\"{}\" font-size=\"11\">0</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{top}</text></svg>",
        HEIGHT + 13.0,
        WIDTH,
        HEIGHT + 13.0
    );
    format!(
        "<div class=\"chart\"><div><b>{}</b>: mean {}, {} scored, {} failed</div>{svg}</div>",
        escape(&stats.check),
        num(stats.mean),
        stats.scored,
        stats.failed
    )
}

/// The rows with the lowest score on any check.
fn worst_rows(summary: &Summary, rows: &[Row]) -> String {
    let checks: Vec<&str> = summary.checks.iter().map(|s| s.check.as_str()).collect();
    let mut ranked: Vec<(f64, &Row)> = rows
        .iter()
        .filter_map(|row| {
            checks
                .iter()
                .filter_map(|c| score(row, c).flatten())
                .reduce(f64::min)
                .map(|low| (low, row))
        })
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = format!(
        "<h2>The {} lowest-scored rows</h2>",
        ranked.len().min(WORST)
    );
    out.push_str("<table class=\"worst\"><tr><th>row</th><th>question</th><th>answer</th><th>scores and the judge's explanation</th><th>grading cost</th></tr>");
    for (_, row) in ranked.iter().take(WORST) {
        let at = row
            .get("line")
            .map(|l| format!("line {l}"))
            .or_else(|| row.get("answer").map(|a| format!("answer {a}")))
            .unwrap_or_default();
        let mut cell = String::new();
        for check in &checks {
            let Some(s) = score(row, check) else { continue };
            let why = text(row.get(&format!("explanation_{check}")))
                .or_else(|| text(row.get(&format!("error_{check}"))))
                .unwrap_or_default();
            let _ = write!(
                cell,
                "<div><b>{}</b> {}<div class=\"why\">{}</div></div>",
                escape(check),
                num(s),
                escape(&why)
            );
        }
        let cost = row
            .get("judge_usage")
            .and_then(|u| text(u.get("cost")))
            .unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{cell}</td><td>{}</td></tr>",
            escape(&at),
            escape(&text(row.get("question")).unwrap_or_default()),
            escape(&text(row.get("response")).unwrap_or_default()),
            escape(&cost),
        );
    }
    out.push_str("</table>");
    out
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::stats::check_stats;
    use serde_json::json;

    #[test]
    fn data_is_escaped_and_every_check_has_a_chart() {
        let rows: Vec<Row> = [
            json!({"line": 1, "question": "<script>alert(1)</script>", "response": "a & b",
                   "score_a": 0.0, "explanation_a": "\"quoted\" <b>"}),
            json!({"line": 2, "question": "q", "response": "r", "score_a": 1.0,
                   "score_b": null, "error_b": "HTTP 500"}),
        ]
        .iter()
        .map(|r| r.as_object().unwrap().clone())
        .collect();
        let summary = Summary {
            outcome: "passed",
            checks: check_stats(&rows),
            ..Summary::default()
        };
        let page = html(&summary, &rows);
        assert_eq!(
            page.matches("<script>").count(),
            1,
            "only the page's own script"
        );
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&quot;quoted&quot; &lt;b&gt;"));
        assert_eq!(page.matches("<svg class=\"histogram\"").count(), 2);
        assert_eq!(page.matches("<rect class=\"bar\"").count(), 2 * BINS);
        assert!(!page.contains("http://") && !page.contains("https://"));
    }
}
