//! The quality gate: a minimum mean per check (`--fail-under check=0.7`, or a TOML file's
//! `[fail_under]` table), and a largest drop against a baseline file (`max_drop`).
//!
//! ```toml
//! max_drop = 0.05
//! [fail_under]
//! context_relevance = 0.7
//! factual_accuracy = 0.6
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::args::GateArgs;
use crate::stats::{CheckComparison, CheckStats};

/// The default `max_drop` when a baseline is given without one.
pub(crate) const DEFAULT_MAX_DROP: f64 = 0.05;

/// The gate's thresholds.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Gate {
    #[serde(default)]
    pub(crate) fail_under: BTreeMap<String, f64>,
    #[serde(default)]
    pub(crate) max_drop: Option<f64>,
}

/// One line of the gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Verdict {
    pub(crate) check: String,
    /// `"fail_under"` or `"max_drop"`.
    pub(crate) rule: &'static str,
    pub(crate) limit: f64,
    /// The mean (fail_under) or the drop (max_drop); none when nothing was scored.
    pub(crate) actual: Option<f64>,
    pub(crate) passed: bool,
}

impl Gate {
    /// The gate from the flags, with the file's thresholds under them (flags win).
    pub(crate) fn from_args(args: &GateArgs) -> Result<Self, String> {
        let mut gate = match &args.gate {
            Some(path) => Self::from_file(path)?,
            None => Gate::default(),
        };
        for spec in &args.fail_under {
            let (check, min) = parse_threshold(spec)?;
            gate.fail_under.insert(check, min);
        }
        if args.max_drop.is_some() {
            gate.max_drop = args.max_drop;
        }
        for (check, &min) in &gate.fail_under {
            if !min.is_finite() {
                return Err(format!("threshold of {check} is not a number"));
            }
        }
        if let Some(drop) = gate.max_drop
            && !(drop.is_finite() && drop >= 0.0)
        {
            return Err(format!("max drop {drop} must be a number of at least 0"));
        }
        Ok(gate)
    }

    fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The thresholds' verdicts. A gated check that was not graded is an error (a typo must
    /// not pass silently); one with no score at all fails.
    pub(crate) fn thresholds(&self, stats: &[CheckStats]) -> Result<Vec<Verdict>, String> {
        self.fail_under
            .iter()
            .map(|(check, &limit)| {
                let s = stats.iter().find(|s| &s.check == check).ok_or_else(|| {
                    format!(
                        "the gate names `{check}`, which was not graded (graded: {})",
                        stats
                            .iter()
                            .map(|s| s.check.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
                Ok(Verdict {
                    check: check.clone(),
                    rule: "fail_under",
                    limit,
                    actual: s.mean,
                    passed: s.mean.is_some_and(|m| m >= limit),
                })
            })
            .collect()
    }

    /// The regression verdicts against a baseline: a check fails when its mean dropped more
    /// than `max_drop` (default 0.05).
    pub(crate) fn regressions(&self, comparisons: &[CheckComparison]) -> Vec<Verdict> {
        let limit = self.max_drop.unwrap_or(DEFAULT_MAX_DROP);
        comparisons
            .iter()
            .map(|c| {
                let drop = c.delta.map(|d| -d);
                Verdict {
                    check: c.check.clone(),
                    rule: "max_drop",
                    limit,
                    actual: drop,
                    // A check the new run could not score at all is a regression.
                    passed: drop.is_some_and(|d| d <= limit + 1e-12),
                }
            })
            .collect()
    }
}

/// `check=0.7` → (`check`, 0.7).
fn parse_threshold(spec: &str) -> Result<(String, f64), String> {
    let (check, min) = spec.split_once('=').ok_or_else(|| {
        format!("`--fail-under {spec}`: expected CHECK=MIN, e.g. context_relevance=0.7")
    })?;
    let min: f64 = min
        .trim()
        .parse()
        .map_err(|_| format!("`--fail-under {spec}`: `{min}` is not a number"))?;
    Ok((check.trim().to_owned(), min))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn stats(check: &str, mean: Option<f64>) -> CheckStats {
        CheckStats {
            check: check.into(),
            scored: usize::from(mean.is_some()),
            failed: usize::from(mean.is_none()),
            mean,
            min: mean,
            max: mean,
            scores: mean.into_iter().collect(),
        }
    }

    #[test]
    fn thresholds_pass_fail_and_refuse_unknown_checks() {
        let args = GateArgs {
            fail_under: vec!["a=0.5".into(), "b = 0.9".into(), "c=0.1".into()],
            ..GateArgs::default()
        };
        let gate = Gate::from_args(&args).unwrap();
        let verdicts = gate
            .thresholds(&[
                stats("a", Some(0.5)),
                stats("b", Some(0.8)),
                stats("c", None),
            ])
            .unwrap();
        let passed: Vec<_> = verdicts
            .iter()
            .map(|v| (v.check.as_str(), v.passed))
            .collect();
        assert_eq!(passed, vec![("a", true), ("b", false), ("c", false)]);
        let err = gate.thresholds(&[stats("a", Some(1.0))]).unwrap_err();
        assert!(err.contains("`b`, which was not graded"), "{err}");
    }

    #[test]
    fn bad_specs_and_files_are_named() {
        for spec in ["a", "a=high"] {
            let args = GateArgs {
                fail_under: vec![spec.into()],
                ..GateArgs::default()
            };
            assert!(Gate::from_args(&args).unwrap_err().contains(spec));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gate.toml");
        std::fs::write(&path, "max_drop = 0.1\n[fail_under]\na = 0.7\n").unwrap();
        let args = GateArgs {
            gate: Some(path.clone()),
            fail_under: vec!["a=0.8".into()],
            ..GateArgs::default()
        };
        let gate = Gate::from_args(&args).unwrap();
        assert_eq!((gate.fail_under["a"], gate.max_drop), (0.8, Some(0.1)));
        std::fs::write(&path, "[fail_under]\na = \"x\"\n").unwrap();
        assert!(Gate::from_args(&args).unwrap_err().contains("gate.toml"));
    }
}
