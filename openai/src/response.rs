//! What a chat model end carries: the server's answer as generations, with its tool calls and
//! the token usage it reported.

use async_openai::types::chat::{
    ChatCompletionResponseMessage, CompletionUsage, CreateChatCompletionResponse, FinishReason,
};
use handler_core::payload::{ChatMessage, Generation, LlmResult, Metadata, TokenUsage};
use serde_json::Value;

use crate::request::{function_call, tool_calls};

/// The server's answer as the run's result: one generation per choice (in choice order), each
/// an assistant message with its text and tool calls and a `finish_reason` in its info; the
/// token usage, with the cached, cache-write and reasoning tokens the server reported; the
/// model; and the response id in `llm_output`.
///
/// ```
/// use async_openai::types::chat::CreateChatCompletionResponse;
/// use llm_callbacks_openai::llm_result;
///
/// let response: CreateChatCompletionResponse = serde_json::from_value(serde_json::json!({
///     "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
///     "choices": [{"index": 0, "finish_reason": "stop",
///                  "message": {"role": "assistant", "content": "Paris."}}],
///     "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
/// }))?;
/// let result = llm_result(&response);
/// assert_eq!(result.first_text(), Some("Paris."));
/// assert_eq!(result.token_usage.map(|u| u.total_tokens), Some(7));
/// assert_eq!(result.token_usage.and_then(|u| u.cache_read_tokens), None); // not reported
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn llm_result(response: &CreateChatCompletionResponse) -> LlmResult {
    let mut choices: Vec<_> = response.choices.iter().collect();
    choices.sort_by_key(|choice| choice.index);
    let generations = choices
        .into_iter()
        .map(|choice| {
            let mut generation = Generation::from_message(assistant_message(&choice.message));
            generation.generation_info = finish_info(choice.finish_reason.as_ref());
            generation
        })
        .collect();
    let mut result = LlmResult::new(vec![generations])
        .with_model_name(response.model.clone())
        .with_llm_output(response_output(&response.id));
    result.token_usage = response.usage.as_ref().map(token_usage);
    result
}

// `function_call` is deprecated, but older servers still answer with it.
#[allow(deprecated)]
fn assistant_message(message: &ChatCompletionResponseMessage) -> ChatMessage {
    let content = match (&message.content, &message.refusal) {
        (Some(content), _) => content.clone(),
        (None, Some(refusal)) => refusal.clone(),
        (None, None) => String::new(),
    };
    let mut calls = tool_calls(message.tool_calls.as_deref().unwrap_or_default());
    calls.extend(message.function_call.as_ref().map(function_call));
    let mut chat = ChatMessage::assistant(content);
    chat.tool_calls = calls;
    chat
}

/// The token usage the server reported, its total as it said (not recomputed), with the
/// details it gave: cached and cache-write prompt tokens, reasoning completion tokens. A detail
/// the server left out (or sent as a negative count) stays `None`.
pub(crate) fn token_usage(usage: &CompletionUsage) -> TokenUsage {
    let mut tokens = TokenUsage::new(usage.prompt_tokens.into(), usage.completion_tokens.into())
        .with_total_tokens(usage.total_tokens.into());
    if let Some(prompt) = &usage.prompt_tokens_details {
        if let Some(cached) = prompt.cached_tokens {
            tokens = tokens.with_cache_read_tokens(cached.into());
        }
        if let Some(written) = prompt
            .cache_write_tokens
            .and_then(|n| u64::try_from(n).ok())
        {
            tokens = tokens.with_cache_write_tokens(written);
        }
    }
    if let Some(reasoning) = usage
        .completion_tokens_details
        .as_ref()
        .and_then(|details| details.reasoning_tokens)
    {
        tokens = tokens.with_reasoning_tokens(reasoning.into());
    }
    tokens
}

/// `{"finish_reason": ...}`, or nothing when the server gave none.
pub(crate) fn finish_info(reason: Option<&FinishReason>) -> Option<Metadata> {
    let reason = serde_json::to_value(reason?).ok()?;
    let mut info = Metadata::new();
    info.insert("finish_reason".into(), reason);
    Some(info)
}

/// The response's id, for `llm_output`.
pub(crate) fn response_output(id: &str) -> Metadata {
    let mut output = Metadata::new();
    output.insert("id".into(), Value::String(id.to_owned()));
    output
}
