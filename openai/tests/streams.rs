//! Streams that never end, against loopback servers on 127.0.0.1: one that streams content
//! forever and one that sends only SSE keep-alive comments. Small configured limits end them;
//! a generous timeout around each test only catches a hang.

mod support;

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use handler_core::event::EventRecord;
use llm_callbacks_openai::{InstrumentedClient, Limit, LimitExceeded, Limits, RetryPolicy};
use serde_json::json;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Fails the test instead of hanging it.
async fn or_hang<T>(test: impl Future<Output = T>) -> Result<T, Box<dyn std::error::Error>> {
    Ok(tokio::time::timeout(Duration::from_secs(60), test).await?)
}

/// A server on 127.0.0.1 that answers every request with an SSE stream of `event` repeated
/// every `every`, until the client hangs up (or 100,000 events, to stay bounded).
async fn endless_server(
    event: String,
    every: Duration,
) -> Result<String, Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let event = event.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 16 * 1024];
                // Headers and the small JSON body arrive together on loopback.
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                            transfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let piece = format!("{:x}\r\n{event}\r\n", event.len());
                for _ in 0..100_000 {
                    if socket.write_all(piece.as_bytes()).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(every).await;
                }
            });
        }
    });
    Ok(format!("http://{address}"))
}

fn client_within(
    base: String,
    limits: Limits,
) -> Result<InstrumentedClient, Box<dyn std::error::Error>> {
    let config = async_openai::config::OpenAIConfig::new()
        .with_api_base(base)
        .with_api_key("k");
    Ok(InstrumentedClient::with_config(config, RetryPolicy::none())?.with_limits(limits))
}

/// Reads the stream to its end under the app chain: the chunks received, then the error.
async fn read_all(
    recording: &Recording,
    client: &InstrumentedClient,
) -> Result<(usize, Option<LimitExceeded>), Box<dyn std::error::Error>> {
    let req = request()?;
    let (_, outcome) = in_app_chain(recording, async {
        let mut stream = client.chat().create_stream(req).await?;
        let (mut chunks, mut limit) = (0, None);
        while let Some(item) = stream.next().await {
            match item {
                Ok(_) => chunks += 1,
                Err(error) => {
                    assert!(limit.is_none(), "a second error: {error}");
                    limit = Some(*error.as_limit().ok_or(error.to_string())?);
                }
            }
        }
        Ok::<_, Box<dyn std::error::Error>>((chunks, limit))
    })
    .await?;
    outcome
}

/// The error event ending the chat model run, and the number of token events before it.
fn run_error(events: &[EventRecord]) -> Result<(usize, &EventRecord), Box<dyn std::error::Error>> {
    let tokens = events
        .iter()
        .filter(|e| matches!(e, EventRecord::LlmNewToken { .. }))
        .count();
    let error = events
        .iter()
        .find(|e| matches!(e, EventRecord::LlmError { .. }))
        .ok_or("the run did not end with an error")?;
    Ok((tokens, error))
}

#[tokio::test]
async fn a_stream_that_never_ends_stops_at_the_byte_cap() -> TestResult {
    let base = endless_server(
        chunk(json!({"content": "0123456789"}), None),
        Duration::from_millis(1),
    )
    .await?;
    let client = client_within(base, Limits::default().with_max_stream_bytes(1000))?;
    let recording = Recording::new();

    let (chunks, limit) = or_hang(read_all(&recording, &client)).await??;
    // 100 chunks of 10 bytes fit; the 101st would pass the cap.
    assert_eq!(chunks, 100);
    assert_eq!(
        limit,
        Some(LimitExceeded::new(Limit::MaxStreamBytes(1000), 100, 1000))
    );
    let events = recording.events()?;
    let (tokens, error) = run_error(&events)?;
    assert_eq!(tokens, 100);
    let EventRecord::LlmError {
        error, response, ..
    } = error
    else {
        return Err("no error".into());
    };
    assert_eq!(error.kind, "LimitExceeded");
    assert_eq!(
        error.message,
        "the stream brought more than its cap of 1000 bytes of content and tool-call \
         arguments; 100 tokens, 1000 bytes so far"
    );
    let partial = response.as_ref().and_then(|r| r.first_text()).unwrap_or("");
    assert_eq!(partial.len(), 1000);
    Ok(())
}

#[tokio::test]
async fn a_stream_that_never_ends_stops_at_its_deadline() -> TestResult {
    let base = endless_server(
        chunk(json!({"content": "more "}), None),
        Duration::from_millis(5),
    )
    .await?;
    let limits = Limits::default().with_stream_timeout(Duration::from_millis(300));
    let client = client_within(base, limits)?;
    let recording = Recording::new();

    let (chunks, limit) = or_hang(read_all(&recording, &client)).await??;
    let limit = limit.ok_or("the stream ended without a limit")?;
    assert_eq!(
        limit.limit,
        Limit::StreamTimeout(Duration::from_millis(300))
    );
    assert_eq!(limit.tokens, chunks as u64);
    let events = recording.events()?;
    let (tokens, error) = run_error(&events)?;
    let EventRecord::LlmError { error, .. } = error else {
        return Err("no error".into());
    };
    assert_eq!(
        error.message,
        format!(
            "the stream took over its deadline of 0.3 s; {tokens} tokens, {} bytes so far",
            tokens * 5
        )
    );
    Ok(())
}

#[tokio::test]
async fn a_stream_of_keep_alives_only_stops_at_its_idle_timeout() -> TestResult {
    let base = endless_server(": keep-alive\n\n".to_owned(), Duration::from_millis(10)).await?;
    let limits = Limits::default().with_stream_idle_timeout(Duration::from_millis(200));
    let client = client_within(base, limits)?;
    let recording = Recording::new();

    let (chunks, limit) = or_hang(read_all(&recording, &client)).await??;
    assert_eq!(chunks, 0);
    assert_eq!(
        limit,
        Some(LimitExceeded::new(
            Limit::StreamIdleTimeout(Duration::from_millis(200)),
            0,
            0
        ))
    );
    let events = recording.events()?;
    let kinds: Vec<&str> = events.iter().map(|e| e.as_event().kind().name()).collect();
    assert_eq!(
        kinds,
        ["chain_start", "chat_model_start", "llm_error", "chain_end"]
    );
    let EventRecord::LlmError { error, .. } = &events[2] else {
        return Err("no error".into());
    };
    assert_eq!(
        error.message,
        "the stream sent no chunk for 0.2 s (its idle timeout); 0 tokens, 0 bytes so far"
    );

    // With nothing current, the plain stream keeps the same limits.
    let mut plain = or_hang(client.chat().create_stream(request()?)).await??;
    let first = or_hang(plain.next()).await?.ok_or("no item")?;
    let error = first.err().ok_or("a keep-alive is not a chunk")?;
    assert!(matches!(
        error.as_limit().map(|l| l.limit),
        Some(Limit::StreamIdleTimeout(_))
    ));
    assert!(or_hang(plain.next()).await?.is_none());
    Ok(())
}
