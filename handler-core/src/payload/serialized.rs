//! The serialized form of the component that starts a run.

use serde::{Deserialize, Serialize};

use super::Metadata;

/// Describes the component that started a run (a model, a chain, a tool, a retriever), as
/// LangChain's `serialized` argument does: a path-like `id`, a display name and its arguments.
///
/// Plugins recognise components by their id: for example a retriever whose id contains
/// `multi_query` is a multi-query retriever.
///
/// ```
/// use handler_core::payload::Serialized;
///
/// let s = Serialized::new(["retrievers", "multi_query", "MultiQueryRetriever"]);
/// assert!(s.id_contains("multi_query"));
/// assert_eq!(s.name.as_deref(), Some("MultiQueryRetriever"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Serialized {
    /// The component's path, most general first (e.g. `["llm", "openai", "ChatOpenAI"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id: Vec<String>,
    /// The component's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The component's constructor arguments (never secrets).
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub kwargs: Metadata,
}

impl Serialized {
    /// A component with this id path; its name is the last segment.
    pub fn new<I, S>(id: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let id: Vec<String> = id.into_iter().map(Into::into).collect();
        Self {
            name: id.last().cloned(),
            id,
            kwargs: Metadata::new(),
        }
    }

    /// A component known only by its name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// True when a segment of the id contains `needle`.
    pub fn id_contains(&self, needle: &str) -> bool {
        self.id.iter().any(|segment| segment.contains(needle))
    }
}
