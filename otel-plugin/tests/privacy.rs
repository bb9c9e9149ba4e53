//! Content leaves the process only when capture is on, through one switch for every path:
//! inputs, outputs, documents, tool arguments, agent steps, error messages, retry outcomes,
//! text, custom event data, evaluation explanations and invocation parameters. Names, kinds,
//! token counts, scores and error types go out whatever the switch. The redaction hook sees
//! every captured string; secrets stay out of `Debug` and errors.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::Arc;
use std::time::Duration;

use handler_core::payload::{
    ChatMessage, Document, ErrorInfo, LlmResult, RetryOutcome, RetryState, Serialized, TokenUsage,
};
use handler_core::registry::PluginConfig;
use handler_core::{CallbackManager, RunOptions};
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use otel_plugin::{EvaluationResult, OtelConfig, OtelHandler, OtelHandlerBuilder, env};
use serde_json::json;

const SECRET: &str = "SECRET";

/// Every path a run's content can take, each carrying `SECRET`; returns the spans exported.
fn every_path(builder: OtelHandlerBuilder) -> Vec<SpanData> {
    let spans = InMemorySpanExporter::default();
    let otel = builder
        .exporter(spans.clone())
        .listen(false)
        .build()
        .unwrap();
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    let chain = manager
        .on_chain_start(None, &json!({"q": SECRET}), RunOptions::named("rag"))
        .unwrap();
    let steps = chain.child();
    let retriever = steps
        .on_retriever_start(None, SECRET, RunOptions::named("search"))
        .unwrap();
    retriever
        .on_retriever_end(&[Document::new(SECRET)
            .with_id("d1")
            .with_metadata("source", SECRET)
            .with_metadata("score", 0.5)])
        .unwrap();
    let mut model = Serialized::named("chat");
    model.kwargs.insert("model".into(), json!("gpt"));
    model.kwargs.insert("temperature".into(), json!(0.2));
    model.kwargs.insert("user".into(), json!(SECRET));
    let chat = steps
        .on_chat_model_start(
            &model,
            &[ChatMessage::user(SECRET)],
            RunOptions::named("chat"),
        )
        .unwrap();
    let failed = RetryOutcome::Failed {
        error: ErrorInfo::new("RateLimit", SECRET),
    };
    chat.on_retry(&RetryState::new(1, failed)).unwrap();
    let mut answer = LlmResult::from_text(SECRET);
    answer.token_usage = Some(TokenUsage::new(3, 4));
    chat.on_llm_end(&answer).unwrap();
    let llm = steps
        .on_llm_start(
            &Serialized::named("text"),
            SECRET,
            RunOptions::named("text"),
        )
        .unwrap();
    llm.on_llm_error(ErrorInfo::new("ParseError", SECRET))
        .unwrap();
    let tool = steps
        .on_tool_start(
            None,
            SECRET,
            Some(&json!({"arg": SECRET})),
            RunOptions::named("tool"),
        )
        .unwrap();
    tool.on_tool_end(&json!(SECRET)).unwrap();
    chain
        .on_agent_action("tool", &json!(SECRET), SECRET)
        .unwrap();
    chain.on_agent_finish(&json!(SECRET), SECRET).unwrap();
    chain.on_text(SECRET).unwrap();
    chain
        .dispatch_custom_event("step", &json!({"data": SECRET}))
        .unwrap();
    let graded = EvaluationResult::new("judge", "relevance")
        .with_run(chain.context())
        .with_score(0.5)
        .with_explanation(SECRET);
    otel.record_evaluation(&graded);
    let chain_id = chain.run_id();
    chain.on_chain_end(&json!({"a": SECRET})).unwrap();
    let failed_check = EvaluationResult::new("judge", "faithfulness")
        .with_run_ids(chain_id, None)
        .with_error(SECRET);
    otel.record_evaluation(&failed_check);
    let late = graded.with_run_ids(chain_id, None);
    otel.record_evaluation(&late);
    assert!(otel.flush(Duration::from_secs(10)).complete);
    spans.get_finished_spans().unwrap()
}

/// Every string a span carries: attributes, event attributes and the status description.
fn strings(spans: &[SpanData]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for span in spans {
        let at = |key: &str| format!("{}/{key}", span.name);
        for kv in &span.attributes {
            out.push((at(kv.key.as_str()), kv.value.as_str().into_owned()));
        }
        for event in span.events.iter() {
            for kv in &event.attributes {
                let key = format!("{}.{}", event.name, kv.key.as_str());
                out.push((at(&key), kv.value.as_str().into_owned()));
            }
        }
        if let Status::Error { description } = &span.status {
            out.push((at("status"), description.to_string()));
        }
    }
    out
}

fn leaked(spans: &[SpanData], needle: &str) -> Vec<String> {
    strings(spans)
        .into_iter()
        .filter(|(_, value)| value.contains(needle))
        .map(|(key, _)| key)
        .collect()
}

/// Where the content must appear when captured: one key per path.
const CONTENT_KEYS: &[&str] = &[
    "rag/input.value",
    "rag/output.value",
    "search/input.value",
    "search/retrieval.documents.0.document.content",
    "search/retrieval.documents.0.document.metadata",
    "chat/input.value",
    "chat/llm.input_messages.0.message.content",
    "chat/llm.invocation_parameters",
    "chat/retry.retry.outcome",
    "chat/output.value",
    "text/input.value",
    "text/status",
    "text/exception.exception.message",
    "tool/tool.parameters",
    "tool/output.value",
    "rag/agent_action.tool.parameters",
    "rag/agent_action.agent.log",
    "rag/agent_finish.agent.return_values",
    "rag/text.text",
    "rag/custom_event.custom_event.data",
    "rag/gen_ai.evaluation.result.gen_ai.evaluation.explanation",
    "judge.relevance/gen_ai.evaluation.explanation",
    "judge.faithfulness/status",
    "judge.faithfulness/llm_callbacks.evaluation.error",
];

fn value<'a>(all: &'a [(String, String)], key: &str) -> Option<&'a str> {
    all.iter()
        .find(|(k, _)| k == key)
        .map(|(_, value)| value.as_str())
}

#[test]
fn without_capture_no_content_leaves_yet_names_kinds_counts_and_types_do() {
    let spans = every_path(OtelHandler::builder());
    assert_eq!(leaked(&spans, SECRET), Vec::<String>::new());
    let all = strings(&spans);
    let expect = [
        ("rag/openinference.span.kind", "AGENT"),
        ("chat/llm.model_name", "gpt"),
        ("chat/llm.token_count.total", "7"),
        (
            "chat/llm.invocation_parameters",
            r#"{"model":"gpt","temperature":0.2}"#,
        ),
        ("chat/retry.retry.outcome.status", "failed"),
        ("text/error.type", "ParseError"),
        ("text/status", "ParseError"),
        ("text/exception.exception.type", "ParseError"),
        ("search/retrieval.documents.0.document.id", "d1"),
        ("search/retrieval.documents.0.document.score", "0.5"),
        ("rag/custom_event.custom_event.name", "step"),
        (
            "rag/gen_ai.evaluation.result.gen_ai.evaluation.score.value",
            "0.5",
        ),
        ("judge.faithfulness/error.type", "evaluation_error"),
    ];
    for (key, expected) in expect {
        assert_eq!(value(&all, key), Some(expected), "{key}");
    }
}

#[test]
fn with_capture_every_path_carries_its_content() {
    let spans = every_path(OtelHandler::builder().capture_content(true));
    let leaked = leaked(&spans, SECRET);
    for key in CONTENT_KEYS {
        assert!(leaked.iter().any(|k| k == key), "{key} not in {leaked:?}");
    }
}

#[test]
fn the_redaction_hook_sees_every_captured_string() {
    let builder = OtelHandler::builder().capture_content(true).redact(|text| {
        text.contains(SECRET)
            .then(|| text.replace(SECRET, "[masked]"))
    });
    let spans = every_path(builder);
    assert_eq!(leaked(&spans, SECRET), Vec::<String>::new());
    let masked = leaked(&spans, "[masked]");
    for key in CONTENT_KEYS {
        assert!(masked.iter().any(|k| k == key), "{key} not in {masked:?}");
    }
}

#[test]
fn the_switches_are_read_from_the_environment_and_hiding_wins() {
    let table = [
        // (variables, captured)
        (vec![], false),
        (vec![(env::CAPTURE_CONTENT, "true")], true),
        (vec![(env::CAPTURE_CONTENT, "SPAN_AND_EVENT")], true),
        (vec![(env::CAPTURE_CONTENT, "NO_CONTENT")], false),
        (
            vec![(env::CAPTURE_CONTENT, "true"), (env::HIDE_INPUTS, "true")],
            false,
        ),
        (
            vec![(env::CAPTURE_CONTENT, "true"), (env::HIDE_OUTPUT_TEXT, "1")],
            false,
        ),
    ];
    for (variables, captured) in table {
        let mut plugin = PluginConfig::new();
        for (key, value) in &variables {
            plugin = plugin.set(*key, *value);
        }
        let config = OtelConfig::from_plugin_config(&plugin).unwrap();
        let spans = every_path(OtelHandler::builder().config(config));
        // "Other" content (errors, explanations) needs both inputs and outputs captured.
        let status = spans
            .iter()
            .find(|s| s.name == "text")
            .map(|s| s.status.clone());
        let expected = if captured {
            Status::error(format!("ParseError: {SECRET}"))
        } else {
            Status::error("ParseError")
        };
        assert_eq!(status, Some(expected), "{variables:?}");
        assert_eq!(
            !leaked(&spans, SECRET).is_empty(),
            captured || variables.len() > 1,
            "{variables:?}"
        );
    }
}

#[test]
fn header_values_and_the_phoenix_key_never_reach_debug_or_errors() {
    let plugin = PluginConfig::new()
        .set(env::HEADERS, "authorization=Bearer%20sk-live-123,team=llm")
        .set(env::PHOENIX_API_KEY, "px-key-456")
        .set(env::PHOENIX_CLIENT_HEADERS, "x-api=px-header-789")
        .set(env::ENDPOINT, "http://team:url-pass-111@127.0.0.1:9")
        .set(
            env::PHOENIX_ENDPOINT,
            "http://127.0.0.1:9?api_key=url-key-222",
        );
    let config = OtelConfig::from_plugin_config(&plugin).unwrap();
    assert_eq!(config.headers[0].1, "Bearer sk-live-123");
    let builder = OtelHandler::builder()
        .config(config.clone())
        .header("x-extra", "hdr-secret-000");
    let handler = builder.build().unwrap();
    let builder = OtelHandler::builder()
        .config(config.clone())
        .header("x-extra", "hdr-secret-000");
    for shown in [
        format!("{config:?}"),
        format!("{builder:?}"),
        format!("{handler:?}"),
    ] {
        for secret in [
            "sk-live-123",
            "px-key-456",
            "px-header-789",
            "hdr-secret-000",
            "url-pass-111",
            "url-key-222",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("authorization"), "{shown}");
        assert!(shown.contains("http://team:***@127.0.0.1:9"), "{shown}");
    }
    handler.shutdown(Duration::from_secs(5));

    let built = OtelHandler::builder()
        .exporter(InMemorySpanExporter::default())
        .header("ok", "1")
        .header("authorization", "Bearer sk-live-123\n")
        .build()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(built.contains("`authorization` (item 2)"), "{built}");
    assert!(!built.contains("sk-live-123"), "{built}");

    for bad in [
        "authorization=Bearer x,Bearer sk-live-123",
        "ok=1,sk-live-123 x=1",
        "ok=1,k=sk-live-123\u{7f}",
    ] {
        let error = OtelConfig::from_plugin_config(&PluginConfig::new().set(env::HEADERS, bad))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("item 2"), "{bad}: {error}");
        assert!(!error.contains("sk-live-123"), "{error}");
    }
}

/// The chain span's string attribute `key`, from a run with these inputs and outputs exported
/// through a handler built by `builder`.
fn chain_attribute(builder: OtelHandlerBuilder, key: &str) -> Option<String> {
    let spans = InMemorySpanExporter::default();
    let otel = builder
        .exporter(spans.clone())
        .listen(false)
        .build()
        .unwrap();
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    let chain = manager
        .on_chain_start(
            None,
            &json!({"question": "Q".repeat(300)}),
            RunOptions::named("rag"),
        )
        .unwrap();
    chain.on_chain_end(&json!({"answer": "A"})).unwrap();
    assert!(otel.flush(Duration::from_secs(30)).complete);
    let spans = spans.get_finished_spans().unwrap();
    let chain = spans.iter().find(|s| s.name == "rag").unwrap();
    chain
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

#[test]
fn hiding_and_the_attribute_cap_apply_through_the_handler() {
    let captured = || OtelHandler::builder().capture_content(true);
    // Captured: both sides, the long input whole.
    let input = chain_attribute(captured(), "input.value").expect("input captured");
    assert!(input.contains(&"Q".repeat(300)), "{input}");
    assert!(chain_attribute(captured(), "output.value").is_some());
    // Each hiding switch hides its own side only.
    let hide_inputs = || captured().hide_inputs(true);
    assert_eq!(chain_attribute(hide_inputs(), "input.value"), None);
    assert!(chain_attribute(hide_inputs(), "output.value").is_some());
    let hide_outputs = || captured().hide_outputs(true);
    assert!(chain_attribute(hide_outputs(), "input.value").is_some());
    assert_eq!(chain_attribute(hide_outputs(), "output.value"), None);
    // The cap cuts long strings.
    let cut = chain_attribute(captured().max_attribute_len(64), "input.value").unwrap();
    assert!(cut.len() <= 64 + 32, "{} bytes: {cut}", cut.len());
    assert!(!cut.contains(&"Q".repeat(100)), "{cut}");
}
