//! The two dispatch modes, [`SyncMode`] and [`AsyncMode`]: how each stores a handler, and how
//! each delivers an event nobody can wait for (a run abandoned in `Drop`).

use std::sync::Arc;

use super::dispatch_async::dispatch_detached;
use super::dispatch_sync::dispatch_sync_to_all;
use super::set::{HandlerSet, Slot};
use super::shared::SharedHandler;
use crate::error::{CallbackError, CallbackErrorKind};
use crate::event::Event;
use crate::traits::CallbackHandler;

mod sealed {
    use super::*;

    /// What a mode does, out of users' reach: the trait is public in a private module, so
    /// nothing outside this crate can name, implement or call it.
    #[allow(private_bounds, private_interfaces)]
    pub trait Mode: Send + Sync + 'static {
        /// How a handler is stored in this kind of manager.
        type Slot: Slot;
        /// Stores a sync handler.
        fn sync_slot(handler: Arc<dyn CallbackHandler>) -> Self::Slot;
        /// Stores a handler of either kind; the sync manager refuses async ones.
        fn slot_from_shared(handler: SharedHandler) -> Result<Self::Slot, CallbackError>;
        /// A stored handler, as either kind.
        fn to_shared(slot: &Self::Slot) -> SharedHandler;
        /// Dispatches an event outside the caller's control flow (a run abandoned in `Drop`): sync
        /// handlers at once; async ones on the current tokio runtime, or to completion on this
        /// thread when there is none.
        fn dispatch_detached(
            set: &Arc<HandlerSet<Self::Slot>>,
            event: &Event<'_>,
        ) -> Result<(), CallbackError>;
    }
}

/// How a manager dispatches: [`SyncMode`] or [`AsyncMode`]. Sealed: its workings are private.
#[allow(private_bounds)]
pub trait DispatchMode: sealed::Mode {}

/// Synchronous dispatch: every handler is called on the caller's thread, in registration
/// order. A handler with `raise_error` that fails stops the dispatch: later handlers are not
/// called, as in LangChain; except for a run's terminal event (its end or its error), which
/// every interested handler gets, so that every run ends once for every handler.
#[derive(Debug)]
pub enum SyncMode {}

impl DispatchMode for SyncMode {}

#[allow(private_interfaces)]
impl sealed::Mode for SyncMode {
    type Slot = Arc<dyn CallbackHandler>;

    fn sync_slot(handler: Arc<dyn CallbackHandler>) -> Self::Slot {
        handler
    }

    fn slot_from_shared(handler: SharedHandler) -> Result<Self::Slot, CallbackError> {
        match handler {
            SharedHandler::Sync(handler) => Ok(handler),
            SharedHandler::Async(handler) => Err(CallbackErrorKind::AsyncHandlerInSyncManager {
                handler: handler.name().to_owned(),
            }
            .into()),
        }
    }

    fn to_shared(slot: &Self::Slot) -> SharedHandler {
        SharedHandler::Sync(slot.clone())
    }

    fn dispatch_detached(
        set: &Arc<HandlerSet<Self::Slot>>,
        event: &Event<'_>,
    ) -> Result<(), CallbackError> {
        dispatch_sync_to_all(set.lists(event.kind().category()), event)
    }
}

/// Async dispatch: handlers with `run_inline` and sync handlers run one after another in
/// registration order (sync handlers are called directly on the dispatching task, so they
/// should not block); then the other async handlers run concurrently. Each dispatch completes
/// before the emitting call returns, so one handler sees the events of one run in the order they
/// were emitted.
#[derive(Debug)]
pub enum AsyncMode {}

impl DispatchMode for AsyncMode {}

#[allow(private_interfaces)]
impl sealed::Mode for AsyncMode {
    type Slot = SharedHandler;

    fn sync_slot(handler: Arc<dyn CallbackHandler>) -> Self::Slot {
        SharedHandler::Sync(handler)
    }

    fn slot_from_shared(handler: SharedHandler) -> Result<Self::Slot, CallbackError> {
        Ok(handler)
    }

    fn to_shared(slot: &Self::Slot) -> SharedHandler {
        slot.clone()
    }

    fn dispatch_detached(
        set: &Arc<HandlerSet<Self::Slot>>,
        event: &Event<'_>,
    ) -> Result<(), CallbackError> {
        dispatch_detached(set, event)
    }
}
