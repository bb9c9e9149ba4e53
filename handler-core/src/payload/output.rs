//! What models produce: generations, streamed chunks and results.

use serde::{Deserialize, Serialize};

use super::{ChatMessage, Metadata, TokenUsage};

/// One candidate output of a model for one prompt.
///
/// A text model fills `text`; a chat model also fills `message` (and `text` holds the message's
/// content).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Generation {
    /// The generated text.
    pub text: String,
    /// The chat message, for chat models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<ChatMessage>,
    /// Provider details: finish reason, log probabilities, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_info: Option<Metadata>,
}

/// A piece of a streamed generation, sent with `on_llm_new_token`. Chunks concatenate with
/// [`Generation::append`].
pub type GenerationChunk = Generation;

impl Generation {
    /// A text generation.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// A chat generation: its text is the message's content.
    pub fn from_message(message: ChatMessage) -> Self {
        Self {
            text: message.content.clone(),
            message: Some(message),
            generation_info: None,
        }
    }

    /// Sets the provider details.
    #[must_use]
    pub fn with_generation_info(mut self, info: Metadata) -> Self {
        self.generation_info = Some(info);
        self
    }

    /// Appends a streamed chunk: texts concatenate, info maps merge (the chunk's keys win,
    /// strings concatenate).
    ///
    /// ```
    /// use handler_core::payload::Generation;
    ///
    /// let mut g = Generation::new("Hel");
    /// g.append(&Generation::new("lo"));
    /// assert_eq!(g.text, "Hello");
    /// ```
    pub fn append(&mut self, chunk: &GenerationChunk) {
        self.text.push_str(&chunk.text);
        match (&mut self.message, &chunk.message) {
            (Some(mine), Some(theirs)) => {
                mine.content.push_str(&theirs.content);
                mine.tool_calls.extend(theirs.tool_calls.iter().cloned());
            }
            (None, Some(theirs)) => self.message = Some(theirs.clone()),
            _ => {}
        }
        if let Some(info) = &chunk.generation_info {
            let mine = self.generation_info.get_or_insert_with(Metadata::new);
            for (key, value) in info {
                match (mine.get_mut(key), value) {
                    (Some(serde_json::Value::String(a)), serde_json::Value::String(b)) => {
                        a.push_str(b)
                    }
                    _ => {
                        mine.insert(key.clone(), value.clone());
                    }
                }
            }
        }
    }
}

/// The result of a model run (`on_llm_end`).
///
/// ```
/// use handler_core::payload::{Generation, LlmResult};
///
/// let result = LlmResult::from_text("Paris.");
/// assert_eq!(result.first_text(), Some("Paris."));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LlmResult {
    /// Candidates per prompt: the outer index is the prompt, the inner the candidate.
    pub generations: Vec<Vec<Generation>>,
    /// Tokens consumed, when the provider reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_usage: Option<TokenUsage>,
    /// The model that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// Anything else the provider returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_output: Option<Metadata>,
}

impl LlmResult {
    /// A result with these candidates (outer index: prompt, inner: candidate), nothing else.
    ///
    /// ```
    /// use handler_core::payload::{Generation, LlmResult, TokenUsage};
    ///
    /// let result = LlmResult::new(vec![vec![Generation::new("Paris.")]])
    ///     .with_token_usage(TokenUsage::new(5, 2))
    ///     .with_model_name("echo");
    /// assert_eq!(result.model_name.as_deref(), Some("echo"));
    /// ```
    pub fn new(generations: Vec<Vec<Generation>>) -> Self {
        Self {
            generations,
            ..Self::default()
        }
    }

    /// Sets the tokens consumed.
    #[must_use]
    pub fn with_token_usage(mut self, usage: TokenUsage) -> Self {
        self.token_usage = Some(usage);
        self
    }

    /// Sets the model that answered.
    #[must_use]
    pub fn with_model_name(mut self, name: impl Into<String>) -> Self {
        self.model_name = Some(name.into());
        self
    }

    /// Sets what else the provider returned.
    #[must_use]
    pub fn with_llm_output(mut self, output: Metadata) -> Self {
        self.llm_output = Some(output);
        self
    }

    /// A result with one prompt and one text candidate.
    pub fn from_text(text: impl Into<String>) -> Self {
        Self {
            generations: vec![vec![Generation::new(text)]],
            ..Self::default()
        }
    }

    /// The text of the first candidate of the first prompt, if any.
    pub fn first_text(&self) -> Option<&str> {
        self.generations.first()?.first().map(|g| g.text.as_str())
    }
}
