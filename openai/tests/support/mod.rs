//! What the client's tests share: a recording manager, the loopback client, requests and the
//! server's answers and stream chunks.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
};
use handler_core::event::EventRecord;
use handler_core::handlers::JsonlRecorder;
use handler_core::payload::{ChatMessage, TokenUsage};
use handler_core::{AsyncCallbackManager, RunOptions, Uuid};
use llm_callbacks_openai::{InstrumentedClient, RetryPolicy};
use serde_json::{Value, json};
use wiremock::{MockServer, ResponseTemplate};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A writer the test reads back.
pub use llm_callbacks_test_support::SharedBuffer as Buffer;

/// A manager with a recorder, and the events it recorded.
pub struct Recording {
    pub manager: AsyncCallbackManager,
    recorder: Arc<JsonlRecorder>,
    buffer: Buffer,
}

impl Recording {
    pub fn new() -> Self {
        let buffer = Buffer::default();
        let recorder = Arc::new(JsonlRecorder::new(buffer.clone()));
        let manager = AsyncCallbackManager::new().with_handler(recorder.clone());
        Self {
            manager,
            recorder,
            buffer,
        }
    }

    pub fn events(&self) -> Result<Vec<EventRecord>, Box<dyn std::error::Error>> {
        self.recorder.flush()?;
        let bytes = self.buffer.bytes();
        let text = String::from_utf8(bytes)?;
        let mut events = Vec::new();
        for line in text.lines() {
            events.push(serde_json::from_str(line)?);
        }
        Ok(events)
    }
}

/// One line per event: its kind and what the test checks of it.
pub fn describe(event: &EventRecord) -> String {
    match event {
        EventRecord::ChainStart { run, .. } => format!("chain_start {}", name(run)),
        EventRecord::ChainEnd { run, .. } => format!("chain_end {}", name(run)),
        EventRecord::ChatModelStart { run, messages, .. } => format!(
            "chat_model_start {} [{}]",
            name(run),
            ChatMessage::render(&messages[0]).replace('\n', " | ")
        ),
        EventRecord::LlmNewToken { token, .. } => format!("token {token:?}"),
        EventRecord::LlmEnd { response, .. } => {
            format!(
                "llm_end {:?} usage={}",
                response.first_text().unwrap_or("<none>"),
                usage(response.token_usage)
            )
        }
        EventRecord::LlmError {
            error, response, ..
        } => format!(
            "llm_error {}: {} (partial {:?})",
            error.kind,
            error.message,
            response.as_ref().and_then(|r| r.first_text())
        ),
        EventRecord::Retry { state, .. } => format!(
            "retry {} after {}",
            state.attempt,
            match &state.outcome {
                handler_core::payload::RetryOutcome::Failed { error } => error.message.as_str(),
                _ => "?",
            }
        ),
        other => format!("{other:?}"),
    }
}

pub fn name(run: &handler_core::RunContext) -> &str {
    run.name.as_deref().unwrap_or("<unnamed>")
}

/// `prompt/completion/total`, then each detail the server reported (`cached=`, `written=`,
/// `reasoning=`), or `none`.
pub fn usage(usage: Option<TokenUsage>) -> String {
    usage.map_or("none".into(), |u| {
        let mut line = format!(
            "{}/{}/{}",
            u.prompt_tokens, u.completion_tokens, u.total_tokens
        );
        for (name, detail) in [
            ("cached", u.cache_read_tokens),
            ("written", u.cache_write_tokens),
            ("reasoning", u.reasoning_tokens),
        ] {
            if let Some(n) = detail {
                line.push_str(&format!(" {name}={n}"));
            }
        }
        line
    })
}

pub fn run_of(event: &EventRecord) -> &handler_core::RunContext {
    event.as_event().run()
}

pub fn client(
    server: &MockServer,
    policy: RetryPolicy,
) -> Result<InstrumentedClient, Box<dyn std::error::Error>> {
    let config = OpenAIConfig::new()
        .with_api_base(server.uri())
        .with_api_key("test-key");
    Ok(InstrumentedClient::with_config(config, policy)?)
}

/// Retries after waits of 1 ms, 2 ms, ... (no jitter, so the waits are exact).
pub fn fast_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(max_retries)
        .with_initial_backoff(Duration::from_millis(1))
        .with_jitter(false)
}

pub fn request() -> Result<CreateChatCompletionRequest, Box<dyn std::error::Error>> {
    Ok(CreateChatCompletionRequestArgs::default()
        .model("test-model")
        .temperature(0.2)
        .max_completion_tokens(64u32)
        .messages([
            ChatCompletionRequestSystemMessage::from("Answer briefly.").into(),
            ChatCompletionRequestUserMessage::from("Where is Paris?").into(),
        ])
        .build()?)
}

pub fn completion(message: Value, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "test-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    })
}

pub fn chunk(delta: Value, finish_reason: Option<&str>) -> String {
    let chunk = json!({
        "id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1, "model": "test-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    });
    format!("data: {chunk}\n\n")
}

pub fn usage_chunk() -> String {
    let chunk = json!({
        "id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1, "model": "test-model",
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14}
    });
    format!("data: {chunk}\n\n")
}

pub fn sse(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/event-stream")
        .set_body_raw(body, "text/event-stream")
}

/// Runs `f` inside a root chain `app` and returns the chain's id.
pub async fn in_app_chain<F, T>(
    recording: &Recording,
    f: F,
) -> Result<(Uuid, T), Box<dyn std::error::Error>>
where
    F: std::future::Future<Output = T>,
{
    let chain = recording
        .manager
        .on_chain_start(None, &json!({}), RunOptions::named("app"))
        .await?;
    let id = chain.run_id();
    let out = chain.instrument(f).await;
    chain.on_chain_end(&json!({})).await?;
    Ok((id, out))
}

/// Asserts that the events between the chain's start and end belong to one chat model run,
/// a child of the chain.
pub fn assert_one_child_llm_run(events: &[EventRecord], chain: Uuid) {
    let llm = run_of(&events[1]).run_id;
    assert_ne!(llm, chain);
    for event in &events[1..events.len() - 1] {
        let run = run_of(event);
        assert_eq!(run.run_id, llm, "{}", describe(event));
        assert_eq!(run.parent_run_id, Some(chain), "{}", describe(event));
        assert_eq!(run.root_run_id, Some(chain), "{}", describe(event));
    }
}
