//! The instrumented client against wiremock on 127.0.0.1: the exact events a recording handler
//! receives for plain, streamed, cut, rate-limited, failed and tool-calling completions.

mod support;

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::CreateChatCompletionRequest;
use futures_util::StreamExt;
use handler_core::event::EventRecord;
use handler_core::payload::{Role, ToolCall};
use llm_callbacks_openai::{ClientExt, InstrumentedClient, RetryPolicy};
use serde_json::{Value, json};
use support::*;
use tokio::io::AsyncWriteExt;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_plain_completion_is_a_chat_model_run_of_the_current_chain() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            json!({"role": "assistant", "content": "In France."}),
            "stop",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = client(&server, RetryPolicy::none())?;

    let (chain, response) = in_app_chain(&recording, client.chat().create(request()?)).await?;
    assert_eq!(
        response?.choices[0].message.content.as_deref(),
        Some("In France.")
    );

    let events = recording.events()?;
    let lines: Vec<String> = events.iter().map(describe).collect();
    assert_eq!(
        lines,
        [
            "chain_start app",
            "chat_model_start ChatOpenAI [System: Answer briefly. | Human: Where is Paris?]",
            "llm_end \"In France.\" usage=12/3/15",
            "chain_end app",
        ]
    );
    assert_one_child_llm_run(&events, chain);
    let EventRecord::ChatModelStart {
        serialized: Some(serialized),
        ..
    } = &events[1]
    else {
        return Err("no component on the chat model start".into());
    };
    assert_eq!(serialized.id, ["llm_callbacks", "openai", "ChatOpenAI"]);
    assert_eq!(serialized.kwargs["model"], "test-model");
    assert_eq!(serialized.kwargs["max_completion_tokens"], 64);
    assert!((serialized.kwargs["temperature"].as_f64().unwrap_or(0.0) - 0.2).abs() < 1e-6);
    assert!(!serialized.kwargs.contains_key("messages"));
    let EventRecord::LlmEnd { response, .. } = &events[2] else {
        return Err("no llm end".into());
    };
    assert_eq!(response.model_name.as_deref(), Some("test-model"));
    assert_eq!(
        response.llm_output.as_ref().map(|o| o["id"].clone()),
        Some(json!("chatcmpl-1"))
    );
    let generation = &response.generations[0][0];
    assert_eq!(
        generation.message.as_ref().map(|m| &m.role),
        Some(&Role::Assistant)
    );
    assert_eq!(
        generation
            .generation_info
            .as_ref()
            .map(|i| i["finish_reason"].clone()),
        Some(json!("stop"))
    );
    Ok(())
}

#[tokio::test]
async fn without_a_current_run_the_call_is_plain_and_emits_nothing() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            json!({"role": "assistant", "content": "In France."}),
            "stop",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = client(&server, RetryPolicy::none())?;

    let response = client.chat().create(request()?).await?;
    assert_eq!(
        response.choices[0].message.content.as_deref(),
        Some("In France.")
    );
    assert!(recording.events()?.is_empty());
    Ok(())
}

#[tokio::test]
async fn an_entered_manager_makes_the_call_a_root_run() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            json!({"role": "assistant", "content": "In France."}),
            "stop",
        )))
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = client(&server, RetryPolicy::none())?;

    recording
        .manager
        .instrument(client.chat().create(request()?))
        .await?;
    let events = recording.events()?;
    assert_eq!(events.len(), 2);
    for event in &events {
        assert_eq!(run_of(event).parent_run_id, None);
    }
    Ok(())
}

#[tokio::test]
async fn a_stream_sends_one_token_per_delta_and_ends_with_the_usage_it_asked_for() -> TestResult {
    let server = MockServer::start().await;
    let body = [
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"content": "In "}), None),
        chunk(json!({"content": "France."}), None),
        chunk(json!({}), Some("stop")),
        usage_chunk(),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .and(body_partial_json(
            json!({"stream": true, "stream_options": {"include_usage": true}}),
        ))
        .respond_with(sse(body))
        .expect(1)
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = client(&server, RetryPolicy::none())?;

    let req = request()?;
    let (chain, received) = in_app_chain(&recording, async {
        let mut stream = client.chat().create_stream(req).await?;
        let mut received = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            received.push(chunk.choices.len());
        }
        Ok::<_, llm_callbacks_openai::CallError>(received)
    })
    .await?;
    // The usage chunk the client asked for is not the caller's: it sees the four it expects.
    assert_eq!(received?, [1, 1, 1, 1]);

    let events = recording.events()?;
    let lines: Vec<String> = events.iter().map(describe).collect();
    assert_eq!(
        lines,
        [
            "chain_start app",
            "chat_model_start ChatOpenAI [System: Answer briefly. | Human: Where is Paris?]",
            "token \"\"",
            "token \"In \"",
            "token \"France.\"",
            "token \"\"",
            "llm_end \"In France.\" usage=12/2/14",
            "chain_end app",
        ]
    );
    assert_one_child_llm_run(&events, chain);
    let EventRecord::ChatModelStart {
        serialized: Some(serialized),
        ..
    } = &events[1]
    else {
        return Err("no component".into());
    };
    assert_eq!(serialized.kwargs["stream"], true);
    let EventRecord::LlmNewToken {
        chunk: Some(chunk), ..
    } = &events[3]
    else {
        return Err("no chunk on the token".into());
    };
    assert_eq!(chunk.text, "In ");
    assert_eq!(
        chunk.message.as_ref().map(|m| m.content.as_str()),
        Some("In ")
    );
    Ok(())
}

#[tokio::test]
async fn a_stream_that_asked_for_usage_itself_keeps_the_usage_chunk() -> TestResult {
    let server = MockServer::start().await;
    let body = [
        chunk(json!({"content": "Hi"}), Some("stop")),
        usage_chunk(),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(sse(body))
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = client(&server, RetryPolicy::none())?;
    let mut request = request()?;
    request.stream_options = Some(async_openai::types::chat::ChatCompletionStreamOptions {
        include_usage: Some(true),
        include_obfuscation: None,
    });

    let (_, received) = in_app_chain(&recording, async {
        let mut stream = client.chat().create_stream(request).await?;
        let mut received = Vec::new();
        while let Some(chunk) = stream.next().await {
            received.push(chunk?.choices.len());
        }
        Ok::<_, llm_callbacks_openai::CallError>(received)
    })
    .await?;
    assert_eq!(received?, [1, 0]);
    let lines: Vec<String> = recording.events()?.iter().map(describe).collect();
    assert_eq!(lines[3], "llm_end \"Hi\" usage=12/2/14");
    Ok(())
}

#[tokio::test]
async fn a_stream_cut_before_the_model_finished_ends_the_run_with_an_error() -> TestResult {
    let server = MockServer::start().await;
    // The server stops after two deltas: no finish_reason, no usage, no [DONE].
    let body = [
        chunk(json!({"role": "assistant", "content": "In "}), None),
        chunk(json!({"content": "Fra"}), None),
    ]
    .concat();
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(sse(body))
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = client(&server, RetryPolicy::none())?;

    let req = request()?;
    let (chain, received) = in_app_chain(&recording, async {
        let mut stream = client.chat().create_stream(req).await?;
        let mut count = 0;
        while let Some(chunk) = stream.next().await {
            chunk?;
            count += 1;
        }
        Ok::<_, llm_callbacks_openai::CallError>(count)
    })
    .await?;
    assert_eq!(received?, 2); // async-openai itself sees a stream that just ended

    let events = recording.events()?;
    let lines: Vec<String> = events.iter().map(describe).collect();
    assert_eq!(
        lines,
        [
            "chain_start app",
            "chat_model_start ChatOpenAI [System: Answer briefly. | Human: Where is Paris?]",
            "token \"In \"",
            "token \"Fra\"",
            "llm_error IncompleteStream: the stream ended before the model finished: no finish_reason (partial Some(\"In Fra\"))",
            "chain_end app",
        ]
    );
    assert_one_child_llm_run(&events, chain);
    Ok(())
}

/// A server on 127.0.0.1 that sends the headers and one chunk of a streamed answer, then
/// closes the connection in the middle of the chunked body.
async fn cutting_server() -> Result<String, Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut request = vec![0u8; 16 * 1024];
        // Read the request (headers and the small JSON body arrive together on loopback).
        let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut request).await;
        let event = chunk(json!({"role": "assistant", "content": "In "}), None);
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        let first = format!("{:x}\r\n{event}\r\n", event.len());
        let _ = socket.write_all(head.as_bytes()).await;
        let _ = socket.write_all(first.as_bytes()).await;
        // Announce a chunk of 4096 bytes, send 10 and hang up.
        let _ = socket.write_all(b"1000\r\ndata: {\"id").await;
        let _ = socket.flush().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = socket.shutdown().await;
    });
    Ok(format!("http://{address}"))
}

#[tokio::test]
async fn a_connection_cut_midway_ends_the_run_with_the_stream_error() -> TestResult {
    let base = cutting_server().await?;
    let config = OpenAIConfig::new().with_api_base(base).with_api_key("k");
    let client = InstrumentedClient::new(Client::with_config(config));
    let recording = Recording::new();

    let req = request()?;
    let (chain, outcome) = in_app_chain(&recording, async {
        let mut stream = client.chat().create_stream(req).await?;
        let mut items = Vec::new();
        while let Some(chunk) = stream.next().await {
            items.push(chunk.is_ok());
        }
        Ok::<_, llm_callbacks_openai::CallError>(items)
    })
    .await?;
    assert_eq!(outcome?, [true, false]); // one chunk, then the stream's error

    let events = recording.events()?;
    let kinds: Vec<String> = events.iter().map(describe).collect();
    assert_eq!(kinds.len(), 5, "{kinds:#?}");
    assert_eq!(kinds[2], "token \"In \"");
    let EventRecord::LlmError {
        error, response, ..
    } = &events[3]
    else {
        return Err(format!("expected an llm error, got {kinds:#?}").into());
    };
    assert_eq!(error.kind, "StreamError");
    assert_eq!(response.as_ref().and_then(|r| r.first_text()), Some("In "));
    assert_one_child_llm_run(&events, chain);
    Ok(())
}

#[tokio::test]
async fn a_dropped_stream_leaves_its_run_abandoned() -> TestResult {
    let server = MockServer::start().await;
    let body = [
        chunk(json!({"content": "In "}), None),
        chunk(json!({"content": "France."}), Some("stop")),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(sse(body))
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = client(&server, RetryPolicy::none())?;

    let req = request()?;
    let (_, first) = in_app_chain(&recording, async {
        let mut stream = client.chat().create_stream(req).await?;
        let first = stream.next().await;
        drop(stream);
        Ok::<_, llm_callbacks_openai::CallError>(first.is_some())
    })
    .await?;
    assert!(first?);
    let events = recording.events()?;
    let EventRecord::LlmError { error, .. } = &events[3] else {
        return Err(format!("{:#?}", events.iter().map(describe).collect::<Vec<_>>()).into());
    };
    assert!(error.is_abandoned());
    Ok(())
}

fn rate_limited() -> ResponseTemplate {
    ResponseTemplate::new(429).set_body_json(json!({
        "error": {"message": "slow down", "type": "rate_limit_error", "param": null, "code": null}
    }))
}

const RATE_LIMITED: &str = r#"HTTP 429 Too Many Requests: {"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":null}}"#;

#[tokio::test]
async fn a_429_is_retried_with_retry_events_then_fails_with_status_and_body() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(rate_limited())
        .expect(3)
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = client(&server, fast_retries(2))?;

    let (chain, response) = in_app_chain(&recording, client.chat().create(request()?)).await?;
    let Err(error) = response else {
        return Err("a 429 must fail".into());
    };
    assert_eq!(error.status(), Some(429));

    let events = recording.events()?;
    let lines: Vec<String> = events.iter().map(describe).collect();
    assert_eq!(
        lines,
        [
            "chain_start app".to_owned(),
            "chat_model_start ChatOpenAI [System: Answer briefly. | Human: Where is Paris?]"
                .to_owned(),
            format!("retry 1 after {RATE_LIMITED}"),
            format!("retry 2 after {RATE_LIMITED}"),
            format!("llm_error ApiError: {RATE_LIMITED} (partial None)"),
            "chain_end app".to_owned(),
        ]
    );
    assert_one_child_llm_run(&events, chain);
    let EventRecord::Retry { state, .. } = &events[3] else {
        return Err("no second retry".into());
    };
    assert_eq!(state.upcoming_sleep_secs, Some(0.002));
    assert!((state.idle_for_secs - 0.001).abs() < 1e-9);
    Ok(())
}

#[tokio::test]
async fn a_429_then_a_success_is_one_run_with_one_retry() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(rate_limited())
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            json!({"role": "assistant", "content": "In France."}),
            "stop",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = client(&server, fast_retries(2))?;

    let (chain, response) = in_app_chain(&recording, client.chat().create(request()?)).await?;
    response?;
    let events = recording.events()?;
    let lines: Vec<String> = events.iter().map(describe).collect();
    assert_eq!(lines[2], format!("retry 1 after {RATE_LIMITED}"));
    assert_eq!(lines[3], "llm_end \"In France.\" usage=12/3/15");
    assert_eq!(lines.len(), 5);
    assert_one_child_llm_run(&events, chain);
    Ok(())
}

#[tokio::test]
async fn the_plain_client_retries_a_429_by_itself_and_says_nothing() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(rate_limited())
        .expect(4) // async-openai's own executor: the call and 3 retries
        .mount(&server)
        .await;
    let recording = Recording::new();
    let config = OpenAIConfig::new().with_api_base(server.uri());
    let client = Client::with_config(config).instrumented();

    let (_, response) = in_app_chain(&recording, client.chat().create(request()?)).await?;
    assert_eq!(response.err().and_then(|e| e.status()), Some(429));
    let lines: Vec<String> = recording.events()?.iter().map(describe).collect();
    assert_eq!(
        lines[2],
        format!("llm_error ApiError: {RATE_LIMITED} (partial None)")
    );
    assert_eq!(lines.len(), 4);
    Ok(())
}

#[tokio::test]
async fn a_500_without_retries_fails_with_the_status_and_the_raw_body() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream exploded"))
        .expect(1)
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = client(&server, RetryPolicy::none())?;

    let (chain, response) =
        in_app_chain(&recording, client.chat().create_stream(request()?)).await?;
    let Err(error) = response else {
        return Err("a 500 must fail".into());
    };
    assert_eq!(error.status(), Some(500));
    let events = recording.events()?;
    let lines: Vec<String> = events.iter().map(describe).collect();
    assert_eq!(
        lines,
        [
            "chain_start app",
            "chat_model_start ChatOpenAI [System: Answer briefly. | Human: Where is Paris?]",
            "llm_error ApiError: HTTP 500 Internal Server Error: upstream exploded (partial None)",
            "chain_end app",
        ]
    );
    assert_one_child_llm_run(&events, chain);
    Ok(())
}

fn weather_call() -> ToolCall {
    ToolCall::new("weather", json!({"city": "Paris"})).with_id("call_1")
}

#[tokio::test]
async fn tool_calls_appear_in_the_result() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            json!({"role": "assistant", "content": null, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}
            }]}),
            "tool_calls",
        )))
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = client(&server, RetryPolicy::none())?;

    let (_, response) = in_app_chain(&recording, client.chat().create(request()?)).await?;
    response?;
    let events = recording.events()?;
    let EventRecord::LlmEnd { response, .. } = &events[2] else {
        return Err("no llm end".into());
    };
    let generation = &response.generations[0][0];
    let message = generation.message.as_ref().ok_or("no message")?;
    assert_eq!(message.tool_calls, [weather_call()]);
    assert_eq!(
        generation
            .generation_info
            .as_ref()
            .map(|i| i["finish_reason"].clone()),
        Some(json!("tool_calls"))
    );
    Ok(())
}

#[tokio::test]
async fn streamed_tool_calls_are_assembled_from_their_pieces() -> TestResult {
    let server = MockServer::start().await;
    let piece = |value: Value| json!({"tool_calls": [value]});
    let body = [
        chunk(
            piece(json!({"index": 0, "id": "call_1", "type": "function",
                         "function": {"name": "weather", "arguments": ""}})),
            None,
        ),
        chunk(
            piece(json!({"index": 0, "function": {"arguments": "{\"city\":"}})),
            None,
        ),
        chunk(
            piece(json!({"index": 0, "function": {"arguments": "\"Paris\"}"}})),
            None,
        ),
        chunk(json!({}), Some("tool_calls")),
        usage_chunk(),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(sse(body))
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = client(&server, RetryPolicy::none())?;

    let req = request()?;
    let (_, done) = in_app_chain(&recording, async {
        let mut stream = client.chat().create_stream(req).await?;
        while let Some(chunk) = stream.next().await {
            chunk?;
        }
        Ok::<_, llm_callbacks_openai::CallError>(())
    })
    .await?;
    done?;
    let events = recording.events()?;
    let lines: Vec<String> = events.iter().map(describe).collect();
    assert_eq!(
        lines[2..6],
        ["token \"\"", "token \"\"", "token \"\"", "token \"\""]
    );
    let EventRecord::LlmNewToken {
        chunk: Some(chunk), ..
    } = &events[3]
    else {
        return Err("no chunk".into());
    };
    let info = chunk.generation_info.as_ref().ok_or("no info")?;
    assert_eq!(
        info["tool_call_chunks"][0]["function"]["arguments"],
        "{\"city\":"
    );
    let EventRecord::LlmEnd { response, .. } = &events[6] else {
        return Err(format!("{lines:#?}").into());
    };
    let message = response.generations[0][0]
        .message
        .as_ref()
        .ok_or("no message")?;
    assert_eq!(message.tool_calls, [weather_call()]);
    assert_eq!(usage(response.token_usage), "12/2/14");
    Ok(())
}

#[tokio::test]
async fn retry_after_sets_the_wait_and_insufficient_quota_is_not_retried() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(rate_limited().insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "error": {"message": "no credit", "type": "insufficient_quota", "param": null, "code": null}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let recording = Recording::new();
    // Waits of 10 s unless the server's Retry-After says otherwise: the test would time out.
    let policy = RetryPolicy::default()
        .with_max_retries(5)
        .with_initial_backoff(Duration::from_secs(10))
        .with_max_backoff(Duration::from_secs(20));
    let client = client(&server, policy)?;

    let (_, response) = in_app_chain(&recording, client.chat().create(request()?)).await?;
    assert_eq!(response.err().and_then(|e| e.status()), Some(429));
    let events = recording.events()?;
    let kinds: Vec<&str> = events.iter().map(|e| e.as_event().kind().name()).collect();
    assert_eq!(
        kinds,
        [
            "chain_start",
            "chat_model_start",
            "retry",
            "llm_error",
            "chain_end"
        ]
    );
    let EventRecord::Retry { state, .. } = &events[2] else {
        return Err("no retry".into());
    };
    assert_eq!(state.upcoming_sleep_secs, Some(0.0));
    let EventRecord::LlmError { error, .. } = &events[3] else {
        return Err("no error".into());
    };
    assert!(
        error.message.contains("insufficient_quota"),
        "{}",
        error.message
    );
    Ok(())
}

#[tokio::test]
async fn without_a_current_run_a_stream_is_passed_through_as_requested() -> TestResult {
    let server = MockServer::start().await;
    let body = [
        chunk(json!({"content": "Hi"}), Some("stop")),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(sse(body))
        .expect(1)
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = client(&server, RetryPolicy::none())?;

    let mut stream = client.chat().create_stream(request()?).await?;
    let mut texts = Vec::new();
    while let Some(chunk) = stream.next().await {
        texts.push(chunk?.choices[0].delta.content.clone());
    }
    assert_eq!(texts, [Some("Hi".to_owned())]);
    assert!(recording.events()?.is_empty());
    // The request went out as the caller wrote it: no usage asked for.
    let requests = server.received_requests().await.ok_or("recording is on")?;
    let sent: Value = serde_json::from_slice(&requests[0].body)?;
    assert!(sent.get("stream_options").is_none(), "{sent}");
    Ok(())
}

#[tokio::test]
async fn only_a_safe_allow_list_of_invocation_parameters_is_carried() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            json!({"role": "assistant", "content": "In France."}),
            "stop",
        )))
        .mount(&server)
        .await;
    let recording = Recording::new();
    let client = client(&server, RetryPolicy::none())?;
    let request: CreateChatCompletionRequest = serde_json::from_value(json!({
        "model": "test-model",
        "messages": [{"role": "user", "content": "Where is Paris?"}],
        "temperature": 0.5, "top_p": 0.75, "max_tokens": 32, "max_completion_tokens": 64,
        "n": 1, "stop": ["\n"], "seed": 7, "presence_penalty": 0.25, "frequency_penalty": 0.125,
        "user": "alice@example.com",
        "metadata": {"tenant": "acme", "ticket": "secret plans"},
        "prediction": {"type": "content", "content": "the user's whole draft"},
        "tools": [{"type": "function", "function": {
            "name": "weather", "description": "The weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}
        }}],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "schema": {"type": "object", "description": "private schema"}
        }}
    }))?;

    let (_, response) = in_app_chain(&recording, client.chat().create(request)).await?;
    response?;
    let events = recording.events()?;
    let EventRecord::ChatModelStart {
        serialized: Some(serialized),
        ..
    } = &events[1]
    else {
        return Err("no component on the chat model start".into());
    };
    assert_eq!(
        Value::Object(serialized.kwargs.clone()),
        json!({
            "_type": "openai-chat",
            "model": "test-model",
            "temperature": 0.5, "top_p": 0.75, "max_tokens": 32, "max_completion_tokens": 64,
            "n": 1, "stop": ["\n"], "seed": 7, "presence_penalty": 0.25, "frequency_penalty": 0.125,
            "tool_names": ["weather"],
            "response_format": {"type": "json_schema"}
        })
    );
    Ok(())
}

#[tokio::test]
async fn the_wrapped_client_is_the_one_given_and_comes_back_uninstrumented() -> TestResult {
    use async_openai::config::Config;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(
            json!({"role": "assistant", "content": "In France."}),
            "stop",
        )))
        .mount(&server)
        .await;
    let config = OpenAIConfig::new()
        .with_api_base(server.uri())
        .with_api_key("k");
    let client = InstrumentedClient::new(Client::with_config(config));
    assert_eq!(client.client().config().api_base(), server.uri());

    // Through the instrumented client, the call is a run of the current chain...
    let recording = Recording::new();
    let (_, answer) = in_app_chain(&recording, client.chat().create(request()?)).await?;
    assert_eq!(answer?.choices.len(), 1);
    assert_eq!(
        recording.events()?.len(),
        4,
        "chain, model start and end, chain"
    );

    // ...and through the client it gives back, it is the plain call it was before.
    let inner = client.into_inner();
    assert_eq!(inner.config().api_base(), server.uri());
    let recording = Recording::new();
    let (_, answer) = in_app_chain(&recording, inner.chat().create(request()?)).await?;
    assert_eq!(answer?.choices.len(), 1);
    assert_eq!(
        recording.events()?.len(),
        2,
        "only the chain's start and end"
    );
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(2));
    Ok(())
}
