//! The few things the two modes do differently: how a manager and a run manager send one event
//! (the fast path when nobody wants it, the terminal event that every interested handler gets).
//! The event API is written once on top of these, for both modes.

use super::base::Manager;
use super::dispatch_async::{Emit, emit_end};
use super::dispatch_sync::{dispatch, dispatch_sync_to_all};
use super::mode::{AsyncMode, SyncMode};
use super::run_manager::{RunKind, RunManager, run_event};
use crate::error::CallbackError;
use crate::event::{Category, Event, LlmNewToken};
use crate::payload::GenerationChunk;

impl Manager<SyncMode> {
    /// Dispatches an already-built event to this manager's handlers (used by replay).
    pub fn emit(&self, event: &Event<'_>) -> Result<(), CallbackError> {
        dispatch(&self.scope.handlers, event)
    }
}

impl Manager<AsyncMode> {
    /// Dispatches an already-built event to this manager's handlers (used by replay).
    pub async fn emit(&self, event: &Event<'_>) -> Result<(), CallbackError> {
        let handlers = &self.scope.handlers;
        Emit::new(handlers, handlers.interest(), *event).await
    }
}

impl<K: RunKind> RunManager<SyncMode, K> {
    /// The fast path: an event no handler wants returns after one load and a branch.
    #[inline(always)]
    pub(crate) fn emit(&self, event: Event<'_>) -> Result<(), CallbackError> {
        if !self.interest.contains(event.kind().category()) {
            return Ok(());
        }
        dispatch(&self.handlers, &event)
    }

    /// A streamed token: the test of interest comes before the event is built, so that a token
    /// nobody wants costs a load and a branch.
    #[inline(always)]
    pub(crate) fn emit_token(
        &self,
        token: &str,
        chunk: Option<&GenerationChunk>,
    ) -> Result<(), CallbackError> {
        if !self.interest.contains(Category::LlmNewToken) {
            return Ok(());
        }
        dispatch(
            &self.handlers,
            &run_event!(self, LlmNewToken { token, chunk }),
        )
    }

    /// Ends the run with its terminal event, which every interested handler gets whatever an
    /// earlier one returned; the first raised error is returned.
    pub(crate) fn emit_end(&self, event: Event<'_>) -> Result<(), CallbackError> {
        self.end()?;
        let category = event.kind().category();
        if !self.interest.contains(category) {
            return Ok(());
        }
        dispatch_sync_to_all(self.handlers.lists(category), &event)
    }
}

impl<K: RunKind> RunManager<AsyncMode, K> {
    /// The future of one event: ready at its first poll when only sync handlers want it.
    #[inline]
    pub(crate) fn emit<'a>(&'a self, event: Event<'a>) -> Emit<'a> {
        Emit::new(&self.handlers, self.interest, event)
    }

    /// A streamed token (see the sync twin).
    #[inline]
    pub(crate) fn emit_token<'a>(
        &'a self,
        token: &'a str,
        chunk: Option<&'a GenerationChunk>,
    ) -> Emit<'a> {
        self.emit(run_event!(self, LlmNewToken { token, chunk }))
    }

    /// Ends the run with its terminal event. Cancel-safe: once this future has been polled,
    /// every interested handler gets the event even if the caller drops the future midway.
    pub(crate) async fn emit_end(&self, event: Event<'_>) -> Result<(), CallbackError> {
        self.end()?;
        emit_end(&self.handlers, self.interest, event).await
    }
}
