//! What grading cost: the judge's requests and tokens, per graded row and summed, and their
//! price from the core's price table, with where it came from, or why there is none.
//!
//! One rule sums them ([`JudgeUsage`]'s `+=` and `Sum`): requests and tokens add up; costs add
//! up when one table entry priced both sides; an unknown cost stays unknown (a partial sum
//! would be a silent under-count); "no judge" adds nothing.

use std::fmt;

use handler_core::cost::{Cost, PriceTable};
use handler_core::payload::TokenUsage;
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// What the judge spent on a graded row, or on a whole evaluation: requests, tokens and
/// their cost.
///
/// The [`Default`] is what an evaluator that calls no judge model spends: no requests, no
/// tokens, [`JudgeCost::NoJudge`]. The UpTrain API evaluator counts its requests on the
/// evaluation only (one request grades several rows), never tokens: its rows say "no judge".
///
/// ```
/// use handler_core::cost::PriceTable;
/// use handler_core::payload::TokenUsage;
/// use uptrain_plugin::{JudgeCost, JudgeUsage};
///
/// let table = PriceTable::shipped();
/// // gpt-4o-mini: $0.15 input, $0.60 output per million tokens.
/// let row = JudgeUsage::priced(2, TokenUsage::new(1_000, 100), "gpt-4o-mini", table);
/// assert!((row.cost.usd().unwrap_or_default() - 0.00021).abs() < 1e-12);
/// assert_eq!(
///     row.to_string(),
///     "2 judge requests, 1000 in, 100 out, 1100 total, $0.000210 (gpt-4o-mini, prices of 2024-10-01)"
/// );
///
/// let total: JudgeUsage = [row.clone(), row, JudgeUsage::default()].into_iter().sum();
/// assert_eq!(total.requests, 4);
/// assert_eq!(total.tokens.map(|t| t.total_tokens), Some(2_200));
/// assert!((total.cost.usd().unwrap_or_default() - 0.00042).abs() < 1e-12);
///
/// let unknown = JudgeUsage::priced(1, TokenUsage::new(10, 1), "my-judge", table);
/// assert_eq!(unknown.cost.usd(), None); // unknown, never a zero
/// assert!(unknown.cost.to_string().starts_with("unknown: model \"my-judge\" not in the price table"));
/// assert_eq!(JudgeUsage::default().cost.to_string(), "no judge model: nothing to price");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct JudgeUsage {
    /// HTTP requests sent to the judge (or the UpTrain API), retries included; answers taken
    /// from the judge cache send none.
    pub requests: u64,
    /// Tokens the judge model reported, cached and reasoning details included; `None` when
    /// the evaluator calls no judge model (the UpTrain API evaluator, the offline one).
    pub tokens: Option<TokenUsage>,
    /// What those tokens cost.
    pub cost: JudgeCost,
}

impl JudgeUsage {
    /// `requests` HTTP requests that reported `tokens` from `model`, priced by `table`.
    pub fn priced(requests: u64, tokens: TokenUsage, model: &str, table: &PriceTable) -> Self {
        let cost = match table.cost(model, &tokens) {
            Ok(cost) => JudgeCost::Priced(Box::new(cost)),
            Err(why) => JudgeCost::Unknown(why.to_string()),
        };
        Self {
            requests,
            tokens: Some(tokens),
            cost,
        }
    }

    /// `requests` HTTP requests to a service that reports no tokens (the UpTrain API).
    ///
    /// ```
    /// use uptrain_plugin::JudgeUsage;
    ///
    /// let usage = JudgeUsage::requests_only(3);
    /// assert_eq!((usage.requests, usage.tokens), (3, None));
    /// assert_eq!(usage.to_string(), "3 requests, no judge model: nothing to price");
    /// ```
    pub fn requests_only(requests: u64) -> Self {
        Self {
            requests,
            ..Self::default()
        }
    }

    /// The same usage, its cost unknown because `replies` of the judge's replies reported no
    /// token usage (a sum of the others would under-count).
    ///
    /// ```
    /// use handler_core::cost::PriceTable;
    /// use handler_core::payload::TokenUsage;
    /// use uptrain_plugin::{JudgeCost, JudgeUsage};
    ///
    /// let table = PriceTable::shipped();
    /// let usage = JudgeUsage::priced(2, TokenUsage::new(10, 1), "gpt-4o-mini", table);
    /// assert!(usage.clone().with_unreported(0).cost.usd().is_some());
    /// assert_eq!(
    ///     usage.with_unreported(1).cost,
    ///     JudgeCost::Unknown("1 of the judge's replies reported no token usage".into())
    /// );
    /// ```
    #[must_use]
    pub fn with_unreported(mut self, replies: u64) -> Self {
        if replies > 0 {
            self.cost = JudgeCost::Unknown(format!(
                "{replies} of the judge's replies reported no token usage"
            ));
        }
        self
    }
}

/// Sums two usages by the module's one rule (see [`JudgeCost`]'s sum).
impl std::ops::AddAssign for JudgeUsage {
    fn add_assign(&mut self, other: Self) {
        self.requests = self.requests.saturating_add(other.requests);
        self.tokens = match (self.tokens.take(), other.tokens) {
            (Some(mut mine), Some(theirs)) => {
                mine += theirs;
                Some(mine)
            }
            (mine, theirs) => mine.or(theirs),
        };
        self.cost += other.cost;
    }
}

impl std::iter::Sum for JudgeUsage {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::default(), |mut total, usage| {
            total += usage;
            total
        })
    }
}

/// `3 judge requests, 90 in (40 cached), 3 out, 93 total, $0.000012 (gpt-4o-mini, prices of
/// 2024-10-01)`; without tokens: `3 requests, no judge model: nothing to price`.
impl fmt::Display for JudgeUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tokens {
            Some(tokens) => write!(
                f,
                "{} judge requests, {tokens}, {}",
                self.requests, self.cost
            ),
            None => write!(f, "{} requests, {}", self.requests, self.cost),
        }
    }
}

/// The price of the judge's tokens: priced by a table entry, unknown (and why), or nothing to
/// price. Never a zero standing for "unknown".
///
/// Summing (`+=`): "no judge" adds nothing; two costs priced by one entry (same name, date,
/// source and table version) add up part by part; anything else is unknown, the first reason
/// kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum JudgeCost {
    /// No judge model was called: the UpTrain API evaluator (billed by UpTrain) or the offline
    /// one (no model at all).
    #[default]
    NoJudge,
    /// Priced by the table: the amount, its breakdown, the entry and its date (boxed: rows
    /// carry it, most of them small).
    Priced(Box<Cost>),
    /// The tokens could not be priced, and why: the model is not in the table, a reply
    /// reported no usage, or a sum of costs priced by different entries.
    Unknown(String),
}

impl JudgeCost {
    /// The amount in USD, when priced.
    pub fn usd(&self) -> Option<f64> {
        match self {
            JudgeCost::Priced(cost) => Some(cost.total),
            JudgeCost::NoJudge | JudgeCost::Unknown(_) => None,
        }
    }
}

impl std::ops::AddAssign for JudgeCost {
    fn add_assign(&mut self, other: Self) {
        let mine = std::mem::take(self);
        *self = match (mine, other) {
            (JudgeCost::NoJudge, other) | (other, JudgeCost::NoJudge) => other,
            (JudgeCost::Unknown(why), _) | (_, JudgeCost::Unknown(why)) => JudgeCost::Unknown(why),
            (JudgeCost::Priced(mut mine), JudgeCost::Priced(theirs)) => {
                if mine.provenance.entry == theirs.provenance.entry
                    && mine.provenance.date == theirs.provenance.date
                    && mine.provenance.source == theirs.provenance.source
                    && mine.provenance.table_version == theirs.provenance.table_version
                {
                    mine.breakdown += theirs.breakdown;
                    mine.total = mine.breakdown.total();
                    JudgeCost::Priced(mine)
                } else {
                    JudgeCost::Unknown(format!(
                        "priced by different table entries ({} and {})",
                        mine.provenance.entry, theirs.provenance.entry
                    ))
                }
            }
        };
    }
}

/// `$0.000012 (gpt-4o-mini, prices of 2024-10-01)`, `unknown: <why>`, or `no judge model:
/// nothing to price`.
impl fmt::Display for JudgeCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JudgeCost::NoJudge => f.write_str("no judge model: nothing to price"),
            JudgeCost::Priced(cost) => write!(f, "{cost}"),
            JudgeCost::Unknown(why) => write!(f, "unknown: {why}"),
        }
    }
}

/// `{"requests", "tokens" (the core's usage, or null), "cost_usd" (null unless priced),
/// "cost" (the cost in words), "prices" (when priced: "entry", "date", "source",
/// "table_version")}`.
impl Serialize for JudgeUsage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let priced = match &self.cost {
            JudgeCost::Priced(cost) => Some(&cost.provenance),
            _ => None,
        };
        let mut out =
            serializer.serialize_struct("JudgeUsage", 4 + usize::from(priced.is_some()))?;
        out.serialize_field("requests", &self.requests)?;
        out.serialize_field("tokens", &self.tokens)?;
        out.serialize_field("cost_usd", &self.cost.usd())?;
        out.serialize_field("cost", &self.cost.to_string())?;
        if let Some(provenance) = priced {
            out.serialize_field(
                "prices",
                &serde_json::json!({
                    "entry": provenance.entry,
                    "date": provenance.date,
                    "source": provenance.source,
                    "table_version": provenance.table_version,
                }),
            )?;
        } else {
            out.skip_field("prices")?;
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn priced(model: &str, prompt: u64, completion: u64) -> JudgeUsage {
        JudgeUsage::priced(
            1,
            TokenUsage::new(prompt, completion),
            model,
            PriceTable::shipped(),
        )
    }

    #[test]
    fn sums_follow_one_rule() {
        let known = priced("gpt-4o-mini", 1_000_000, 0);
        let unknown = priced("my-judge", 10, 1);
        let other_entry = priced("gpt-4o", 1_000_000, 0);
        let none = JudgeUsage::requests_only(3);
        let sum =
            |parts: &[&JudgeUsage]| -> JudgeUsage { parts.iter().map(|u| (*u).clone()).sum() };
        let cases: [(&str, JudgeUsage, Option<f64>, &str); 5] = [
            (
                "known twice",
                sum(&[&known, &known]),
                Some(0.3),
                "$0.300000",
            ),
            (
                "known and no judge",
                sum(&[&none, &known]),
                Some(0.15),
                "$0.150000",
            ),
            (
                "unknown wins",
                sum(&[&known, &unknown]),
                None,
                "unknown: model",
            ),
            (
                "unknown first",
                sum(&[&unknown, &known]),
                None,
                "unknown: model",
            ),
            (
                "two entries",
                sum(&[&known, &other_entry]),
                None,
                "unknown: priced by different table entries (gpt-4o-mini and gpt-4o)",
            ),
        ];
        for (case, total, usd, shown) in cases {
            assert_eq!(
                total.cost.usd().map(|v| (v * 1e9).round() / 1e9),
                usd,
                "{case}"
            );
            assert!(
                total.cost.to_string().starts_with(shown),
                "{case}: {}",
                total.cost
            );
        }
        let total = sum(&[&none, &known, &unknown]);
        assert_eq!(total.requests, 5);
        assert_eq!(total.tokens, Some(TokenUsage::new(1_000_010, 1)));
        assert_eq!(sum(&[&none, &none]).tokens, None);
    }

    #[test]
    fn unreported_usage_makes_the_cost_unknown() {
        let usage = priced("gpt-4o-mini", 10, 1).with_unreported(2);
        assert_eq!(
            usage.cost,
            JudgeCost::Unknown("2 of the judge's replies reported no token usage".into())
        );
        assert!(
            priced("gpt-4o-mini", 10, 1)
                .with_unreported(0)
                .cost
                .usd()
                .is_some()
        );
    }

    #[test]
    fn json_says_unknown_and_no_judge_as_null_with_words() {
        let json = |u: &JudgeUsage| serde_json::to_value(u).unwrap();
        let known = json(&priced("gpt-4o-mini", 1_000_000, 0));
        assert_eq!(known["cost_usd"], 0.15);
        assert_eq!(known["prices"]["entry"], "gpt-4o-mini");
        assert_eq!(known["tokens"]["prompt_tokens"], 1_000_000);
        let unknown = json(&priced("my-judge", 1, 1));
        assert!(unknown["cost_usd"].is_null());
        assert!(unknown.get("prices").is_none());
        let none = json(&JudgeUsage::requests_only(2));
        assert_eq!(none["requests"], 2);
        assert!(none["tokens"].is_null() && none["cost_usd"].is_null());
        assert_eq!(none["cost"], "no judge model: nothing to price");
    }
}
