//! [`CustomPromptEval`]: the user's own prompt template with `{{field}}` placeholders filled
//! from the row, the choices the judge picks from and the score of each. One judge call;
//! output key `score_custom_prompt` and, as in UpTrain, no explanation column.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

use super::{Answer, Ask};
use crate::row::{self, Row};

/// A custom judge prompt.
///
/// ```
/// use uptrain_plugin::{Check, CustomPromptEval};
///
/// let check = CustomPromptEval::new(
///     "Does the answer {{response}} mention a price for {{question}}?",
///     [("yes", 0.0), ("no", 1.0)],
/// )
/// .map_placeholder("response", "answer");
/// assert_eq!(check.required_keys(), ["answer", "question"]);
/// assert_eq!(Check::from(check).score_key(), "score_custom_prompt");
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomPromptEval {
    /// The template; `{{name}}` is replaced by the row's `name` column (or the mapped one).
    prompt: String,
    /// The choices the judge may answer.
    choices: Vec<String>,
    /// The score of each choice, in the same order.
    choice_scores: Vec<f64>,
    /// Placeholder → column, for placeholders named differently from their column.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    prompt_var_to_column_mapping: BTreeMap<String, String>,
}

impl PartialEq for CustomPromptEval {
    fn eq(&self, other: &Self) -> bool {
        self.prompt == other.prompt
            && self.choices == other.choices
            && self.prompt_var_to_column_mapping == other.prompt_var_to_column_mapping
            && self.choice_scores.len() == other.choice_scores.len()
            && self
                .choice_scores
                .iter()
                .zip(&other.choice_scores)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Eq for CustomPromptEval {}

impl Hash for CustomPromptEval {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.prompt.hash(state);
        self.choices.hash(state);
        for score in &self.choice_scores {
            score.to_bits().hash(state);
        }
        self.prompt_var_to_column_mapping.hash(state);
    }
}

impl CustomPromptEval {
    /// A custom check: the template and `(choice, score)` pairs, scores in `0..=1`. The
    /// parameters are checked before any row is evaluated.
    pub fn new<C: Into<String>>(
        prompt: impl Into<String>,
        choices: impl IntoIterator<Item = (C, f64)>,
    ) -> Self {
        let (choices, choice_scores) = choices.into_iter().map(|(c, s)| (c.into(), s)).unzip();
        Self {
            prompt: prompt.into(),
            choices,
            choice_scores,
            prompt_var_to_column_mapping: BTreeMap::new(),
        }
    }

    /// Reads placeholder `name` from `column` instead of a column of the same name.
    pub fn map_placeholder(mut self, name: impl Into<String>, column: impl Into<String>) -> Self {
        self.prompt_var_to_column_mapping
            .insert(name.into(), column.into());
        self
    }

    /// The placeholders of the template, in order of first appearance.
    pub fn placeholders(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        let mut rest = self.prompt.as_str();
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else { break };
            let name = after[..end].trim();
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
            rest = &after[end + 2..];
        }
        out
    }

    fn column<'a>(&'a self, placeholder: &'a str) -> &'a str {
        self.prompt_var_to_column_mapping
            .get(placeholder)
            .map_or(placeholder, String::as_str)
    }

    /// The columns a row must carry: one per placeholder.
    pub fn required_keys(&self) -> Vec<&str> {
        self.placeholders()
            .into_iter()
            .map(|p| self.column(p))
            .collect()
    }

    pub(crate) fn problem(&self) -> Option<String> {
        if self.prompt.trim().is_empty() {
            return Some("the custom prompt is empty".into());
        }
        if self.placeholders().is_empty() {
            return Some("the custom prompt has no {{field}} placeholder".into());
        }
        if self.choices.is_empty() || self.choices.len() != self.choice_scores.len() {
            return Some(format!(
                "the custom prompt needs one score per choice ({} choices, {} scores)",
                self.choices.len(),
                self.choice_scores.len()
            ));
        }
        if let Some(bad) = self
            .choice_scores
            .iter()
            .find(|s| !(0.0..=1.0).contains(*s))
        {
            return Some(format!("choice score {bad} is outside 0..1"));
        }
        if self.choices.iter().any(|c| c.trim().is_empty()) {
            return Some("a choice is empty".into());
        }
        None
    }

    /// The template with every placeholder replaced by the row's text.
    pub(crate) fn render(&self, row: &Row) -> String {
        let mut out = self.prompt.clone();
        for placeholder in self.placeholders() {
            let value = row::text(row, self.column(placeholder));
            out = out.replace(&format!("{{{{{placeholder}}}}}"), value.trim());
            out = out.replace(&format!("{{{{ {placeholder} }}}}"), value.trim());
        }
        out
    }

    pub(crate) fn ask(&self, row: &Row) -> Ask {
        Ask {
            title: "Custom Prompt".into(),
            task: self.render(row).into(),
            answer: Answer::Named(
                self.choices
                    .iter()
                    .cloned()
                    .zip(self.choice_scores.iter().copied())
                    .collect(),
            ),
            fields: Vec::new(),
        }
    }
}
