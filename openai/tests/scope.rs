//! A panic inside an instrumented call leaks nothing to the next task on the thread: neither
//! the current run nor the call's run, which the HTTP layer would report retries to.

mod support;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use handler_core::AsyncCallbackManager;
use handler_core::event::EventRecord;
use llm_callbacks_openai::{ClientExt, RetryService};
use serde_json::json;
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// An HTTP service whose every request panics, inside the instrumented call's `poll`.
#[derive(Clone)]
struct Panicking;

impl tower_service::Service<HttpRequestFactory> for Panicking {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = std::future::Ready<Result<reqwest::Response, OpenAIError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), OpenAIError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: HttpRequestFactory) -> Self::Future {
        panic!("the HTTP layer panics");
    }
}

#[tokio::test] // a current-thread runtime: both tasks run on this thread
async fn a_panicking_call_leaks_no_run_to_the_next_task() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .set_body_json(json!({"error": {"message": "busy", "type": "x"}})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            json!({"role": "assistant", "content": "In France."}),
            "stop",
        )))
        .mount(&server)
        .await;
    let recording = Recording::new();
    let config = OpenAIConfig::new()
        .with_api_base(server.uri())
        .with_api_key("k");
    let panicking = Client::with_config(config)
        .with_http_service(Panicking)
        .instrumented();

    // A request's task: a chain made current by a drop guard around each poll, and a call
    // inside it whose HTTP layer panics.
    let manager = recording.manager.clone();
    let req = request()?;
    let task = tokio::spawn(async move {
        let chain = manager
            .on_chain_start(None, &json!({}), handler_core::RunOptions::named("app"))
            .await?;
        let chat = panicking.chat();
        let mut call = pin!(chat.create(req));
        std::future::poll_fn(|cx| {
            let _current = chain.enter();
            call.as_mut().poll(cx)
        })
        .await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    });
    let panicked = task.await.err().ok_or("the call must panic")?;
    assert!(panicked.is_panic());

    // The next task on the thread: nothing is current, and the retry of a call through the
    // retry service of a plain async-openai client goes to nobody (a leaked call run would get
    // an `on_retry`).
    let config = OpenAIConfig::new()
        .with_api_base(server.uri())
        .with_api_key("k");
    let client = Client::with_config(config)
        .with_http_service(RetryService::new(reqwest::Client::new(), fast_retries(1)));
    let req = request()?;
    let (current, answered) = tokio::spawn(async move {
        let current = AsyncCallbackManager::current().is_some();
        let answered = client.chat().create(req).await.is_ok();
        (current, answered)
    })
    .await?;
    assert!(!current, "the dead request's run is still current");
    assert!(answered);
    let requests = server.received_requests().await.ok_or("recording is on")?;
    assert_eq!(requests.len(), 2, "the plain call was retried once");
    let events = recording.events()?;
    let retries: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, EventRecord::Retry { .. }))
        .collect();
    assert!(retries.is_empty(), "a retry went to the dead call's run");
    Ok(())
}
