//! The usage details a server reports (cached and cache-write prompt tokens, reasoning tokens),
//! from plain and streamed completions against wiremock on 127.0.0.1, as the run's end carries
//! them and the recorder writes them.

mod support;

use futures_util::StreamExt;
use handler_core::event::EventRecord;
use llm_callbacks_openai::RetryPolicy;
use serde_json::{Value, json};
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The usages under test: the server's `usage` object and the line the run's end shows.
fn cases() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "no details",
            json!({"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}),
            "12/3/15",
        ),
        (
            "details without counts",
            json!({"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15,
                   "prompt_tokens_details": {}, "completion_tokens_details": {}}),
            "12/3/15",
        ),
        (
            "cached prompt tokens",
            json!({"prompt_tokens": 2048, "completion_tokens": 3, "total_tokens": 2051,
                   "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0}}),
            "2048/3/2051 cached=1920",
        ),
        (
            "reasoning tokens",
            json!({"prompt_tokens": 12, "completion_tokens": 300, "total_tokens": 312,
                   "completion_tokens_details": {"reasoning_tokens": 256,
                                                 "accepted_prediction_tokens": 0}}),
            "12/300/312 reasoning=256",
        ),
        (
            "every detail, zeros kept",
            json!({"prompt_tokens": 4000, "completion_tokens": 10, "total_tokens": 4010,
                   "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 3000},
                   "completion_tokens_details": {"reasoning_tokens": 0}}),
            "4000/10/4010 cached=0 written=3000 reasoning=0",
        ),
    ]
}

fn llm_end_usage(events: &[EventRecord]) -> Result<String, Box<dyn std::error::Error>> {
    events
        .iter()
        .find_map(|event| match event {
            EventRecord::LlmEnd { response, .. } => Some(usage(response.token_usage)),
            _ => None,
        })
        .ok_or_else(|| "no llm end".into())
}

#[tokio::test]
async fn a_plain_completion_carries_the_usage_details_the_server_reported() -> TestResult {
    for (case, server_usage, expected) in cases() {
        let server = MockServer::start().await;
        let mut body = completion(json!({"role": "assistant", "content": "Hi"}), "stop");
        body["usage"] = server_usage;
        Mock::given(method("POST"))
            .and(path("/chat/completions"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;
        let recording = Recording::new();
        let client = client(&server, RetryPolicy::none())?;
        let (_, response) = in_app_chain(&recording, client.chat().create(request()?)).await?;
        response?;
        // Read back from the recorder's JSONL: what it wrote is what a replay gets.
        assert_eq!(llm_end_usage(&recording.events()?)?, expected, "{case}");
    }
    Ok(())
}

#[tokio::test]
async fn a_stream_carries_the_usage_details_of_its_usage_chunk() -> TestResult {
    for (case, server_usage, expected) in cases() {
        let server = MockServer::start().await;
        let usage_chunk = json!({
            "id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1,
            "model": "test-model", "choices": [], "usage": server_usage
        });
        let body = [
            chunk(json!({"role": "assistant", "content": "Hi"}), Some("stop")),
            format!("data: {usage_chunk}\n\n"),
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
        let (_, read) = in_app_chain(&recording, async {
            let mut stream = client.chat().create_stream(request()?).await?;
            while let Some(item) = stream.next().await {
                item?;
            }
            Ok::<(), Box<dyn std::error::Error>>(())
        })
        .await?;
        read?;
        assert_eq!(llm_end_usage(&recording.events()?)?, expected, "{case}");
    }
    Ok(())
}

#[test]
fn the_recorded_line_names_each_detail_and_leaves_out_unreported_ones() -> TestResult {
    use handler_core::payload::TokenUsage;
    let reported = TokenUsage::new(2048, 3).with_cache_read_tokens(1920);
    let line = serde_json::to_value(reported)?;
    assert_eq!(
        line,
        json!({"prompt_tokens": 2048, "completion_tokens": 3, "total_tokens": 2051,
               "cache_read_tokens": 1920})
    );
    Ok(())
}
