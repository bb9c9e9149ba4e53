//! The instrumented pipeline: every step reports its run to the manager, shaped as LangChain
//! shapes an LCEL RAG chain, so that any handler (the UpTrain one included) sees the runs it
//! would see from LangChain.
//!
//! ```text
//! chain "rag" {question}                       RunnableSequence
//! ├── retriever (question)                     one of the three retrievers below
//! ├── chain "prompt" {question, context}       ChatPromptTemplate
//! └── llm (rendered prompt)                    StandInLlm, streaming tokens
//!
//! keyword:      retriever "KeywordRetriever" (question) → documents
//! multi-query:  retriever "MultiQueryRetriever" (question)
//!               ├── llm (rephrasing prompt) → variants, one per line
//!               └── retriever "KeywordRetriever" (variant), once per variant
//!               → the unique union of their documents
//! compression:  retriever "ContextualCompressionRetriever" (question)
//!               └── retriever "KeywordRetriever" (question) → candidates
//!               → the candidates, compressed and reranked
//! ```
//!
//! Each step exists twice, for [`CallbackManager`](llm_callbacks::CallbackManager) (in
//! `steps`) and for [`AsyncCallbackManager`](llm_callbacks::AsyncCallbackManager) (in
//! `async_steps`); the work itself (search, compression, completion) is shared, here.

use llm_callbacks::Uuid;
use llm_callbacks::payload::{Document, Serialized};
use serde_json::json;

mod async_steps;
mod steps;

use crate::corpus::{Corpus, CorpusError};
use crate::llm::{StandInLlm, multi_query_prompt};
use crate::retriever::KeywordRetriever;

/// The name of the outer chain run.
pub const RAG_CHAIN: &str = "rag";

/// Questions the shipped corpus answers, each from a different passage.
pub const QUESTIONS: &[&str] = &[
    "How long is a day on Venus?",
    "What are the rings of Saturn made of?",
    "Which planet has the Great Red Spot?",
    "When did Voyager 1 reach interstellar space?",
    "Why is Mars called the red planet?",
    "What is the tallest volcano in the solar system?",
    "When did Apollo 11 land on the Moon?",
    "How fast are the winds on Neptune?",
    "Why does Uranus rotate on its side?",
    "When was Pluto reclassified as a dwarf planet?",
    "How long does sunlight take to reach Earth?",
    "What is the largest moon in the solar system?",
    "When was the Hubble Space Telescope launched?",
];

/// The serialized forms the runs report: LangChain's ids where LangChain has the component
/// (the UpTrain handler recognises the retrievers by them), ours for the stand-ins.
pub mod components {
    use llm_callbacks::payload::Serialized;

    /// The outer chain.
    pub fn sequence() -> Serialized {
        Serialized::new(["langchain", "schema", "runnable", "RunnableSequence"])
    }

    /// The prompt step, whose inputs are `{question, context}`.
    pub fn prompt() -> Serialized {
        Serialized::new(["langchain", "prompts", "chat", "ChatPromptTemplate"])
    }

    /// The stand-in model.
    pub fn llm() -> Serialized {
        Serialized::new(["examples", "llms", "StandInLlm"])
    }

    /// The keyword retriever.
    pub fn keyword_retriever() -> Serialized {
        Serialized::new(["examples", "retrievers", "KeywordRetriever"])
    }

    /// A multi-query retriever: its id contains `multi_query`.
    pub fn multi_query_retriever() -> Serialized {
        Serialized::new([
            "langchain",
            "retrievers",
            "multi_query",
            "MultiQueryRetriever",
        ])
    }

    /// A contextual compression retriever: its id contains `contextual_compression`.
    pub fn compression_retriever() -> Serialized {
        Serialized::new([
            "langchain",
            "retrievers",
            "contextual_compression",
            "ContextualCompressionRetriever",
        ])
    }
}

/// How the pipeline finds its context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retrieval {
    /// The keyword retriever, once.
    Keyword,
    /// A multi-query retriever: the model rephrases the question, the keyword retriever runs
    /// once per variant.
    MultiQuery,
    /// A contextual compression retriever over the keyword retriever.
    Compression,
}

impl Retrieval {
    /// Every kind, in the order the examples show them.
    pub const ALL: [Retrieval; 3] = [
        Retrieval::Keyword,
        Retrieval::MultiQuery,
        Retrieval::Compression,
    ];

    /// A short label.
    pub fn label(self) -> &'static str {
        match self {
            Retrieval::Keyword => "keyword",
            Retrieval::MultiQuery => "multi-query",
            Retrieval::Compression => "compression",
        }
    }

    fn serialized(self) -> Serialized {
        match self {
            Retrieval::Keyword => components::keyword_retriever(),
            Retrieval::MultiQuery => components::multi_query_retriever(),
            Retrieval::Compression => components::compression_retriever(),
        }
    }

    fn run_name(self) -> &'static str {
        match self {
            Retrieval::Keyword => "KeywordRetriever",
            Retrieval::MultiQuery => "MultiQueryRetriever",
            Retrieval::Compression => "ContextualCompressionRetriever",
        }
    }
}

/// What a retriever step returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieved {
    /// The retriever's run id.
    pub run_id: Uuid,
    /// The documents it returned.
    pub documents: Vec<Document>,
    /// Multi-query: the variants the model wrote. Empty otherwise.
    pub variants: Vec<String>,
    /// Compression: the base retriever's documents, before compression. Empty otherwise.
    pub candidates: Vec<Document>,
}

/// The run ids of one answered question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunIds {
    /// The outer `rag` chain.
    pub chain: Uuid,
    /// The (outer) retriever.
    pub retriever: Uuid,
    /// The prompt step, the chain whose inputs are `{question, context}`.
    pub prompt: Uuid,
    /// The model run that wrote the answer.
    pub llm: Uuid,
}

/// One answered question, with everything an evaluator would look at.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The question.
    pub question: String,
    /// How the context was found.
    pub retrieval: Retrieval,
    /// What the retriever step returned.
    pub retrieved: Retrieved,
    /// The prompt the model got.
    pub prompt: String,
    /// The model's answer.
    pub response: String,
    /// The tokens the model streamed.
    pub tokens: usize,
    /// The runs' ids.
    pub runs: RunIds,
}

impl Answer {
    /// The context as one text: the documents' texts, one per line (what the prompt step's
    /// `context` input amounts to).
    pub fn context_text(&self) -> String {
        self.retrieved
            .documents
            .iter()
            .map(|d| d.page_content.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The in-memory RAG pipeline: a corpus, a keyword retriever and a stand-in model.
///
/// ```
/// use std::sync::Arc;
/// use examples::{Pipeline, Retrieval};
/// use llm_callbacks::CallbackManager;
/// use llm_callbacks::handlers::ConsoleHandler;
///
/// let console = Arc::new(ConsoleHandler::to_writer(Vec::new()));
/// let manager = CallbackManager::new().with_handler(console.clone());
/// let pipeline = Pipeline::shipped()?;
/// let answer = pipeline.answer(&manager, "Why is Mars called the red planet?", Retrieval::Keyword)?;
/// assert_eq!(answer.response, "Mars is called the red planet because iron oxide dust covers its surface.");
/// assert!(console.take_output().unwrap().contains("> Entering new rag chain..."));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pipeline {
    retriever: KeywordRetriever,
    llm: StandInLlm,
    top_k: usize,
    candidates_k: usize,
    variants: usize,
}

impl Pipeline {
    /// A pipeline over `corpus`: 3 documents per search, 4 candidates before compression,
    /// 3 query variants, no token delay.
    pub fn new(corpus: Corpus) -> Self {
        Self {
            retriever: KeywordRetriever::new(corpus),
            llm: StandInLlm::default(),
            top_k: 3,
            candidates_k: 4,
            variants: 3,
        }
    }

    /// A pipeline over the shipped corpus.
    pub fn shipped() -> Result<Self, CorpusError> {
        Corpus::shipped().map(Self::new)
    }

    /// Pauses this long before each streamed token (sleeping the thread in [`answer`](Self::answer),
    /// the task in [`answer_async`](Self::answer_async)).
    #[must_use]
    pub fn with_token_delay(mut self, delay: std::time::Duration) -> Self {
        self.llm.token_delay = delay;
        self
    }

    /// The keyword retriever.
    pub fn retriever(&self) -> &KeywordRetriever {
        &self.retriever
    }

    /// The stand-in model.
    pub fn llm(&self) -> &StandInLlm {
        &self.llm
    }

    // ---- the work, shared by both managers ----

    fn search(&self, query: &str, k: usize) -> Vec<Document> {
        self.retriever.search(query, k)
    }

    fn rephrasing_prompt(&self, question: &str) -> String {
        multi_query_prompt(question, self.variants)
    }

    fn variants_of(completion: &str) -> Vec<String> {
        completion
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn prompt_inputs(question: &str, documents: &[Document]) -> serde_json::Value {
        json!({ "question": question, "context": documents })
    }
}
