//! Numbers from graded rows (`score_<check>`, `error_<check>`): per-check means that leave
//! failed checks out (never counted as zero), paired comparisons, and the sign test that says
//! whether a difference is beyond the judge's noise.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use uptrain_plugin::Row;

/// Significance level of the sign test.
pub(crate) const ALPHA: f64 = 0.05;
/// Score changes smaller than this are ties.
const TIE: f64 = 1e-9;

/// One check over a graded file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CheckStats {
    /// The output key (`context_relevance`, ...).
    pub(crate) check: String,
    /// Rows with a score.
    pub(crate) scored: usize,
    /// Rows whose check failed (judge errors): not in the mean.
    pub(crate) failed: usize,
    /// Mean of the scores, when any.
    pub(crate) mean: Option<f64>,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
    /// The scores, in row order.
    #[serde(skip)]
    pub(crate) scores: Vec<f64>,
}

/// The checks of graded rows, in the order they first appear.
pub(crate) fn checks_of(rows: &[Row]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for row in rows {
        for key in row.keys() {
            if let Some(check) = key.strip_prefix("score_")
                && !out.iter().any(|c| c == check)
            {
                out.push(check.to_owned());
            }
        }
    }
    out
}

/// A row's score for `check`: `Some(Some(x))` scored, `Some(None)` failed, `None` not asked.
pub(crate) fn score(row: &Row, check: &str) -> Option<Option<f64>> {
    match row.get(&format!("score_{check}")) {
        Some(Value::Number(n)) => Some(n.as_f64()),
        Some(_) => Some(None),
        None => None,
    }
}

/// Per-check statistics.
pub(crate) fn check_stats(rows: &[Row]) -> Vec<CheckStats> {
    checks_of(rows)
        .into_iter()
        .map(|check| {
            let mut scores = Vec::new();
            let mut failed = 0;
            for row in rows {
                match score(row, &check) {
                    Some(Some(s)) => scores.push(s),
                    Some(None) => failed += 1,
                    None => {}
                }
            }
            CheckStats {
                scored: scores.len(),
                failed,
                mean: mean(&scores),
                min: scores.iter().copied().reduce(f64::min),
                max: scores.iter().copied().reduce(f64::max),
                check,
                scores,
            }
        })
        .collect()
}

pub(crate) fn mean(values: &[f64]) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The key rows are paired by: `id` when the row has one, else the question, else the line;
/// a repeated key gets its occurrence number.
pub(crate) fn pair_keys(rows: &[Row]) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let base = match (row.get("id"), row.get("question")) {
                (Some(Value::String(id)), _) => format!("id {id}"),
                (Some(Value::Number(id)), _) => format!("id {id}"),
                (_, Some(Value::String(q))) => q.clone(),
                _ => format!("row {}", i + 1),
            };
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            if *n == 1 {
                base
            } else {
                format!("{base} #{n}")
            }
        })
        .collect()
}

/// A row that scored lower in the new file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Worse {
    pub(crate) key: String,
    pub(crate) base: f64,
    pub(crate) new: f64,
}

/// One check compared across two graded files, over the rows scored in both.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CheckComparison {
    pub(crate) check: String,
    /// Rows scored in both.
    pub(crate) paired: usize,
    /// Means over all scored rows of each file.
    pub(crate) base_mean: Option<f64>,
    pub(crate) new_mean: Option<f64>,
    /// `new_mean - base_mean`.
    pub(crate) delta: Option<f64>,
    pub(crate) better: usize,
    pub(crate) worse: usize,
    pub(crate) ties: usize,
    /// Two-sided sign test over the paired rows that changed.
    pub(crate) p_value: f64,
    /// `p_value < 0.05`: the change is beyond the judge's noise.
    pub(crate) significant: bool,
    /// The rows that got worse, most first.
    pub(crate) worst: Vec<Worse>,
}

/// Compares every check the two files share.
pub(crate) fn compare(base: &[Row], new: &[Row]) -> Vec<CheckComparison> {
    let base_keys = pair_keys(base);
    let new_index: BTreeMap<String, &Row> = pair_keys(new).into_iter().zip(new).collect();
    let new_checks = checks_of(new);
    let base_stats = check_stats(base);
    let new_stats = check_stats(new);
    base_stats
        .iter()
        .filter(|s| new_checks.contains(&s.check))
        .map(|b| {
            let check = &b.check;
            let mut worst = Vec::new();
            let (mut better, mut ties, mut paired) = (0, 0, 0);
            for (key, row) in base_keys.iter().zip(base) {
                let (Some(Some(old)), Some(Some(now))) = (
                    score(row, check),
                    new_index.get(key).and_then(|r| score(r, check)),
                ) else {
                    continue;
                };
                paired += 1;
                if now < old - TIE {
                    worst.push(Worse {
                        key: key.clone(),
                        base: old,
                        new: now,
                    });
                } else if now > old + TIE {
                    better += 1;
                } else {
                    ties += 1;
                }
            }
            worst.sort_by(|a, b| (a.new - a.base).total_cmp(&(b.new - b.base)));
            let worse = worst.len();
            let p_value = sign_test(better, worse);
            let new_mean = new_stats
                .iter()
                .find(|s| &s.check == check)
                .and_then(|s| s.mean);
            CheckComparison {
                check: check.clone(),
                paired,
                base_mean: b.mean,
                new_mean,
                delta: b.mean.zip(new_mean).map(|(b, n)| n - b),
                better,
                worse,
                ties,
                p_value,
                significant: p_value < ALPHA,
                worst,
            }
        })
        .collect()
}

/// The two-sided exact sign test: the chance of a split at least this uneven between `a`
/// and `b` if ups and downs were equally likely.
pub(crate) fn sign_test(a: usize, b: usize) -> f64 {
    let n = a + b;
    if n == 0 {
        return 1.0;
    }
    let k = a.min(b);
    // ln C(n, i), built up term by term.
    #[allow(clippy::cast_precision_loss)]
    let (nf, ln2) = (n as f64, std::f64::consts::LN_2);
    let mut ln_c = 0.0;
    let mut tail = 0.0;
    for i in 0..=k {
        #[allow(clippy::cast_precision_loss)]
        let fi = i as f64;
        if i > 0 {
            ln_c += (nf - fi + 1.0).ln() - fi.ln();
        }
        tail += (ln_c - nf * ln2).exp();
    }
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn rows(v: Value) -> Vec<Row> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_object().unwrap().clone())
            .collect()
    }

    #[test]
    fn failed_checks_are_counted_apart_not_as_zero() {
        let r = rows(json!([
            {"score_a": 1.0}, {"score_a": 0.5}, {"score_a": null, "error_a": "HTTP 500"}, {"x": 1}
        ]));
        let s = &check_stats(&r)[0];
        assert_eq!((s.scored, s.failed, s.mean), (2, 1, Some(0.75)));
    }

    #[test]
    fn sign_test_matches_the_binomial_table() {
        // 0 of 10 changed rows improved: 2 * (1/1024).
        assert!((sign_test(0, 10) - 2.0 / 1024.0).abs() < 1e-12);
        // 5 / 5 is no evidence at all.
        assert_eq!(sign_test(5, 5), 1.0);
        // 2 of 10: 2 * (1 + 10 + 45) / 1024 = 0.109375.
        assert!((sign_test(2, 8) - 0.109_375).abs() < 1e-12);
        assert_eq!(sign_test(0, 0), 1.0);
    }

    #[test]
    fn rows_pair_by_id_then_question_and_worse_rows_are_listed() {
        let base = rows(json!([
            {"question": "q1", "score_a": 1.0}, {"question": "q2", "score_a": 1.0},
            {"question": "q2", "score_a": 0.5}
        ]));
        let new = rows(json!([
            {"question": "q2", "score_a": 0.0}, {"question": "q1", "score_a": 1.0},
            {"question": "q2", "score_a": 1.0}
        ]));
        let c = &compare(&base, &new)[0];
        assert_eq!((c.paired, c.better, c.worse, c.ties), (3, 1, 1, 1));
        assert_eq!(c.worst[0].key, "q2");
        assert!(!c.significant);
    }
}
