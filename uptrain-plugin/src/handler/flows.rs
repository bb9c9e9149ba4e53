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

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use handler_core::payload::{Document, Serialized};
use handler_core::{RunContext, Uuid};
use serde_json::Value;

use crate::check::Check;
use crate::row::Row;

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

/// A RAG chain waiting for its response.
#[derive(Debug)]
struct PendingRag {
    question: String,
    context: String,
    /// The run ids it is reachable from: the chain's and its parent's.
    anchors: Vec<Uuid>,
    /// The chain's tree root.
    root_run_id: Option<Uuid>,
    /// Its entry in the expiry queue.
    stamp: u64,
}

/// A run still open.
#[derive(Debug, Clone, Copy)]
struct Open {
    parent: Option<Uuid>,
    stamp: u64,
}

/// What an expiry entry stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Run(Uuid),
    Rag(Uuid),
}

#[derive(Debug)]
struct MultiQuery {
    question: String,
    variants: Vec<String>,
}

#[derive(Debug)]
struct Compression {
    question: String,
    context: Option<String>,
}

/// Per-run state of the flows being watched.
#[derive(Debug)]
pub(crate) struct Tracker {
    ttl: Duration,
    max_runs: usize,
    /// Entries in start order: (what, stamp, when). An entry whose stamp no longer matches
    /// its state is stale and skipped.
    expiry: VecDeque<(Key, u64, Instant)>,
    next_stamp: u64,
    /// Runs (and RAG chains) forgotten by the time-to-live or the cap.
    expired: u64,
    /// Parent of every run still open.
    parents: HashMap<Uuid, Open>,
    /// Anchor run id → the RAG chain it leads to.
    rag_anchors: HashMap<Uuid, Uuid>,
    /// RAG chain run id → what it waits with.
    rag: HashMap<Uuid, PendingRag>,
    multi_query: HashMap<Uuid, MultiQuery>,
    compression: HashMap<Uuid, Compression>,
    /// A retriever nested in a compression retriever → that compression retriever.
    compression_inner: HashMap<Uuid, Uuid>,
    /// Open chains → the question their inputs carry, if any.
    chains: HashMap<Uuid, Option<String>>,
    /// Open plain retrievers (not multi-query, compression, or nested in one) → their query.
    plain_retrievers: HashMap<Uuid, String>,
}

impl Tracker {
    pub(crate) fn new(ttl: Duration, max_runs: usize) -> Self {
        Self {
            ttl,
            max_runs: max_runs.max(1),
            expiry: VecDeque::new(),
            next_stamp: 0,
            expired: 0,
            parents: HashMap::new(),
            rag_anchors: HashMap::new(),
            rag: HashMap::new(),
            multi_query: HashMap::new(),
            compression: HashMap::new(),
            compression_inner: HashMap::new(),
            chains: HashMap::new(),
            plain_retrievers: HashMap::new(),
        }
    }

    /// Runs tracked now (open runs and RAG chains waiting for an answer).
    pub(crate) fn tracked(&self) -> usize {
        self.parents.len() + self.rag.len()
    }

    /// Runs forgotten so far by the time-to-live or the cap.
    pub(crate) fn expired(&self) -> u64 {
        self.expired
    }

    fn stamp(&mut self, key: Key) -> u64 {
        self.next_stamp += 1;
        self.expiry
            .push_back((key, self.next_stamp, Instant::now()));
        self.next_stamp
    }

    fn is_live(&self, key: Key, stamp: u64) -> bool {
        match key {
            Key::Run(id) => self.parents.get(&id).is_some_and(|o| o.stamp == stamp),
            Key::Rag(id) => self.rag.get(&id).is_some_and(|r| r.stamp == stamp),
        }
    }

    /// Forgets runs past their time-to-live, and the oldest beyond the cap; drops stale
    /// expiry entries so the queue stays proportional to what is tracked.
    fn prune(&mut self) {
        let now = Instant::now();
        while let Some(&(key, stamp, since)) = self.expiry.front() {
            if !self.is_live(key, stamp) {
                self.expiry.pop_front();
                continue;
            }
            let too_old = now.duration_since(since) >= self.ttl;
            if !too_old && self.tracked() <= self.max_runs {
                break;
            }
            self.expiry.pop_front();
            self.expired += 1;
            match key {
                Key::Run(id) => {
                    tracing::debug!(run_id = %id, "UpTrain: forgetting a run that never ended");
                    self.run_ended(id);
                }
                Key::Rag(id) => self.forget_rag(id),
            }
        }
        // Entries of runs that ended behind a long-lived one pile up: compact now and then.
        if self.expiry.len() > 2 * self.tracked() + 64 {
            let live: Vec<_> = self
                .expiry
                .iter()
                .copied()
                .filter(|&(key, stamp, _)| self.is_live(key, stamp))
                .collect();
            self.expiry = live.into();
        }
    }

    /// Remembers where a run sits in the tree. A run that names itself as its parent is a
    /// root; a run id that is already open is restarted (its old place is replaced).
    pub(crate) fn run_started(&mut self, run: &RunContext) {
        let parent = run.parent_run_id.filter(|p| *p != run.run_id);
        let stamp = self.stamp(Key::Run(run.run_id));
        self.parents.insert(run.run_id, Open { parent, stamp });
        self.prune();
    }

    /// The run's ancestors, nearest first (not the run itself). At most as many steps as
    /// there are tracked runs, so a loop of parents cannot hang the walk.
    fn ancestors(&self, run_id: Uuid) -> impl Iterator<Item = Uuid> + '_ {
        let parent_of = |id: &Uuid| self.parents.get(id).and_then(|o| o.parent);
        let mut next = parent_of(&run_id);
        let mut steps = self.parents.len();
        std::iter::from_fn(move || {
            if steps == 0 {
                return None;
            }
            steps -= 1;
            let current = next?;
            next = parent_of(&current);
            Some(current)
        })
    }

    /// Drops a RAG chain's pending state and the anchors that lead to it.
    fn forget_rag(&mut self, chain: Uuid) {
        if let Some(pending) = self.rag.remove(&chain) {
            for anchor in &pending.anchors {
                if self.rag_anchors.get(anchor) == Some(&chain) {
                    self.rag_anchors.remove(anchor);
                }
            }
        }
    }

    pub(crate) fn chain_started(&mut self, run: &RunContext, inputs: &Value) {
        self.run_started(run);
        self.chains.insert(run.run_id, question_of(inputs));
        let (Some(question), Some(context)) = (
            inputs.get("question").and_then(Value::as_str),
            inputs.get("context").and_then(context_text),
        ) else {
            return;
        };
        let mut anchors = vec![run.run_id];
        anchors.extend(run.parent_run_id.filter(|p| *p != run.run_id));
        // A chain id that repeats replaces its own older state.
        self.forget_rag(run.run_id);
        for anchor in &anchors {
            // A newer RAG chain under the same anchor replaces an unanswered older one.
            if let Some(old) = self.rag_anchors.insert(*anchor, run.run_id)
                && old != run.run_id
            {
                self.forget_rag_if_unreachable(old);
            }
        }
        let stamp = self.stamp(Key::Rag(run.run_id));
        self.rag.insert(
            run.run_id,
            PendingRag {
                question: question.to_owned(),
                context,
                anchors,
                root_run_id: run.root_run_id,
                stamp,
            },
        );
        self.prune();
    }

    fn forget_rag_if_unreachable(&mut self, chain: Uuid) {
        let reachable = self.rag.get(&chain).is_some_and(|pending| {
            pending
                .anchors
                .iter()
                .any(|a| self.rag_anchors.get(a) == Some(&chain))
        });
        if !reachable {
            self.forget_rag(chain);
        }
    }

    /// An LLM run ended with `response`: completes the nearest waiting RAG chain.
    pub(crate) fn llm_ended(&mut self, run: &RunContext, response: Option<&str>) -> Option<Job> {
        let chain = self
            .ancestors(run.run_id)
            .find_map(|a| self.rag_anchors.get(&a).copied());
        self.run_ended(run.run_id);
        let chain = chain?;
        let pending = self.rag.remove(&chain)?;
        for anchor in &pending.anchors {
            if self.rag_anchors.get(anchor) == Some(&chain) {
                self.rag_anchors.remove(anchor);
            }
        }
        let mut row = Row::new();
        row.insert("question".into(), pending.question.into());
        row.insert("context".into(), pending.context.into());
        row.insert("response".into(), response.unwrap_or_default().into());
        Some(Job {
            flow: Flow::Rag,
            run_id: chain,
            root_run_id: pending.root_run_id,
            row,
        })
    }

    pub(crate) fn retriever_started(
        &mut self,
        run: &RunContext,
        serialized: Option<&Serialized>,
        query: &str,
    ) {
        self.run_started(run);
        let id_contains = |needle| serialized.is_some_and(|s| s.id_contains(needle));
        if id_contains("multi_query") {
            self.multi_query.insert(
                run.run_id,
                MultiQuery {
                    question: query.to_owned(),
                    variants: Vec::new(),
                },
            );
            return;
        }
        if id_contains("contextual_compression") {
            self.compression.insert(
                run.run_id,
                Compression {
                    question: query.to_owned(),
                    context: None,
                },
            );
            return;
        }
        let ancestors: Vec<Uuid> = self.ancestors(run.run_id).collect();
        if let Some(outer) = ancestors.iter().find(|a| self.multi_query.contains_key(a))
            && let Some(mq) = self.multi_query.get_mut(outer)
            && mq.variants.len() < MAX_VARIANTS
        {
            mq.variants.push(query.to_owned());
        }
        if let Some(outer) = ancestors.iter().find(|a| self.compression.contains_key(a)) {
            self.compression_inner.insert(run.run_id, *outer);
            return;
        }
        if !ancestors.iter().any(|a| self.multi_query.contains_key(a)) {
            self.plain_retrievers.insert(run.run_id, query.to_owned());
        }
    }

    pub(crate) fn retriever_ended(
        &mut self,
        run: &RunContext,
        documents: &[Document],
    ) -> Option<Job> {
        let job = self.finish_retriever(run.run_id, documents).map(|job| Job {
            root_run_id: run.root_run_id,
            ..job
        });
        if let Some(query) = self.plain_retrievers.remove(&run.run_id) {
            self.observe_retrieval(run, query, documents);
        }
        self.run_ended(run.run_id);
        job
    }

    /// RAG recognised from what happened: a plain retriever returned documents inside a chain,
    /// so the next model answer in that chain is graded against them. The question is the
    /// chain's (its `question`, `query` or `input`, or its only text input), else the
    /// retriever's query. A chain recognised by its `{question, context}` inputs, or one that
    /// already waits for an answer, keeps what it has.
    fn observe_retrieval(&mut self, run: &RunContext, query: String, documents: &[Document]) {
        if documents.is_empty() {
            return;
        }
        let Some(chain) = self
            .ancestors(run.run_id)
            .find(|a| self.chains.contains_key(a))
        else {
            return;
        };
        if self.rag.contains_key(&chain) || self.rag_anchors.contains_key(&chain) {
            return;
        }
        let question = self.chains.get(&chain).cloned().flatten().unwrap_or(query);
        self.rag_anchors.insert(chain, chain);
        let stamp = self.stamp(Key::Rag(chain));
        self.rag.insert(
            chain,
            PendingRag {
                question,
                context: numbered(documents),
                anchors: vec![chain],
                root_run_id: run.root_run_id,
                stamp,
            },
        );
        self.prune();
    }

    fn finish_retriever(&mut self, run_id: Uuid, documents: &[Document]) -> Option<Job> {
        if let Some(outer) = self.compression_inner.remove(&run_id) {
            if let Some(compression) = self.compression.get_mut(&outer) {
                compression.context = Some(numbered(documents));
            }
            return None;
        }
        if let Some(mq) = self.multi_query.remove(&run_id) {
            let mut row = Row::new();
            row.insert("question".into(), mq.question.into());
            row.insert("variants".into(), mq.variants.into());
            return Some(Job {
                flow: Flow::MultiQuery,
                run_id,
                root_run_id: None,
                row,
            });
        }
        let compression = self.compression.remove(&run_id)?;
        let Some(context) = compression.context else {
            tracing::warn!(
                %run_id,
                "contextual compression retriever ended without a nested base retriever: \
                 no original context to compare with, not evaluated"
            );
            return None;
        };
        let concise = numbered(documents);
        let mut row = Row::new();
        row.insert("question".into(), compression.question.into());
        row.insert("context".into(), context.into());
        row.insert("concise_context".into(), concise.clone().into());
        row.insert("reranked_context".into(), concise.into());
        Some(Job {
            flow: Flow::ContextReranking,
            run_id,
            root_run_id: None,
            row,
        })
    }

    /// Drops the state of a run that ended (or failed).
    pub(crate) fn run_ended(&mut self, run_id: Uuid) {
        self.parents.remove(&run_id);
        self.multi_query.remove(&run_id);
        self.compression.remove(&run_id);
        self.compression_inner.remove(&run_id);
        self.chains.remove(&run_id);
        self.plain_retrievers.remove(&run_id);
        if let Some(chain) = self.rag_anchors.remove(&run_id) {
            self.forget_rag_if_unreachable(chain);
        }
    }

    /// How many runs the tracker holds state for (for leak tests).
    #[cfg(test)]
    fn open_state(&self) -> usize {
        self.parents.len()
            + self.rag_anchors.len()
            + self.rag.len()
            + self.multi_query.len()
            + self.compression.len()
            + self.compression_inner.len()
            + self.chains.len()
            + self.plain_retrievers.len()
    }

    /// Entries in the expiry queue (for leak tests).
    #[cfg(test)]
    fn queued(&self) -> usize {
        self.expiry.len()
    }
}

/// The question a chain's inputs carry: its `question`, `query` or `input` text, the inputs
/// themselves when they are a text, or their only text value.
fn question_of(inputs: &Value) -> Option<String> {
    if let Some(text) = inputs.as_str() {
        return Some(text.to_owned());
    }
    let object = inputs.as_object()?;
    for key in ["question", "query", "input"] {
        if let Some(text) = object.get(key).and_then(Value::as_str) {
            return Some(text.to_owned());
        }
    }
    let mut texts = object.values().filter_map(Value::as_str);
    match (texts.next(), texts.next()) {
        (Some(only), None) => Some(only.to_owned()),
        _ => None,
    }
}

/// The text of a chain's `context` input: a string, or documents / strings joined by newlines.
fn context_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Array(items) => {
            let texts: Option<Vec<&str>> = items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Some(text.as_str()),
                    other => other.get("page_content").and_then(Value::as_str),
                })
                .collect();
            texts.map(|t| t.join("\n"))
        }
        Value::Object(_) => value
            .get("page_content")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// Documents rendered `1. text\n2. text`.
fn numbered(documents: &[Document]) -> String {
    documents
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{}. {}", i + 1, d.page_content))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests;
