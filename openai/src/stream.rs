//! Streamed chat completions: one token event per delta, and the run's end (or error) when the
//! stream ends, built from the deltas and the usage chunk. Every stream keeps the client's
//! [`Limits`](crate::Limits) ([`Bounded`]); a limit hit ends the run with an error event that
//! names the limit and counts the tokens so far.

use std::collections::BTreeMap;
use std::pin::Pin;

use async_openai::types::chat::{
    ChatChoiceStream, CompletionUsage, CreateChatCompletionStreamResponse, FinishReason,
};
use futures_util::stream::{self, Stream};
use handler_core::manager::AsyncLlmRunManager;
use handler_core::payload::{
    ChatMessage, ErrorInfo, Generation, GenerationChunk, LlmResult, ToolCall,
};
use serde_json::Value;

use crate::bounded::Bounded;
use crate::error::{CallError, kinds::INCOMPLETE_STREAM};
use crate::request::parse_arguments;
use crate::response::{finish_info, response_output, token_usage};

/// The chunks of a streamed chat completion, as async-openai yields them; the errors are the
/// instrumented client's [`CallError`].
pub type ChatStream =
    Pin<Box<dyn Stream<Item = Result<CreateChatCompletionStreamResponse, CallError>> + Send>>;

/// An uninstrumented stream with the instrumented client's error type, within its limits.
pub(crate) fn plain(inner: Bounded) -> ChatStream {
    Box::pin(stream::unfold(inner, |mut inner| async move {
        let next = inner.next().await?;
        Some((next, inner))
    }))
}

/// Wraps `inner` so that `run` gets a token event per delta and ends with the stream.
/// `hide_usage`: the usage chunk was asked for by the client, not the caller, so the caller
/// does not see it (its `choices` are empty, which callers written for plain streams do not
/// expect).
pub(crate) fn instrumented(
    inner: Bounded,
    run: AsyncLlmRunManager,
    hide_usage: bool,
) -> ChatStream {
    let state = State {
        inner,
        run: Some(run),
        accumulated: Accumulated::default(),
        hide_usage,
        pending: None,
    };
    Box::pin(stream::unfold(state, State::next))
}

struct State {
    inner: Bounded,
    /// `None` once the run has ended: the stream is over.
    run: Option<AsyncLlmRunManager>,
    accumulated: Accumulated,
    hide_usage: bool,
    /// An error still to yield after the one just yielded.
    pending: Option<CallError>,
}

impl State {
    async fn next(
        mut self,
    ) -> Option<(Result<CreateChatCompletionStreamResponse, CallError>, Self)> {
        if let Some(error) = self.pending.take() {
            return Some((Err(error), self));
        }
        loop {
            let run = self.run.as_ref()?;
            match self.inner.next().await {
                Some(Ok(chunk)) => {
                    self.accumulated.add(&chunk);
                    for choice in &chunk.choices {
                        let (token, generation) = token_chunk(choice);
                        if let Err(error) = run.on_llm_new_token(&token, Some(&generation)).await {
                            // A raising handler stops the stream; the run is abandoned.
                            self.run = None;
                            return Some((Err(error.into()), self));
                        }
                    }
                    if self.hide_usage && chunk.choices.is_empty() {
                        continue;
                    }
                    return Some((Ok(chunk), self));
                }
                Some(Err(error)) => {
                    let run = self.run.take()?;
                    let result = self.accumulated.result();
                    let Some(info) = error.event() else {
                        return Some((Err(error), self));
                    };
                    if let Err(callback) = run.on_llm_error_with_response(info, &result).await {
                        self.pending = Some(callback.into());
                    }
                    return Some((Err(error), self));
                }
                None => {
                    let run = self.run.take()?;
                    let result = self.accumulated.result();
                    let ended = if self.accumulated.is_finished() {
                        run.on_llm_end(&result).await
                    } else {
                        let error = ErrorInfo::new(
                            INCOMPLETE_STREAM,
                            "the stream ended before the model finished: no finish_reason",
                        );
                        run.on_llm_error_with_response(error, &result).await
                    };
                    return match ended {
                        Ok(()) => None,
                        Err(callback) => Some((Err(callback.into()), self)),
                    };
                }
            }
        }
    }
}

/// The token event of one choice's delta: its text, and a chunk with the delta as an assistant
/// message and `index`, `finish_reason` and the raw `tool_call_chunks` in its info.
fn token_chunk(choice: &ChatChoiceStream) -> (String, GenerationChunk) {
    let delta = &choice.delta;
    let text = delta
        .content
        .clone()
        .or_else(|| delta.refusal.clone())
        .unwrap_or_default();
    let mut info = finish_info(choice.finish_reason.as_ref()).unwrap_or_default();
    info.insert("index".into(), Value::from(choice.index));
    if let Some(calls) = &delta.tool_calls
        && let Ok(calls) = serde_json::to_value(calls)
    {
        info.insert("tool_call_chunks".into(), calls);
    }
    let mut chunk = Generation::from_message(ChatMessage::assistant(text.clone()));
    chunk.generation_info = Some(info);
    (text, chunk)
}

/// What the deltas add up to.
#[derive(Default)]
struct Accumulated {
    choices: BTreeMap<u32, ChoiceSoFar>,
    usage: Option<CompletionUsage>,
    model: Option<String>,
    id: Option<String>,
}

#[derive(Default)]
struct ChoiceSoFar {
    content: String,
    tool_calls: BTreeMap<u32, ToolCallSoFar>,
    function_call: Option<ToolCallSoFar>,
    finish_reason: Option<FinishReason>,
}

#[derive(Default)]
struct ToolCallSoFar {
    id: Option<String>,
    name: String,
    arguments: String,
}

impl ToolCallSoFar {
    fn add(&mut self, id: Option<&String>, name: Option<&String>, arguments: Option<&String>) {
        if let Some(id) = id {
            self.id = Some(id.clone());
        }
        if let Some(name) = name {
            self.name.push_str(name);
        }
        if let Some(arguments) = arguments {
            self.arguments.push_str(arguments);
        }
    }

    fn tool_call(&self) -> ToolCall {
        let mut call = ToolCall::new(self.name.clone(), parse_arguments(&self.arguments));
        call.id = self.id.clone();
        call
    }
}

impl Accumulated {
    // `function_call` is deprecated, but older servers still stream it.
    #[allow(deprecated)]
    fn add(&mut self, chunk: &CreateChatCompletionStreamResponse) {
        self.id.get_or_insert_with(|| chunk.id.clone());
        self.model.get_or_insert_with(|| chunk.model.clone());
        if let Some(usage) = &chunk.usage {
            self.usage = Some(usage.clone());
        }
        for choice in &chunk.choices {
            let so_far = self.choices.entry(choice.index).or_default();
            let delta = &choice.delta;
            if let Some(text) = delta.content.as_ref().or(delta.refusal.as_ref()) {
                so_far.content.push_str(text);
            }
            for call in delta.tool_calls.iter().flatten() {
                let function = call.function.as_ref();
                so_far.tool_calls.entry(call.index).or_default().add(
                    call.id.as_ref(),
                    function.and_then(|f| f.name.as_ref()),
                    function.and_then(|f| f.arguments.as_ref()),
                );
            }
            if let Some(call) = &delta.function_call {
                so_far
                    .function_call
                    .get_or_insert_with(Default::default)
                    .add(None, call.name.as_ref(), call.arguments.as_ref());
            }
            if choice.finish_reason.is_some() {
                so_far.finish_reason = choice.finish_reason;
            }
        }
    }

    /// True when every choice got a finish reason: the model finished, the stream was whole.
    fn is_finished(&self) -> bool {
        !self.choices.is_empty() && self.choices.values().all(|c| c.finish_reason.is_some())
    }

    fn result(&self) -> LlmResult {
        let generations = self
            .choices
            .values()
            .map(|choice| {
                let mut tool_calls: Vec<ToolCall> = choice
                    .tool_calls
                    .values()
                    .map(ToolCallSoFar::tool_call)
                    .collect();
                tool_calls.extend(choice.function_call.as_ref().map(ToolCallSoFar::tool_call));
                let mut message = ChatMessage::assistant(choice.content.clone());
                message.tool_calls = tool_calls;
                let mut generation = Generation::from_message(message);
                generation.generation_info = finish_info(choice.finish_reason.as_ref());
                generation
            })
            .collect();
        let mut result = LlmResult::new(vec![generations]);
        result.token_usage = self.usage.as_ref().map(token_usage);
        result.model_name = self.model.clone();
        result.llm_output = self.id.as_deref().map(response_output);
        result
    }
}
