//! Lossless under faults: retries with `Retry-After`, bounded attempts that end as a row's
//! error while other rows are scored, immediate retries of unparseable replies, no retry of
//! other 4xx, HTML pages, oversized and truncated bodies, timeouts, unreachable servers, empty
//! fact lists, and validation before any request.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns may unwrap too

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Only catches a hang: no test here takes near as long.
const HANG: Duration = Duration::from_secs(120);

use common::{chat, choice, fast_resend, fast_retry, judge_builder, judge_reply};
use llm_callbacks_test_support::LoopbackJudge;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uptrain_plugin::{
    Check, CheckError, EvaluationError, EvaluationRequest, Evaluator, JudgeBuilder, RetryPolicy,
    Timeouts,
};
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn one_row(check: Check) -> EvaluationRequest {
    EvaluationRequest::new(vec![common::full_row("a")], [check])
}

fn error_of(evaluation: &uptrain_plugin::Evaluation, row: usize, check: Check) -> CheckError {
    let result = evaluation.rows[row].get(check).unwrap();
    assert_eq!(result.score, None);
    result.error.clone().unwrap()
}

#[tokio::test]
async fn a_429_is_retried_after_the_servers_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(chat(&choice("A")))
        .expect(1)
        .mount(&server)
        .await;
    let judge = judge_builder(&server).build().unwrap();
    let started = Instant::now();
    let evaluation = judge
        .evaluate(&one_row(Check::ContextRelevance))
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(evaluation.rows[0].score(Check::ContextRelevance), Some(1.0));
    // The back-off base is 1 ms: only Retry-After explains a one-second wait.
    assert!(elapsed >= Duration::from_millis(990), "{elapsed:?}");
    assert_eq!(evaluation.usage.requests, 2);
}

#[tokio::test]
async fn a_row_whose_calls_keep_failing_gets_an_error_and_the_others_are_scored() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("(doomed)"))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream exploded"))
        .expect(4)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(|r: &Request| judge_reply(r, "A"))
        .expect(2)
        .mount(&server)
        .await;
    // Opted in: a 500 after the server may have done the work is sent again.
    let judge = judge_builder(&server)
        .retry(fast_resend(4))
        .build()
        .unwrap();
    let rows = vec![
        common::full_row("ok-1"),
        common::full_row("doomed"),
        common::full_row("ok-2"),
    ];
    let evaluation = judge
        .evaluate(&EvaluationRequest::new(rows, [Check::ContextRelevance]))
        .await
        .unwrap();
    assert_eq!(evaluation.rows.len(), 3);
    assert_eq!(evaluation.rows[0].score(Check::ContextRelevance), Some(1.0));
    assert_eq!(evaluation.rows[2].score(Check::ContextRelevance), Some(1.0));
    assert_eq!(
        error_of(&evaluation, 1, Check::ContextRelevance),
        CheckError::Http {
            status: 500,
            body: "upstream exploded".into()
        }
    );
    let json = evaluation.to_json_rows();
    assert_eq!(json[1]["score_context_relevance"], serde_json::Value::Null);
    assert_eq!(
        json[1]["error_context_relevance"],
        "HTTP 500: upstream exploded"
    );
}

#[tokio::test]
async fn unparseable_replies_are_retried_at_once_then_reported() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(chat("I think the answer is probably fine."))
        .expect(3)
        .mount(&server)
        .await;
    // An hour of back-off: only immediate retries finish before the hang limit.
    let judge = judge_builder(&server)
        .retry(
            RetryPolicy::default()
                .with_max_retries(2)
                .with_initial_backoff(Duration::from_secs(3600))
                .with_max_backoff(Duration::from_secs(3600)),
        )
        .build()
        .unwrap();
    let evaluation =
        tokio::time::timeout(HANG, judge.evaluate(&one_row(Check::ResponseCompleteness)))
            .await
            .expect("unparseable replies were retried after the back-off, not at once")
            .unwrap();
    let error = error_of(&evaluation, 0, Check::ResponseCompleteness);
    let CheckError::Parse { reason, reply } = error else {
        panic!("{error:?}")
    };
    assert!(reason.contains("no JSON object"), "{reason}");
    assert!(reply.contains("probably fine"));
}

#[tokio::test]
async fn a_bad_reply_followed_by_a_good_one_scores() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(chat(r#"{"Reasoning": "x", "Choice": "maybe"}"#))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(chat(&choice("B")))
        .mount(&server)
        .await;
    let judge = judge_builder(&server).build().unwrap();
    let evaluation = judge
        .evaluate(&one_row(Check::ContextConciseness))
        .await
        .unwrap();
    assert_eq!(
        evaluation.rows[0].score(Check::ContextConciseness),
        Some(0.5)
    );
    assert_eq!(evaluation.usage.requests, 2);
}

/// A fault of the judge's server, met by one row of one check.
struct ServerFault {
    name: &'static str,
    reply: ResponseTemplate,
    /// Requests the server sees: 1 when the fault is not retried.
    requests: u64,
    check: Check,
    judge: fn(JudgeBuilder) -> JudgeBuilder,
    error: fn(&CheckError) -> bool,
    message: &'static str,
}

fn faults() -> Vec<ServerFault> {
    vec![
        ServerFault {
            name: "another 4xx is not retried and surfaces the message",
            reply: ResponseTemplate::new(401).set_body_json(serde_json::json!(
                {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
            )),
            requests: 1,
            check: Check::ValidResponse,
            judge: |b| b,
            error: |e| {
                *e == CheckError::Http {
                    status: 401,
                    body: "Incorrect API key provided".into(),
                }
            },
            message: "Incorrect API key provided",
        },
        ServerFault {
            name: "an HTML page is named as such",
            reply: ResponseTemplate::new(200).set_body_raw(
                "<!DOCTYPE html><html><body>Welcome to nginx!</body></html>",
                "text/html",
            ),
            requests: 1,
            check: Check::ContextRelevance,
            judge: |b| b,
            error: |e| matches!(e, CheckError::Html { status: 200, .. }),
            message: "HTML page",
        },
        ServerFault {
            name: "an oversized body is refused",
            reply: chat(&format!(
                "{{\"Choice\": \"A\", \"Reasoning\": \"{}\"}}",
                "x".repeat(10_000)
            )),
            requests: 1,
            check: Check::ContextRelevance,
            judge: |b| b.max_body_bytes(4096),
            error: |e| *e == CheckError::BodyTooLarge { limit: 4096 },
            message: "4096",
        },
        ServerFault {
            name: "an empty fact list is an error, not NaN",
            reply: chat(r#"{"Facts": []}"#),
            requests: 1,
            check: Check::FactualAccuracy,
            judge: |b| b,
            error: |e| *e == CheckError::NoFacts,
            message: "fact",
        },
        ServerFault {
            // Eight times slower than the timeout, tried twice (opted in: a call that timed out
            // after sending is sent again).
            name: "a slow server times out after bounded attempts",
            reply: chat(&choice("A")).set_delay(Duration::from_millis(800)),
            requests: 2,
            check: Check::ContextRelevance,
            judge: |b| {
                b.retry(fast_resend(2)).timeouts(
                    Timeouts::default()
                        .with_connect(Duration::from_secs(1))
                        .with_total(Duration::from_millis(100)),
                )
            },
            error: |e| matches!(e, CheckError::Timeout { .. }),
            message: "",
        },
    ]
}

#[tokio::test]
async fn each_server_fault_is_the_rows_error_after_the_allowed_requests() {
    for fault in faults() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(fault.reply)
            .expect(fault.requests)
            .named(fault.name)
            .mount(&server)
            .await;
        let judge = (fault.judge)(judge_builder(&server)).build().unwrap();
        let evaluation = judge.evaluate(&one_row(fault.check.clone())).await.unwrap();
        let error = error_of(&evaluation, 0, fault.check);
        assert!((fault.error)(&error), "{}: {error:?}", fault.name);
        assert!(
            error.to_string().contains(fault.message),
            "{}: {error}",
            fault.name
        );
        // The server saw exactly the requests allowed.
        server.verify().await;
    }
}

#[tokio::test]
async fn an_unreachable_server_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let judge = uptrain_plugin::JudgeEvaluator::builder()
        .base_url(format!("http://127.0.0.1:{port}/v1"))
        .api_key("k")
        .retry(fast_retry(2))
        .progress(uptrain_plugin::ProgressMode::Never)
        .build()
        .unwrap();
    let evaluation = judge
        .evaluate(&one_row(Check::ContextRelevance))
        .await
        .unwrap();
    let error = error_of(&evaluation, 0, Check::ContextRelevance);
    assert!(matches!(error, CheckError::Connect { .. }), "{error:?}");
    assert!(error.to_string().contains("cannot connect"));
    assert_eq!(evaluation.usage.requests, 2);
}

/// A raw loopback server that promises 1000 bytes and sends 20, then hangs up; counts the
/// connections it served.
async fn truncating_server() -> (String, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    let counting = served.clone();
    let handle = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counting.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 65536];
            let _ = socket.read(&mut buf).await;
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n";
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(br#"{"choices": [{"mess"#).await;
            let _ = socket.shutdown().await;
        }
    });
    (format!("http://{addr}/v1"), served, handle)
}

#[tokio::test]
async fn a_truncated_body_is_retried_then_reported() {
    let (url, served, server) = truncating_server().await;
    // Opted in: a reply cut short may have been billed, so only then is it sent again.
    let judge = uptrain_plugin::JudgeEvaluator::builder()
        .base_url(url)
        .api_key("k")
        .retry(fast_resend(3))
        .progress(uptrain_plugin::ProgressMode::Never)
        .build()
        .unwrap();
    let evaluation = judge
        .evaluate(&one_row(Check::ContextRelevance))
        .await
        .unwrap();
    let error = error_of(&evaluation, 0, Check::ContextRelevance);
    assert!(matches!(error, CheckError::Body { .. }), "{error:?}");
    // Each of the three attempts on a connection of its own (the server hung up each time).
    assert_eq!(served.load(Ordering::SeqCst), 3);
    server.abort();
}

#[tokio::test]
async fn invalid_rows_are_rejected_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(chat(&choice("A")))
        .expect(0)
        .mount(&server)
        .await;
    let judge = judge_builder(&server).build().unwrap();
    let mut incomplete = common::full_row("b");
    incomplete.remove("context");
    incomplete.remove("response");
    let rows = vec![common::full_row("a"), incomplete];
    let err = judge
        .evaluate(&EvaluationRequest::new(rows, Check::RAG))
        .await
        .unwrap_err();
    let EvaluationError::InvalidRows { issues } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].row, 1);
    assert_eq!(issues[0].missing, vec!["context", "response"]);
    assert_eq!(
        err.to_string(),
        "invalid rows: row 1: missing keys context, response"
    );
}

#[tokio::test]
async fn calls_run_concurrently_up_to_the_in_flight_bound() {
    let rows: Vec<_> = (0..8).map(|i| common::full_row(&i.to_string())).collect();
    let request = EvaluationRequest::new(rows, [Check::ContextRelevance]);
    // (in-flight bound, the fewest requests the judge must have held at once): each call is
    // held long enough for others to arrive, so calls overlap, and never beyond the bound.
    for (bound, overlap) in [(8, 2), (2, 2), (1, 1)] {
        let judge_server = LoopbackJudge::start(Duration::from_millis(300)).unwrap();
        let judge = uptrain_plugin::JudgeEvaluator::builder()
            .base_url(judge_server.url())
            .api_key("k")
            .limits(uptrain_plugin::Limits::unlimited(bound))
            .retry(fast_retry(1))
            .progress(uptrain_plugin::ProgressMode::Never)
            .build()
            .unwrap();
        let evaluation = judge.evaluate(&request).await.unwrap();
        assert!(
            evaluation
                .rows
                .iter()
                .all(|r| r.score(Check::ContextRelevance) == Some(1.0))
        );
        assert_eq!(judge_server.requests(), 8, "bound {bound}");
        let peak = judge_server.peak_in_flight();
        assert!(
            (overlap..=bound).contains(&peak),
            "bound {bound}: {peak} at once"
        );
    }
}

/// How the judge fails its first answer in [`paid_calls_are_resent_only_when_safe_or_asked`].
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// This status, with `Retry-After: 0` when asked.
    Status(u16, bool),
    /// An answer slower than the request timeout: the request was sent, then timed out.
    TimedOutAfterSending,
    /// Nobody listens: the connection is refused before anything is sent.
    Refused,
}

/// Judge calls are paid: by default a failed call is sent again only when it provably never
/// reached the server (refused) or the server asked for it (429, 503 with `Retry-After`);
/// opting in (`Idempotency::Idempotent`) also sends again what the server may have done.
#[tokio::test]
async fn paid_calls_are_resent_only_when_safe_or_asked() {
    use Fault::{Refused, Status, TimedOutAfterSending};
    // fault, opted in, attempts made (at most 2)
    let cases = [
        (TimedOutAfterSending, false, 1),
        (TimedOutAfterSending, true, 2),
        (Status(500, false), false, 1),
        (Status(500, false), true, 2),
        (Status(502, false), false, 1),
        (Status(408, false), false, 1),
        (Status(503, false), false, 1),
        (Status(503, true), false, 2),
        (Status(429, true), false, 2),
        (Status(429, false), false, 2),
        (Status(400, false), true, 1),
        (Refused, false, 2),
    ];
    for (fault, opted_in, attempts) in cases {
        let server = MockServer::start().await;
        let first = match fault {
            Status(code, asks) => {
                let mut reply = ResponseTemplate::new(code).set_body_string("failed");
                if asks {
                    reply = reply.insert_header("retry-after", "0");
                }
                reply
            }
            TimedOutAfterSending => chat(&choice("A")).set_delay(Duration::from_secs(30)),
            Refused => chat(&choice("A")),
        };
        Mock::given(method("POST"))
            .respond_with(first)
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(chat(&choice("A")))
            .mount(&server)
            .await;
        let url = match fault {
            Refused => {
                let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let port = closed.local_addr().unwrap().port();
                format!("http://127.0.0.1:{port}/v1")
            }
            _ => format!("{}/v1", server.uri()),
        };
        let policy = if opted_in {
            fast_resend(2)
        } else {
            fast_retry(2)
        };
        let judge = judge_builder(&server)
            .base_url(url)
            .retry(policy)
            .timeouts(
                Timeouts::default()
                    .with_connect(Duration::from_secs(5))
                    .with_total(Duration::from_millis(300)),
            )
            .build()
            .unwrap();
        let evaluation = judge
            .evaluate(&one_row(Check::ContextRelevance))
            .await
            .unwrap();
        let case = format!("{fault:?}, opted in: {opted_in}");
        assert_eq!(evaluation.usage.requests, attempts, "{case}");
        if !matches!(fault, Refused) {
            let received = server.received_requests().await.unwrap().len();
            assert_eq!(received, attempts as usize, "{case}");
        }
        let scored = evaluation.rows[0].score(Check::ContextRelevance).is_some();
        assert_eq!(scored, attempts == 2 && !matches!(fault, Refused), "{case}");
    }
}
