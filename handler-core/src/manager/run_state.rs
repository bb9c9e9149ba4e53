//! What every clone of one run manager shares: the run, whether it has ended, and (for model
//! runs) the counter of streamed tokens. Stream statistics are counted here and nowhere else.
//! A run dropped without an end sends its abandoned error from here.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::mode::DispatchMode;
use super::scope::Scope;
use crate::error::{CallbackError, CallbackErrorKind};
use crate::event::Event;
use crate::payload::{ErrorInfo, StreamCounter, StreamStats};
use crate::run_context::RunContext;

/// What every clone of one run manager shares: the run, and whether it has ended. When the
/// last clone goes away before the run ended, the run's error event is sent with
/// [`ErrorInfo::abandoned`].
pub(crate) struct RunState<D: DispatchMode> {
    pub(crate) context: RunContext,
    pub(crate) scope: Arc<Scope<D::Slot>>,
    ended: AtomicBool,
    /// Model runs count their streamed tokens here (other runs never count).
    stream: StreamCounter,
    error_event: ErrorEvent,
}

/// The error event of one kind of run, built when a run is abandoned.
pub(crate) type ErrorEvent =
    for<'a> fn(&'a RunContext, &'a ErrorInfo, &'a StreamStats) -> Event<'a>;

impl<D: DispatchMode> RunState<D> {
    /// A run that has not ended; `streams` says whether it counts streamed tokens (model runs).
    pub(crate) fn new(
        context: RunContext,
        scope: Arc<Scope<D::Slot>>,
        streams: bool,
        error_event: ErrorEvent,
    ) -> Self {
        Self {
            context,
            scope,
            ended: AtomicBool::new(false),
            stream: StreamCounter::new(streams),
            error_event,
        }
    }

    /// True once the run has ended.
    pub(crate) fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Counts a streamed token.
    #[inline]
    pub(crate) fn count_token(&self) {
        self.stream.count();
    }

    /// What the run streamed so far.
    pub(crate) fn stream_stats(&self) -> StreamStats {
        self.stream.stats()
    }

    /// Marks the run ended; fails when it already was (another clone ended it).
    pub(crate) fn end(&self) -> Result<(), CallbackError> {
        if self.ended.swap(true, Ordering::AcqRel) {
            return Err(CallbackErrorKind::RunAlreadyEnded {
                run_id: self.context.run_id,
            }
            .into());
        }
        Ok(())
    }
}

impl<D: DispatchMode> Drop for RunState<D> {
    fn drop(&mut self) {
        if *self.ended.get_mut() {
            return;
        }
        let error = ErrorInfo::abandoned();
        let stream = self.stream_stats();
        let event = (self.error_event)(&self.context, &error, &stream);
        if self
            .scope
            .handlers
            .interest()
            .contains(event.kind().category())
        {
            // Errors are logged by the dispatch; nobody is left to return them to.
            let _ = D::dispatch_detached(&self.scope.handlers, &event);
        }
    }
}
