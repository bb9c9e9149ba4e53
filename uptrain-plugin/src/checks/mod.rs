//! The checks beyond the RAG family, grouped by family: language and tone ([`tone`]),
//! guardrails on the question and the code ([`guardrails`]), written expectations (scenario
//! and guideline, [`scenario`]), matching against a reference answer ([`matching`]), the
//! user's own prompt ([`custom`]) and checks over a whole conversation ([`conversation`]).
//!
//! Each family says what it asks the judge as data ([`Ask`]): a title, a task, the answer it
//! expects and the labelled fields. The prompts are ours, written in the shape of the judge's
//! prompt builder; the output keys, score mappings and numbers of judge calls are UpTrain's.
//! The parametric checks are values that carry their parameters ([`ParametricCheck`]).

pub(crate) mod conversation;
pub(crate) mod custom;
pub(crate) mod guardrails;
pub(crate) mod matching;
pub(crate) mod scenario;
pub(crate) mod tone;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

pub use conversation::{
    ConversationGuidelineAdherence, ConversationNumberOfTurns, ConversationObjective,
    ConversationSatisfaction, QueryResolution,
};
pub use custom::CustomPromptEval;
pub use guardrails::JailbreakDetection;
pub use matching::{MatchMethod, ResponseMatching};
pub use scenario::GuidelineAdherence;
pub(crate) use tone::ASPECTS as TONE_ASPECTS;
pub use tone::CritiqueTone;

use crate::check::Polarity;

/// One lettered option of a graded check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Grade {
    /// The letter the judge answers with.
    pub(crate) letter: char,
    /// What the letter means.
    pub(crate) meaning: &'static str,
    /// The score it maps to.
    pub(crate) score: f64,
}

/// Three options scored 1.0, 0.5 and 0.0 (UpTrain's A/B/C mapping).
pub(crate) const fn abc(a: &'static str, b: &'static str, c: &'static str) -> [Grade; 3] {
    [
        Grade {
            letter: 'A',
            meaning: a,
            score: 1.0,
        },
        Grade {
            letter: 'B',
            meaning: b,
            score: 0.5,
        },
        Grade {
            letter: 'C',
            meaning: c,
            score: 0.0,
        },
    ]
}

/// Two options: A scores `a`, B scores `1 - a`.
pub(crate) const fn ab(a: &'static str, b: &'static str, a_score: f64) -> [Grade; 2] {
    [
        Grade {
            letter: 'A',
            meaning: a,
            score: a_score,
        },
        Grade {
            letter: 'B',
            meaning: b,
            score: 1.0 - a_score,
        },
    ]
}

/// The answer a judge call expects.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// `{"Reasoning", "Choice": "<letter>"}`, scored by the chosen grade.
    Choice(&'static [Grade]),
    /// `{"Reasoning", "Choice": "<one of the names>"}`, scored by the named choice.
    Named(Vec<(String, f64)>),
    /// `{"Reasoning", "Score": <min..=max>}`, scored `n / max`.
    Rating {
        /// Lowest rating.
        min: u32,
        /// Highest rating.
        max: u32,
    },
    /// `{"Reasoning", "Turns": <whole number>}`, scored as the count itself.
    Turns,
}

/// One judge call: what to ask and the data to show.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ask {
    /// Title line of the prompt.
    pub(crate) title: Cow<'static, str>,
    /// What to judge.
    pub(crate) task: Cow<'static, str>,
    /// The answer expected.
    pub(crate) answer: Answer,
    /// `(label, text)` of the data shown to the judge, in order.
    pub(crate) fields: Vec<(&'static str, String)>,
}

/// A check that carries its parameters. On the UpTrain wire it is the object
/// `{"check_name": "<ClassName>", ...parameters}`, which is also its serde form.
///
/// ```
/// use uptrain_plugin::{Check, CritiqueTone, ParametricCheck};
///
/// let check = Check::from(CritiqueTone::new("a calm support agent"));
/// let wire = serde_json::to_value(&check).unwrap();
/// assert_eq!(wire["check_name"], "CritiqueTone");
/// assert_eq!(wire["llm_persona"], "a calm support agent");
/// assert_eq!(serde_json::from_value::<Check>(wire).unwrap(), check);
/// assert!(matches!(check, Check::Parametric(ParametricCheck::CritiqueTone(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "check_name")]
pub enum ParametricCheck {
    /// The response's tone, against a persona.
    CritiqueTone(CritiqueTone),
    /// The response against a written guideline, scored under the guideline's name.
    GuidelineAdherence(GuidelineAdherence),
    /// Does the question try to make the model act against its purpose (1.0 = detected)?
    JailbreakDetection(JailbreakDetection),
    /// The response against a ground-truth answer.
    ResponseMatching(ResponseMatching),
    /// The user's own prompt template, choices and scores.
    CustomPromptEval(CustomPromptEval),
    /// Did the assistant resolve the user's query over the conversation?
    QueryResolution(QueryResolution),
    /// How satisfied the user is at the end of the conversation.
    ConversationSatisfaction(ConversationSatisfaction),
    /// Does the assistant follow a guideline throughout the conversation?
    ConversationGuidelineAdherence(ConversationGuidelineAdherence),
    /// Was the conversation's objective met?
    ConversationObjective(ConversationObjective),
    /// How many turns the user needed (a count, not a grade).
    ConversationNumberOfTurns(ConversationNumberOfTurns),
}

impl ParametricCheck {
    /// UpTrain's class names, in the order of the variants.
    pub const CLASS_NAMES: [&'static str; 10] = [
        "CritiqueTone",
        "GuidelineAdherence",
        "JailbreakDetection",
        "ResponseMatching",
        "CustomPromptEval",
        "QueryResolution",
        "ConversationSatisfaction",
        "ConversationGuidelineAdherence",
        "ConversationObjective",
        "ConversationNumberOfTurns",
    ];

    /// UpTrain's class name, the check's wire name.
    pub fn class_name(&self) -> &'static str {
        match self {
            ParametricCheck::CritiqueTone(_) => "CritiqueTone",
            ParametricCheck::GuidelineAdherence(_) => "GuidelineAdherence",
            ParametricCheck::JailbreakDetection(_) => "JailbreakDetection",
            ParametricCheck::ResponseMatching(_) => "ResponseMatching",
            ParametricCheck::CustomPromptEval(_) => "CustomPromptEval",
            ParametricCheck::QueryResolution(_) => "QueryResolution",
            ParametricCheck::ConversationSatisfaction(_) => "ConversationSatisfaction",
            ParametricCheck::ConversationGuidelineAdherence(_) => "ConversationGuidelineAdherence",
            ParametricCheck::ConversationObjective(_) => "ConversationObjective",
            ParametricCheck::ConversationNumberOfTurns(_) => "ConversationNumberOfTurns",
        }
    }

    /// The check with its default parameters, for the class names whose parameters all have
    /// defaults (not `GuidelineAdherence`, `ConversationGuidelineAdherence`,
    /// `CustomPromptEval`).
    pub fn with_defaults(class_name: &str) -> Option<Self> {
        let name = class_name.trim();
        let pick = |n: &str| n.eq_ignore_ascii_case(name);
        Some(if pick("CritiqueTone") {
            CritiqueTone::default().into()
        } else if pick("JailbreakDetection") {
            JailbreakDetection::default().into()
        } else if pick("ResponseMatching") {
            ResponseMatching::default().into()
        } else if pick("QueryResolution") {
            QueryResolution::default().into()
        } else if pick("ConversationSatisfaction") {
            ConversationSatisfaction::default().into()
        } else if pick("ConversationObjective") {
            ConversationObjective::default().into()
        } else if pick("ConversationNumberOfTurns") {
            ConversationNumberOfTurns::default().into()
        } else {
            return None;
        })
    }

    pub(crate) fn display_name(&self) -> &'static str {
        match self {
            ParametricCheck::CritiqueTone(_) => "Critique Tone",
            ParametricCheck::GuidelineAdherence(_) => "Guideline Adherence",
            ParametricCheck::JailbreakDetection(_) => "Jailbreak Detection",
            ParametricCheck::ResponseMatching(_) => "Response Matching",
            ParametricCheck::CustomPromptEval(_) => "Custom Prompt Eval",
            ParametricCheck::QueryResolution(_) => "Query Resolution",
            ParametricCheck::ConversationSatisfaction(_) => "Conversation Satisfaction",
            ParametricCheck::ConversationGuidelineAdherence(_) => {
                "Conversation Guideline Adherence"
            }
            ParametricCheck::ConversationObjective(_) => "Conversation Objective",
            ParametricCheck::ConversationNumberOfTurns(_) => "Conversation Number of Turns",
        }
    }

    pub(crate) fn required_keys(&self) -> Vec<&str> {
        const CONVERSATION: &[&str] = &["conversation"];
        match self {
            ParametricCheck::CritiqueTone(_) => vec!["response"],
            ParametricCheck::GuidelineAdherence(_) => vec!["question", "response"],
            ParametricCheck::JailbreakDetection(_) => vec!["question"],
            ParametricCheck::ResponseMatching(_) => vec!["question", "response", "ground_truth"],
            ParametricCheck::CustomPromptEval(c) => c.required_keys(),
            ParametricCheck::ConversationObjective(_) => vec!["conversation", "objective"],
            ParametricCheck::QueryResolution(_)
            | ParametricCheck::ConversationSatisfaction(_)
            | ParametricCheck::ConversationGuidelineAdherence(_)
            | ParametricCheck::ConversationNumberOfTurns(_) => CONVERSATION.to_vec(),
        }
    }

    pub(crate) fn judge_calls(&self) -> usize {
        match self {
            ParametricCheck::ResponseMatching(m) => m.judge_calls(),
            _ => 1,
        }
    }

    pub(crate) fn polarity(&self) -> Polarity {
        match self {
            ParametricCheck::JailbreakDetection(_) => Polarity::HigherIsWorse,
            ParametricCheck::ConversationNumberOfTurns(_) => Polarity::Count,
            _ => Polarity::HigherIsBetter,
        }
    }

    pub(crate) fn output_keys(&self) -> Vec<String> {
        let one = |key: &str| vec![key.to_owned()];
        match self {
            ParametricCheck::CritiqueTone(_) => one("tone"),
            ParametricCheck::GuidelineAdherence(g) => vec![format!("{}_adherence", g.name())],
            ParametricCheck::JailbreakDetection(_) => one("jailbreak_attempted"),
            ParametricCheck::ResponseMatching(_) => matching::KEYS.map(str::to_owned).to_vec(),
            ParametricCheck::CustomPromptEval(_) => one("custom_prompt"),
            ParametricCheck::QueryResolution(_) => one("query_resolution"),
            ParametricCheck::ConversationSatisfaction(_) => one("conversation_satisfaction"),
            ParametricCheck::ConversationGuidelineAdherence(g) => {
                vec![format!("conversation_{}_adherence", g.name())]
            }
            ParametricCheck::ConversationObjective(_) => one("conversation_objective"),
            ParametricCheck::ConversationNumberOfTurns(_) => one("conversation_number_of_turns"),
        }
    }

    /// What is wrong with the parameters, if anything (checked before any call).
    pub(crate) fn problem(&self) -> Option<String> {
        match self {
            ParametricCheck::GuidelineAdherence(g) => g.problem(),
            ParametricCheck::ConversationGuidelineAdherence(g) => g.problem(),
            ParametricCheck::CustomPromptEval(c) => c.problem(),
            _ => None,
        }
    }
}

macro_rules! into_check {
    ($($ty:ident),* $(,)?) => {$(
        impl From<$ty> for ParametricCheck {
            fn from(check: $ty) -> Self {
                ParametricCheck::$ty(check)
            }
        }

        impl From<$ty> for crate::check::Check {
            fn from(check: $ty) -> Self {
                crate::check::Check::Parametric(ParametricCheck::$ty(check))
            }
        }
    )*};
}

into_check!(
    CritiqueTone,
    GuidelineAdherence,
    JailbreakDetection,
    ResponseMatching,
    CustomPromptEval,
    QueryResolution,
    ConversationSatisfaction,
    ConversationGuidelineAdherence,
    ConversationObjective,
    ConversationNumberOfTurns,
);

/// A name usable in an output key: trimmed, lower-cased, spaces as underscores; `None` when
/// it is empty or holds other characters than letters, digits, `_` and `-`.
pub(crate) fn key_name(name: &str) -> Option<String> {
    let key = name.trim().to_lowercase().replace(' ', "_");
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    ok.then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Check;

    #[test]
    fn class_names_parse_with_defaults_or_need_parameters() {
        for name in ParametricCheck::CLASS_NAMES {
            match ParametricCheck::with_defaults(name) {
                Some(check) => {
                    assert_eq!(check.class_name(), name);
                    assert_eq!(name.parse::<Check>().unwrap(), Check::Parametric(check));
                }
                None => assert!(matches!(
                    name,
                    "GuidelineAdherence" | "ConversationGuidelineAdherence" | "CustomPromptEval"
                )),
            }
        }
    }

    #[test]
    fn every_parametric_check_round_trips_through_its_wire_object() {
        let checks: Vec<ParametricCheck> = vec![
            CritiqueTone::new("p").into(),
            GuidelineAdherence::new("g", "policy").into(),
            JailbreakDetection::new("help").into(),
            ResponseMatching::new(MatchMethod::Exact).into(),
            CustomPromptEval::new("Is {{response}} ok?", [("yes", 1.0), ("no", 0.0)]).into(),
            QueryResolution::default().into(),
            ConversationSatisfaction::default().into(),
            ConversationGuidelineAdherence::new("g", "tone").into(),
            ConversationObjective::default().into(),
            ConversationNumberOfTurns::default().into(),
        ];
        for (check, name) in checks.iter().zip(ParametricCheck::CLASS_NAMES) {
            let wire = serde_json::to_value(check).unwrap();
            assert_eq!(wire["check_name"], name);
            assert_eq!(
                &serde_json::from_value::<ParametricCheck>(wire).unwrap(),
                check
            );
            assert!(!check.output_keys().is_empty());
            assert!(!check.required_keys().is_empty());
        }
    }

    #[test]
    fn key_names_are_safe() {
        assert_eq!(
            key_name(" Refund Policy ").as_deref(),
            Some("refund_policy")
        );
        assert_eq!(key_name(""), None);
        assert_eq!(key_name("a/b"), None);
    }
}
