//! Sync delivery: one event to one handler, the loop over a list of sync handlers, and the
//! error policy around them. Used by both managers (the async one for its sync handlers).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::set::{Entry, HandlerSet, Lists, Slot};
use crate::error::{CallbackError, CallbackErrorKind, Failure};
use crate::event::{Event, LlmStart};
use crate::payload::ChatMessage;
use crate::traits::CallbackHandler;

/// Calls the method of `handler` that receives `event`.
#[inline]
pub(crate) fn deliver(
    handler: &dyn CallbackHandler,
    event: &Event<'_>,
) -> crate::error::HandlerResult {
    match event {
        Event::LlmStart(e) => handler.on_llm_start(e),
        Event::ChatModelStart(e) => handler.on_chat_model_start(e),
        Event::LlmNewToken(e) => handler.on_llm_new_token(e),
        Event::LlmEnd(e) => handler.on_llm_end(e),
        Event::LlmError(e) => handler.on_llm_error(e),
        Event::ChainStart(e) => handler.on_chain_start(e),
        Event::ChainEnd(e) => handler.on_chain_end(e),
        Event::ChainError(e) => handler.on_chain_error(e),
        Event::ToolStart(e) => handler.on_tool_start(e),
        Event::ToolEnd(e) => handler.on_tool_end(e),
        Event::ToolError(e) => handler.on_tool_error(e),
        Event::RetrieverStart(e) => handler.on_retriever_start(e),
        Event::RetrieverEnd(e) => handler.on_retriever_end(e),
        Event::RetrieverError(e) => handler.on_retriever_error(e),
        Event::AgentAction(e) => handler.on_agent_action(e),
        Event::AgentFinish(e) => handler.on_agent_finish(e),
        Event::Retry(e) => handler.on_retry(e),
        Event::Text(e) => handler.on_text(e),
        Event::CustomEvent(e) => handler.on_custom_event(e),
    }
}

/// Dispatches `event` to the handlers of the sync manager's `set` that want its category.
/// Inlined into the emitting methods: their fast path (nobody wants the event) is a test before
/// this call, and the call itself would cost an interested token as much as the dispatch.
#[inline]
pub(crate) fn dispatch(
    set: &HandlerSet<Arc<dyn CallbackHandler>>,
    event: &Event<'_>,
) -> Result<(), CallbackError> {
    dispatch_sync(set.lists(event.kind().category()), event)
}

/// Calls the sync handlers of `lists` in order, applying the error policy. In the sync manager
/// that is every handler; in the async manager it is used when no async handler is interested.
/// A failing handler with `raise_error` stops the dispatch, as in LangChain: later handlers do
/// not get the event.
#[inline]
pub(crate) fn dispatch_sync<S: Slot>(
    lists: &Lists<S>,
    event: &Event<'_>,
) -> Result<(), CallbackError> {
    dispatch_sync_with::<S, false>(lists, event)
}

/// Like [`dispatch_sync`], for a run's terminal event (its end or its error) and for an event
/// nobody waits for (a dropped run's abandoned error): a failing handler with `raise_error` does
/// not stop the dispatch, so that every run ends once for every handler; every handler gets the
/// event, and the first such error is returned (each failure is logged).
#[inline]
pub(crate) fn dispatch_sync_to_all<S: Slot>(
    lists: &Lists<S>,
    event: &Event<'_>,
) -> Result<(), CallbackError> {
    dispatch_sync_with::<S, true>(lists, event)
}

/// The one loop behind [`dispatch_sync`] and [`dispatch_sync_to_all`]: `TO_ALL` says whether a
/// raised error stops it.
#[inline]
fn dispatch_sync_with<S: Slot, const TO_ALL: bool>(
    lists: &Lists<S>,
    event: &Event<'_>,
) -> Result<(), CallbackError> {
    let mut first_error = Ok(());
    for entry in lists.ordered.iter() {
        let Some(handler) = entry.handler.as_sync() else {
            continue;
        };
        if let Err(failure) = call_sync(&**handler, event)
            && let Err(error) = settle_sync(entry, &**handler, event, failure)
        {
            if !TO_ALL {
                return Err(error);
            }
            if first_error.is_ok() {
                first_error = Err(error);
            }
        }
    }
    first_error
}

/// Applies the error policy to a sync handler's failure, running the chat fallback.
#[cold]
fn settle_sync<S>(
    entry: &Entry<S>,
    handler: &dyn CallbackHandler,
    event: &Event<'_>,
    failure: Failure,
) -> Result<(), CallbackError> {
    match triage(entry, event, failure) {
        Next::Done(result) => result,
        Next::Fallback(prompts) => match fallback_event(event, &prompts) {
            Some(fallback) => match call_sync(handler, &fallback) {
                Ok(()) => Ok(()),
                Err(failure) => report(entry, &fallback, failure),
            },
            None => Ok(()),
        },
    }
}

/// Calls a sync handler, catching its panic.
#[inline]
pub(crate) fn call_sync(handler: &dyn CallbackHandler, event: &Event<'_>) -> Result<(), Failure> {
    match catch_unwind(AssertUnwindSafe(|| deliver(handler, event))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(Failure::Error(error)),
        Err(panic) => Err(Failure::Panic(panic_message(panic))),
    }
}

pub(crate) fn panic_message(panic: Box<dyn Any + Send>) -> String {
    match panic.downcast::<String>() {
        Ok(message) => *message,
        Err(panic) => match panic.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "a non-string panic payload".to_owned(),
        },
    }
}

/// What to do after a handler failed.
pub(crate) enum Next {
    /// Done: skip the handler, or return this error to the caller.
    Done(Result<(), CallbackError>),
    /// The handler does not handle chat model start: call its LLM start with these prompts.
    Fallback(Vec<String>),
}

/// Applies the error policy to a failure: "not implemented" is skipped (or falls back, for chat
/// model start); errors and panics are logged, and returned when the handler raises errors.
#[cold]
pub(crate) fn triage<S>(entry: &Entry<S>, event: &Event<'_>, failure: Failure) -> Next {
    if let Failure::Error(error) = &failure
        && error.is_not_implemented()
    {
        return match event {
            Event::ChatModelStart(chat) if !entry.options.ignore_llm => Next::Fallback(
                chat.messages
                    .iter()
                    .map(|messages| ChatMessage::render(messages))
                    .collect(),
            ),
            _ => Next::Done(Ok(())),
        };
    }
    Next::Done(report(entry, event, failure))
}

/// The LLM start a chat model start falls back to.
pub(crate) fn fallback_event<'a>(chat: &Event<'a>, prompts: &'a [String]) -> Option<Event<'a>> {
    match chat {
        Event::ChatModelStart(chat) => Some(Event::LlmStart(LlmStart {
            run: chat.run,
            serialized: chat.serialized,
            prompts,
        })),
        _ => None,
    }
}

/// Logs a failure through `tracing`, and turns it into the caller's error when the handler
/// raises errors.
#[cold]
pub(crate) fn report<S>(
    entry: &Entry<S>,
    event: &Event<'_>,
    failure: Failure,
) -> Result<(), CallbackError> {
    if matches!(&failure, Failure::Error(e) if e.is_not_implemented()) {
        return Ok(());
    }
    let run_id = event.run().run_id;
    tracing::warn!(
        handler = %entry.name,
        event = event.kind().name(),
        %run_id,
        error = %failure,
        "callback handler failed"
    );
    if entry.options.raise_error {
        Err(CallbackErrorKind::Handler {
            handler: entry.name.to_string(),
            event: event.kind(),
            run_id,
            failure,
        }
        .into())
    } else {
        Ok(())
    }
}
