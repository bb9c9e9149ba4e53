//! Faults of a judge on 127.0.0.1, seen through the handler: a judge that is down, one that
//! accepts and never answers, connections reset or closed mid-reply, 429 bursts with and
//! without a delay header, and a 5 MB context under a small token budget. Every answer ends
//! as a row with its scores or its reasons; nothing waits on a stalled request.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{answer, choice, fast_resend, fast_retry, judge_reply};
use handler_core::CallbackManager;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use uptrain_plugin::{
    Check, CheckError, EvaluatedRow, EvaluatorKind, Limits, RetryPolicy, UptrainHandler,
    UptrainHandlerBuilder,
};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn judge_at(url: &str) -> UptrainHandlerBuilder {
    UptrainHandler::builder()
        .evaluator_kind(EvaluatorKind::Judge)
        .api_key("test")
        .base_url(url)
        .log_results(false)
}

fn all_failed_with(row: &EvaluatedRow, text: &str) -> bool {
    Check::RAG.iter().all(|c| {
        row.score(c).is_none() && row.errors.get(c.as_str()).is_some_and(|e| e.contains(text))
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_judge_that_is_down_fails_every_check_with_its_reason() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    // The judge's own defaults: 100 requests a minute, 4 attempts with back-off. Refused
    // connections never reached the server, so they spend no budget: 200 rows x 3 checks
    // (2,400 attempts) fail in seconds, not half an hour.
    let uptrain = Arc::new(
        judge_at(&format!("http://127.0.0.1:{port}/v1"))
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    for n in 0..200 {
        answer(&manager, &format!("q{n}?"), "c", "r");
    }
    let report = uptrain.flush_timeout(Duration::from_secs(60));
    assert!(report.is_complete(), "{} unfinished", report.unfinished);
    assert_eq!(report.rows.len(), 200);
    for row in &report.rows {
        assert!(all_failed_with(row, "cannot connect"), "{:?}", row.errors);
    }
    assert_eq!(uptrain.stats().evaluated, 200);
}

#[test]
fn a_judge_that_never_answers_settles_every_row_at_the_deadline() {
    let rt = runtime();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    // Accepts, reads, and never answers.
    rt.spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let uptrain = Arc::new(
        judge_at(&url)
            .evaluation_deadline(Duration::from_millis(500))
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    for n in 0..20 {
        answer(&manager, &format!("q{n}?"), "c", "r");
    }
    let rows = uptrain.flush();
    assert_eq!(rows.len(), 20);
    for row in &rows {
        assert!(all_failed_with(row, "deadline of 0.5s exceeded"), "{row:?}");
    }
    assert_eq!(uptrain.stats().deadline_exceeded, 20);
}

/// A judge whose first `broken` connections break mid-reply (`reset`: an RST after part of
/// the headers; else closed before any byte of the reply), then answers well.
async fn flaky_judge(broken: usize, reset: bool) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let mut got = Vec::new();
                    // Read one request (headers and a body of content-length bytes).
                    loop {
                        let Ok(read) = socket.read(&mut buf).await else {
                            return;
                        };
                        if read == 0 {
                            return;
                        }
                        got.extend_from_slice(&buf[..read]);
                        if let Some(end) = find(&got, b"\r\n\r\n") {
                            let len = content_length(&got[..end]);
                            if got.len() >= end + 4 + len {
                                break;
                            }
                        }
                    }
                    if n < broken {
                        if reset {
                            let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-").await;
                            let _ = socket.set_zero_linger();
                        }
                        return;
                    }
                    let body = serde_json::json!({
                        "choices": [{"index": 0, "message": {"role": "assistant",
                            "content": choice("A")}, "finish_reason": "stop"}]
                    })
                    .to_string();
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if socket.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, connections)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .to_ascii_lowercase()
        .lines()
        .find_map(|l| {
            l.strip_prefix("content-length:")
                .map(str::trim)
                .map(str::to_owned)
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn resets_and_closed_connections_are_retried() {
    for reset in [true, false] {
        let rt = runtime();
        let (url, connections) = rt.block_on(flaky_judge(2, reset));
        let uptrain = Arc::new(
            // Opted in: a reply broken off may have been billed, so only then is it resent.
            judge_at(&url)
                .limits(Limits::unlimited(1))
                .retry(fast_resend(4))
                .build()
                .unwrap(),
        );
        let manager = CallbackManager::new().with_handler(uptrain.clone());
        answer(
            &manager,
            "Where is Paris?",
            "Paris is in France.",
            "In France.",
        );
        let rows = uptrain.flush();
        assert_eq!(rows.len(), 1);
        // Completeness and relevance are graded "A"; factual accuracy's phases get an "A"
        // they cannot parse, which is a parse error, not a transport one.
        assert_eq!(
            rows[0].score(Check::ContextRelevance),
            Some(1.0),
            "reset={reset}: {:?}",
            rows[0].errors
        );
        assert_eq!(rows[0].score(Check::ResponseCompleteness), Some(1.0));
        assert!(connections.load(Ordering::SeqCst) > 2);
    }
}

#[test]
fn a_429_burst_pauses_and_honours_the_servers_delay() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after-ms", "400"))
            .up_to_n_times(3)
            .mount(&server),
    );
    rt.block_on(
        Mock::given(method("POST"))
            .respond_with(|r: &Request| judge_reply(r, "A"))
            .mount(&server),
    );
    let uptrain = Arc::new(
        judge_at(&format!("{}/v1", server.uri()))
            .limits(Limits::unlimited(4))
            .retry(fast_retry(4))
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let started = Instant::now();
    answer(
        &manager,
        "Where is Paris?",
        "Paris is in France.",
        "In France.",
    );
    let rows = uptrain.flush();
    assert!(rows[0].is_ok(), "{:?}", rows[0].errors);
    // The base back-off is 1 ms: only the server's 400 ms explains the wait.
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[test]
fn a_429_without_a_header_backs_off_for_real_then_reports() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(429)
                    .set_body_json(serde_json::json!({"error": {"message": "Rate limit reached"}})),
            )
            .mount(&server),
    );
    let uptrain = Arc::new(
        judge_at(&format!("{}/v1", server.uri()))
            .limits(Limits::unlimited(4))
            .retry(
                RetryPolicy::default()
                    .with_max_retries(2)
                    .with_initial_backoff(Duration::from_millis(100))
                    .with_jitter(false),
            )
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let started = Instant::now();
    answer(
        &manager,
        "Where is Paris?",
        "Paris is in France.",
        "In France.",
    );
    let rows = uptrain.flush();
    // 100 ms, then 200 ms: the policy's back-off for a 429 that named no delay.
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        all_failed_with(&rows[0], "HTTP 429: Rate limit reached"),
        "{:?}",
        rows[0].errors
    );
    let requests = rt.block_on(server.received_requests()).unwrap().len();
    assert_eq!(
        requests,
        3 * 3,
        "three checks (factual accuracy stops at phase 1), three attempts each"
    );
}

#[test]
fn a_huge_context_under_a_small_budget_is_refused_and_stalls_nobody() {
    let rt = runtime();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .respond_with(|r: &Request| judge_reply(r, "A"))
            .mount(&server),
    );
    let uptrain = Arc::new(
        judge_at(&format!("{}/v1", server.uri()))
            .limits(Limits::unlimited(2).with_tokens_per_minute(Some(20_000)))
            .retry(fast_retry(2))
            .build()
            .unwrap(),
    );
    let manager = CallbackManager::new().with_handler(uptrain.clone());
    let huge = "Paris is in France. ".repeat(5 * 1024 * 1024 / 20);
    answer(&manager, "Where is Paris?", &huge, "In France.");
    for n in 0..5 {
        answer(
            &manager,
            &format!("Where is Paris? ({n})"),
            "Paris is in France.",
            "In France.",
        );
    }
    let report = uptrain.flush_timeout(Duration::from_secs(60));
    assert!(report.is_complete());
    let rows = report.rows;
    assert_eq!(rows.len(), 6);
    let big = &rows[0];
    for check in [Check::ContextRelevance, Check::FactualAccuracy] {
        let error = big
            .checks
            .iter()
            .find(|c| c.check == check)
            .unwrap()
            .error
            .clone();
        assert!(
            matches!(
                error,
                Some(CheckError::OverTokenBudget {
                    tokens_per_minute: 20_000,
                    ..
                })
            ),
            "{check}: {error:?}"
        );
    }
    // The check that does not read the context is sent and scored.
    assert_eq!(big.score(Check::ResponseCompleteness), Some(1.0));
    for row in &rows[1..] {
        assert!(row.is_ok(), "{:?}", row.errors);
    }
    let largest = rt
        .block_on(server.received_requests())
        .unwrap()
        .iter()
        .map(|r| r.body.len())
        .max()
        .unwrap();
    assert!(
        largest < 100_000,
        "the huge prompt was never sent ({largest} bytes)"
    );
}
