//! Payloads round-trip through JSON; the JSONL recorder and replay reproduce a run.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::io::BufReader;
use std::sync::Arc;

use common::Probe;
use handler_core::event::*;
use handler_core::handlers::{ConsoleHandler, JsonlRecorder, replay, replay_async};
use handler_core::manager::*;
use handler_core::payload::*;
use handler_core::*;
use serde_json::json;

fn run_everything(manager: &CallbackManager) {
    let chain = manager
        .on_chain_start(
            Some(&Serialized::new(["chains", "rag"])),
            &json!({"question": "q"}),
            RunOptions::named("rag"),
        )
        .unwrap();
    let child = chain.child_with_tag("step");
    let retriever = child
        .on_retriever_start(None, "q", RunOptions::default())
        .unwrap();
    retriever
        .on_retriever_end(&[Document::new("Paris is in France.")
            .with_id("1")
            .with_metadata("score", 0.9)])
        .unwrap();
    let chat = child
        .on_chat_model_start(
            &Serialized::named("chat"),
            &[
                ChatMessage::system("be brief"),
                ChatMessage::user("where is Paris?"),
            ],
            RunOptions::default(),
        )
        .unwrap();
    let chunk = Generation::from_message(ChatMessage::assistant("Fr"));
    chat.on_llm_new_token("Fr", Some(&chunk)).unwrap();
    let mut result = LlmResult::from_text("France");
    result.token_usage = Some(
        TokenUsage::new(3, 1)
            .with_cache_read_tokens(2)
            .with_reasoning_tokens(0),
    );
    chat.on_llm_end(&result).unwrap();
    let tool = child
        .on_tool_start(
            Some(&Serialized::named("calc")),
            "1+1",
            Some(&json!({"a": 1})),
            RunOptions::default(),
        )
        .unwrap();
    tool.on_tool_error(ErrorInfo::new("ValueError", "bad"))
        .unwrap();
    chain
        .on_agent_action("calc", &json!({"x": 1}), "I should add")
        .unwrap();
    chain
        .on_agent_finish(&json!({"output": 2}), "done")
        .unwrap();
    chain
        .on_retry(&RetryState {
            attempt: 2,
            idle_for_secs: 1.5,
            upcoming_sleep_secs: Some(2.0),
            outcome: RetryOutcome::Failed {
                error: ErrorInfo::new("Timeout", "slow"),
            },
        })
        .unwrap();
    chain.on_text("hello\n").unwrap();
    chain
        .dispatch_custom_event("progress", &json!({"pct": 100}))
        .unwrap();
    chain.on_chain_end(&json!({"answer": "France"})).unwrap();
}

#[test]
fn recorder_and_replay_reproduce_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.jsonl");
    let live = Arc::new(Probe::new("live"));
    {
        let recorder = Arc::new(JsonlRecorder::create(&path).unwrap());
        let manager = CallbackManager::new()
            .with_handler(recorder)
            .with_handler(live.clone());
        run_everything(&manager);
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), live.seen().len());

    let replayed = Arc::new(Probe::new("replayed"));
    let manager = CallbackManager::new().with_handler(replayed.clone());
    let count = replay(BufReader::new(text.as_bytes()), &manager).unwrap();
    assert_eq!(count, live.seen().len());
    assert_eq!(
        replayed.seen(),
        live.seen(),
        "same kinds, run ids, parents, tags and details"
    );

    // Records are lossless: re-serializing a replayed record gives the same line.
    for line in text.lines() {
        let record: EventRecord = serde_json::from_str(line).unwrap();
        assert_eq!(serde_json::to_string(&record.as_event()).unwrap(), line);
    }
}

#[tokio::test]
async fn replay_into_an_async_manager() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.jsonl");
    {
        let recorder = Arc::new(JsonlRecorder::create(&path).unwrap());
        run_everything(&CallbackManager::new().with_handler(recorder));
    }
    let probe = Arc::new(Probe::new("p"));
    let mut manager = AsyncCallbackManager::new();
    manager.add_handler(probe.clone());
    let file = std::fs::File::open(&path).unwrap();
    let count = replay_async(BufReader::new(file), &manager).await.unwrap();
    assert_eq!(count, probe.seen().len());
    assert_eq!(probe.kinds()[0], EventKind::ChainStart);
}

#[test]
fn an_old_record_without_usage_details_replays_with_none_of_them() {
    // An `llm_end` line as the recorder wrote it before usage details existed.
    let line = r#"{"event":"llm_end","run":{"run_id":"00000000-0000-0000-0000-000000000001","tags":[],"metadata":{}},"response":{"generations":[[{"text":"France"}]],"token_usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4},"model_name":"gpt-4o-mini"},"stream":{"tokens":0}}"#;
    let record: EventRecord = serde_json::from_str(line).unwrap();
    let EventRecord::LlmEnd { response, .. } = &record else {
        panic!("not an llm end: {record:?}");
    };
    let usage = response.token_usage.unwrap();
    assert_eq!(usage, TokenUsage::new(3, 1));
    assert_eq!(
        (
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            usage.reasoning_tokens
        ),
        (None, None, None)
    );
    // Written again, it is the same line: unreported details are left out, not written as 0.
    assert_eq!(serde_json::to_string(&record.as_event()).unwrap(), line);
    let probe = Arc::new(Probe::new("p"));
    let manager = CallbackManager::new().with_handler(probe.clone());
    assert_eq!(
        replay(BufReader::new(line.as_bytes()), &manager).unwrap(),
        1
    );
}

#[test]
fn recorded_usage_details_survive_the_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.jsonl");
    {
        let recorder = Arc::new(JsonlRecorder::create(&path).unwrap());
        run_everything(&CallbackManager::new().with_handler(recorder));
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let usages: Vec<TokenUsage> = text
        .lines()
        .filter_map(|line| match serde_json::from_str(line).unwrap() {
            EventRecord::LlmEnd { response, .. } => response.token_usage,
            _ => None,
        })
        .collect();
    let expected = TokenUsage::new(3, 1)
        .with_cache_read_tokens(2)
        .with_reasoning_tokens(0);
    assert_eq!(usages, [expected]);
    assert_eq!(usages[0].cache_write_tokens, None);
}

#[test]
fn replay_reports_the_line_of_a_bad_record() {
    let manager = CallbackManager::new();
    let input = "\n{\"event\":\"text\",\"run\":{\"run_id\":\"00000000-0000-0000-0000-000000000000\"},\"text\":\"hi\"}\n{\"event\":\"nope\"}\n";
    let err = replay(BufReader::new(input.as_bytes()), &manager).unwrap_err();
    assert!(
        matches!(err, handlers::ReplayError::Parse { line: 3, .. }),
        "{err}"
    );
}

#[test]
fn payloads_round_trip_through_json() {
    fn round_trip<
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    >(
        value: T,
    ) {
        let json = serde_json::to_string(&value).unwrap();
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value, "{json}");
    }
    let mut message = ChatMessage::assistant("calling");
    message
        .tool_calls
        .push(ToolCall::new("calc", json!({"a": 1})).with_id("c1"));
    round_trip(message.clone());
    round_trip(ChatMessage::new(Role::Other("critic".into()), "meh"));
    round_trip(ChatMessage::tool("2", "c1"));
    round_trip(Generation::from_message(message));
    round_trip(
        LlmResult::new(vec![
            vec![Generation::new("a"), Generation::new("b")],
            vec![],
        ])
        .with_token_usage(TokenUsage::new(1, 2))
        .with_model_name("m")
        .with_llm_output(json!({"x": 1}).as_object().unwrap().clone()),
    );
    round_trip(Document::new("d").with_id("7").with_metadata("k", "v"));
    round_trip(ErrorInfo::new("E", "m"));
    round_trip(RetryState {
        attempt: 1,
        idle_for_secs: 0.5,
        upcoming_sleep_secs: None,
        outcome: RetryOutcome::Succeeded,
    });
    round_trip(Serialized::new(["a", "b"]));
    round_trip(RunContext::new(Uuid::now_v7()));
}

#[test]
fn console_prints_chains_agents_tools_and_llm_text() {
    let console = Arc::new(ConsoleHandler::to_writer(Vec::new()));
    let manager = CallbackManager::new().with_handler(console.clone());
    run_everything(&manager);
    let out = console.take_output().unwrap();
    for expected in [
        "> Entering new rag chain...",
        "Retrieved 1 document",
        "France",
        "Tool failed: ValueError: bad",
        "I should add",
        "done",
        "hello",
        "> Finished chain.",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(
        !out.contains('\x1b'),
        "no colours when not writing to a terminal"
    );
}
