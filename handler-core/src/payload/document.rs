//! Retrieved documents.

use serde::{Deserialize, Serialize};

use super::Metadata;

/// A document returned by a retriever: its text, its metadata and an optional id.
///
/// ```
/// use handler_core::payload::Document;
///
/// let doc = Document::new("Paris is the capital of France.").with_id("fr-1");
/// assert_eq!(doc.id.as_deref(), Some("fr-1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Document {
    /// The document's text.
    pub page_content: String,
    /// Where the document came from, its score, and anything else the retriever knows.
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    /// The document's identifier in its store, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Document {
    /// A document with this text, no metadata and no id.
    pub fn new(page_content: impl Into<String>) -> Self {
        Self {
            page_content: page_content.into(),
            ..Self::default()
        }
    }

    /// Sets the document's id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Adds one metadata entry.
    #[must_use]
    pub fn with_metadata(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}
