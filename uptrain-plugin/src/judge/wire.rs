//! The OpenAI-compatible chat-completions wire format: the request we send (one user message,
//! model, temperature, optional seed and JSON mode) and the parts of the reply we read (the
//! first choice's content and the token usage).

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

/// Token usage as the server reports it.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub(crate) struct Usage {
    #[serde(default)]
    pub(crate) prompt_tokens: u64,
    #[serde(default)]
    pub(crate) completion_tokens: u64,
    #[serde(default)]
    pub(crate) total_tokens: u64,
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
        assert_eq!(r.usage.unwrap().total_tokens, 5);
        assert_eq!(r.content().as_deref(), Some("x"));
        let empty: ChatResponse = serde_json::from_str("{}").unwrap();
        assert_eq!(empty.content(), None);
    }
}
