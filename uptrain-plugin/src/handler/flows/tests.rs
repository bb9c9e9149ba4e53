//! The tracker's flows, expiry and bounds, run by run.

use std::time::Duration;

use handler_core::payload::{Document, Serialized};
use handler_core::{RunContext, Uuid};
use serde_json::json;

use super::*;

fn tracker() -> Tracker {
    Tracker::new(Duration::from_secs(60), 1000)
}

fn run(parent: Option<&RunContext>) -> RunContext {
    let mut run = RunContext::new(Uuid::now_v7());
    run.parent_run_id = parent.map(|p| p.run_id);
    run
}

#[test]
fn rag_chain_then_sibling_llm_makes_one_rag_row() {
    let mut t = tracker();
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
fn a_chain_whose_retriever_found_documents_and_whose_model_answered_is_graded() {
    let mut t = tracker();
    let chain = run(None);
    t.chain_started(&chain, &json!({"question": "Where is Paris?", "k": 2}));
    let retriever = run(Some(&chain));
    t.retriever_started(&retriever, None, "paris location");
    let docs = [
        Document::new("Paris is in France."),
        Document::new("It rains."),
    ];
    assert!(t.retriever_ended(&retriever, &docs).is_none());
    let llm = run(Some(&chain));
    t.run_started(&llm);
    let job = t.llm_ended(&llm, Some("In France.")).unwrap();
    assert_eq!(job.flow, Flow::Rag);
    assert_eq!(job.run_id, chain.run_id);
    assert_eq!(job.row["question"], "Where is Paris?");
    assert_eq!(job.row["context"], "1. Paris is in France.\n2. It rains.");
    assert_eq!(job.row["response"], "In France.");
    assert!(t.llm_ended(&llm, Some("again")).is_none(), "graded once");
    t.run_ended(chain.run_id);
    assert_eq!(t.open_state(), 0);
}

#[test]
fn without_a_question_input_the_retriever_query_is_the_question() {
    let mut t = tracker();
    let chain = run(None);
    t.chain_started(&chain, &json!({"a": 1, "b": 2}));
    let retriever = run(Some(&chain));
    t.retriever_started(&retriever, None, "the query");
    t.retriever_ended(&retriever, &[Document::new("doc")]);
    let llm = run(Some(&chain));
    t.run_started(&llm);
    let job = t.llm_ended(&llm, Some("answer")).unwrap();
    assert_eq!(job.row["question"], "the query");
}

#[test]
fn a_retrieval_without_documents_or_outside_a_chain_is_not_graded() {
    let mut t = tracker();
    let chain = run(None);
    t.chain_started(&chain, &json!({"question": "q"}));
    let empty = run(Some(&chain));
    t.retriever_started(&empty, None, "q");
    t.retriever_ended(&empty, &[]);
    let llm = run(Some(&chain));
    t.run_started(&llm);
    assert!(t.llm_ended(&llm, Some("a")).is_none());
    t.run_ended(chain.run_id);

    let lonely = run(None);
    t.retriever_started(&lonely, None, "q");
    t.retriever_ended(&lonely, &[Document::new("doc")]);
    assert_eq!(t.open_state(), 0);
}

#[test]
fn a_question_and_context_chain_wins_over_the_observed_retrieval() {
    let mut t = tracker();
    let outer = run(None);
    t.chain_started(&outer, &json!({"question": "q?"}));
    let retriever = run(Some(&outer));
    t.retriever_started(&retriever, None, "q?");
    t.retriever_ended(&retriever, &[Document::new("a")]);
    let prompt = run(Some(&outer));
    t.chain_started(&prompt, &json!({"question": "q?", "context": "a"}));
    t.run_ended(prompt.run_id);
    let llm = run(Some(&outer));
    t.run_started(&llm);
    let job = t.llm_ended(&llm, Some("answer")).unwrap();
    assert_eq!(job.run_id, prompt.run_id, "one row, for the explicit chain");
    assert_eq!(job.row["context"], "a");
    t.run_ended(outer.run_id);
    assert_eq!(t.open_state(), 0);
}

#[test]
fn retrievers_inside_a_multi_query_retriever_are_not_a_rag_answer() {
    let mut t = tracker();
    let chain = run(None);
    t.chain_started(&chain, &json!({"question": "q"}));
    let mq = run(Some(&chain));
    t.retriever_started(
        &mq,
        Some(&Serialized::new(["retrievers", "multi_query"])),
        "q",
    );
    let inner = run(Some(&mq));
    t.retriever_started(&inner, None, "variant");
    t.retriever_ended(&inner, &[Document::new("doc")]);
    let llm = run(Some(&chain));
    t.run_started(&llm);
    assert!(t.llm_ended(&llm, Some("a")).is_none());
}

#[test]
fn interleaved_rag_runs_do_not_mix() {
    let mut t = tracker();
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
    let mut t = tracker();
    let chain = run(None);
    t.chain_started(&chain, &json!({"input": "x"}));
    let llm = run(Some(&chain));
    t.run_started(&llm);
    assert!(t.llm_ended(&llm, Some("r")).is_none());
}

#[test]
fn multi_query_collects_nested_queries_as_variants() {
    let mut t = tracker();
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
    let mut t = tracker();
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

fn rag_inputs() -> serde_json::Value {
    json!({"question": "q?", "context": "c"})
}

#[test]
fn a_self_parented_run_is_a_root_and_does_not_hang() {
    let mut t = tracker();
    let mut chain = run(None);
    chain.parent_run_id = Some(chain.run_id);
    t.chain_started(&chain, &rag_inputs());
    let llm = run(Some(&chain));
    t.run_started(&llm);
    let job = t.llm_ended(&llm, Some("a")).unwrap();
    assert_eq!(job.run_id, chain.run_id);
    t.run_ended(chain.run_id);
    assert_eq!(t.open_state(), 0);
}

#[test]
fn a_loop_of_parents_ends_the_walk() {
    let mut t = tracker();
    let (mut a, mut b) = (run(None), run(None));
    a.parent_run_id = Some(b.run_id);
    b.parent_run_id = Some(a.run_id);
    t.run_started(&a);
    t.run_started(&b);
    let mut llm = run(None);
    llm.parent_run_id = Some(a.run_id);
    t.run_started(&llm);
    assert!(t.llm_ended(&llm, Some("x")).is_none());
    assert!(t.ancestors(a.run_id).count() <= 3);
}

#[test]
fn a_repeated_run_id_keeps_one_entry_and_the_queue_bounded() {
    let mut t = tracker();
    let chain = run(None);
    let mut child = run(None);
    child.run_id = chain.run_id; // a child with its parent's id
    child.parent_run_id = Some(chain.run_id);
    for _ in 0..10_000 {
        t.chain_started(&chain, &rag_inputs());
        t.chain_started(&child, &rag_inputs());
    }
    assert_eq!(t.tracked(), 2, "one open run and one waiting RAG chain");
    assert!(t.queued() < 200, "{}", t.queued());
    let llm = run(Some(&chain));
    t.run_started(&llm);
    assert!(t.llm_ended(&llm, Some("a")).is_some());
    t.run_ended(chain.run_id);
    assert_eq!(t.open_state(), 0);
}

#[test]
fn runs_that_never_end_are_capped_and_expire() {
    let mut t = Tracker::new(Duration::from_secs(3600), 100);
    for _ in 0..1_000 {
        let chain = run(None);
        t.chain_started(&chain, &rag_inputs());
    }
    assert!(t.tracked() <= 100, "{}", t.tracked());
    assert!(t.expired() >= 900);

    let mut t = Tracker::new(Duration::from_millis(20), 1000);
    for _ in 0..10 {
        t.chain_started(&run(None), &rag_inputs());
    }
    std::thread::sleep(Duration::from_millis(30));
    t.run_started(&run(None));
    assert_eq!(t.tracked(), 1, "only the newest run is left");
    assert_eq!(t.expired(), 10, "ten runs, their RAG state with them");
}

#[test]
fn ended_runs_leave_nothing_behind() {
    let mut t = tracker();
    let outer = run(None);
    t.chain_started(&outer, &json!({}));
    for _ in 0..5_000 {
        let inner = run(Some(&outer));
        t.chain_started(&inner, &rag_inputs());
        let llm = run(Some(&inner));
        t.run_started(&llm);
        assert!(t.llm_ended(&llm, Some("a")).is_some());
        t.run_ended(inner.run_id);
    }
    t.run_ended(outer.run_id);
    assert_eq!(t.open_state(), 0);
    assert!(t.queued() < 200, "{}", t.queued());
}

#[test]
fn a_rag_chain_whose_answer_never_comes_expires_on_its_own() {
    // Generous: the steps before the sleep must take less than the time-to-live.
    let mut t = Tracker::new(Duration::from_millis(250), 1000);
    let outer = run(None);
    t.chain_started(&outer, &json!({}));
    let prompt = run(Some(&outer));
    t.chain_started(&prompt, &rag_inputs());
    t.run_ended(prompt.run_id); // the RAG chain now waits for a sibling answer
    std::thread::sleep(Duration::from_millis(300));
    t.run_started(&outer); // the outer run restarts: only the waiting RAG chain is old
    assert_eq!(
        t.expired(),
        1,
        "the unanswered RAG chain, past its time-to-live"
    );
    assert_eq!(t.tracked(), 1, "the outer run is kept");
    let llm = run(Some(&outer));
    t.run_started(&llm);
    assert!(
        t.llm_ended(&llm, Some("late")).is_none(),
        "a forgotten RAG chain is not graded"
    );
}

#[test]
fn the_queue_is_compacted_once_many_runs_end_behind_a_long_lived_one() {
    let mut t = tracker();
    let outer = run(None);
    t.chain_started(&outer, &json!({}));
    let many: Vec<_> = (0..300).map(|_| run(Some(&outer))).collect();
    for child in &many {
        t.run_started(child);
    }
    for child in &many {
        t.run_ended(child.run_id); // ending does not prune: the queue is stale now
    }
    for _ in 0..1_000 {
        let child = run(Some(&outer));
        t.run_started(&child);
        t.run_ended(child.run_id);
    }
    assert_eq!(t.tracked(), 1);
    assert!(t.queued() < 200, "{}", t.queued());
}

#[test]
fn an_answered_rag_chain_leaves_no_anchor_while_its_parent_runs_on() {
    let mut t = tracker();
    let outer = run(None);
    t.chain_started(&outer, &json!({"question": "q?"}));
    let before = t.open_state();
    let prompt = run(Some(&outer));
    t.chain_started(&prompt, &rag_inputs());
    t.run_ended(prompt.run_id);
    let llm = run(Some(&outer));
    t.run_started(&llm);
    assert!(t.llm_ended(&llm, Some("answer")).is_some());
    assert_eq!(t.open_state(), before, "only the open outer run is left");
}

#[test]
fn a_multi_query_keeps_at_most_max_variants() {
    let mut t = tracker();
    let mq = run(None);
    t.retriever_started(&mq, Some(&Serialized::new(["multi_query"])), "q");
    for i in 0..=MAX_VARIANTS {
        let inner = run(Some(&mq));
        t.retriever_started(&inner, None, &format!("v{i}"));
        t.retriever_ended(&inner, &[]);
    }
    let job = t.retriever_ended(&mq, &[]).unwrap();
    let variants = job.row["variants"].as_array().unwrap();
    assert_eq!(variants.len(), MAX_VARIANTS);
    assert_eq!(variants[0], "v0", "the first ones are kept");
}

#[test]
fn retriever_flows_carry_the_root_of_their_tree() {
    let mut t = tracker();
    let root = run(None);
    t.chain_started(&root, &json!({}));
    let mut mq = run(Some(&root));
    mq.root_run_id = Some(root.run_id);
    t.retriever_started(&mq, Some(&Serialized::new(["multi_query"])), "q");
    let job = t.retriever_ended(&mq, &[]).unwrap();
    assert_eq!(job.flow, Flow::MultiQuery);
    assert_eq!(job.root_run_id, Some(root.run_id));

    let mut outer = run(Some(&root));
    outer.root_run_id = Some(root.run_id);
    t.retriever_started(
        &outer,
        Some(&Serialized::new(["contextual_compression"])),
        "q",
    );
    let inner = run(Some(&outer));
    t.retriever_started(&inner, None, "q");
    t.retriever_ended(&inner, &[Document::new("a")]);
    let job = t.retriever_ended(&outer, &[Document::new("a")]).unwrap();
    assert_eq!(job.flow, Flow::ContextReranking);
    assert_eq!(job.root_run_id, Some(root.run_id));
}

#[test]
fn a_retrieval_after_a_question_and_context_chain_does_not_replace_it() {
    let mut t = tracker();
    let outer = run(None);
    t.chain_started(&outer, &json!({"question": "q?"}));
    let prompt = run(Some(&outer));
    t.chain_started(&prompt, &json!({"question": "q?", "context": "explicit"}));
    t.run_ended(prompt.run_id);
    let retriever = run(Some(&outer));
    t.retriever_started(&retriever, None, "q?");
    t.retriever_ended(&retriever, &[Document::new("observed")]);
    let llm = run(Some(&outer));
    t.run_started(&llm);
    let job = t.llm_ended(&llm, Some("answer")).unwrap();
    assert_eq!(job.run_id, prompt.run_id, "the explicit chain is graded");
    assert_eq!(job.row["context"], "explicit");
}

#[test]
fn a_chains_only_text_input_is_its_question() {
    let mut t = tracker();
    let chain = run(None);
    t.chain_started(&chain, &json!({"topic": "Where is Paris?", "k": 2}));
    let retriever = run(Some(&chain));
    t.retriever_started(&retriever, None, "paris location");
    t.retriever_ended(&retriever, &[Document::new("In France.")]);
    let llm = run(Some(&chain));
    t.run_started(&llm);
    let job = t.llm_ended(&llm, Some("France")).unwrap();
    assert_eq!(job.row["question"], "Where is Paris?");
}

#[test]
fn a_single_document_object_is_a_context() {
    let mut t = tracker();
    let chain = run(None);
    let inputs = json!({"question": "q?", "context": {"page_content": "the only doc"}});
    t.chain_started(&chain, &inputs);
    let llm = run(Some(&chain));
    t.run_started(&llm);
    let job = t.llm_ended(&llm, Some("a")).unwrap();
    assert_eq!(job.row["context"], "the only doc");
}
