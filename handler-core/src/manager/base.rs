//! The [`Manager`] type: what it holds and how it is read. Editing is in `edit.rs`, starting
//! runs in the event API.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use uuid::Uuid;

use super::mode::DispatchMode;
use super::scope::Scope;
use super::set::Slot;
use super::shared::SharedHandler;
use crate::error::{CallbackError, CallbackErrorKind};
use crate::payload::Metadata;
use crate::run_context::RunContext;

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
/// assert_eq!(manager.handler_names(), ["quiet"]);
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
    pub fn handler_names(&self) -> Vec<&str> {
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
    /// assert_eq!(copy.handler_names(), sync.handler_names());
    /// # Ok::<(), handler_core::CallbackError>(())
    /// ```
    pub fn shared_handlers(&self) -> Vec<SharedHandler> {
        self.scope
            .handlers
            .entries()
            .iter()
            .map(|e| D::to_shared(&e.handler))
            .collect()
    }

    /// The handlers that child runs inherit, in registration order.
    pub fn inheritable_shared_handlers(&self) -> Vec<SharedHandler> {
        self.scope
            .inheritable_handlers
            .entries()
            .iter()
            .map(|e| D::to_shared(&e.handler))
            .collect()
    }

    /// The context of a custom event dispatched from this manager: the enclosing run's id, the
    /// manager's tags and metadata, no parent id.
    pub(crate) fn custom_event_context(&self, name: &str) -> Result<RunContext, CallbackError> {
        let run_id = self.parent_run_id.ok_or_else(|| {
            CallbackError::from(CallbackErrorKind::NoEnclosingRun {
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

    /// This manager with its mode erased, to be stored as the current run's.
    pub(crate) fn erase(self) -> ErasedManager {
        ErasedManager {
            parent_run_id: self.parent_run_id,
            root_run_id: self.root_run_id,
            scope: self.scope,
        }
    }

    /// The manager `erased` holds, when it is of this mode.
    pub(crate) fn unerase(erased: &ErasedManager) -> Option<Self> {
        let scope = erased.scope.clone().downcast::<Scope<D::Slot>>().ok()?;
        Some(Self {
            parent_run_id: erased.parent_run_id,
            root_run_id: erased.root_run_id,
            scope,
        })
    }
}

/// A manager of either mode: what the current run stores. Making one and getting the manager
/// back cost a reference count each, no allocation.
#[derive(Clone)]
pub(crate) struct ErasedManager {
    parent_run_id: Option<Uuid>,
    root_run_id: Option<Uuid>,
    scope: Arc<dyn Any + Send + Sync>,
}

impl fmt::Debug for ErasedManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("parent_run_id", &self.parent_run_id)
            .field("root_run_id", &self.root_run_id)
            .finish_non_exhaustive()
    }
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
            .field("handlers", &self.handler_names())
            .field("inheritable_handlers", &self.inheritable_handlers())
            .field("tags", &self.tags())
            .field("inheritable_tags", &self.inheritable_tags())
            .field("metadata", self.metadata())
            .field("interest", &self.scope.handlers.interest())
            .finish()
    }
}
