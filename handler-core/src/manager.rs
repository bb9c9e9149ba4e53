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
    pub(crate) scope: Arc<Scope<D::Slot>>,
}

impl<D: DispatchMode> Manager<D> {
    /// An empty manager: no handlers, tags or metadata, no parent run.
    pub fn new() -> Self {
        Self {
            parent_run_id: None,
            scope: Arc::new(Scope::empty()),
        }
    }

    pub(crate) fn from_scope(parent_run_id: Option<Uuid>, scope: Arc<Scope<D::Slot>>) -> Self {
        Self {
            parent_run_id,
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
    pub fn add_handler<H: CallbackHandler>(&mut self, handler: Arc<H>) -> &mut Self {
        let slot = D::sync_slot(handler.clone());
        self.insert(
            slot,
            handler.options(),
            handler.name(),
            identity(&handler),
            true,
        )
    }

    /// Adds a sync handler for this manager's runs only: child runs do not see it.
    pub fn add_local_handler<H: CallbackHandler>(&mut self, handler: Arc<H>) -> &mut Self {
        let slot = D::sync_slot(handler.clone());
        self.insert(
            slot,
            handler.options(),
            handler.name(),
            identity(&handler),
            false,
        )
    }

    /// Builder form of [`add_handler`](Self::add_handler).
    #[must_use]
    pub fn with_handler<H: CallbackHandler>(mut self, handler: Arc<H>) -> Self {
        self.add_handler(handler);
        self
    }

    /// Builder form of [`add_local_handler`](Self::add_local_handler).
    #[must_use]
    pub fn with_local_handler<H: CallbackHandler>(mut self, handler: Arc<H>) -> Self {
        self.add_local_handler(handler);
        self
    }

    pub(crate) fn insert(
        &mut self,
        handler: D::Slot,
        options: crate::HandlerOptions,
        name: &str,
        id: usize,
        inherit: bool,
    ) -> &mut Self {
        let entry = Entry {
            handler,
            options,
            name: Arc::from(name),
            id,
        };
        let scope = self.edit();
        if !scope.handlers.contains(id) {
            scope.handlers = Arc::new(scope.handlers.with(entry.clone()));
        }
        if inherit && !scope.inheritable_handlers.contains(id) {
            scope.inheritable_handlers = Arc::new(scope.inheritable_handlers.with(entry));
        }
        self
    }

    /// Removes a handler (inheritable or local). Returns whether it was there.
    pub fn remove_handler<H: ?Sized>(&mut self, handler: &Arc<H>) -> bool {
        let id = identity(handler);
        if !self.scope.handlers.contains(id) {
            return false;
        }
        let scope = self.edit();
        scope.handlers = Arc::new(scope.handlers.without(id));
        scope.inheritable_handlers = Arc::new(scope.inheritable_handlers.without(id));
        true
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

    fn merge_metadata(&mut self, incoming: Metadata, inherit: bool) -> &mut Self {
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
    pub(crate) fn new_run(&self, run_id: Option<Uuid>, options: &RunOptions) -> Arc<RunContext> {
        Arc::new(RunContext {
            run_id: run_id.unwrap_or_else(Uuid::now_v7),
            parent_run_id: self.parent_run_id,
            tags: self.scope.tags.clone(),
            metadata: self.scope.metadata.clone(),
            name: options.name.clone(),
            run_type: options.run_type.clone(),
        })
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
            tags: self.scope.tags.clone(),
            metadata: self.scope.metadata.clone(),
            name: None,
            run_type: None,
        })
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
