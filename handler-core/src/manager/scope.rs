//! A manager's scope: its handlers, tags and metadata, inheritable or local, shared by the run
//! managers made from it.

use std::sync::{Arc, OnceLock};

use super::set::{HandlerSet, Slot};
use crate::payload::Metadata;

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
    pub(crate) fn empty() -> Self {
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
