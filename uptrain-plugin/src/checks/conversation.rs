//! Checks over a whole conversation: the row's `conversation` is a list of turns
//! `{"role": ..., "content": ...}` (or one text), shown to the judge as `role: content` lines.
//! Each check is one judge call.
//!
//! | check | output key | answer → score |
//! |---|---|---|
//! | [`QueryResolution`] | `query_resolution` | A/B/C → 1.0/0.5/0.0 |
//! | [`ConversationSatisfaction`] | `conversation_satisfaction` | A (highly frustrated) → 0.0, B → 0.5, C (highly satisfied) → 1.0 |
//! | [`ConversationGuidelineAdherence`] | `conversation_<name>_adherence` | A (broken) → 0.0, B (followed) → 1.0 |
//! | [`ConversationObjective`] | `conversation_objective` | A/B/C → 1.0/0.5/0.0 (needs `objective`) |
//! | [`ConversationNumberOfTurns`] | `conversation_number_of_turns` | the number of user turns needed (a count) |
//!
//! The letter mappings of satisfaction and guideline adherence are UpTrain's. UpTrain 0.7.1
//! grades the other three only on its hosted server; their prompts and options here are ours.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::scenario::{default_name, guideline_problem};
use super::{Answer, Ask, Grade, ab, abc, key_name};
use crate::row::{self, Row};

fn default_user() -> String {
    "user".to_owned()
}

fn default_llm() -> String {
    "assistant".to_owned()
}

/// The turns of `conversation` as `(role, content)`.
pub(crate) fn turns(row: &Row) -> Vec<(String, String)> {
    match row.get("conversation") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|turn| {
                let role = turn.get("role")?.as_str()?;
                let content = turn.get("content")?.as_str()?;
                Some((role.trim().to_owned(), content.trim().to_owned()))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The conversation as `role: content` lines.
pub(crate) fn transcript(row: &Row) -> String {
    match row.get("conversation") {
        Some(Value::String(text)) => text.clone(),
        _ => turns(row)
            .iter()
            .map(|(role, content)| format!("{role}: {content}"))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

macro_rules! role_check {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub struct $name {
            /// The role name of the user's turns.
            #[serde(default = "default_user")]
            user_role: String,
            /// The role name of the assistant's turns.
            #[serde(default = "default_llm")]
            llm_role: String,
        }

        impl Default for $name {
            fn default() -> Self {
                Self { user_role: default_user(), llm_role: default_llm() }
            }
        }

        impl $name {
            /// The check with the role names used in the conversation (default `user` and
            /// `assistant`).
            pub fn with_roles(user_role: impl Into<String>, llm_role: impl Into<String>) -> Self {
                Self { user_role: user_role.into(), llm_role: llm_role.into() }
            }

            /// The user's role name.
            pub fn user_role(&self) -> &str {
                &self.user_role
            }

            fn roles(&self) -> String {
                roles(&self.user_role, &self.llm_role)
            }
        }
    };
}

fn roles(user: &str, llm: &str) -> String {
    format!("Turns marked \"{user}\" are the user's, turns marked \"{llm}\" the assistant's.")
}

fn conversation(row: &Row) -> Vec<(&'static str, String)> {
    vec![("Conversation", transcript(row))]
}

role_check!(
    /// Did the assistant resolve the user's query? Output key `score_query_resolution`.
    ///
    /// ```
    /// use uptrain_plugin::{Check, QueryResolution};
    /// let check = Check::from(QueryResolution::with_roles("customer", "agent"));
    /// assert_eq!(check.score_key(), "score_query_resolution");
    /// assert_eq!(check.required_keys(), ["conversation"]);
    /// ```
    QueryResolution
);
role_check!(
    /// How satisfied is the user at the end? Output key `score_conversation_satisfaction`;
    /// "highly frustrated" scores 0.
    ConversationSatisfaction
);
role_check!(
    /// Was the conversation's objective (the row's `objective`) met? Output key
    /// `score_conversation_objective`.
    ConversationObjective
);
role_check!(
    /// How many user turns did the conversation take to resolve the query? Output key
    /// `score_conversation_number_of_turns`, a count (not in 0..1).
    ConversationNumberOfTurns
);

static RESOLUTION: [Grade; 3] = abc(
    "The assistant resolved the user's query completely.",
    "The assistant resolved the user's query in part.",
    "The assistant did not resolve the user's query.",
);

static SATISFACTION: [Grade; 3] = [
    Grade {
        letter: 'A',
        meaning: "The user is highly frustrated.",
        score: 0.0,
    },
    Grade {
        letter: 'B',
        meaning: "The user is neither frustrated nor fully satisfied.",
        score: 0.5,
    },
    Grade {
        letter: 'C',
        meaning: "The user is highly satisfied.",
        score: 1.0,
    },
];

static OBJECTIVE: [Grade; 3] = abc(
    "The objective was met.",
    "The objective was met in part.",
    "The objective was not met.",
);

static CONVERSATION_ADHERENCE: [Grade; 2] = ab(
    "The assistant breaks the guideline somewhere in the conversation.",
    "The assistant follows the guideline throughout.",
    0.0,
);

impl QueryResolution {
    pub(crate) fn ask(&self, row: &Row) -> Ask {
        Ask {
            title: "Query Resolution".into(),
            task: format!(
                "{} Decide whether, by the end of the conversation, the assistant resolved \
                 what the user asked for.",
                self.roles()
            )
            .into(),
            answer: Answer::Choice(&RESOLUTION),
            fields: conversation(row),
        }
    }
}

impl ConversationSatisfaction {
    pub(crate) fn ask(&self, row: &Row) -> Ask {
        Ask {
            title: "Conversation Satisfaction".into(),
            task: format!(
                "{} Judge how satisfied the user is with the assistant by the end of the \
                 conversation, from what the user says and how.",
                self.roles()
            )
            .into(),
            answer: Answer::Choice(&SATISFACTION),
            fields: conversation(row),
        }
    }
}

impl ConversationObjective {
    pub(crate) fn ask(&self, row: &Row) -> Ask {
        let mut fields = vec![("Objective", row::text(row, "objective"))];
        fields.extend(conversation(row));
        Ask {
            title: "Conversation Objective".into(),
            task: format!(
                "{} Decide whether the conversation met the objective.",
                self.roles()
            )
            .into(),
            answer: Answer::Choice(&OBJECTIVE),
            fields,
        }
    }
}

impl ConversationNumberOfTurns {
    pub(crate) fn ask(&self, row: &Row) -> Ask {
        Ask {
            title: "Conversation Number of Turns".into(),
            task: format!(
                "{} Count the user's turns up to the one after which the user's query was \
                 resolved (all of the user's turns if it never was).",
                self.roles()
            )
            .into(),
            answer: Answer::Turns,
            fields: conversation(row),
        }
    }

    /// The number of turns by the user's role, as an offline estimate.
    pub(crate) fn user_turns(&self, row: &Row) -> usize {
        turns(row)
            .iter()
            .filter(|(role, _)| role.eq_ignore_ascii_case(&self.user_role))
            .count()
    }
}

/// Does the assistant follow a guideline throughout the conversation? Output key
/// `score_conversation_<name>_adherence` (1.0 = followed).
///
/// ```
/// use uptrain_plugin::{Check, ConversationGuidelineAdherence};
/// let check = ConversationGuidelineAdherence::new("Greet the user by name.", "greeting");
/// assert_eq!(Check::from(check).score_key(), "score_conversation_greeting_adherence");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConversationGuidelineAdherence {
    /// The guideline.
    guideline: String,
    /// The name the score is filed under.
    #[serde(default = "default_name")]
    guideline_name: String,
}

impl ConversationGuidelineAdherence {
    /// A check of `guideline`, scored as `score_conversation_<name>_adherence`.
    pub fn new(guideline: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            guideline: guideline.into(),
            guideline_name: name.into(),
        }
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
        fields.extend(conversation(row));
        Ask {
            title: format!("Conversation Guideline Adherence ({})", self.name()).into(),
            task: "Decide whether the assistant follows the guideline in every one of its \
                   turns."
                .into(),
            answer: Answer::Choice(&CONVERSATION_ADHERENCE),
            fields,
        }
    }
}
