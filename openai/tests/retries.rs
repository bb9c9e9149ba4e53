//! Which failed calls are sent again, against wiremock and loopback sockets on 127.0.0.1: a chat
//! completion is paid, so it is resent only when it never reached the server or the server
//! asked for it, unless the policy says the requests are idempotent.

mod support;

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use handler_core::event::EventRecord;
use llm_callbacks_openai::{
    ClientExt, Idempotency, InstrumentedClient, Limit, Limits, RetryPolicy, RetryService,
};
use serde_json::json;
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn success() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(completion(
        json!({"role": "assistant", "content": "In France."}),
        "stop",
    ))
}

fn kinds(events: &[EventRecord]) -> Vec<&'static str> {
    events.iter().map(|e| e.as_event().kind().name()).collect()
}

fn retries(events: &[EventRecord]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, EventRecord::Retry { .. }))
        .count()
}

#[tokio::test]
async fn failed_answers_are_sent_again_only_when_the_rule_allows() -> TestResult {
    use Idempotency::{Idempotent, NonIdempotent};
    // status, Retry-After, idempotency, requests the server sees (2 retries allowed)
    let cases = [
        (429, None, NonIdempotent, 3),
        (429, Some("0"), NonIdempotent, 3),
        (503, Some("0"), NonIdempotent, 3),
        (503, None, NonIdempotent, 1),
        (500, None, NonIdempotent, 1),
        (500, Some("0"), NonIdempotent, 1),
        (502, None, NonIdempotent, 1),
        (408, None, NonIdempotent, 1),
        (409, None, NonIdempotent, 1),
        (400, None, NonIdempotent, 1),
        (500, None, Idempotent, 3),
        (503, None, Idempotent, 3),
        (408, None, Idempotent, 3),
        (409, None, Idempotent, 3),
        (400, None, Idempotent, 1),
    ];
    for (status, retry_after, idempotency, sent) in cases {
        let server = MockServer::start().await;
        let mut answer = ResponseTemplate::new(status).set_body_json(json!({
            "error": {"message": "upstream says no", "type": "x", "param": null, "code": null}
        }));
        if let Some(wait) = retry_after {
            answer = answer.insert_header("retry-after", wait);
        }
        Mock::given(method("POST"))
            .and(path("/chat/completions"))
            .respond_with(answer)
            .mount(&server)
            .await;
        let recording = Recording::new();
        let policy = fast_retries(2).with_idempotency(idempotency);
        let client = client(&server, policy)?;

        let (_, response) = in_app_chain(&recording, client.chat().create(request()?)).await?;
        let case = format!("{status} retry-after {retry_after:?} {idempotency:?}");
        let error = response.err();
        assert_eq!(
            error.as_ref().and_then(|e| e.status()),
            Some(status),
            "{case}"
        );
        // The client's own error, with the response's status.
        let Some(OpenAIError::ApiError(api)) = error.as_ref().and_then(|e| e.as_openai()) else {
            return Err(format!("{case}: not an API error: {error:?}").into());
        };
        assert_eq!(api.status_code.as_u16(), status, "{case}");
        assert!(
            error.as_ref().and_then(|e| e.as_limit()).is_none(),
            "{case}"
        );
        let requests = server.received_requests().await.ok_or("recording is on")?;
        assert_eq!(requests.len(), sent, "{case}");
        assert_eq!(retries(&recording.events()?), sent - 1, "{case}");
    }
    Ok(())
}

#[tokio::test]
async fn a_500_after_the_work_is_not_resent_unless_the_user_opts_in() -> TestResult {
    for (idempotency, sent) in [
        (Idempotency::NonIdempotent, 1),
        (Idempotency::Idempotent, 2),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/chat/completions"))
            .respond_with(ResponseTemplate::new(500).set_body_string("done, then crashed"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/chat/completions"))
            .respond_with(success())
            .mount(&server)
            .await;
        let recording = Recording::new();
        let client = client(&server, fast_retries(2).with_idempotency(idempotency))?;

        let (_, response) = in_app_chain(&recording, client.chat().create(request()?)).await?;
        let requests = server.received_requests().await.ok_or("recording is on")?;
        assert_eq!(requests.len(), sent, "{idempotency:?}");
        let events = recording.events()?;
        match idempotency {
            Idempotency::NonIdempotent => {
                assert_eq!(response.err().and_then(|e| e.status()), Some(500));
                assert_eq!(
                    kinds(&events),
                    ["chain_start", "chat_model_start", "llm_error", "chain_end"]
                );
            }
            Idempotency::Idempotent => {
                response?;
                assert_eq!(
                    kinds(&events),
                    [
                        "chain_start",
                        "chat_model_start",
                        "retry",
                        "llm_end",
                        "chain_end"
                    ]
                );
            }
        }
    }
    Ok(())
}

/// A client whose HTTP client gives up waiting for an answer after `read_timeout`.
fn impatient_client(
    server: &MockServer,
    read_timeout: Duration,
    policy: RetryPolicy,
) -> Result<InstrumentedClient, Box<dyn std::error::Error>> {
    let http = reqwest::Client::builder()
        .read_timeout(read_timeout)
        .build()?;
    let config = OpenAIConfig::new()
        .with_api_base(server.uri())
        .with_api_key("test-key");
    Ok(Client::with_config(config)
        .with_http_service(RetryService::new(http, policy))
        .instrumented())
}

#[tokio::test]
async fn a_completion_slower_than_the_read_timeout_is_not_sent_again() -> TestResult {
    let server = MockServer::start().await;
    // Far slower than the client's read timeout; only a hang would wait it out.
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(success().set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = impatient_client(&server, Duration::from_millis(500), fast_retries(2))?;

    let (_, response) = in_app_chain(&recording, client.chat().create(request()?)).await?;
    let error = response.err().ok_or("a slow completion must fail")?;
    let requests = server.received_requests().await.ok_or("recording is on")?;
    assert_eq!(requests.len(), 1, "a paid completion was sent again");
    let message = error.to_string();
    assert!(message.contains("not sent again"), "{message}");
    assert!(message.contains("Idempotency::Idempotent"), "{message}");
    let events = recording.events()?;
    assert_eq!(
        kinds(&events),
        ["chain_start", "chat_model_start", "llm_error", "chain_end"]
    );
    let EventRecord::LlmError { error, .. } = &events[2] else {
        return Err("no llm error".into());
    };
    assert!(
        error.message.contains("not sent again"),
        "{}",
        error.message
    );

    // Opted in, the same timeout is retried.
    let opted_in = fast_retries(2).with_idempotency(Idempotency::Idempotent);
    let client = impatient_client(&server, Duration::from_millis(500), opted_in)?;
    let response = client.chat().create(request()?).await;
    assert!(response.is_err());
    let requests = server.received_requests().await.ok_or("recording is on")?;
    assert_eq!(requests.len(), 1 + 3);
    Ok(())
}

#[tokio::test]
async fn a_refused_connection_is_sent_again() -> TestResult {
    // A port that was just free: nobody listens on it, every connection is refused.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    drop(listener);
    let config = OpenAIConfig::new().with_api_base(base).with_api_key("k");
    let client = InstrumentedClient::with_config(config, fast_retries(2))?;
    let recording = Recording::new();

    let (_, response) = in_app_chain(&recording, client.chat().create(request()?)).await?;
    let error = response.err().ok_or("nobody listens")?;
    let Some(OpenAIError::Reqwest(failure)) = error.as_openai() else {
        return Err(format!("expected the connect error itself, got {error:?}").into());
    };
    assert!(failure.is_connect(), "{failure:?}");
    let events = recording.events()?;
    assert_eq!(
        kinds(&events),
        [
            "chain_start",
            "chat_model_start",
            "retry",
            "retry",
            "llm_error",
            "chain_end"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn a_client_without_timeouts_of_its_own_is_bounded_by_the_request_timeout() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(success().set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    let config = OpenAIConfig::new()
        .with_api_base(server.uri())
        .with_api_key("k");
    // async-openai's own HTTP client: no connect, read or total timeout.
    let limits = Limits::default().with_request_timeout(Duration::from_millis(200));
    let client = InstrumentedClient::new(Client::with_config(config)).with_limits(limits);
    let recording = Recording::new();

    let (_, response) = in_app_chain(&recording, client.chat().create(request()?)).await?;
    let error = response
        .err()
        .ok_or("a hanging server must fail the call")?;
    let exceeded = error.as_limit().ok_or("not a limit")?;
    assert!(error.as_openai().is_none(), "{error:?}");
    assert_eq!(
        exceeded.limit,
        Limit::RequestTimeout(Duration::from_millis(200))
    );
    let events = recording.events()?;
    let EventRecord::LlmError { error, .. } = &events[2] else {
        return Err(format!("{:?}", kinds(&events)).into());
    };
    assert_eq!(error.kind, "LimitExceeded");
    assert_eq!(error.message, "the call took over its timeout of 0.2 s");

    // With nothing current, the plain call is bounded the same way.
    let plain = client.chat().create(request()?).await;
    assert!(plain.err().and_then(|e| e.as_limit().copied()).is_some());
    Ok(())
}

#[tokio::test]
async fn a_server_wait_longer_than_max_backoff_is_honoured_up_to_max_server_wait() -> TestResult {
    // Retry-After (ms), the wait announced before the retry (none: no retry).
    let cases = [
        (None, Some(Duration::from_millis(1))),
        (Some("40"), Some(Duration::from_millis(40))),
        (Some("5000"), None),
    ];
    for (retry_after_ms, announced) in cases {
        let server = MockServer::start().await;
        let mut busy = ResponseTemplate::new(429).set_body_json(json!({
            "error": {"message": "slow down", "type": "x", "param": null, "code": null}
        }));
        if let Some(ms) = retry_after_ms {
            busy = busy.insert_header("retry-after-ms", ms);
        }
        Mock::given(method("POST"))
            .and(path("/chat/completions"))
            .respond_with(busy)
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/chat/completions"))
            .respond_with(success())
            .mount(&server)
            .await;
        // Computed waits are at most 1 ms; the server's word counts up to 1 s.
        let policy = fast_retries(2)
            .with_max_backoff(Duration::from_millis(1))
            .with_max_server_wait(Duration::from_secs(1));
        let recording = Recording::new();
        let (_, response) = in_app_chain(
            &recording,
            client(&server, policy)?.chat().create(request()?),
        )
        .await?;
        let case = format!("retry-after-ms {retry_after_ms:?}");
        let waits: Vec<_> = recording
            .events()?
            .iter()
            .filter_map(|e| match e {
                EventRecord::Retry { state, .. } => state.upcoming_sleep_secs,
                _ => None,
            })
            .map(Duration::from_secs_f64)
            .collect();
        assert_eq!(waits, Vec::from_iter(announced), "{case}");
        // Asked to wait past max_server_wait, the client gives up with the 429.
        let status = response.as_ref().err().and_then(|e| e.status());
        let expected = if announced.is_some() { None } else { Some(429) };
        assert_eq!(status, expected, "{case}");
    }
    Ok(())
}
