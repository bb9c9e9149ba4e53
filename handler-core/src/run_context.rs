//! Run context: who a run is, who its parent is, and the tags and metadata it carries.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use uuid::timestamp::Timestamp;
use uuid::timestamp::context::{ContextV7, ThreadLocalContext};

use crate::payload::Metadata;

/// The context every event carries: the run's id, its parent's id, its tags and metadata, and
/// its name and type where the caller gave them.
///
/// A run's context is built once, when the run starts, and shared by reference with every event
/// of the run: tags and metadata are never cloned per event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunContext {
    /// The run's id (a time-ordered UUID v7 unless the caller chose one).
    pub run_id: Uuid,
    /// The enclosing run's id; `None` for a root run and for custom events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_run_id: Option<Uuid>,
    /// The id of the root of this run's tree (the outermost run); `None` when this run is the
    /// root. [`root_id`](Self::root_id) gives the one to use: a trace backend's trace id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_run_id: Option<Uuid>,
    /// The run's tags, inheritable ones first.
    #[serde(default)]
    pub tags: Arc<[String]>,
    /// The run's metadata.
    #[serde(default)]
    pub metadata: Arc<Metadata>,
    /// The run's name, e.g. `"retrieve"` or a chain's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The run's type, e.g. `"chain"`, `"prompt"`, `"parser"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_type: Option<String>,
}

impl RunContext {
    /// A root run with this id and no tags or metadata.
    pub fn new(run_id: Uuid) -> Self {
        Self {
            run_id,
            parent_run_id: None,
            root_run_id: None,
            tags: Arc::from(Vec::new()),
            metadata: Arc::new(Metadata::new()),
            name: None,
            run_type: None,
        }
    }

    /// The id of the root of this run's tree: [`root_run_id`](Self::root_run_id), or this run's
    /// own id when it is the root. Every run of one tree has the same root id, on any thread.
    ///
    /// ```
    /// use handler_core::RunContext;
    /// use uuid::Uuid;
    ///
    /// let root = RunContext::new(Uuid::now_v7());
    /// assert_eq!(root.root_id(), root.run_id);
    /// ```
    pub fn root_id(&self) -> Uuid {
        self.root_run_id.unwrap_or(self.run_id)
    }

    /// True when the run carries this tag.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// Options of a run being started: its id (else a fresh UUID v7), name and type.
///
/// ```
/// use handler_core::RunOptions;
/// use uuid::Uuid;
///
/// let id = Uuid::now_v7();
/// let options = RunOptions::named("retrieve").with_run_id(id);
/// assert_eq!(options.run_id, Some(id));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunOptions {
    /// The run id to use; a fresh UUID v7 when `None`. For LLM starts with several prompts, only
    /// the first prompt's run uses it.
    pub run_id: Option<Uuid>,
    /// The run's name.
    pub name: Option<String>,
    /// The run's type.
    pub run_type: Option<String>,
}

impl RunOptions {
    /// Default options: a fresh id, no name, no type.
    pub fn new() -> Self {
        Self::default()
    }

    /// Options with a name.
    pub fn named(name: impl Into<String>) -> Self {
        Self::new().with_name(name)
    }

    /// Uses this run id.
    #[must_use]
    pub fn with_run_id(mut self, run_id: Uuid) -> Self {
        self.run_id = Some(run_id);
        self
    }

    /// Sets the run's name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the run's type.
    #[must_use]
    pub fn with_run_type(mut self, run_type: impl Into<String>) -> Self {
        self.run_type = Some(run_type.into());
        self
    }
}

thread_local! {
    /// Each thread's generator of run ids: no lock shared by every thread starting a run.
    static RUN_IDS: ContextV7 = const { ContextV7::new() };
}

/// Run ids come from the thread's own generator.
static THREAD_RUN_IDS: ThreadLocalContext<ContextV7> = ThreadLocalContext::new(&RUN_IDS);

/// A new run id: a UUID v7 (time-ordered), ordered within each thread and unique across
/// threads by its random bits. uuid's `now_v7` takes one lock shared by the whole process for
/// every id; a run start should not.
pub(crate) fn new_run_id() -> Uuid {
    Uuid::new_v7(Timestamp::now(&THREAD_RUN_IDS))
}
