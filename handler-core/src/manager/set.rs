//! The handlers of a manager, sorted by category once, when a handler is added.

use std::any::Any;
use std::sync::Arc;

use super::shared::SharedHandler;
use crate::category::{Categories, Category};
use crate::traits::{CallbackHandler, HandlerOptions};

/// A handler slot: the stored form of a handler in one kind of manager (a sync handler in the
/// sync manager, a [`SharedHandler`] in the async one). Storage only: how events reach a slot is
/// the delivery layers' business.
pub(crate) trait Slot: Clone + Send + Sync + 'static {
    /// True when the async manager runs this handler in its concurrent group.
    fn is_concurrent(&self, options: &HandlerOptions) -> bool;
    /// The handler, when it is a sync one.
    fn as_sync(&self) -> Option<&Arc<dyn CallbackHandler>>;
    /// The handler, for downcasting.
    fn as_any(&self) -> Arc<dyn Any + Send + Sync>;
}

impl Slot for Arc<dyn CallbackHandler> {
    fn is_concurrent(&self, _options: &HandlerOptions) -> bool {
        false
    }

    fn as_sync(&self) -> Option<&Arc<dyn CallbackHandler>> {
        Some(self)
    }

    fn as_any(&self) -> Arc<dyn Any + Send + Sync> {
        self.clone()
    }
}

impl Slot for SharedHandler {
    fn is_concurrent(&self, options: &HandlerOptions) -> bool {
        matches!(self, SharedHandler::Async(_)) && !options.run_inline
    }

    fn as_sync(&self) -> Option<&Arc<dyn CallbackHandler>> {
        match self {
            SharedHandler::Sync(h) => Some(h),
            SharedHandler::Async(_) => None,
        }
    }

    fn as_any(&self) -> Arc<dyn Any + Send + Sync> {
        SharedHandler::as_any(self)
    }
}

/// One registered handler: the handler, its flags read once, its name for logs, and its
/// identity (the address of its allocation) for removal.
#[derive(Clone)]
pub(crate) struct Entry<S> {
    pub(crate) handler: S,
    pub(crate) options: HandlerOptions,
    pub(crate) name: Arc<str>,
    pub(crate) id: usize,
}

/// The handlers that want one category, split as the async manager runs them.
pub(crate) struct Lists<S> {
    /// Run one after another, in registration order.
    pub(crate) ordered: Box<[Entry<S>]>,
    /// Run together, after the ordered ones (async handlers without `run_inline`).
    pub(crate) concurrent: Box<[Entry<S>]>,
    /// Every handler here is a sync one: dispatch needs no future.
    pub(crate) sync_only: bool,
}

/// A manager's handlers, in registration order, with a precomputed list per category.
pub(crate) struct HandlerSet<S> {
    entries: Vec<Entry<S>>,
    by_category: [Lists<S>; Category::ALL.len()],
    interest: Categories,
}

impl<S: Slot> HandlerSet<S> {
    pub(crate) fn new(entries: Vec<Entry<S>>) -> Self {
        let interest = entries
            .iter()
            .fold(Categories::NONE, |acc, e| acc.union(e.options.categories()));
        let by_category = Category::ARRAY.map(|category| {
            let wanted = || {
                entries
                    .iter()
                    .filter(move |e| e.options.categories().contains(category))
            };
            Lists {
                ordered: wanted()
                    .filter(|e| !e.handler.is_concurrent(&e.options))
                    .cloned()
                    .collect(),
                concurrent: wanted()
                    .filter(|e| e.handler.is_concurrent(&e.options))
                    .cloned()
                    .collect(),
                sync_only: wanted().all(|e| e.handler.as_sync().is_some()),
            }
        });
        Self {
            entries,
            by_category,
            interest,
        }
    }

    /// The handlers that want `category`.
    #[inline]
    pub(crate) fn lists(&self, category: Category) -> &Lists<S> {
        &self.by_category[category.index()]
    }

    pub(crate) fn entries(&self) -> &[Entry<S>] {
        &self.entries
    }

    pub(crate) fn interest(&self) -> Categories {
        self.interest
    }

    pub(crate) fn contains(&self, id: usize) -> bool {
        self.entries.iter().any(|e| e.id == id)
    }

    /// This set plus `entry`, unless it is already in.
    pub(crate) fn with(&self, entry: Entry<S>) -> Self {
        let mut entries = self.entries.clone();
        if !self.contains(entry.id) {
            entries.push(entry);
        }
        Self::new(entries)
    }

    /// This set without the handler `id`.
    pub(crate) fn without(&self, id: usize) -> Self {
        Self::new(
            self.entries
                .iter()
                .filter(|e| e.id != id)
                .cloned()
                .collect(),
        )
    }
}

impl<S: Slot> Default for HandlerSet<S> {
    fn default() -> Self {
        Self::new(Vec::new())
    }
}
