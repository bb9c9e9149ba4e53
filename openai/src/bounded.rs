//! A chat stream that keeps its [`Limits`]: it ends with [`CallError::Limit`] when no chunk came
//! for the idle timeout, when the call's deadline passed, or when the chunks' content would pass
//! the byte cap. Hitting a limit drops the inner stream, which closes the connection.

use async_openai::types::chat::{ChatCompletionResponseStream, CreateChatCompletionStreamResponse};
use futures_util::StreamExt;
use llm_callbacks_transport::Deadline;

use crate::error::CallError;
use crate::limits::{Limit, LimitExceeded, Limits, within};

/// The inner stream and what it has brought so far.
pub(crate) struct Bounded {
    /// `None` once the stream ended or hit a limit.
    inner: Option<ChatCompletionResponseStream>,
    limits: Limits,
    /// When the whole streamed call must be over.
    deadline: Deadline,
    /// Choice deltas so far (one token event each).
    tokens: u64,
    /// Bytes of content, refusals, tool-call names and arguments so far.
    bytes: u64,
}

impl Bounded {
    /// `inner`, kept within `limits`; `deadline` is the streamed call's, set when it was sent.
    pub(crate) fn new(
        inner: ChatCompletionResponseStream,
        limits: Limits,
        deadline: Deadline,
    ) -> Self {
        Self {
            inner: Some(inner),
            limits,
            deadline,
            tokens: 0,
            bytes: 0,
        }
    }

    /// The next chunk, the inner stream's error, a limit hit, or `None` at the end.
    pub(crate) async fn next(
        &mut self,
    ) -> Option<Result<CreateChatCompletionStreamResponse, CallError>> {
        let inner = self.inner.as_mut()?;
        let idle = Deadline::after(self.limits.stream_idle_timeout);
        let Some(next) = within(idle.min(self.deadline), inner.next()).await else {
            let limit = if self.deadline.is_past() {
                Limit::StreamTimeout(self.limits.stream_timeout)
            } else {
                Limit::StreamIdleTimeout(self.limits.stream_idle_timeout)
            };
            return Some(Err(self.stop(limit)));
        };
        let chunk = match next {
            None => {
                self.inner = None;
                return None;
            }
            Some(Err(error)) => return Some(Err(error.into())),
            Some(Ok(chunk)) => chunk,
        };
        let bytes = self.bytes.saturating_add(content_bytes(&chunk));
        if bytes > u64::try_from(self.limits.max_stream_bytes).unwrap_or(u64::MAX) {
            return Some(Err(
                self.stop(Limit::MaxStreamBytes(self.limits.max_stream_bytes))
            ));
        }
        self.bytes = bytes;
        self.tokens = self.tokens.saturating_add(chunk.choices.len() as u64);
        Some(Ok(chunk))
    }

    /// Ends the stream for `limit`.
    fn stop(&mut self, limit: Limit) -> CallError {
        self.inner = None;
        CallError::Limit(LimitExceeded::new(limit, self.tokens, self.bytes))
    }
}

/// The bytes a chunk adds to what a stream accumulates: content, refusals, tool-call names and
/// arguments.
// `function_call` is deprecated, but older servers still stream it.
#[allow(deprecated)]
fn content_bytes(chunk: &CreateChatCompletionStreamResponse) -> u64 {
    let len = |text: Option<&String>| text.map_or(0, String::len);
    let mut bytes = 0usize;
    for choice in &chunk.choices {
        let delta = &choice.delta;
        bytes += len(delta.content.as_ref()) + len(delta.refusal.as_ref());
        for call in delta.tool_calls.iter().flatten() {
            let function = call.function.as_ref();
            bytes += len(function.and_then(|f| f.name.as_ref()));
            bytes += len(function.and_then(|f| f.arguments.as_ref()));
        }
        if let Some(call) = &delta.function_call {
            bytes += len(call.name.as_ref()) + len(call.arguments.as_ref());
        }
    }
    u64::try_from(bytes).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn content_refusals_tool_call_names_and_arguments_count() -> Result<(), serde_json::Error> {
        let chunk = |delta| {
            serde_json::from_value::<CreateChatCompletionStreamResponse>(json!({
                "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": delta, "finish_reason": null}]
            }))
        };
        let cases = [
            (json!({}), 0),
            (json!({"role": "assistant", "content": ""}), 0),
            (json!({"content": "héllo"}), 6),
            (json!({"refusal": "no"}), 2),
            (
                json!({"tool_calls": [
                    {"index": 0, "id": "call_1", "type": "function",
                     "function": {"name": "weather", "arguments": "{\"city\":"}},
                    {"index": 1, "function": {"arguments": "{}"}}
                ]}),
                7 + 8 + 2,
            ),
            (
                json!({"function_call": {"name": "f", "arguments": "{}"}}),
                3,
            ),
        ];
        for (delta, bytes) in cases {
            assert_eq!(content_bytes(&chunk(delta.clone())?), bytes, "{delta}");
        }
        Ok(())
    }
}
