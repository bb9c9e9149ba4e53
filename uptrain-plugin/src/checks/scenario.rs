//! Written expectations: `response_alignment_with_scenario` and
//! `response_sincerity_with_scenario` judge the response against the row's
//! `scenario_description`, and [`GuidelineAdherence`] against a guideline given as a parameter.
//!
//! UpTrain 0.7.1 has no local prompt for the two scenario checks (its client sends them to the
//! hosted server); the prompts and options here are ours: alignment A/B/C → 1.0/0.5/0.0,
//! sincerity A/B → 1.0/0.0. Guideline adherence is UpTrain's A (follows) → 1.0, B → 0.0.

use serde::{Deserialize, Serialize};

use super::{Answer, Ask, Grade, ab, abc, key_name};
use crate::row::{self, Row};

static ALIGNMENT: [Grade; 3] = abc(
    "The response does what the scenario asks of it.",
    "The response does part of what the scenario asks, or strays from it.",
    "The response ignores or contradicts the scenario.",
);

static SINCERITY: [Grade; 2] = ab(
    "The response is sincere: it claims nothing it cannot do or know.",
    "The response pretends, overpromises or claims knowledge it does not have.",
    1.0,
);

static ADHERENCE: [Grade; 2] = ab(
    "The response follows the guideline.",
    "The response breaks the guideline.",
    1.0,
);

fn qa(row: &Row) -> Vec<(&'static str, String)> {
    vec![
        ("Scenario", row::text(row, "scenario_description")),
        ("Question", row::text(row, "question")),
        ("Response", row::text(row, "response")),
    ]
}

/// `response_alignment_with_scenario`: one call.
pub(crate) fn alignment(row: &Row) -> Ask {
    Ask {
        title: "Response Alignment with Scenario".into(),
        task: "The scenario describes the situation and what the response should do in it. \
               Decide how well the response does what the scenario asks."
            .into(),
        answer: Answer::Choice(&ALIGNMENT),
        fields: qa(row),
    }
}

/// `response_sincerity_with_scenario`: one call.
pub(crate) fn sincerity(row: &Row) -> Ask {
    Ask {
        title: "Response Sincerity with Scenario".into(),
        task: "The scenario describes the situation the response is given in. Decide whether \
               the response is sincere in it, or pretends, overpromises or claims knowledge it \
               cannot have."
            .into(),
        answer: Answer::Choice(&SINCERITY),
        fields: qa(row),
    }
}

/// Judges the response against a written guideline, scored under the guideline's name:
/// `score_<name>_adherence`, `explanation_<name>_adherence` (1.0 = followed). One judge call;
/// inputs `question`, `response`.
///
/// ```
/// use uptrain_plugin::{Check, GuidelineAdherence};
///
/// let check = GuidelineAdherence::new("Never quote a price.", "Pricing Policy")
///     .response_schema("plain text");
/// assert_eq!(check.name(), "pricing_policy");
/// assert_eq!(Check::from(check).score_key(), "score_pricing_policy_adherence");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GuidelineAdherence {
    /// The guideline.
    guideline: String,
    /// The name the score is filed under.
    #[serde(default = "default_name")]
    guideline_name: String,
    /// The schema of the response, when it is JSON, XML or similar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response_schema: Option<String>,
}

pub(crate) fn default_name() -> String {
    "guideline".to_owned()
}

impl GuidelineAdherence {
    /// A check of `guideline`, scored as `score_<name>_adherence` (`name` lower-cased, spaces
    /// as underscores).
    pub fn new(guideline: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            guideline: guideline.into(),
            guideline_name: name.into(),
            response_schema: None,
        }
    }

    /// Describes the response's format to the judge.
    pub fn response_schema(mut self, schema: impl Into<String>) -> Self {
        self.response_schema = Some(schema.into());
        self
    }

    /// The guideline.
    pub fn guideline(&self) -> &str {
        &self.guideline
    }

    /// The name as used in the output keys.
    pub fn name(&self) -> String {
        key_name(&self.guideline_name).unwrap_or_else(|| self.guideline_name.clone())
    }

    pub(crate) fn problem(&self) -> Option<String> {
        guideline_problem(&self.guideline, &self.guideline_name)
    }

    pub(crate) fn ask(&self, row: &Row) -> Ask {
        let mut fields = vec![("Guideline", self.guideline.clone())];
        if let Some(schema) = &self.response_schema {
            fields.push(("Response schema", schema.clone()));
        }
        fields.push(("Question", row::text(row, "question")));
        fields.push(("Response", row::text(row, "response")));
        Ask {
            title: format!("Guideline Adherence ({})", self.name()).into(),
            task: "Decide whether the response follows the guideline. A guideline that does not \
                   apply to this question is followed."
                .into(),
            answer: Answer::Choice(&ADHERENCE),
            fields,
        }
    }
}

/// Why a guideline and its name cannot be used, if they cannot.
pub(crate) fn guideline_problem(guideline: &str, name: &str) -> Option<String> {
    if guideline.trim().is_empty() {
        return Some("the guideline is empty".into());
    }
    if key_name(name).is_none() {
        return Some(format!(
            "guideline name {name:?} must be non-empty letters, digits, spaces, `_` or `-`"
        ));
    }
    None
}
