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
//! Each step exists twice, for [`CallbackManager`] and for [`AsyncCallbackManager`]; the
//! work itself (search, compression, completion) is shared.

use llm_callbacks::payload::{Document, Serialized};
use llm_callbacks::{AsyncCallbackManager, CallbackError, CallbackManager, RunOptions, Uuid};
use serde_json::json;

use crate::corpus::{Corpus, CorpusError};
use crate::llm::{StandInLlm, multi_query_prompt, rag_prompt};
use crate::retriever::{KeywordRetriever, compress, unique_union};

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

    // ---- CallbackManager ----

    /// Answers `question` through `manager`: the outer `rag` chain, the retriever step, the
    /// prompt step and the streamed model run (see the [module docs](self)).
    pub fn answer(
        &self,
        manager: &CallbackManager,
        question: &str,
        retrieval: Retrieval,
    ) -> Result<Answer, CallbackError> {
        let chain = manager.on_chain_start(
            Some(&components::sequence()),
            &json!({ "question": question }),
            RunOptions::named(RAG_CHAIN),
        )?;
        let steps = chain.child();
        let retrieved = self.retrieve(&steps, question, retrieval)?;

        let prompt_run = steps.on_chain_start(
            Some(&components::prompt()),
            &Self::prompt_inputs(question, &retrieved.documents),
            RunOptions::named("prompt"),
        )?;
        let prompt = rag_prompt(question, &retrieved.documents);
        let prompt_id = prompt_run.run_id();
        prompt_run.on_chain_end(&json!({ "prompt": prompt }))?;

        let (llm, response, tokens) = self.generate(&steps, &prompt, true)?;
        let chain_id = chain.run_id();
        chain.on_chain_end(&json!({ "answer": response }))?;
        Ok(Answer {
            question: question.to_owned(),
            retrieval,
            runs: RunIds {
                chain: chain_id,
                retriever: retrieved.run_id,
                prompt: prompt_id,
                llm,
            },
            retrieved,
            prompt,
            response,
            tokens,
        })
    }

    /// Runs only the retriever step for `question` through `manager` (at the top level when
    /// `manager` has no parent run, as `retriever.invoke(question)` does in LangChain).
    pub fn retrieve(
        &self,
        manager: &CallbackManager,
        question: &str,
        retrieval: Retrieval,
    ) -> Result<Retrieved, CallbackError> {
        let run = manager.on_retriever_start(
            Some(&retrieval.serialized()),
            question,
            RunOptions::named(retrieval.run_name()),
        )?;
        let mut retrieved = Retrieved {
            run_id: run.run_id(),
            documents: Vec::new(),
            variants: Vec::new(),
            candidates: Vec::new(),
        };
        match retrieval {
            Retrieval::Keyword => retrieved.documents = self.search(question, self.top_k),
            Retrieval::MultiQuery => {
                let inner = run.child();
                let prompt = self.rephrasing_prompt(question);
                let (_, completion, _) = self.generate(&inner, &prompt, false)?;
                retrieved.variants = Self::variants_of(&completion);
                let mut lists = Vec::with_capacity(retrieved.variants.len());
                for variant in &retrieved.variants {
                    lists.push(
                        self.retrieve(&inner, variant, Retrieval::Keyword)?
                            .documents,
                    );
                }
                retrieved.documents = unique_union(lists.iter().map(Vec::as_slice));
            }
            Retrieval::Compression => {
                let base = run.child().on_retriever_start(
                    Some(&components::keyword_retriever()),
                    question,
                    RunOptions::named("KeywordRetriever"),
                )?;
                retrieved.candidates = self.search(question, self.candidates_k);
                base.on_retriever_end(&retrieved.candidates)?;
                retrieved.documents = compress(question, &retrieved.candidates);
            }
        }
        run.on_retriever_end(&retrieved.documents)?;
        Ok(retrieved)
    }

    /// One model run on `prompt`; streams its tokens when `stream`. Returns the run id, the
    /// text and the number of tokens streamed.
    fn generate(
        &self,
        manager: &CallbackManager,
        prompt: &str,
        stream: bool,
    ) -> Result<(Uuid, String, usize), CallbackError> {
        let run = manager.on_llm_start(
            &components::llm(),
            prompt,
            RunOptions::named(StandInLlm::MODEL_NAME),
        )?;
        let text = self.llm.complete(prompt);
        {
            let mut streamed = 0;
            if stream {
                for token in StandInLlm::tokens(&text) {
                    if !self.llm.token_delay.is_zero() {
                        std::thread::sleep(self.llm.token_delay);
                    }
                    run.on_llm_new_token(token, None)?;
                    streamed += 1;
                }
            }
            let run_id = run.run_id();
            run.on_llm_end(&StandInLlm::result(prompt, &text))?;
            Ok((run_id, text, streamed))
        }
    }

    // ---- AsyncCallbackManager ----

    /// [`answer`](Self::answer) through an [`AsyncCallbackManager`].
    pub async fn answer_async(
        &self,
        manager: &AsyncCallbackManager,
        question: &str,
        retrieval: Retrieval,
    ) -> Result<Answer, CallbackError> {
        let chain = manager
            .on_chain_start(
                Some(&components::sequence()),
                &json!({ "question": question }),
                RunOptions::named(RAG_CHAIN),
            )
            .await?;
        let steps = chain.child();
        let retrieved = self.retrieve_async(&steps, question, retrieval).await?;

        let prompt_run = steps
            .on_chain_start(
                Some(&components::prompt()),
                &Self::prompt_inputs(question, &retrieved.documents),
                RunOptions::named("prompt"),
            )
            .await?;
        let prompt = rag_prompt(question, &retrieved.documents);
        let prompt_id = prompt_run.run_id();
        prompt_run
            .on_chain_end(&json!({ "prompt": prompt }))
            .await?;

        let (llm, response, tokens) = self.generate_async(&steps, &prompt, true).await?;
        let chain_id = chain.run_id();
        chain.on_chain_end(&json!({ "answer": response })).await?;
        Ok(Answer {
            question: question.to_owned(),
            retrieval,
            runs: RunIds {
                chain: chain_id,
                retriever: retrieved.run_id,
                prompt: prompt_id,
                llm,
            },
            retrieved,
            prompt,
            response,
            tokens,
        })
    }

    /// [`retrieve`](Self::retrieve) through an [`AsyncCallbackManager`].
    pub async fn retrieve_async(
        &self,
        manager: &AsyncCallbackManager,
        question: &str,
        retrieval: Retrieval,
    ) -> Result<Retrieved, CallbackError> {
        let run = manager
            .on_retriever_start(
                Some(&retrieval.serialized()),
                question,
                RunOptions::named(retrieval.run_name()),
            )
            .await?;
        let mut retrieved = Retrieved {
            run_id: run.run_id(),
            documents: Vec::new(),
            variants: Vec::new(),
            candidates: Vec::new(),
        };
        match retrieval {
            Retrieval::Keyword => retrieved.documents = self.search(question, self.top_k),
            Retrieval::MultiQuery => {
                let inner = run.child();
                let prompt = self.rephrasing_prompt(question);
                let (_, completion, _) = self.generate_async(&inner, &prompt, false).await?;
                retrieved.variants = Self::variants_of(&completion);
                let mut lists = Vec::with_capacity(retrieved.variants.len());
                for variant in &retrieved.variants {
                    // Boxed: the keyword step is the same function, one level down.
                    let step = Box::pin(self.retrieve_async(&inner, variant, Retrieval::Keyword));
                    lists.push(step.await?.documents);
                }
                retrieved.documents = unique_union(lists.iter().map(Vec::as_slice));
            }
            Retrieval::Compression => {
                let base = run
                    .child()
                    .on_retriever_start(
                        Some(&components::keyword_retriever()),
                        question,
                        RunOptions::named("KeywordRetriever"),
                    )
                    .await?;
                retrieved.candidates = self.search(question, self.candidates_k);
                base.on_retriever_end(&retrieved.candidates).await?;
                retrieved.documents = compress(question, &retrieved.candidates);
            }
        }
        run.on_retriever_end(&retrieved.documents).await?;
        Ok(retrieved)
    }

    async fn generate_async(
        &self,
        manager: &AsyncCallbackManager,
        prompt: &str,
        stream: bool,
    ) -> Result<(Uuid, String, usize), CallbackError> {
        let run = manager
            .on_llm_start(
                &components::llm(),
                prompt,
                RunOptions::named(StandInLlm::MODEL_NAME),
            )
            .await?;
        let text = self.llm.complete(prompt);
        {
            let mut streamed = 0;
            if stream {
                for token in StandInLlm::tokens(&text) {
                    if !self.llm.token_delay.is_zero() {
                        tokio::time::sleep(self.llm.token_delay).await;
                    }
                    run.on_llm_new_token(token, None).await?;
                    streamed += 1;
                }
            }
            let run_id = run.run_id();
            run.on_llm_end(&StandInLlm::result(prompt, &text)).await?;
            Ok((run_id, text, streamed))
        }
    }
}
