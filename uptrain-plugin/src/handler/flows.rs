//! Recognising the three evaluated flows in a stream of events, with state keyed by run id.
//!
//! - **RAG**: a chain starts with inputs `{question, context}`; the response is the first
//!   generation of the next LLM run that ends under the same enclosing run (or under the chain
//!   itself). Checks: context relevance, factual accuracy, response completeness.
//! - **Multi-query**: a retriever whose serialized id contains `multi_query` starts with the
//!   question; the queries of the retrievers nested in it are the variants. Check: multi-query
//!   accuracy, when the multi-query retriever ends.
//! - **Contextual compression**: a retriever whose serialized id contains
//!   `contextual_compression` starts with the question; the documents of the retriever nested
//!   in it are the context, its own documents the concise and reranked context. Checks: context
//!   conciseness and context reranking, when it ends.
//!
//! Every piece of state hangs off a run id, so concurrent runs never mix, and is dropped when
//! its run ends.

use std::collections::HashMap;

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
    pub(crate) row: Row,
}

/// A RAG chain waiting for its response.
#[derive(Debug)]
struct PendingRag {
    question: String,
    context: String,
    /// The run ids it is reachable from: the chain's and its parent's.
    anchors: Vec<Uuid>,
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
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    /// Parent of every run still open.
    parents: HashMap<Uuid, Option<Uuid>>,
    /// Anchor run id → the RAG chain it leads to.
    rag_anchors: HashMap<Uuid, Uuid>,
    /// RAG chain run id → what it waits with.
    rag: HashMap<Uuid, PendingRag>,
    multi_query: HashMap<Uuid, MultiQuery>,
    compression: HashMap<Uuid, Compression>,
    /// A retriever nested in a compression retriever → that compression retriever.
    compression_inner: HashMap<Uuid, Uuid>,
}

impl Tracker {
    /// Remembers where a run sits in the tree.
    pub(crate) fn run_started(&mut self, run: &RunContext) {
        self.parents.insert(run.run_id, run.parent_run_id);
    }

    /// The run's ancestors, nearest first (not the run itself).
    fn ancestors(&self, run_id: Uuid) -> impl Iterator<Item = Uuid> + '_ {
        let mut next = self.parents.get(&run_id).copied().flatten();
        std::iter::from_fn(move || {
            let current = next?;
            next = self.parents.get(&current).copied().flatten();
            Some(current)
        })
    }

    pub(crate) fn chain_started(&mut self, run: &RunContext, inputs: &Value) {
        self.run_started(run);
        let (Some(question), Some(context)) = (
            inputs.get("question").and_then(Value::as_str),
            inputs.get("context").and_then(context_text),
        ) else {
            return;
        };
        let mut anchors = vec![run.run_id];
        anchors.extend(run.parent_run_id);
        for anchor in &anchors {
            // A newer RAG chain under the same anchor replaces an unanswered older one.
            if let Some(old) = self.rag_anchors.insert(*anchor, run.run_id) {
                self.forget_rag_if_unreachable(old);
            }
        }
        self.rag.insert(
            run.run_id,
            PendingRag {
                question: question.to_owned(),
                context,
                anchors,
            },
        );
    }

    fn forget_rag_if_unreachable(&mut self, chain: Uuid) {
        if !self.rag_anchors.values().any(|c| *c == chain) {
            self.rag.remove(&chain);
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
            self.rag_anchors.remove(anchor);
        }
        let mut row = Row::new();
        row.insert("question".into(), pending.question.into());
        row.insert("context".into(), pending.context.into());
        row.insert("response".into(), response.unwrap_or_default().into());
        Some(Job {
            flow: Flow::Rag,
            run_id: chain,
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
        {
            mq.variants.push(query.to_owned());
        }
        if let Some(outer) = ancestors.iter().find(|a| self.compression.contains_key(a)) {
            self.compression_inner.insert(run.run_id, *outer);
        }
    }

    pub(crate) fn retriever_ended(
        &mut self,
        run: &RunContext,
        documents: &[Document],
    ) -> Option<Job> {
        let job = self.finish_retriever(run.run_id, documents);
        self.run_ended(run.run_id);
        job
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
            row,
        })
    }

    /// Drops the state of a run that ended (or failed).
    pub(crate) fn run_ended(&mut self, run_id: Uuid) {
        self.parents.remove(&run_id);
        self.multi_query.remove(&run_id);
        self.compression.remove(&run_id);
        self.compression_inner.remove(&run_id);
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
mod tests {
    use super::*;
    use serde_json::json;

    fn run(parent: Option<&RunContext>) -> RunContext {
        let mut run = RunContext::new(Uuid::now_v7());
        run.parent_run_id = parent.map(|p| p.run_id);
        run
    }

    #[test]
    fn rag_chain_then_sibling_llm_makes_one_rag_row() {
        let mut t = Tracker::default();
        let outer = run(None);
        t.chain_started(&outer, &json!({"question": "q?"}));
        let prompt = run(Some(&outer));
        t.chain_started(
            &prompt,
            &json!({"question": "q?", "context": [{"page_content": "a"}, "b"]}),
        );
        t.run_ended(prompt.run_id);
        let llm = run(Some(&outer));
        t.run_started(&llm);
        let job = t.llm_ended(&llm, Some("answer")).unwrap();
        assert_eq!(job.flow, Flow::Rag);
        assert_eq!(job.run_id, prompt.run_id);
        assert_eq!(job.row["context"], "a\nb");
        assert_eq!(job.row["response"], "answer");
        assert!(
            t.llm_ended(&llm, Some("again")).is_none(),
            "a RAG chain is answered once"
        );
        t.run_ended(outer.run_id);
        assert_eq!(t.open_state(), 0);
    }

    #[test]
    fn interleaved_rag_runs_do_not_mix() {
        let mut t = Tracker::default();
        let a = run(None);
        let b = run(None);
        t.chain_started(&a, &json!({"question": "qa", "context": "ca"}));
        t.chain_started(&b, &json!({"question": "qb", "context": "cb"}));
        let llm_b = run(Some(&b));
        let llm_a = run(Some(&a));
        t.run_started(&llm_b);
        t.run_started(&llm_a);
        let job_b = t.llm_ended(&llm_b, Some("rb")).unwrap();
        let job_a = t.llm_ended(&llm_a, Some("ra")).unwrap();
        assert_eq!(
            (
                job_a.row["question"].as_str(),
                job_a.row["response"].as_str()
            ),
            (Some("qa"), Some("ra"))
        );
        assert_eq!(
            (
                job_b.row["question"].as_str(),
                job_b.row["context"].as_str()
            ),
            (Some("qb"), Some("cb"))
        );
    }

    #[test]
    fn an_llm_outside_any_rag_chain_is_not_evaluated() {
        let mut t = Tracker::default();
        let chain = run(None);
        t.chain_started(&chain, &json!({"input": "x"}));
        let llm = run(Some(&chain));
        t.run_started(&llm);
        assert!(t.llm_ended(&llm, Some("r")).is_none());
    }

    #[test]
    fn multi_query_collects_nested_queries_as_variants() {
        let mut t = Tracker::default();
        let mq = run(None);
        t.retriever_started(
            &mq,
            Some(&Serialized::new([
                "retrievers",
                "multi_query",
                "MultiQueryRetriever",
            ])),
            "q",
        );
        for v in ["v1", "v2"] {
            let inner = run(Some(&mq));
            t.retriever_started(&inner, Some(&Serialized::named("vector")), v);
            assert!(t.retriever_ended(&inner, &[]).is_none());
        }
        let job = t.retriever_ended(&mq, &[]).unwrap();
        assert_eq!(job.flow, Flow::MultiQuery);
        assert_eq!(job.row["variants"], json!(["v1", "v2"]));
        assert_eq!(t.open_state(), 0);
    }

    #[test]
    fn compression_compares_inner_and_outer_documents() {
        let mut t = Tracker::default();
        let outer = run(None);
        t.retriever_started(
            &outer,
            Some(&Serialized::new(["retrievers", "contextual_compression"])),
            "q",
        );
        let inner = run(Some(&outer));
        t.retriever_started(&inner, None, "q");
        t.retriever_ended(&inner, &[Document::new("a"), Document::new("b")]);
        let job = t.retriever_ended(&outer, &[Document::new("b")]).unwrap();
        assert_eq!(job.flow, Flow::ContextReranking);
        assert_eq!(job.row["context"], "1. a\n2. b");
        assert_eq!(job.row["concise_context"], "1. b");
        assert_eq!(job.row["reranked_context"], "1. b");
        assert_eq!(t.open_state(), 0);
    }
}
