//! Managers and run managers: how events get from the application to the handlers.
//!
//! A [`Manager`] holds handlers, tags and metadata, each either inheritable (it flows to child
//! runs) or local. Starting a run (`on_chain_start`, `on_llm_start`, ...) dispatches the start
//! event and returns a [`RunManager`] that emits the run's later events and makes child managers
//! for nested runs. [`CallbackManager`] dispatches synchronously to [`CallbackHandler`]s;
//! [`AsyncCallbackManager`] also runs [`AsyncCallbackHandler`]s.
//!
//! [`CallbackHandler`]: crate::CallbackHandler
//! [`AsyncCallbackHandler`]: crate::AsyncCallbackHandler
//!
//! This file holds the [`Manager`] itself: what it holds (handlers, tags, metadata; inheritable or
//! local) and how it is edited.

mod asynchronous;
mod background;
mod dispatch;
mod emit;
mod run_manager;
mod set;
mod shared;
mod synchronous;

pub use asynchronous::AsyncMode;
pub use run_manager::{ChainRun, LlmRun, Nestable, RetrieverRun, RunKind, RunManager, ToolRun};
pub use shared::{ErasedAsyncHandler, SharedHandler};
pub use synchronous::SyncMode;

/// A manager that dispatches synchronously to [`CallbackHandler`](crate::CallbackHandler)s.
pub type CallbackManager = Manager<SyncMode>;
/// A manager that dispatches to sync and async handlers, on tokio or any executor.
pub type AsyncCallbackManager = Manager<AsyncMode>;

/// The run manager of an LLM or chat model run.
pub type LlmRunManager = RunManager<SyncMode, LlmRun>;
/// The run manager of a chain run.
pub type ChainRunManager = RunManager<SyncMode, ChainRun>;
/// The run manager of a tool run.
pub type ToolRunManager = RunManager<SyncMode, ToolRun>;
/// The run manager of a retriever run.
pub type RetrieverRunManager = RunManager<SyncMode, RetrieverRun>;
/// The async run manager of an LLM or chat model run.
pub type AsyncLlmRunManager = RunManager<AsyncMode, LlmRun>;
/// The async run manager of a chain run.
pub type AsyncChainRunManager = RunManager<AsyncMode, ChainRun>;
/// The async run manager of a tool run.
pub type AsyncToolRunManager = RunManager<AsyncMode, ToolRun>;
/// The async run manager of a retriever run.
pub type AsyncRetrieverRunManager = RunManager<AsyncMode, RetrieverRun>;

use std::fmt;
use std::sync::{Arc, OnceLock};

use uuid::Uuid;

use crate::handler::CallbackHandler;
use crate::payload::Metadata;
use crate::run_context::{RunContext, RunOptions};
use set::{Entry, HandlerSet, Slot};

mod sealed {
    pub trait Sealed {}
}
pub(crate) use sealed::Sealed;

/// How a manager dispatches: [`SyncMode`](super::SyncMode) or [`AsyncMode`](super::AsyncMode).
#[allow(private_bounds)]
pub trait DispatchMode: Sealed + Send + Sync + 'static {
    /// How a handler is stored in this kind of manager.
    #[doc(hidden)]
    type Slot: Slot;
    /// Stores a sync handler.
    #[doc(hidden)]
    fn sync_slot(handler: Arc<dyn CallbackHandler>) -> Self::Slot;
    /// Stores a handler of either kind; the sync manager refuses async ones.
    #[doc(hidden)]
    fn slot_from_shared(handler: SharedHandler) -> Result<Self::Slot, crate::CallbackError>;
    /// Wraps a manager of this kind as the current run's.
    #[doc(hidden)]
    fn into_current(manager: Manager<Self>) -> crate::current::Current
    where
        Self: Sized;
    /// The current run's manager, when it is of this kind.
    #[doc(hidden)]
    fn from_current(current: &crate::current::Current) -> Option<Manager<Self>>
    where
        Self: Sized;
}

/// The shared, immutable state of a manager. Editing a manager replaces its scope; run managers
/// and children keep the scope they were made from.
pub(crate) struct Scope<S> {
    pub(crate) handlers: Arc<HandlerSet<S>>,
    pub(crate) inheritable_handlers: Arc<HandlerSet<S>>,
    pub(crate) tags: Arc<[String]>,
    pub(crate) inheritable_tags: Arc<[String]>,
    pub(crate) metadata: Arc<Metadata>,
    pub(crate) inheritable_metadata: Arc<Metadata>,
    /// The scope of child managers, made once.
    child: OnceLock<Arc<Scope<S>>>,
}

impl<S: Slot> Scope<S> {
    fn empty() -> Self {
        let handlers = Arc::new(HandlerSet::default());
        let tags: Arc<[String]> = Arc::from(Vec::new());
        let metadata = Arc::new(Metadata::new());
        Self {
            inheritable_handlers: handlers.clone(),
            handlers,
            inheritable_tags: tags.clone(),
            tags,
            inheritable_metadata: metadata.clone(),
            metadata,
            child: OnceLock::new(),
        }
    }

    /// The scope of a child run: the inheritable parts only, all inheritable again.
    pub(crate) fn child(&self) -> Arc<Scope<S>> {
        self.child
            .get_or_init(|| {
                Arc::new(Scope {
                    handlers: self.inheritable_handlers.clone(),
                    inheritable_handlers: self.inheritable_handlers.clone(),
                    tags: self.inheritable_tags.clone(),
                    inheritable_tags: self.inheritable_tags.clone(),
                    metadata: self.inheritable_metadata.clone(),
                    inheritable_metadata: self.inheritable_metadata.clone(),
                    child: OnceLock::new(),
                })
            })
            .clone()
    }
}

impl<S> Clone for Scope<S> {
    fn clone(&self) -> Self {
        Self {
            handlers: self.handlers.clone(),
            inheritable_handlers: self.inheritable_handlers.clone(),
            tags: self.tags.clone(),
            inheritable_tags: self.inheritable_tags.clone(),
            metadata: self.metadata.clone(),
            inheritable_metadata: self.inheritable_metadata.clone(),
            child: OnceLock::new(),
        }
    }
}

/// Holds handlers, tags and metadata, inheritable or local, and starts runs. Use the aliases
/// [`CallbackManager`](super::CallbackManager) and
/// [`AsyncCallbackManager`](super::AsyncCallbackManager).
///
/// Cloning a manager is cheap (two reference counts), and a clone edited with the `add_local_*`
/// methods is what LangChain's `configure` builds: the parent's inheritable parts plus local
/// ones.
///
/// ```
/// use std::sync::Arc;
/// use handler_core::{CallbackHandler, CallbackManager};
///
/// struct Quiet;
/// impl CallbackHandler for Quiet {
///     fn name(&self) -> &str {
///         "quiet"
///     }
/// }
///
/// let mut manager = CallbackManager::new();
/// manager.add_handler(Arc::new(Quiet)).add_tags(["prod"]).add_local_tags(["step-1"]);
/// assert_eq!(manager.handlers(), ["quiet"]);
/// assert_eq!(manager.tags(), ["prod", "step-1"]);
/// assert_eq!(manager.inheritable_tags(), ["prod"]);
/// ```
pub struct Manager<D: DispatchMode> {
    pub(crate) parent_run_id: Option<Uuid>,
    /// The root of the parent's run tree (`None` when the parent is the root, or no parent).
    pub(crate) root_run_id: Option<Uuid>,
    pub(crate) scope: Arc<Scope<D::Slot>>,
}

impl<D: DispatchMode> Manager<D> {
    /// An empty manager: no handlers, tags or metadata, no parent run.
    pub fn new() -> Self {
        Self {
            parent_run_id: None,
            root_run_id: None,
            scope: Arc::new(Scope::empty()),
        }
    }

    /// The manager of runs nested in the run `parent`, holding `scope`.
    pub(crate) fn from_scope(parent: &RunContext, scope: Arc<Scope<D::Slot>>) -> Self {
        Self {
            parent_run_id: Some(parent.run_id),
            root_run_id: Some(parent.root_id()),
            scope,
        }
    }

    /// The id of the run this manager's runs are children of.
    pub fn parent_run_id(&self) -> Option<Uuid> {
        self.parent_run_id
    }

    /// The names of the handlers, in registration order.
    pub fn handlers(&self) -> Vec<&str> {
        self.scope
            .handlers
            .entries()
            .iter()
            .map(|e| &*e.name)
            .collect()
    }

    /// The names of the inheritable handlers, in registration order.
    pub fn inheritable_handlers(&self) -> Vec<&str> {
        self.scope
            .inheritable_handlers
            .entries()
            .iter()
            .map(|e| &*e.name)
            .collect()
    }

    /// All tags, in order.
    pub fn tags(&self) -> &[String] {
        &self.scope.tags
    }

    /// The tags that flow to child runs.
    pub fn inheritable_tags(&self) -> &[String] {
        &self.scope.inheritable_tags
    }

    /// All metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.scope.metadata
    }

    /// The metadata that flows to child runs.
    pub fn inheritable_metadata(&self) -> &Metadata {
        &self.scope.inheritable_metadata
    }

    /// The first handler of type `T`, e.g. to read the results of a handler a plugin added.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use handler_core::{CallbackHandler, CallbackManager};
    ///
    /// #[derive(Default)]
    /// struct Totals;
    /// impl CallbackHandler for Totals {}
    ///
    /// let manager = CallbackManager::new().with_handler(Arc::new(Totals));
    /// let totals: Option<Arc<Totals>> = manager.find_handler();
    /// assert!(totals.is_some());
    /// ```
    pub fn find_handler<T: std::any::Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.scope
            .handlers
            .entries()
            .iter()
            .find_map(|e| e.handler.as_any().downcast::<T>().ok())
    }

    /// True when no handler wants any event: every dispatch returns at once.
    pub fn is_empty(&self) -> bool {
        self.scope.handlers.entries().is_empty()
    }

    /// Adds a sync handler that child runs inherit. Adding a handler twice does nothing.
    ///
    /// Takes an `Arc` of a handler type or an `Arc<dyn CallbackHandler>`.
    pub fn add_handler(&mut self, handler: impl IntoCallbackHandler) -> &mut Self {
        self.insert_sync(handler.into_callback_handler(), Reach::Inheritable)
    }

    /// Adds a sync handler for this manager's runs only: child runs do not see it.
    pub fn add_local_handler(&mut self, handler: impl IntoCallbackHandler) -> &mut Self {
        self.insert_sync(handler.into_callback_handler(), Reach::Local)
    }

    /// Adds a sync handler for child runs only: this manager's own runs do not see it
    /// (LangChain's handler that is inheritable without being local).
    pub fn add_child_handler(&mut self, handler: impl IntoCallbackHandler) -> &mut Self {
        self.insert_sync(handler.into_callback_handler(), Reach::Children)
    }

    /// Builder form of [`add_handler`](Self::add_handler).
    #[must_use]
    pub fn with_handler(mut self, handler: impl IntoCallbackHandler) -> Self {
        self.add_handler(handler);
        self
    }

    /// Builder form of [`add_local_handler`](Self::add_local_handler).
    #[must_use]
    pub fn with_local_handler(mut self, handler: impl IntoCallbackHandler) -> Self {
        self.add_local_handler(handler);
        self
    }

    fn insert_sync(&mut self, handler: Arc<dyn CallbackHandler>, reach: Reach) -> &mut Self {
        let (options, id) = (handler.options(), identity(&handler));
        let name: Arc<str> = Arc::from(handler.name());
        self.insert(D::sync_slot(handler), options, name, id, reach)
    }

    pub(crate) fn insert(
        &mut self,
        handler: D::Slot,
        options: crate::HandlerOptions,
        name: Arc<str>,
        id: usize,
        reach: Reach,
    ) -> &mut Self {
        let entry = Entry {
            handler,
            options,
            name,
            id,
        };
        let scope = self.edit();
        if reach != Reach::Children && !scope.handlers.contains(id) {
            scope.handlers = Arc::new(scope.handlers.with(entry.clone()));
        }
        if reach != Reach::Local && !scope.inheritable_handlers.contains(id) {
            scope.inheritable_handlers = Arc::new(scope.inheritable_handlers.with(entry));
        }
        self
    }

    /// Adds a handler of either kind that child runs inherit, or (`inherit: false`) for this
    /// manager's runs only. A sync manager refuses an async handler.
    pub fn add_shared(
        &mut self,
        handler: SharedHandler,
        inherit: bool,
    ) -> Result<&mut Self, crate::CallbackError> {
        let (options, name, id) = (
            handler.options(),
            Arc::from(handler.name()),
            handler.identity(),
        );
        let slot = D::slot_from_shared(handler)?;
        let reach = if inherit {
            Reach::Inheritable
        } else {
            Reach::Local
        };
        Ok(self.insert(slot, options, name, id, reach))
    }

    /// Replaces every handler with `handlers`, all inheritable or all local (LangChain's
    /// `set_handlers`). On error (an async handler given to a sync manager) the manager is left
    /// as it was.
    pub fn set_handlers(
        &mut self,
        handlers: impl IntoIterator<Item = SharedHandler>,
        inherit: bool,
    ) -> Result<&mut Self, crate::CallbackError> {
        let mut next = self.clone();
        next.clear_handlers();
        for handler in handlers {
            next.add_shared(handler, inherit)?;
        }
        *self = next;
        Ok(self)
    }

    /// Removes every handler, inheritable or local.
    pub fn clear_handlers(&mut self) -> &mut Self {
        let scope = self.edit();
        scope.handlers = Arc::new(HandlerSet::default());
        scope.inheritable_handlers = Arc::new(HandlerSet::default());
        self
    }

    /// The handlers themselves, in registration order: to copy them into another manager.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use handler_core::{AsyncCallbackManager, CallbackHandler, CallbackManager};
    ///
    /// struct Audit;
    /// impl CallbackHandler for Audit {}
    ///
    /// let sync = CallbackManager::new().with_handler(Arc::new(Audit));
    /// let mut copy = AsyncCallbackManager::new();
    /// copy.set_handlers(sync.shared_handlers(), true)?;
    /// assert_eq!(copy.handlers(), sync.handlers());
    /// # Ok::<(), handler_core::CallbackError>(())
    /// ```
    pub fn shared_handlers(&self) -> Vec<SharedHandler> {
        self.scope
            .handlers
            .entries()
            .iter()
            .map(|e| e.handler.to_shared())
            .collect()
    }

    /// The handlers that child runs inherit, in registration order.
    pub fn inheritable_shared_handlers(&self) -> Vec<SharedHandler> {
        self.scope
            .inheritable_handlers
            .entries()
            .iter()
            .map(|e| e.handler.to_shared())
            .collect()
    }

    /// Removes a handler (inheritable, local, or for children only). Returns whether it was
    /// there.
    pub fn remove_handler<H: ?Sized>(&mut self, handler: &Arc<H>) -> bool {
        let id = identity(handler);
        if !self.scope.handlers.contains(id) && !self.scope.inheritable_handlers.contains(id) {
            return false;
        }
        let scope = self.edit();
        scope.handlers = Arc::new(scope.handlers.without(id));
        scope.inheritable_handlers = Arc::new(scope.inheritable_handlers.without(id));
        true
    }

    /// This manager plus `other`'s handlers, tags and metadata (LangChain's `merge`): handlers
    /// and tags keep their order without duplicates, `other`'s metadata keys win, and each part
    /// stays inheritable or local as it was. The parent run is this manager's.
    #[must_use]
    pub fn merge(&self, other: &Self) -> Self {
        let mut merged = self.clone();
        merged.absorb(other, true);
        merged
    }

    /// The manager LangChain's `configure` builds: `inheritable`'s handlers, tags, metadata and
    /// parent run as they are, plus everything of `local` as local parts (its runs only). Tags
    /// and metadata are then added with [`add_tags`](Self::add_tags),
    /// [`add_local_tags`](Self::add_local_tags), [`add_metadata`](Self::add_metadata) and
    /// [`add_local_metadata`](Self::add_local_metadata).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use handler_core::{CallbackHandler, CallbackManager};
    ///
    /// struct Trace;
    /// impl CallbackHandler for Trace {
    ///     fn name(&self) -> &str { "trace" }
    /// }
    /// struct Step;
    /// impl CallbackHandler for Step {
    ///     fn name(&self) -> &str { "step" }
    /// }
    ///
    /// let parent = CallbackManager::new().with_handler(Arc::new(Trace));
    /// let local = CallbackManager::new().with_handler(Arc::new(Step));
    /// let mut configured = CallbackManager::configure(Some(&parent), Some(&local));
    /// configured.add_local_tags(["step-1"]);
    /// assert_eq!(configured.handlers(), ["trace", "step"]);
    /// assert_eq!(configured.inheritable_handlers(), ["trace"]);
    /// assert_eq!(configured.inheritable_tags(), [] as [&str; 0]);
    /// ```
    pub fn configure(inheritable: Option<&Self>, local: Option<&Self>) -> Self {
        let mut configured = inheritable.cloned().unwrap_or_default();
        if let Some(local) = local {
            configured.absorb(local, false);
        }
        configured
    }

    /// Adds `other`'s handlers, tags and metadata; `keep_reach: false` makes them all local.
    fn absorb(&mut self, other: &Self, keep_reach: bool) {
        let other_scope = other.scope.clone();
        for entry in other_scope.handlers.entries() {
            let inherit = keep_reach && other_scope.inheritable_handlers.contains(entry.id);
            let reach = if inherit {
                Reach::Inheritable
            } else {
                Reach::Local
            };
            self.insert(
                entry.handler.clone(),
                entry.options,
                entry.name.clone(),
                entry.id,
                reach,
            );
        }
        if keep_reach {
            for entry in other_scope.inheritable_handlers.entries() {
                if !other_scope.handlers.contains(entry.id) {
                    self.insert(
                        entry.handler.clone(),
                        entry.options,
                        entry.name.clone(),
                        entry.id,
                        Reach::Children,
                    );
                }
            }
        }
        let inheritable_tags: Vec<String> = if keep_reach {
            other_scope.inheritable_tags.to_vec()
        } else {
            Vec::new()
        };
        let local_tags: Vec<String> = other_scope
            .tags
            .iter()
            .filter(|t| !inheritable_tags.contains(t))
            .cloned()
            .collect();
        self.add_tags(inheritable_tags);
        self.add_local_tags(local_tags);
        let mut local_metadata = Metadata::clone(&other_scope.metadata);
        if keep_reach {
            for key in other_scope.inheritable_metadata.keys() {
                local_metadata.remove(key);
            }
            self.add_metadata(Metadata::clone(&other_scope.inheritable_metadata));
        }
        self.add_local_metadata(local_metadata);
    }

    /// Adds tags that child runs inherit. A tag already present moves to the end and becomes
    /// inheritable, as in LangChain.
    pub fn add_tags<I, T>(&mut self, tags: I) -> &mut Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.insert_tags(tags.into_iter().map(Into::into).collect(), true)
    }

    /// Adds tags for this manager's runs only. A tag already present moves to the end and
    /// becomes local.
    pub fn add_local_tags<I, T>(&mut self, tags: I) -> &mut Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.insert_tags(tags.into_iter().map(Into::into).collect(), false)
    }

    fn insert_tags(&mut self, incoming: Vec<String>, inherit: bool) -> &mut Self {
        let scope = self.edit();
        let keep = |list: &[String]| -> Vec<String> {
            list.iter()
                .filter(|t| !incoming.contains(t))
                .cloned()
                .collect()
        };
        let mut tags = keep(&scope.tags);
        let mut inheritable = keep(&scope.inheritable_tags);
        tags.extend(incoming.iter().cloned());
        if inherit {
            inheritable.extend(incoming.iter().cloned());
        }
        scope.tags = tags.into();
        scope.inheritable_tags = inheritable.into();
        self
    }

    /// Removes tags, inheritable or local.
    pub fn remove_tags<I, T>(&mut self, tags: I) -> &mut Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let gone: Vec<T> = tags.into_iter().collect();
        let scope = self.edit();
        let keep = |list: &[String]| -> Arc<[String]> {
            list.iter()
                .filter(|t| !gone.iter().any(|g| g.as_ref() == t.as_str()))
                .cloned()
                .collect()
        };
        scope.tags = keep(&scope.tags);
        scope.inheritable_tags = keep(&scope.inheritable_tags);
        self
    }

    /// Merges metadata that child runs inherit; incoming keys win.
    pub fn add_metadata(&mut self, metadata: Metadata) -> &mut Self {
        self.merge_metadata(metadata, true)
    }

    /// Merges metadata for this manager's runs only; incoming keys win.
    pub fn add_local_metadata(&mut self, metadata: Metadata) -> &mut Self {
        self.merge_metadata(metadata, false)
    }

    fn merge_metadata(&mut self, mut incoming: Metadata, inherit: bool) -> &mut Self {
        // Hostile input: nesting deep enough to overflow the stack of a clone or drop is cut.
        crate::payload::depth::bound_metadata(&mut incoming);
        let scope = self.edit();
        let mut all = Metadata::clone(&scope.metadata);
        all.extend(incoming.clone());
        scope.metadata = Arc::new(all);
        if inherit {
            let mut inheritable = Metadata::clone(&scope.inheritable_metadata);
            inheritable.extend(incoming);
            scope.inheritable_metadata = Arc::new(inheritable);
        }
        self
    }

    /// Removes metadata keys, inheritable or local.
    pub fn remove_metadata<I, K>(&mut self, keys: I) -> &mut Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<str>,
    {
        let scope = self.edit();
        let mut all = Metadata::clone(&scope.metadata);
        let mut inheritable = Metadata::clone(&scope.inheritable_metadata);
        for key in keys {
            all.remove(key.as_ref());
            inheritable.remove(key.as_ref());
        }
        scope.metadata = Arc::new(all);
        scope.inheritable_metadata = Arc::new(inheritable);
        self
    }

    /// A copy of the scope, for editing; run managers keep the old one.
    fn edit(&mut self) -> &mut Scope<D::Slot> {
        Arc::make_mut(&mut self.scope)
    }

    /// Makes the context of a new run of this manager.
    pub(crate) fn new_run(&self, run_id: Option<Uuid>, options: &RunOptions) -> RunContext {
        RunContext {
            run_id: run_id.unwrap_or_else(crate::run_context::new_run_id),
            parent_run_id: self.parent_run_id,
            root_run_id: self.root_run_id.or(self.parent_run_id),
            tags: self.scope.tags.clone(),
            metadata: self.scope.metadata.clone(),
            name: options.name.clone(),
            run_type: options.run_type.clone(),
        }
    }

    /// The run manager of a new run of this manager, before its start event is sent. When the
    /// start's dispatch fails (a handler with `raise_error`), the caller drops it, so the run
    /// still gets its one terminal event (abandoned).
    pub(crate) fn run_manager<K: RunKind>(
        &self,
        run_id: Option<Uuid>,
        options: &RunOptions,
    ) -> RunManager<D, K> {
        RunManager::new(self.new_run(run_id, options), self.scope.clone())
    }

    /// The context of a custom event dispatched from this manager: the enclosing run's id, the
    /// manager's tags and metadata, no parent id.
    pub(crate) fn custom_event_context(
        &self,
        name: &str,
    ) -> Result<RunContext, crate::CallbackError> {
        let run_id = self.parent_run_id.ok_or_else(|| {
            crate::CallbackError::from(crate::CallbackErrorKind::NoEnclosingRun {
                name: name.to_owned(),
            })
        })?;
        Ok(RunContext {
            run_id,
            parent_run_id: None,
            root_run_id: self.root_run_id.filter(|root| *root != run_id),
            tags: self.scope.tags.clone(),
            metadata: self.scope.metadata.clone(),
            name: None,
            run_type: None,
        })
    }
}

/// Where a handler is added: to this manager's runs, to its children, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// This manager's runs only.
    Local,
    /// This manager's runs and its children's.
    Inheritable,
    /// Children's runs only.
    Children,
}

/// A sync handler as [`Manager::add_handler`] takes it: an `Arc` of a handler type, or an
/// `Arc<dyn CallbackHandler>`.
pub trait IntoCallbackHandler {
    /// The handler, shared.
    fn into_callback_handler(self) -> Arc<dyn CallbackHandler>;
}

impl<H: CallbackHandler> IntoCallbackHandler for Arc<H> {
    fn into_callback_handler(self) -> Arc<dyn CallbackHandler> {
        self
    }
}

impl IntoCallbackHandler for Arc<dyn CallbackHandler> {
    fn into_callback_handler(self) -> Arc<dyn CallbackHandler> {
        self
    }
}

/// The identity of a handler: the address of its shared allocation.
pub(crate) fn identity<H: ?Sized>(handler: &Arc<H>) -> usize {
    Arc::as_ptr(handler).cast::<()>() as usize
}

impl<D: DispatchMode> Default for Manager<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D: DispatchMode> Clone for Manager<D> {
    fn clone(&self) -> Self {
        Self {
            parent_run_id: self.parent_run_id,
            root_run_id: self.root_run_id,
            scope: self.scope.clone(),
        }
    }
}

impl<D: DispatchMode> fmt::Debug for Manager<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("parent_run_id", &self.parent_run_id)
            .field("handlers", &self.handlers())
            .field("inheritable_handlers", &self.inheritable_handlers())
            .field("tags", &self.tags())
            .field("inheritable_tags", &self.inheritable_tags())
            .field("metadata", self.metadata())
            .field("interest", &self.scope.handlers.interest())
            .finish()
    }
}
