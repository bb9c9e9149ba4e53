//! The tracker: per-run state of the flows being watched, bounded by a time-to-live and a cap,
//! turning events into [`Job`]s.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use handler_core::payload::{Document, Serialized};
use handler_core::{RunContext, Uuid};
use serde_json::Value;

use super::inputs::{context_text, numbered, question_of};
use super::{Flow, Job, MAX_VARIANTS};
use crate::row::Row;

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

/// A multi-query retriever waiting for its nested queries.
#[derive(Debug)]
struct PendingMultiQuery {
    question: String,
    variants: Vec<String>,
}

/// A contextual compression retriever (the context-reranking flow) waiting for the documents
/// of the retriever nested in it.
#[derive(Debug)]
struct PendingReranking {
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
    multi_query: HashMap<Uuid, PendingMultiQuery>,
    reranking: HashMap<Uuid, PendingReranking>,
    /// A retriever nested in a contextual compression retriever → that retriever.
    reranking_inner: HashMap<Uuid, Uuid>,
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
            reranking: HashMap::new(),
            reranking_inner: HashMap::new(),
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
    pub(super) fn ancestors(&self, run_id: Uuid) -> impl Iterator<Item = Uuid> + '_ {
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
                PendingMultiQuery {
                    question: query.to_owned(),
                    variants: Vec::new(),
                },
            );
            return;
        }
        if id_contains("contextual_compression") {
            self.reranking.insert(
                run.run_id,
                PendingReranking {
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
        if let Some(outer) = ancestors.iter().find(|a| self.reranking.contains_key(a)) {
            self.reranking_inner.insert(run.run_id, *outer);
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
        if let Some(outer) = self.reranking_inner.remove(&run_id) {
            if let Some(reranking) = self.reranking.get_mut(&outer) {
                reranking.context = Some(numbered(documents));
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
        let reranking = self.reranking.remove(&run_id)?;
        let Some(context) = reranking.context else {
            tracing::warn!(
                %run_id,
                "contextual compression retriever ended without a nested base retriever: \
                 no original context to compare with, not evaluated"
            );
            return None;
        };
        let concise = numbered(documents);
        let mut row = Row::new();
        row.insert("question".into(), reranking.question.into());
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
        self.reranking.remove(&run_id);
        self.reranking_inner.remove(&run_id);
        self.chains.remove(&run_id);
        self.plain_retrievers.remove(&run_id);
        if let Some(chain) = self.rag_anchors.remove(&run_id) {
            self.forget_rag_if_unreachable(chain);
        }
    }

    /// How many runs the tracker holds state for (for leak tests).
    #[cfg(test)]
    pub(super) fn open_state(&self) -> usize {
        self.parents.len()
            + self.rag_anchors.len()
            + self.rag.len()
            + self.multi_query.len()
            + self.reranking.len()
            + self.reranking_inner.len()
            + self.chains.len()
            + self.plain_retrievers.len()
    }

    /// Entries in the expiry queue (for leak tests).
    #[cfg(test)]
    pub(super) fn queued(&self) -> usize {
        self.expiry.len()
    }
}
