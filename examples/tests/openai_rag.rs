//! The `openai_rag` example's service end to end against a wiremock OpenAI-compatible server on
//! 127.0.0.1: the events and their parent links, the console output, and the UpTrain row the
//! answer is graded in.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use examples::openai_rag::{RAG_CHAIN, RagService, Settings, callbacks, context_of};
use examples::{Corpus, UsageSummary};
use llm_callbacks::cost::PriceTable;
use llm_callbacks::event::EventRecord;
use llm_callbacks::handlers::{ConsoleHandler, JsonlRecorder};
use llm_callbacks::openai::RetryPolicy;
use llm_callbacks::registry::PluginConfig;
use llm_callbacks::uptrain::{Check, env};
use llm_callbacks::{RunContext, Uuid};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut inner = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        inner.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A streamed answer that quotes the first line of the context the model was given, in
/// three pieces, then a usage chunk with 60 cached prompt tokens and no reasoning, as an
/// OpenAI-compatible server sends it, under the model name the request asked for.
fn quoting_model(request: &Request) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let model = body["model"].clone();
    let prompt = body["messages"][1]["content"].as_str().unwrap_or_default();
    let context = prompt.strip_prefix("Context:\n").unwrap_or_default();
    let first_line = context.lines().next().unwrap_or_default();
    let (a, rest) = first_line.split_at(first_line.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    let chunk = |delta: Value, finish: Value| {
        let chunk = json!({
            "id": "chatcmpl-rag", "object": "chat.completion.chunk", "created": 1,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
        });
        format!("data: {chunk}\n\n")
    };
    let usage = json!({
        "id": "chatcmpl-rag", "object": "chat.completion.chunk", "created": 1,
        "model": model, "choices": [],
        "usage": {"prompt_tokens": 90, "completion_tokens": 3, "total_tokens": 93,
                  "prompt_tokens_details": {"cached_tokens": 60},
                  "completion_tokens_details": {"reasoning_tokens": 0}}
    });
    let sse = [
        chunk(json!({"role": "assistant", "content": a}), Value::Null),
        chunk(json!({"content": b}), Value::Null),
        chunk(json!({"content": c}), json!("stop")),
        format!("data: {usage}\n\n"),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream")
}

fn parse_events(buffer: &Buffer) -> Result<Vec<EventRecord>, Box<dyn std::error::Error>> {
    let bytes = buffer.0.lock().map_err(|_| "poisoned")?.clone();
    let mut events = Vec::new();
    for line in String::from_utf8(bytes)?.lines() {
        events.push(serde_json::from_str(line)?);
    }
    Ok(events)
}

fn run(event: &EventRecord) -> &RunContext {
    event.as_event().run()
}

fn line(event: &EventRecord, names: &dyn Fn(Option<Uuid>) -> String) -> String {
    let run = run(event);
    format!(
        "{} {} (parent {})",
        event.as_event().kind().name(),
        run.name.as_deref().unwrap_or("?"),
        names(run.parent_run_id)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_answers_through_the_instrumented_client_and_uptrain_grades_it() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(quoting_model)
        .expect(1)
        .mount(&server)
        .await;

    // The example's set-up, with the console captured, the UpTrain plugin offline and quiet,
    // and a recorder beside them.
    let console = ConsoleHandler::to_writer(Vec::new());
    let plugins = PluginConfig::new()
        .set(env::EVALUATOR, "offline")
        .set(env::LOG_RESULTS, "false");
    let (manager, uptrain) = callbacks(console, &plugins)?;
    let uptrain = uptrain.ok_or("the UpTrain plugin is on by default")?;
    let buffer = Buffer::default();
    let recorder = Arc::new(JsonlRecorder::new(buffer.clone()));
    let manager = manager.with_handler(recorder.clone());

    let settings = Settings::from_values(
        Some(server.uri()),
        Some("test-key".into()),
        Some("test-model".into()),
    )
    .ok_or("settings")?;
    let policy = RetryPolicy::default().with_initial_backoff(Duration::from_millis(1));
    let service = RagService::new(settings.client(policy)?, Corpus::shipped()?, "test-model");

    let question = "Which planet has the Great Red Spot?";
    let answer = manager.instrument(service.answer(question)).await?;
    let documents = service.search(question).await; // nothing current: no events
    let context = context_of(&documents);
    assert_eq!(answer, context.lines().next().unwrap_or_default().trim());

    recorder.flush()?;
    let events = parse_events(&buffer)?;
    let names = |id: Option<Uuid>| match id {
        None => "none".to_owned(),
        Some(id) => events
            .iter()
            .find(|e| run(e).run_id == id)
            .and_then(|e| run(e).name.clone())
            .unwrap_or_else(|| "unknown".into()),
    };
    let lines: Vec<String> = events.iter().map(|e| line(e, &names)).collect();
    assert_eq!(
        lines,
        [
            "chain_start rag (parent none)",
            "retriever_start search (parent rag)",
            "retriever_end search (parent rag)",
            "chain_start generate (parent rag)",
            "chat_model_start ChatOpenAI (parent generate)",
            "llm_new_token ChatOpenAI (parent generate)",
            "llm_new_token ChatOpenAI (parent generate)",
            "llm_new_token ChatOpenAI (parent generate)",
            "llm_end ChatOpenAI (parent generate)",
            "chain_end generate (parent rag)",
            "chain_end rag (parent none)",
        ]
    );
    let root = run(&events[0]).run_id;
    assert_eq!(run(&events[0]).name.as_deref(), Some(RAG_CHAIN));
    for event in &events[1..] {
        assert_eq!(run(event).root_id(), root);
    }

    // What the events carry.
    let EventRecord::RetrieverEnd {
        documents: found, ..
    } = &events[2]
    else {
        return Err("no retriever end".into());
    };
    assert_eq!(found, &documents);
    let EventRecord::ChainStart { inputs, .. } = &events[3] else {
        return Err("no generate start".into());
    };
    assert_eq!(inputs, &json!({"question": question, "context": context}));
    let EventRecord::ChatModelStart {
        messages,
        serialized: Some(model),
        ..
    } = &events[4]
    else {
        return Err("no chat model start".into());
    };
    assert_eq!(messages[0].len(), 2);
    assert!(
        messages[0][1]
            .content
            .ends_with(&format!("Question: {question}"))
    );
    assert_eq!(model.kwargs["model"], "test-model");
    let tokens: Vec<&str> = events[5..8]
        .iter()
        .filter_map(|e| match e {
            EventRecord::LlmNewToken { token, .. } => Some(token.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(tokens.concat().trim(), answer);
    let EventRecord::LlmEnd { response, .. } = &events[8] else {
        return Err("no llm end".into());
    };
    assert_eq!(response.first_text().map(str::trim), Some(answer.as_str()));
    let usage = response.token_usage.ok_or("no usage")?;
    assert_eq!(usage.total_tokens, 93);
    assert_eq!(
        (usage.cache_read_tokens, usage.reasoning_tokens),
        (Some(60), Some(0))
    );
    let EventRecord::ChainEnd { outputs, .. } = &events[10] else {
        return Err("no rag end".into());
    };
    assert_eq!(outputs, &json!({"output": answer}));

    // The console saw the runs too.
    let console = manager
        .find_handler::<ConsoleHandler>()
        .and_then(|c| c.take_output())
        .ok_or("no console output")?;
    assert!(console.contains("rag"), "{console}");
    // With the run's tokens, and no made-up cost for a model the price table does not know.
    assert!(
        console.contains("tokens 90 in (60 cached), 3 out (0 reasoning), 93 total\n"),
        "{console}"
    );
    assert!(
        console.contains("cost unknown: model \"test-model\" not in the price table"),
        "{console}"
    );

    // UpTrain graded the answer of the `generate` chain: question, context and response.
    let rows = uptrain.flush_async().await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = &rows[0];
    assert_eq!(row.project, "langchain_rag");
    assert_eq!(row.run_id, Some(run(&events[3]).run_id));
    assert_eq!(row.input["question"], question);
    assert_eq!(row.input["context"], context.as_str());
    assert_eq!(
        row.input["response"].as_str().map(str::trim),
        Some(answer.as_str())
    );
    // The answer quotes the context: the offline check finds it grounded.
    assert_eq!(row.score(Check::FactualAccuracy), Some(1.0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_server_fails_the_answer_through_every_run_and_nothing_is_graded() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        // A 503 that says when to come back: a paid completion is sent again only when the
        // server asks for it.
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("retry-after", "0")
                .set_body_string("overloaded"),
        )
        .expect(2) // the call and one retry
        .mount(&server)
        .await;
    let plugins = PluginConfig::new()
        .set(env::EVALUATOR, "offline")
        .set(env::LOG_RESULTS, "false");
    let (manager, uptrain) = callbacks(ConsoleHandler::to_writer(Vec::new()), &plugins)?;
    let uptrain = uptrain.ok_or("the UpTrain plugin is on by default")?;
    let buffer = Buffer::default();
    let recorder = Arc::new(JsonlRecorder::new(buffer.clone()));
    let manager = manager.with_handler(recorder.clone());
    let settings = Settings::from_values(Some(server.uri()), None, Some("test-model".into()))
        .ok_or("settings")?;
    let policy = RetryPolicy::default()
        .with_max_retries(1)
        .with_initial_backoff(Duration::from_millis(1));
    let service = RagService::new(settings.client(policy)?, Corpus::shipped()?, "test-model");

    let outcome = manager
        .instrument(service.answer("How long is a day on Venus?"))
        .await;
    let Err(error) = outcome else {
        return Err("a 503 must fail the answer".into());
    };
    assert!(error.to_string().contains("503"), "{error}");

    recorder.flush()?;
    let events = parse_events(&buffer)?;
    let kinds: Vec<&str> = events.iter().map(|e| e.as_event().kind().name()).collect();
    assert_eq!(
        kinds,
        [
            "chain_start",
            "retriever_start",
            "retriever_end",
            "chain_start",
            "chat_model_start",
            "retry",
            "llm_error",
            "chain_error",
            "chain_error",
        ]
    );
    let chat = run(&events[4]).run_id;
    assert_eq!(run(&events[5]).run_id, chat); // the retry belongs to the model run
    let EventRecord::LlmError { error, .. } = &events[6] else {
        return Err("no llm error".into());
    };
    assert_eq!(error.message, "HTTP 503 Service Unavailable: overloaded");
    assert!(uptrain.flush_async().await.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_model_s_runs_are_priced_in_the_console_and_summed_in_the_summary() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(quoting_model)
        .expect(2)
        .mount(&server)
        .await;
    let plugins = PluginConfig::new().set(env::LOG_RESULTS, "false");
    let (manager, _) = callbacks(ConsoleHandler::to_writer(Vec::new()), &plugins)?;
    let summary = Arc::new(UsageSummary::new());
    let manager = manager.with_handler(summary.clone());
    let settings = Settings::from_values(Some(server.uri()), None, Some("gpt-4o-mini".into()))
        .ok_or("settings")?;
    let policy = RetryPolicy::default().with_initial_backoff(Duration::from_millis(1));
    let service = RagService::new(settings.client(policy)?, Corpus::shipped()?, "gpt-4o-mini");

    for question in [
        "Which planet has the Great Red Spot?",
        "How long is a day on Venus?",
    ] {
        manager.instrument(service.answer(question)).await?;
    }

    // Each run: 30 prompt tokens at $0.15, 60 cached at $0.075, 3 out at $0.60 per million.
    let console = manager
        .find_handler::<ConsoleHandler>()
        .and_then(|c| c.take_output())
        .ok_or("no console output")?;
    assert_eq!(
        console
            .matches("cost $0.000011 (gpt-4o-mini, prices of 2024-10-01)\n")
            .count(),
        2,
        "{console}"
    );
    let totals = summary.totals();
    assert_eq!((totals.runs, totals.priced_runs), (2, 2));
    assert_eq!(totals.usage.cache_read_tokens, Some(120));
    assert!((totals.cost - 0.0000216).abs() < 1e-12, "{}", totals.cost);
    let report = summary.report();
    let expected = format!(
        "2 model runs, 2 with usage: 180 in (120 cached), 6 out (0 reasoning), 186 total\n\
         cost $0.000022 over 2 priced runs (price table {})\n",
        PriceTable::shipped().version()
    );
    assert_eq!(report, expected);
    assert!(!report.contains("unpriced"), "{report}");
    Ok(())
}
