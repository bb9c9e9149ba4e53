//! The in-memory RAG pipeline the examples share, instrumented end to end through the
//! callback managers.
//!
//! - [`Corpus`]: short documents about the solar system, shipped in `data/corpus.json` and
//!   compiled in, so nothing is read at run time.
//! - [`KeywordRetriever`]: ranks documents by the content words they share with a query;
//!   [`compress`] is the compressor of the contextual compression retriever.
//! - [`llm::StandInLlm`]: a deterministic model that answers from the context in its prompt
//!   and streams its answer word by word.
//! - [`Pipeline`]: the three flows the UpTrain handler evaluates, for
//!   [`CallbackManager`](llm_callbacks::CallbackManager) and
//!   [`AsyncCallbackManager`](llm_callbacks::AsyncCallbackManager): RAG with a keyword,
//!   multi-query or contextual compression retriever ([`Retrieval`]), or a retriever alone.
//! - [`score_table`]: the table of scores the examples end with; [`UsageSummary`]: the
//!   tokens and cost of every model run, summed.
//!
//! ```
//! use std::sync::Arc;
//! use examples::{Pipeline, Retrieval};
//! use llm_callbacks::CallbackManager;
//! use llm_callbacks::uptrain::{Check, UptrainHandler};
//!
//! let uptrain = Arc::new(UptrainHandler::builder().log_results(false).build()?); // offline
//! let manager = CallbackManager::new().with_handler(uptrain.clone());
//! let pipeline = Pipeline::shipped()?;
//!
//! let answer = pipeline.answer(&manager, "How long is a day on Venus?", Retrieval::MultiQuery)?;
//! assert_eq!(answer.retrieved.variants.len(), 3);
//!
//! let rows = uptrain.flush();
//! let projects: Vec<&str> = rows.iter().map(|r| r.project.as_str()).collect();
//! assert_eq!(projects, ["langchain_multi_query", "langchain_rag"]);
//! assert_eq!(rows[1].input["response"], answer.response.as_str());
//! assert_eq!(rows[1].score(Check::FactualAccuracy), Some(1.0)); // quoted from the context
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod corpus;
pub mod llm;
#[cfg(feature = "openai")]
pub mod openai_rag;
pub mod pipeline;
pub mod retriever;
pub mod table;
pub mod text;
pub mod usage;

pub use corpus::{Corpus, CorpusError};
pub use pipeline::{Answer, Pipeline, QUESTIONS, RAG_CHAIN, Retrieval, Retrieved, RunIds};
pub use retriever::{KeywordRetriever, compress, unique_union};
pub use table::score_table;
pub use usage::{UsageSummary, UsageTotals};

/// The READMEs of the core and the macros, run as doctests here, where every crate is at hand
/// (the facade runs its own README; uptrain-plugin's shows fragments).
#[cfg(doctest)]
mod readmes {
    #[doc = include_str!("../../handler-core/README.md")]
    struct HandlerCore;

    #[doc = include_str!("../../handler-macros/README.md")]
    struct HandlerMacros;
}
