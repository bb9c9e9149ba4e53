//! The corpus shipped with the examples: short documents about the solar system, compiled into
//! the binary from `data/corpus.json`, so the pipeline needs no files and no network.

use std::fmt;

use llm_callbacks::payload::Document;
use serde::Deserialize;

/// The shipped corpus, as JSON: an array of `{id, title, text}`.
pub const CORPUS_JSON: &str = include_str!("../data/corpus.json");

#[derive(Deserialize)]
struct Entry {
    id: String,
    title: String,
    text: String,
}

/// Why a corpus could not be loaded.
#[derive(Debug)]
pub struct CorpusError(serde_json::Error);

impl fmt::Display for CorpusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid corpus: {}", self.0)
    }
}

impl std::error::Error for CorpusError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A set of documents to retrieve from.
///
/// ```
/// let corpus = examples::Corpus::shipped()?;
/// assert!(corpus.len() >= 10);
/// let saturn = corpus.documents().iter().find(|d| d.id.as_deref() == Some("saturn")).unwrap();
/// assert_eq!(saturn.metadata["title"], "Saturn");
/// # Ok::<(), examples::CorpusError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Corpus {
    documents: Vec<Document>,
}

impl Corpus {
    /// The corpus shipped in `examples/data/corpus.json`.
    pub fn shipped() -> Result<Self, CorpusError> {
        Self::from_json(CORPUS_JSON)
    }

    /// A corpus from JSON shaped like the shipped one: `[{"id", "title", "text"}, ...]`.
    pub fn from_json(json: &str) -> Result<Self, CorpusError> {
        let entries: Vec<Entry> = serde_json::from_str(json).map_err(CorpusError)?;
        Ok(Self {
            documents: entries
                .into_iter()
                .map(|e| {
                    Document::new(e.text)
                        .with_id(e.id)
                        .with_metadata("title", e.title)
                })
                .collect(),
        })
    }

    /// The documents, in file order.
    pub fn documents(&self) -> &[Document] {
        &self.documents
    }

    /// How many documents there are.
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }
}
