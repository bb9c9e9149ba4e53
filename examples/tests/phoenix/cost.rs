//! What a run cost, and its scores, in a real Phoenix: the `openai_rag` service answers through
//! the instrumented client from a loopback OpenAI-compatible server that reports `gpt-4o-mini`
//! with cached prompt tokens, the offline UpTrain evaluator grades the answer, and the exporter
//! sends it all to Phoenix. Read back: our cost attributes and token details on the model's
//! span (REST), Phoenix's own price of the run (GraphQL `costSummary`, from the model, the
//! provider and the token details), and the scores as trace annotations of the answer's trace.

use std::sync::Arc;
use std::time::{Duration, Instant};

use examples::Corpus;
use examples::openai_rag::{RagService, Settings, callbacks};
use llm_callbacks::Uuid;
use llm_callbacks::cost::PriceTable;
use llm_callbacks::handlers::ConsoleHandler;
use llm_callbacks::openai::RetryPolicy;
use llm_callbacks::otel::{OtelHandler, semconv as k};
use llm_callbacks::payload::TokenUsage;
use llm_callbacks::registry::PluginConfig;
use llm_callbacks::uptrain::env;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::{client, hex_span, hex_trace, phoenix, span, spans};

/// A model Phoenix's own table and ours both price.
const MODEL: &str = "gpt-4o-mini";

/// The usage the server reports: 90 prompt tokens, 60 of them cached; 3 completion tokens.
fn usage() -> TokenUsage {
    TokenUsage::new(90, 3)
        .with_cache_read_tokens(60)
        .with_reasoning_tokens(0)
}

/// A streamed answer quoting the first line of the context, then the usage chunk, under the
/// model name asked for.
fn quoting_model(request: &Request) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let model = body["model"].clone();
    let prompt = body["messages"][1]["content"].as_str().unwrap_or_default();
    let context = prompt.strip_prefix("Context:\n").unwrap_or_default();
    let answer = context.lines().next().unwrap_or_default();
    let chunk = |choices: Value, usage: Value| {
        let chunk = json!({
            "id": "chatcmpl-cost", "object": "chat.completion.chunk", "created": 1,
            "model": model, "choices": choices, "usage": usage,
        });
        format!("data: {chunk}\n\n")
    };
    let delta = json!([{"index": 0, "delta": {"role": "assistant", "content": answer},
                        "finish_reason": "stop"}]);
    let usage = json!({"prompt_tokens": 90, "completion_tokens": 3, "total_tokens": 93,
                       "prompt_tokens_details": {"cached_tokens": 60},
                       "completion_tokens_details": {"reasoning_tokens": 0}});
    let sse = [
        chunk(delta, Value::Null),
        chunk(json!([]), usage),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream")
}

/// The project's id, as Phoenix's GraphQL API names it.
fn project_id(url: &str, project: &str) -> String {
    let projects: Value = client()
        .get(format!("{url}/v1/projects?limit=1000"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    projects["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == project)
        .and_then(|p| p["id"].as_str())
        .unwrap_or_else(|| panic!("no project {project} in {projects}"))
        .to_owned()
}

/// What Phoenix says the project's runs cost (its own pricing), once it has priced them
/// (bounded wait).
fn phoenix_cost_summary(url: &str, project: &str) -> Value {
    let id = project_id(url, project);
    let query = "query ($id: ID!) { node(id: $id) { ... on Project { costSummary { \
                 prompt { cost tokens } completion { cost tokens } total { cost tokens } } } } }";
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer: Value = client()
            .post(format!("{url}/graphql"))
            .json(&json!({"query": query, "variables": {"id": id}}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let summary = &answer["data"]["node"]["costSummary"];
        if summary["total"]["cost"].as_f64().is_some() {
            return summary.clone();
        }
        assert!(
            Instant::now() < deadline,
            "Phoenix priced nothing: {answer}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn trace_annotations(url: &str, project: &str, trace_id: &str) -> Vec<Value> {
    let page: Value = client()
        .get(format!(
            "{url}/v1/projects/{project}/trace_annotations?trace_ids={trace_id}&limit=100"
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    page["data"].as_array().cloned().unwrap_or_default()
}

#[test]
fn an_openai_rag_run_carries_its_cost_phoenix_prices_it_too_and_its_trace_shows_the_scores() {
    let Some(url) = phoenix() else {
        return;
    };
    let project = format!("llm-callbacks-cost-{}", Uuid::now_v7().simple());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(MockServer::start());
    runtime.block_on(
        Mock::given(method("POST"))
            .and(path("/chat/completions"))
            .respond_with(quoting_model)
            .expect(1)
            .mount(&server),
    );

    // The example's set-up, with the exporter beside the console and the offline evaluator;
    // content is not captured: cost, token counts and scores go anyway.
    let otel = OtelHandler::builder()
        .endpoint(&url)
        .phoenix_url(&url)
        .project_name(&project)
        .scheduled_delay(Duration::from_millis(100))
        .build()
        .unwrap();
    let plugins = PluginConfig::new()
        .set(env::EVALUATOR, "offline")
        .set(env::LOG_RESULTS, "false");
    let (manager, uptrain) = callbacks(ConsoleHandler::to_writer(Vec::new()), &plugins).unwrap();
    let uptrain = uptrain.expect("the UpTrain plugin is on by default");
    let manager = manager.with_handler(Arc::new(otel.clone()));
    let settings =
        Settings::from_values(Some(server.uri()), Some("test-key".into()), None).unwrap();
    assert_eq!(settings.model, MODEL, "the example's default model");
    let policy = RetryPolicy::default().with_initial_backoff(Duration::from_millis(1));
    let service = RagService::new(
        settings.client(policy).unwrap(),
        Corpus::shipped().unwrap(),
        MODEL,
    );
    let question = "Which planet has the Great Red Spot?";
    runtime
        .block_on(manager.instrument(service.answer(question)))
        .unwrap();
    let rows = runtime.block_on(uptrain.flush_async());
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = &rows[0];
    assert!(!row.checks.is_empty(), "{row:#?}");

    let report = otel.shutdown(Duration::from_secs(60));
    assert!(report.complete, "{report:?}");
    assert_eq!(report.spans.failed + report.spans.dropped, 0, "{report:?}");
    let a = report.annotations;
    assert_eq!(a.sent, 2 * row.checks.len() as u64, "{report:?}");
    assert_eq!(a.failed + a.rejected + a.dropped, 0, "{report:?}");

    // rag → search, generate → ChatOpenAI; and the scores' evaluation spans.
    let spans = spans(&url, &project, report.spans.exported as usize);
    let pipeline = spans.values().filter(|s| s["span_kind"] != "EVALUATOR");
    assert_eq!(pipeline.count(), 4);
    let model_span = spans
        .values()
        .find(|s| s["span_kind"] == "LLM")
        .expect("the model's span");
    let attributes = &model_span["attributes"];
    let ours = PriceTable::shipped().cost(MODEL, &usage()).unwrap();
    assert_eq!(attributes[k::LLM_PROVIDER], "openai");
    assert_eq!(attributes[k::GEN_AI_PROVIDER_NAME], "openai");
    assert_eq!(attributes[k::LLM_TOKEN_COUNT_PROMPT_CACHE_READ], 60);
    assert_eq!(attributes[k::LLM_TOKEN_COUNT_COMPLETION_REASONING], 0);
    assert_eq!(attributes[k::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS], 60);
    let near = |got: &Value, expected: f64, what: &str| {
        let got = got.as_f64().unwrap_or_else(|| panic!("{what}: {got}"));
        assert!(
            (got - expected).abs() < 1e-12,
            "{what}: {got} vs {expected}"
        );
    };
    near(
        &attributes[k::LLM_COST_TOTAL],
        ours.total,
        k::LLM_COST_TOTAL,
    );
    near(
        &attributes[k::LLM_COST_PROMPT_CACHE_READ],
        ours.breakdown.cached_input,
        k::LLM_COST_PROMPT_CACHE_READ,
    );
    near(
        &attributes[k::LLM_COST_COMPLETION],
        ours.breakdown.output + ours.breakdown.reasoning,
        k::LLM_COST_COMPLETION,
    );
    let langfuse: Value =
        serde_json::from_str(attributes[k::LANGFUSE_COST_DETAILS].as_str().unwrap()).unwrap();
    near(&langfuse["total"], ours.total, k::LANGFUSE_COST_DETAILS);
    assert_eq!(
        attributes[k::COST_TABLE_VERSION],
        PriceTable::shipped().version()
    );
    assert_eq!(
        attributes[k::COST_PRICES_DATE],
        ours.provenance.date.as_str()
    );
    assert!(attributes.get(k::COST_UNKNOWN).is_none(), "{attributes}");
    assert!(
        attributes.get("input.value").is_none(),
        "content was not captured"
    );

    // Phoenix prices the run itself, cached tokens at the cached price: the same amount.
    let summary = phoenix_cost_summary(&url, &project);
    near(
        &summary["total"]["cost"],
        ours.total,
        "Phoenix's costSummary",
    );
    assert_eq!(summary["total"]["tokens"].as_f64(), Some(93.0), "{summary}");

    // The scores, on the graded span and on the answer's trace (the trace list's column).
    let graded = span(&spans, row.run_id.unwrap());
    let trace = graded["context"]["trace_id"].as_str().unwrap();
    let root = spans
        .values()
        .find(|s| s["parent_id"].is_null())
        .expect("the root span");
    assert_eq!(root["name"], "rag");
    assert_eq!(root["context"]["trace_id"], trace);
    let found = trace_annotations(&url, &project, trace);
    assert_eq!(found.len(), row.checks.len(), "{found:#?}");
    for check in &row.checks {
        let annotation = found
            .iter()
            .find(|a| a["name"] == check.check.as_str())
            .unwrap_or_else(|| panic!("no trace annotation {}: {found:#?}", check.check));
        assert_eq!(annotation["trace_id"], trace);
        assert_eq!(annotation["annotator_kind"], "LLM");
        assert_eq!(
            annotation["identifier"],
            hex_span(row.run_id.unwrap()).as_str()
        );
        near(
            &annotation["result"]["score"],
            check.score.unwrap(),
            check.check.as_str(),
        );
    }
    assert_eq!(hex_trace(row.root_run_id.unwrap_or_default()), trace);
}
