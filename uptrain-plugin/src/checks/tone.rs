//! Language and tone: `critique_language` rates fluency, coherence, grammar and politeness of
//! the response, one judge call per aspect, and [`CritiqueTone`] rates the response's tone
//! against a persona. Every rating is 1–5, scored n / 5 (UpTrain's mapping: 0.2 to 1.0).

use serde::{Deserialize, Serialize};

use super::{Answer, Ask};
use crate::row::{self, Row};

/// One aspect of `critique_language`.
#[derive(Debug)]
pub(crate) struct Aspect {
    /// The output key suffix (`score_<key>`), as UpTrain writes it.
    pub(crate) key: &'static str,
    /// What the judge rates.
    pub(crate) task: &'static str,
}

/// The four aspects, in UpTrain's order.
pub(crate) const ASPECTS: [Aspect; 4] = [
    Aspect {
        key: "fluency",
        task: "Rate how fluent the response is: does it read naturally, as a native speaker \
               would write it?",
    },
    Aspect {
        key: "coherence",
        task: "Rate how coherent the response is: do its sentences follow from one another \
               and form one clear line of thought?",
    },
    Aspect {
        key: "grammar",
        task: "Rate the grammar of the response: spelling, agreement, tense and punctuation.",
    },
    Aspect {
        key: "politeness",
        task: "Rate how polite the response is towards the reader.",
    },
];

/// The rating scale of every tone and language question.
pub(crate) const RATING: Answer = Answer::Rating { min: 1, max: 5 };

fn response(row: &Row) -> (&'static str, String) {
    ("Response", row::text(row, "response"))
}

/// One judge call per aspect, in [`ASPECTS`] order.
pub(crate) fn critique_language(row: &Row) -> Vec<Ask> {
    ASPECTS
        .iter()
        .map(|aspect| Ask {
            title: format!("Critique Language ({})", aspect.key).into(),
            task: format!("{} Use 1 for very poor and 5 for excellent.", aspect.task).into(),
            answer: RATING,
            fields: vec![response(row)],
        })
        .collect()
}

/// Rates the response's tone against the persona the model should have.
///
/// Output keys `score_tone` and `explanation_tone`; one judge call; input `response`.
///
/// ```
/// use uptrain_plugin::{Check, CritiqueTone};
///
/// let tone = CritiqueTone::new("a patient teacher");
/// assert_eq!(tone.persona(), "a patient teacher");
/// assert_eq!(Check::from(tone).score_key(), "score_tone");
/// assert_eq!(CritiqueTone::default().persona(), "helpful-chatbot");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CritiqueTone {
    /// The persona the response should speak as (UpTrain's `llm_persona`).
    #[serde(default = "default_persona")]
    llm_persona: String,
}

fn default_persona() -> String {
    "helpful-chatbot".to_owned()
}

impl Default for CritiqueTone {
    fn default() -> Self {
        Self {
            llm_persona: default_persona(),
        }
    }
}

impl CritiqueTone {
    /// A tone check against `persona`.
    pub fn new(persona: impl Into<String>) -> Self {
        Self {
            llm_persona: persona.into(),
        }
    }

    /// The persona.
    pub fn persona(&self) -> &str {
        &self.llm_persona
    }

    pub(crate) fn ask(&self, row: &Row) -> Ask {
        Ask {
            title: "Critique Tone".into(),
            task: format!(
                "The response should sound like this persona: {}. Rate how well its tone \
                 matches the persona, from 1 (not at all) to 5 (exactly).",
                self.llm_persona.trim()
            )
            .into(),
            answer: RATING,
            fields: vec![response(row)],
        }
    }
}
