//! The summary of a run, in three forms: a terminal table (standard error), JSON and Markdown
//! (for a CI job summary).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use uptrain_plugin::{JudgeCost, JudgeUsage};

use crate::args::SummaryArgs;
use crate::gate::Verdict;
use crate::stats::{ALPHA, CheckComparison, CheckStats};

/// Judge-cache counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct CacheSummary {
    pub(crate) hits: u64,
    pub(crate) misses: u64,
    pub(crate) stored: u64,
    pub(crate) write_errors: u64,
}

/// Everything a run says about itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Summary {
    /// `"passed"`, `"gate_failed"` or `"input_error"`.
    pub(crate) outcome: &'static str,
    pub(crate) evaluator: String,
    /// True when the scores are offline lexical estimates.
    pub(crate) estimate: bool,
    pub(crate) rows: usize,
    pub(crate) graded: usize,
    /// Lines or rows that could not be graded, each naming its line.
    pub(crate) input_errors: Vec<String>,
    pub(crate) checks: Vec<CheckStats>,
    pub(crate) gate: Vec<Verdict>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) comparison: Vec<CheckComparison>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cache: Option<CacheSummary>,
    /// What grading cost: the judge's requests, tokens and their price (or why unknown).
    pub(crate) judge_usage: JudgeUsage,
}

impl Summary {
    /// Writes the JSON and Markdown forms where asked.
    pub(crate) fn write(&self, args: &SummaryArgs) -> Result<(), String> {
        if let Some(path) = &args.summary_json {
            let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
            write(path, &(json + "\n"))?;
        }
        if let Some(path) = &args.summary_md {
            write(path, &self.markdown())?;
        }
        Ok(())
    }

    /// The terminal table.
    pub(crate) fn table(&self) -> String {
        let mut rows = vec![[
            "check".to_owned(),
            "mean".into(),
            "min".into(),
            "scored".into(),
            "failed".into(),
            "gate".into(),
        ]];
        for s in &self.checks {
            rows.push([
                s.check.clone(),
                num(s.mean),
                num(s.min),
                s.scored.to_string(),
                s.failed.to_string(),
                self.gate_cell(&s.check),
            ]);
        }
        let widths: Vec<usize> = (0..6)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (i, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let _ = write!(out, "{cell:<w$}  ", w = widths[c]);
            }
            out = out.trim_end().to_owned();
            out.push('\n');
            if i == 0 {
                out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
                out.push('\n');
            }
        }
        out.push_str(&self.footer());
        if let Some(prices) = self.prices_line() {
            let _ = writeln!(out, "{prices}");
        }
        for c in &self.comparison {
            let _ = writeln!(out, "{}", comparison_line(c));
        }
        out
    }

    /// The Markdown form.
    pub(crate) fn markdown(&self) -> String {
        let mut out = format!(
            "## Answer quality: {}\n\n| check | mean | min | scored | failed (judge errors) | gate |\n|---|---:|---:|---:|---:|---|\n",
            self.outcome.replace('_', " ")
        );
        for s in &self.checks {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                s.check,
                num(s.mean),
                num(s.min),
                s.scored,
                s.failed,
                self.gate_cell(&s.check)
            );
        }
        out.push('\n');
        out.push_str(&self.footer());
        if let Some(prices) = self.prices_line() {
            let _ = writeln!(out, "\n{prices}");
        }
        if !self.comparison.is_empty() {
            out.push_str("\n**Against the baseline**\n\n");
            for c in &self.comparison {
                let _ = writeln!(out, "- {}", comparison_line(c));
            }
        }
        if !self.input_errors.is_empty() {
            out.push_str("\n**Not graded**\n\n");
            for e in self.input_errors.iter().take(20) {
                let _ = writeln!(out, "- {}", e.replace('|', "\\|"));
            }
        }
        out
    }

    fn gate_cell(&self, check: &str) -> String {
        self.gate
            .iter()
            .filter(|v| v.check == check)
            .map(|v| {
                let word = if v.passed { "pass" } else { "FAIL" };
                match v.rule {
                    "fail_under" => format!("{word} (≥ {})", v.limit),
                    _ => format!("{word} (drop {} ≤ {})", num(v.actual), v.limit),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The counts, the evaluator and the grading cost; then the judge cache's counters.
    pub(crate) fn footer(&self) -> String {
        let mut out = format!(
            "{} rows, {} graded, {} not graded; evaluator {}{}; grading cost: {}\n",
            self.rows,
            self.graded,
            self.input_errors.len(),
            self.evaluator,
            if self.estimate {
                " (lexical estimates, not a judge's verdict)"
            } else {
                ""
            },
            self.judge_usage,
        );
        if let Some(c) = &self.cache {
            let _ = writeln!(
                out,
                "judge cache: {} hits, {} misses, {} answers stored{}",
                c.hits,
                c.misses,
                c.stored,
                if c.write_errors > 0 {
                    format!(", {} could not be written", c.write_errors)
                } else {
                    String::new()
                }
            );
        }
        out
    }
}

impl Summary {
    /// Where the grading cost's prices come from, when it was priced: the table entry, its
    /// date and source, and the table's version.
    pub(crate) fn prices_line(&self) -> Option<String> {
        let JudgeCost::Priced(cost) = &self.judge_usage.cost else {
            return None;
        };
        let p = &cost.provenance;
        Some(format!(
            "Judge prices: {} of {} ({}), price table {}",
            p.entry, p.date, p.source, p.table_version
        ))
    }
}

/// One check's comparison in words.
pub(crate) fn comparison_line(c: &CheckComparison) -> String {
    format!(
        "{}: {} → {} ({}); {} paired rows: {} better, {} worse, {} equal; sign test p = {:.3}: {}",
        c.check,
        num(c.base_mean),
        num(c.new_mean),
        c.delta.map_or("n/a".into(), |d| {
            format!("{:+.3}", if d.abs() < 0.0005 { 0.0 } else { d })
        }),
        c.paired,
        c.better,
        c.worse,
        c.ties,
        c.p_value,
        if c.significant {
            format!("beyond the judge's noise (p < {ALPHA})")
        } else {
            format!("within the judge's noise (p ≥ {ALPHA})")
        }
    )
}

pub(crate) fn num(v: Option<f64>) -> String {
    // No "-0.000" for a change too small to show.
    v.map_or_else(
        || "n/a".to_owned(),
        |v| format!("{:.3}", if v.abs() < 0.0005 { 0.0 } else { v }),
    )
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
