//! The mapping from runs to spans, checked with the SDK's in-memory exporter: names, kinds,
//! parent links and trace ids (across threads), attributes in both conventions, errors,
//! abandoned runs, tokens and time to first token, evaluations on open and ended spans, the
//! bounded queue, an unreachable collector, and discovery through the registry.

use std::sync::Arc;
use std::time::Duration;

use handler_core::payload::{ChatMessage, Document, ErrorInfo, LlmResult, Serialized, TokenUsage};
use handler_core::registry::{self, PluginConfig};
use handler_core::{CallbackManager, RunOptions, Uuid};
use opentelemetry::trace::{SpanId, Status, TraceId};
use opentelemetry::{Key, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use otel_plugin::{EvaluationResult, OtelHandler, env, ids};
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const WAIT: Duration = Duration::from_secs(10);

/// How long the model of the RAG test waits before its first token.
const FIRST_TOKEN_AFTER: Duration = Duration::from_millis(20);

fn setup()
-> Result<(OtelHandler, InMemorySpanExporter, CallbackManager), Box<dyn std::error::Error>> {
    let spans = InMemorySpanExporter::default();
    // Evaluations are given to the handler directly here (tests/bus.rs covers the core's bus),
    // so that tests running side by side cannot see each other's.
    let otel = OtelHandler::builder()
        .exporter(spans.clone())
        .capture_content(true)
        .listen(false)
        .build()?;
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    Ok((otel, spans, manager))
}

fn finished(
    otel: &OtelHandler,
    spans: &InMemorySpanExporter,
) -> Result<Vec<SpanData>, Box<dyn std::error::Error>> {
    let report = otel.flush(WAIT);
    assert!(report.complete, "{report:?}");
    Ok(spans.get_finished_spans()?)
}

fn named<'s>(spans: &'s [SpanData], name: &str) -> &'s SpanData {
    match spans.iter().find(|s| s.name == name) {
        Some(span) => span,
        None => panic!(
            "no span {name} in {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        ),
    }
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == Key::from(key.to_owned()))
        .map(|kv| kv.value.clone())
}

fn text(span: &SpanData, key: &str) -> String {
    attr(span, key)
        .map(|v| v.as_str().into_owned())
        .unwrap_or_default()
}

#[test]
fn a_rag_run_becomes_a_tree_of_spans_sharing_the_root_runs_trace() -> TestResult {
    let (otel, spans, manager) = setup()?;
    let chain = manager.on_chain_start(
        Some(&Serialized::new(["langchain", "RunnableSequence"])),
        &json!({"question": "Where is Paris?"}),
        RunOptions::named("rag"),
    )?;
    let steps = chain.child();
    let retriever = steps.on_retriever_start(None, "Paris", RunOptions::named("search"))?;
    retriever.on_retriever_end(&[Document::new("Paris is in France.").with_id("d1")])?;
    // The model runs on another thread: same trace, parented to the chain.
    let model_run_took = std::thread::scope(|scope| {
        scope
            .spawn(|| -> Result<Duration, handler_core::CallbackError> {
                let mut llm = Serialized::named("gpt-x");
                llm.kwargs.insert("temperature".into(), json!(0.2));
                let started = std::time::Instant::now();
                let run = steps.on_llm_start(&llm, "Where is Paris?", RunOptions::new())?;
                // The first token comes at least FIRST_TOKEN_AFTER after the start.
                std::thread::sleep(FIRST_TOKEN_AFTER);
                for token in ["Paris ", "is ", "in ", "France."] {
                    run.on_llm_new_token(token, None)?;
                }
                let mut result = LlmResult::from_text("Paris is in France.");
                result.token_usage = Some(TokenUsage::new(7, 4));
                result.model_name = Some("gpt-x-2026".into());
                run.on_llm_end(&result)?;
                Ok(started.elapsed())
            })
            .join()
            .unwrap_or_else(|_| panic!("the model thread panicked"))
    })?;
    let root = chain.run_id();
    chain.on_chain_end(&json!({"answer": "Paris is in France."}))?;

    let spans = finished(&otel, &spans)?;
    assert_eq!(spans.len(), 3);
    let rag = named(&spans, "rag");
    let search = named(&spans, "search");
    let llm = named(&spans, "gpt-x");
    for span in [rag, search, llm] {
        assert_eq!(
            span.span_context.trace_id(),
            TraceId::from_bytes(*root.as_bytes())
        );
        assert!(span.span_context.is_sampled());
        assert_eq!(span.status, Status::Unset);
    }
    assert_eq!(rag.span_context.span_id(), ids::span_id(root));
    assert_eq!(rag.parent_span_id, SpanId::INVALID);
    assert_eq!(search.parent_span_id, rag.span_context.span_id());
    assert_eq!(llm.parent_span_id, rag.span_context.span_id());

    assert_eq!(text(rag, "openinference.span.kind"), "CHAIN");
    assert_eq!(
        text(rag, "input.value"),
        r#"{"question":"Where is Paris?"}"#
    );
    assert_eq!(text(rag, "input.mime_type"), "application/json");
    assert_eq!(
        text(rag, "output.value"),
        r#"{"answer":"Paris is in France."}"#
    );
    assert_eq!(text(rag, "llm_callbacks.run_id"), root.to_string());

    assert_eq!(text(search, "openinference.span.kind"), "RETRIEVER");
    assert_eq!(text(search, "input.value"), "Paris");
    assert_eq!(
        text(search, "retrieval.documents.0.document.content"),
        "Paris is in France."
    );
    assert_eq!(text(search, "retrieval.documents.0.document.id"), "d1");

    assert_eq!(text(llm, "openinference.span.kind"), "LLM");
    assert_eq!(llm.span_kind, opentelemetry::trace::SpanKind::Client);
    assert_eq!(text(llm, "llm.model_name"), "gpt-x");
    assert_eq!(text(llm, "gen_ai.request.model"), "gpt-x");
    assert_eq!(text(llm, "gen_ai.response.model"), "gpt-x-2026");
    assert_eq!(text(llm, "gen_ai.operation.name"), "text_completion");
    assert_eq!(
        attr(llm, "gen_ai.request.temperature"),
        Some(Value::F64(0.2))
    );
    assert_eq!(
        text(llm, "llm.invocation_parameters"),
        r#"{"temperature":0.2}"#
    );
    assert_eq!(
        text(llm, "llm.input_messages.0.message.content"),
        "Where is Paris?"
    );
    assert_eq!(text(llm, "llm.output_messages.0.message.role"), "assistant");
    assert_eq!(text(llm, "output.value"), "Paris is in France.");
    assert_eq!(attr(llm, "llm.token_count.prompt"), Some(Value::I64(7)));
    assert_eq!(attr(llm, "llm.token_count.completion"), Some(Value::I64(4)));
    assert_eq!(attr(llm, "llm.token_count.total"), Some(Value::I64(11)));
    assert_eq!(attr(llm, "gen_ai.usage.input_tokens"), Some(Value::I64(7)));
    assert_eq!(attr(llm, "gen_ai.usage.output_tokens"), Some(Value::I64(4)));
    // Four tokens streamed, one event at the first, no span per token.
    assert_eq!(
        attr(llm, "llm_callbacks.streamed_tokens"),
        Some(Value::I64(4))
    );
    let ttft = match attr(llm, "llm_callbacks.time_to_first_token_ms") {
        Some(Value::F64(ms)) => ms,
        other => panic!("no time to first token: {other:?}"),
    };
    // Between the sleep before the first token and the whole model run, as measured around it.
    let (least, most) = (
        FIRST_TOKEN_AFTER.as_secs_f64() * 1000.0,
        model_run_took.as_secs_f64() * 1000.0,
    );
    assert!(least <= ttft && ttft <= most, "{least} <= {ttft} <= {most}");
    let first: Vec<_> = llm
        .events
        .iter()
        .filter(|e| e.name == "first_token")
        .collect();
    assert_eq!(first.len(), 1);
    assert!(first[0].timestamp >= llm.start_time && first[0].timestamp <= llm.end_time);
    // The event sits at the time to first token after the span's start.
    let at = first[0].timestamp.duration_since(llm.start_time)?;
    assert!(at >= FIRST_TOKEN_AFTER, "{at:?}");

    assert_eq!(otel.open_runs(), 0);
    let report = otel.report();
    assert_eq!(
        (
            report.spans.ended,
            report.spans.exported,
            report.spans.dropped
        ),
        (3, 3, 0)
    );
    Ok(())
}

#[test]
fn chat_tools_tags_and_metadata_are_mapped() -> TestResult {
    let (otel, spans, manager) = setup()?;
    let mut manager = manager;
    manager.add_tags(["prod"]);
    let mut metadata = handler_core::payload::Metadata::new();
    metadata.insert("session_id".into(), json!("s-1"));
    manager.add_metadata(metadata);
    let agent =
        manager.on_chain_start(None, &json!({"input": "2+2"}), RunOptions::named("agent"))?;
    agent.on_agent_action("calculator", &json!({"expr": "2+2"}), "I should add")?;
    let mut tool = Serialized::named("calculator");
    tool.kwargs
        .insert("description".into(), json!("adds numbers"));
    let call = agent.child().on_tool_start(
        Some(&tool),
        "2+2",
        Some(&json!({"expr": "2+2"})),
        RunOptions::new(),
    )?;
    call.on_tool_end(&json!("4"))?;
    let chat = agent.child().on_chat_model_start(
        &Serialized::named("chat-model"),
        &[ChatMessage::system("be brief"), ChatMessage::user("2+2?")],
        RunOptions::new(),
    )?;
    chat.on_llm_end(&LlmResult::from_text("4"))?;
    agent.on_agent_finish(&json!({"output": "4"}), "done")?;
    agent.on_chain_end(&json!({"output": "4"}))?;

    let spans = finished(&otel, &spans)?;
    let agent = named(&spans, "agent");
    assert_eq!(text(agent, "openinference.span.kind"), "AGENT");
    assert_eq!(text(agent, "gen_ai.operation.name"), "invoke_agent");
    assert_eq!(text(agent, "session.id"), "s-1");
    assert_eq!(text(agent, "metadata"), r#"{"session_id":"s-1"}"#);
    match attr(agent, "tag.tags") {
        Some(Value::Array(tags)) => assert_eq!(tags.to_string(), r#"["prod"]"#),
        other => panic!("tags: {other:?}"),
    }
    let events: Vec<&str> = agent.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(events, ["agent_action", "agent_finish"]);

    let tool = named(&spans, "calculator");
    assert_eq!(text(tool, "openinference.span.kind"), "TOOL");
    assert_eq!(text(tool, "tool.name"), "calculator");
    assert_eq!(text(tool, "tool.description"), "adds numbers");
    assert_eq!(text(tool, "tool.parameters"), r#"{"expr":"2+2"}"#);
    assert_eq!(text(tool, "gen_ai.operation.name"), "execute_tool");
    assert_eq!(text(tool, "output.value"), "4");
    assert_eq!(text(tool, "output.mime_type"), "text/plain");

    let chat = named(&spans, "chat-model");
    assert_eq!(text(chat, "gen_ai.operation.name"), "chat");
    assert_eq!(text(chat, "llm.input_messages.0.message.role"), "system");
    assert_eq!(text(chat, "llm.input_messages.1.message.content"), "2+2?");
    assert_eq!(chat.parent_span_id, agent.span_context.span_id());
    Ok(())
}

#[test]
fn errors_and_abandoned_runs_end_with_an_error_status() -> TestResult {
    let (otel, spans, manager) = setup()?;
    let chain = manager.on_chain_start(None, &json!({}), RunOptions::named("fails"))?;
    let tool = chain
        .child()
        .on_tool_start(None, "x", None, RunOptions::named("broken"))?;
    tool.on_tool_error(ErrorInfo::new("Timeout", "the tool took too long"))?;
    let llm =
        chain
            .child()
            .on_llm_start(&Serialized::named("m"), "p", RunOptions::named("cut-off"))?;
    llm.on_llm_new_token("par", None)?;
    drop(llm); // abandoned: no end
    chain.on_chain_error(ErrorInfo::new("ValueError", "bad input"))?;

    let spans = finished(&otel, &spans)?;
    let failed = named(&spans, "fails");
    assert_eq!(failed.status, Status::error("ValueError: bad input"));
    assert_eq!(text(failed, "error.type"), "ValueError");
    let exception = failed.events.iter().find(|e| e.name == "exception");
    assert!(exception.is_some_and(|e| {
        e.attributes
            .iter()
            .any(|kv| kv.value.as_str() == "bad input")
    }));

    let broken = named(&spans, "broken");
    assert_eq!(
        broken.status,
        Status::error("Timeout: the tool took too long")
    );
    assert_eq!(text(broken, "error.type"), "Timeout");

    let cut = named(&spans, "cut-off");
    assert!(
        matches!(&cut.status, Status::Error { description } if description.starts_with("abandoned"))
    );
    assert_eq!(text(cut, "error.type"), ErrorInfo::ABANDONED);
    assert_eq!(
        attr(cut, "llm_callbacks.streamed_tokens"),
        Some(Value::I64(1))
    );
    Ok(())
}

#[test]
fn evaluations_are_events_on_open_spans_and_child_spans_after_the_end() -> TestResult {
    let (otel, spans, manager) = setup()?;
    let chain =
        manager.on_chain_start(None, &json!({"question": "q"}), RunOptions::named("rag"))?;
    let llm =
        chain
            .child()
            .on_llm_start(&Serialized::named("m"), "p", RunOptions::named("model"))?;
    let llm_id = llm.run_id();
    llm.on_llm_end(&LlmResult::from_text("a"))?;
    let chain_id = chain.run_id();

    // While the chain is open: an event on its span.
    otel.record_evaluation(
        &EvaluationResult::new("uptrain", "context_relevance")
            .with_run(chain.context())
            .with_score(0.5)
            .with_label("partly_relevant")
            .with_explanation("half of the context helps"),
    );
    chain.on_chain_end(&json!({"answer": "a"}))?;
    // After the model's span ended, naming only its run id: a child span in the same trace.
    otel.record_evaluation(
        &EvaluationResult::new("uptrain", "factual_accuracy")
            .with_run_ids(llm_id, None)
            .with_error("the judge timed out"),
    );
    // Naming no run: counted, not exported.
    otel.record_evaluation(&EvaluationResult::new("uptrain", "orphan").with_score(1.0));

    let spans = finished(&otel, &spans)?;
    let rag = named(&spans, "rag");
    let event = rag
        .events
        .iter()
        .find(|e| e.name == "gen_ai.evaluation.result")
        .unwrap_or_else(|| panic!("no evaluation event on {rag:?}"));
    let get = |key: &str| {
        event
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.clone())
    };
    assert_eq!(
        get("gen_ai.evaluation.name"),
        Some(Value::from("context_relevance"))
    );
    assert_eq!(get("gen_ai.evaluation.score.value"), Some(Value::F64(0.5)));
    assert_eq!(
        get("gen_ai.evaluation.score.label"),
        Some(Value::from("partly_relevant"))
    );
    assert_eq!(
        get("gen_ai.evaluation.explanation"),
        Some(Value::from("half of the context helps"))
    );

    let late = named(&spans, "uptrain.factual_accuracy");
    assert_eq!(late.parent_span_id, ids::span_id(llm_id));
    assert_eq!(late.span_context.trace_id(), ids::trace_id(chain_id));
    assert_eq!(text(late, "openinference.span.kind"), "EVALUATOR");
    assert_eq!(text(late, "error.type"), "evaluation_error");
    assert_eq!(late.status, Status::error("the judge timed out"));
    assert_eq!(late.events[0].name, "gen_ai.evaluation.result");

    let report = otel.report();
    assert_eq!(
        (
            report.evaluations_on_span,
            report.evaluations_late,
            report.evaluations_unattached
        ),
        (1, 1, 1)
    );
    Ok(())
}

/// An exporter that holds its first batch until told to go on.
#[derive(Debug, Clone)]
struct Gate {
    inner: InMemorySpanExporter,
    open: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl Gate {
    fn release(&self) {
        let (lock, wake) = &*self.open;
        if let Ok(mut open) = lock.lock() {
            *open = true;
            wake.notify_all();
        }
    }
}

impl opentelemetry_sdk::trace::SpanExporter for Gate {
    async fn export(&self, batch: Vec<SpanData>) -> opentelemetry_sdk::error::OTelSdkResult {
        let (lock, wake) = &*self.open;
        if let Ok(mut open) = lock.lock() {
            while !*open {
                open = match wake.wait(open) {
                    Ok(open) => open,
                    Err(_) => break,
                };
            }
        }
        self.inner.export(batch).await
    }
}

#[test]
fn a_full_queue_drops_spans_and_counts_them_without_blocking() -> TestResult {
    let gate = Gate {
        inner: InMemorySpanExporter::default(),
        open: Arc::default(),
    };
    let otel = OtelHandler::builder()
        .exporter(gate.clone())
        .max_queue_size(2)
        .build()?;
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    for i in 0..10 {
        let chain =
            manager.on_chain_start(None, &json!(i), RunOptions::named(format!("run-{i}")))?;
        chain.on_chain_end(&json!(i))?;
    }
    let held = otel.report();
    assert_eq!(held.spans.dropped, 8, "{held:?}");
    assert_eq!(held.spans.queued, 2, "{held:?}");
    gate.release();
    let report = otel.flush(WAIT);
    assert!(report.complete, "{report:?}");
    assert_eq!(
        (
            report.spans.ended,
            report.spans.exported,
            report.spans.dropped
        ),
        (10, 2, 8)
    );
    assert_eq!(gate.inner.get_finished_spans()?.len(), 2);
    Ok(())
}

#[test]
fn an_unreachable_collector_fails_the_export_not_the_pipeline() -> TestResult {
    // Port 9 on loopback: nothing listens, the connection is refused at once.
    let otel = OtelHandler::builder()
        .endpoint("http://127.0.0.1:9")
        .request_timeout(Duration::from_secs(2))
        .build()?;
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    let chain = manager.on_chain_start(None, &json!({}), RunOptions::named("offline"))?;
    chain.on_chain_end(&json!({}))?;
    let report = otel.shutdown(WAIT);
    assert_eq!(
        (
            report.spans.ended,
            report.spans.exported,
            report.spans.failed
        ),
        (1, 0, 1),
        "{report:?}"
    );
    Ok(())
}

#[test]
fn the_plugin_exports_only_when_an_endpoint_is_configured() -> TestResult {
    let plugin = registry::find(otel_plugin::PLUGIN_NAME)
        .unwrap_or_else(|| panic!("the otel plugin is registered"));
    assert!((plugin.build)(&PluginConfig::new())?.is_none());

    let config = PluginConfig::new().set(env::ENDPOINT, "http://127.0.0.1:9");
    let mut manager = CallbackManager::new();
    let added = manager.add_plugins(&config.clone().set(registry::PLUGINS_KEY, "otel"))?;
    assert_eq!(added, ["otel"]);
    let otel = manager
        .find_handler::<OtelHandler>()
        .unwrap_or_else(|| panic!("the plugin's handler is reachable by type"));
    assert_eq!(
        otel.config().traces_endpoint.as_deref(),
        Some("http://127.0.0.1:9/v1/traces")
    );
    otel.shutdown(Duration::from_secs(1));

    let bad = config.set(env::HEADERS, "no-equals-sign");
    assert!((plugin.build)(&bad).is_err());
    Ok(())
}

#[test]
fn a_run_without_a_name_is_named_by_its_kind() -> TestResult {
    let (otel, spans, manager) = setup()?;
    let chain = manager.on_chain_start(None, &json!({}), RunOptions::new())?;
    let retriever = chain
        .child()
        .on_retriever_start(None, "q", RunOptions::new())?;
    retriever.on_retriever_end(&[])?;
    chain.on_chain_end(&json!({}))?;
    let spans = finished(&otel, &spans)?;
    assert_eq!(
        text(named(&spans, "chain"), "openinference.span.kind"),
        "CHAIN"
    );
    assert_eq!(
        text(named(&spans, "retriever"), "openinference.span.kind"),
        "RETRIEVER"
    );
    Ok(())
}

#[test]
fn ids_are_derived_from_run_ids_alone() {
    // (run id, span id: its halves XOR-ed or 1, trace id: its bytes or 1)
    let cases: [(u128, u64, u128); 4] = [
        (
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
            0x0123_4567_89ab_cdef ^ 0xfedc_ba98_7654_3210,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
        ),
        (
            0x0000_0000_0000_00ff_0000_0000_0000_0f00,
            0x0fff,
            0xff_0000_0000_0000_0f00,
        ),
        // Equal halves fold to zero, an invalid span id: 1 instead.
        (
            0x1111_2222_3333_4444_1111_2222_3333_4444,
            1,
            0x1111_2222_3333_4444_1111_2222_3333_4444,
        ),
        // The nil run id is an invalid trace id: 1 instead.
        (0, 1, 1),
    ];
    for (run, span, trace) in cases {
        let run = Uuid::from_u128(run);
        assert_eq!(ids::span_id(run), SpanId::from(span), "{run}");
        assert_eq!(ids::trace_id(run), TraceId::from(trace), "{run}");
    }
    // Two runs, two spans; the same run from anywhere, the same span.
    let (one, two) = (Uuid::now_v7(), Uuid::now_v7());
    assert_ne!(ids::span_id(one), ids::span_id(two));
    let elsewhere = std::thread::spawn(move || ids::span_id(one)).join();
    assert_eq!(elsewhere.ok(), Some(ids::span_id(one)));
}

#[test]
fn spans_ending_after_shutdown_are_dropped_and_counted() -> TestResult {
    let (otel, spans, manager) = setup()?;
    let late = manager.on_chain_start(None, &json!({}), RunOptions::named("late"))?;
    let report = otel.shutdown(WAIT);
    assert!(report.complete, "{report:?}");
    late.on_chain_end(&json!({}))?;
    let report = otel.report();
    assert_eq!(
        (
            report.spans.exported,
            report.spans.dropped,
            report.spans.queued
        ),
        (0, 1, 0)
    );
    assert!(spans.get_finished_spans()?.is_empty());
    Ok(())
}

/// An exporter that panics on every batch.
#[derive(Debug)]
struct Panicking;

impl opentelemetry_sdk::trace::SpanExporter for Panicking {
    async fn export(&self, _batch: Vec<SpanData>) -> opentelemetry_sdk::error::OTelSdkResult {
        panic!("exporter bug");
    }
}

#[test]
fn a_panicking_exporter_fails_its_spans_and_the_export_thread_goes_on() -> TestResult {
    let otel = OtelHandler::builder().exporter(Panicking).build()?;
    let manager = CallbackManager::new().with_handler(Arc::new(otel.clone()));
    for round in 0..2 {
        let chain = manager.on_chain_start(None, &json!(round), RunOptions::named("doomed"))?;
        chain.on_chain_end(&json!(round))?;
        // The second round proves the thread survived the first panic.
        let report = otel.flush(WAIT);
        assert!(report.complete, "{report:?}");
        assert_eq!(report.spans.failed, round + 1, "{report:?}");
    }
    Ok(())
}

#[test]
fn the_exporter_is_not_dispatched_tokens_yet_counts_every_one() -> TestResult {
    use handler_core::CallbackHandler;
    use handler_core::event::Category;
    let (otel, spans, manager) = setup()?;
    assert!(!otel.options().categories().contains(Category::LlmNewToken));
    assert!(otel.options().categories().contains(Category::Llm));
    let llm = manager.on_llm_start(&Serialized::named("m"), "hi", RunOptions::named("s"))?;
    for _ in 0..250 {
        llm.on_llm_new_token("t", None)?;
    }
    llm.on_llm_error(ErrorInfo::new("Cut", "stream cut"))?;
    let spans = finished(&otel, &spans)?;
    let span = named(&spans, "s");
    assert_eq!(
        attr(span, "llm_callbacks.streamed_tokens"),
        Some(Value::I64(250))
    );
    assert!(
        matches!(span.status, Status::Error { .. }),
        "{:?}",
        span.status
    );
    Ok(())
}
