//! Editing a manager: adding and removing handlers, tags and metadata, merging managers.

use std::sync::Arc;

use super::base::Manager;
use super::mode::{AsyncMode, DispatchMode};
use super::scope::{Reach, Scope};
use super::set::{Entry, HandlerSet};
use super::shared::{IntoCallbackHandler, SharedHandler, identity};
use crate::error::CallbackError;
use crate::payload::Metadata;
use crate::traits::{AsyncCallbackHandler, CallbackHandler, HandlerOptions};

impl<D: DispatchMode> Manager<D> {
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
        options: HandlerOptions,
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

    /// Adds a shared handler of either kind (e.g. one a plugin built) that child runs inherit.
    /// A sync manager refuses an async handler; an async manager takes both. Adding a handler
    /// twice does nothing.
    pub fn add_shared_handler(
        &mut self,
        handler: SharedHandler,
    ) -> Result<&mut Self, CallbackError> {
        self.add_shared(handler, Reach::Inheritable)
    }

    /// Adds a shared handler of either kind for this manager's runs only; see
    /// [`add_shared_handler`](Self::add_shared_handler).
    pub fn add_local_shared_handler(
        &mut self,
        handler: SharedHandler,
    ) -> Result<&mut Self, CallbackError> {
        self.add_shared(handler, Reach::Local)
    }

    fn add_shared(
        &mut self,
        handler: SharedHandler,
        reach: Reach,
    ) -> Result<&mut Self, CallbackError> {
        let (options, name, id) = (
            handler.options(),
            Arc::from(handler.name()),
            handler.identity(),
        );
        let slot = D::slot_from_shared(handler)?;
        Ok(self.insert(slot, options, name, id, reach))
    }

    /// Replaces every handler with `handlers`, all inheritable or all local (LangChain's
    /// `set_handlers`). On error (an async handler given to a sync manager) the manager is left
    /// as it was.
    pub fn set_handlers(
        &mut self,
        handlers: impl IntoIterator<Item = SharedHandler>,
        inherit: bool,
    ) -> Result<&mut Self, CallbackError> {
        let mut next = self.clone();
        next.clear_handlers();
        for handler in handlers {
            next.add_shared(
                handler,
                if inherit {
                    Reach::Inheritable
                } else {
                    Reach::Local
                },
            )?;
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
    /// assert_eq!(configured.handler_names(), ["trace", "step"]);
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
}

impl Manager<AsyncMode> {
    /// Adds an async handler that child runs inherit. Adding a handler twice does nothing.
    pub fn add_async_handler<H: AsyncCallbackHandler>(&mut self, handler: Arc<H>) -> &mut Self {
        self.insert_shared(SharedHandler::from_async(handler), Reach::Inheritable)
    }

    /// Adds an async handler for this manager's runs only.
    pub fn add_local_async_handler<H: AsyncCallbackHandler>(
        &mut self,
        handler: Arc<H>,
    ) -> &mut Self {
        self.insert_shared(SharedHandler::from_async(handler), Reach::Local)
    }

    /// Adds an async handler for child runs only: this manager's own runs do not see it.
    pub fn add_child_async_handler<H: AsyncCallbackHandler>(
        &mut self,
        handler: Arc<H>,
    ) -> &mut Self {
        self.insert_shared(SharedHandler::from_async(handler), Reach::Children)
    }

    /// Builder form of [`add_async_handler`](Self::add_async_handler).
    #[must_use]
    pub fn with_async_handler<H: AsyncCallbackHandler>(mut self, handler: Arc<H>) -> Self {
        self.add_async_handler(handler);
        self
    }

    /// Builder form of [`add_local_async_handler`](Self::add_local_async_handler).
    #[must_use]
    pub fn with_local_async_handler<H: AsyncCallbackHandler>(mut self, handler: Arc<H>) -> Self {
        self.add_local_async_handler(handler);
        self
    }

    fn insert_shared(&mut self, handler: SharedHandler, reach: Reach) -> &mut Self {
        let (options, name, id) = (
            handler.options(),
            Arc::from(handler.name()),
            handler.identity(),
        );
        self.insert(handler, options, name, id, reach)
    }
}
