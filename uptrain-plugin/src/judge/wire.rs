//! The OpenAI-compatible chat-completions wire format: the request we send (one user message,
//! model, temperature, optional seed and JSON mode) and the parts of the reply we read (the
//! first choice's content and the token usage).

use handler_core::payload::TokenUsage;
use serde::{Deserialize, Serialize};

/// The request body.
#[derive(Debug, Serialize)]
pub(crate) struct ChatRequest<'a> {
    pub(crate) model: &'a str,
    pub(crate) messages: [Message<'a>; 1],
    pub(crate) temperature: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) response_format: Option<ResponseFormat>,
}

/// One chat message.
#[derive(Debug, Serialize)]
pub(crate) struct Message<'a> {
    pub(crate) role: &'static str,
    pub(crate) content: &'a str,
}

/// `{"type": "json_object"}`.
#[derive(Debug, Serialize)]
pub(crate) struct ResponseFormat {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
}

/// The reply body (only what we read).
#[derive(Debug, Deserialize)]
pub(crate) struct ChatResponse {
    #[serde(default)]
    pub(crate) choices: Vec<Choice>,
    #[serde(default)]
    pub(crate) usage: Option<Usage>,
}

/// One choice.
#[derive(Debug, Deserialize)]
pub(crate) struct Choice {
    pub(crate) message: Option<ReplyMessage>,
}

/// The assistant's message.
#[derive(Debug, Deserialize)]
pub(crate) struct ReplyMessage {
    #[serde(default)]
    pub(crate) content: Option<String>,
}

/// Token usage as the server reports it, with the OpenAI API's details when it sends them.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub(crate) struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    total_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default)]
    completion_tokens_details: Option<CompletionDetails>,
}

/// `prompt_tokens_details`.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    cache_write_tokens: Option<u64>,
}

/// `completion_tokens_details`.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl Usage {
    /// The core's usage: the counts, the total as the server said it (else their sum), and
    /// each detail the server reported.
    pub(crate) fn tokens(&self) -> TokenUsage {
        let mut usage = TokenUsage::new(self.prompt_tokens, self.completion_tokens);
        if let Some(total) = self.total_tokens {
            usage = usage.with_total_tokens(total);
        }
        let prompt = self.prompt_tokens_details.unwrap_or_default();
        if let Some(cached) = prompt.cached_tokens {
            usage = usage.with_cache_read_tokens(cached);
        }
        if let Some(written) = prompt.cache_write_tokens {
            usage = usage.with_cache_write_tokens(written);
        }
        if let Some(reasoning) = self
            .completion_tokens_details
            .and_then(|d| d.reasoning_tokens)
        {
            usage = usage.with_reasoning_tokens(reasoning);
        }
        usage
    }
}

impl ChatResponse {
    /// The first choice's text, if any.
    pub(crate) fn content(self) -> Option<String> {
        self.choices
            .into_iter()
            .next()
            .and_then(|c| c.message)
            .and_then(|m| m.content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_omits_unset_options() {
        let body = ChatRequest {
            model: "m",
            messages: [Message {
                role: "user",
                content: "hi JSON",
            }],
            temperature: 0.1,
            seed: None,
            response_format: None,
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"model": "m", "temperature": 0.1,
                "messages": [{"role": "user", "content": "hi JSON"}]})
        );
    }

    #[test]
    fn reply_content_and_usage() {
        let r: ChatResponse = serde_json::from_str(
            r#"{"choices": [{"message": {"role": "assistant", "content": "x"}}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}"#,
        )
        .unwrap();
        assert_eq!(r.usage.unwrap().tokens(), TokenUsage::new(3, 2));
        assert_eq!(r.content().as_deref(), Some("x"));
        let empty: ChatResponse = serde_json::from_str("{}").unwrap();
        assert_eq!(empty.content(), None);
    }

    #[test]
    fn usage_details_are_read_when_reported() {
        let usage = |json: &str| serde_json::from_str::<Usage>(json).unwrap().tokens();
        let cases = [
            (
                r#"{"prompt_tokens": 90, "completion_tokens": 3, "total_tokens": 93}"#,
                TokenUsage::new(90, 3),
            ),
            (
                r#"{"prompt_tokens": 90, "completion_tokens": 30, "total_tokens": 120,
                    "prompt_tokens_details": {"cached_tokens": 60, "audio_tokens": 0},
                    "completion_tokens_details": {"reasoning_tokens": 20}}"#,
                TokenUsage::new(90, 30)
                    .with_cache_read_tokens(60)
                    .with_reasoning_tokens(20),
            ),
            (
                r#"{"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 11,
                    "prompt_tokens_details": {"cached_tokens": null, "cache_write_tokens": 4},
                    "completion_tokens_details": null}"#,
                TokenUsage::new(9, 1)
                    .with_total_tokens(11)
                    .with_cache_write_tokens(4),
            ),
            (r#"{"prompt_tokens": 2}"#, TokenUsage::new(2, 0)),
        ];
        for (json, expected) in cases {
            assert_eq!(usage(json), expected, "{json}");
        }
    }
}
