//! Recognising the three evaluated flows in a stream of events, with state keyed by run id.
//!
//! - **RAG**: a chain starts with inputs `{question, context}`; the response is the first
//!   generation of the next LLM run that ends under the same enclosing run (or under the chain
//!   itself). Checks: context relevance, factual accuracy, response completeness.
//! - **RAG, from what happened**: inside a chain, a plain retriever returns documents and a
//!   model then answers: the question is the chain's input (or the retriever's query), the
//!   context the documents, the response the answer. A chain of the first kind wins.
//! - **Multi-query**: a retriever whose serialized id contains `multi_query` starts with the
//!   question; the queries of the retrievers nested in it are the variants. Check: multi-query
//!   accuracy, when the multi-query retriever ends.
//! - **Contextual compression**: a retriever whose serialized id contains
//!   `contextual_compression` starts with the question; the documents of the retriever nested
//!   in it are the context, its own documents the concise and reranked context. Checks: context
//!   conciseness and context reranking, when it ends.
//!
//! Every piece of state hangs off a run id, so concurrent runs never mix, and is dropped when
//! its run ends or fails (the core reports a run manager dropped without an end as an error of
//! kind "abandoned", so that ends it too).
//!
//! Bounded whatever the events say:
//! - a run that never ends is forgotten after the time-to-live, and beyond the cap on tracked
//!   runs the oldest is forgotten first (both counted as expired);
//! - a run that names itself as its parent is taken as a root;
//! - a run id that starts again while still open replaces that run's state (one entry per id,
//!   however often it repeats);
//! - walking up the tree stops after as many steps as there are tracked runs, so a loop of
//!   parents (`a` under `b` under `a`) ends the walk instead of hanging it;
//! - a multi-query retriever keeps at most [`MAX_VARIANTS`] variants.

mod inputs;
#[cfg(test)]
mod tests;
mod tracker;

use handler_core::Uuid;

use crate::check::Check;
use crate::row::Row;

pub(crate) use tracker::Tracker;

/// One of the evaluated flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// Retrieval-augmented generation.
    Rag,
    /// A multi-query retriever.
    MultiQuery,
    /// A contextual compression retriever.
    ContextReranking,
}

impl Flow {
    /// The suffix of the project name (`<project>_rag`, ...).
    pub const fn suffix(self) -> &'static str {
        match self {
            Flow::Rag => "rag",
            Flow::MultiQuery => "multi_query",
            Flow::ContextReranking => "context_reranking",
        }
    }

    /// The checks run on this flow's rows.
    pub const fn checks(self) -> &'static [Check] {
        match self {
            Flow::Rag => &Check::RAG,
            Flow::MultiQuery => &[Check::MultiQueryAccuracy],
            Flow::ContextReranking => &[Check::ContextConciseness, Check::ContextReranking],
        }
    }
}

/// An evaluation the tracker asks for: one row of one flow, from one run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Job {
    pub(crate) flow: Flow,
    pub(crate) run_id: Uuid,
    /// The root of the graded run's tree (its trace), when it is not the run itself.
    pub(crate) root_run_id: Option<Uuid>,
    pub(crate) row: Row,
}

/// Variants kept per multi-query retriever, at most.
pub(crate) const MAX_VARIANTS: usize = 64;
