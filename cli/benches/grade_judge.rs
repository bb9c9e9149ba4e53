//! Grading throughput against a judge: 4,000 rows x 3 single-call checks through
//! `uptrain_plugin::grade` (what `llm-callbacks grade` runs) against a loopback judge that
//! answers after 20 ms, at 32 requests in flight. The floor is the latency limit,
//! 4,000 x 3 x 20 ms / 32 = 7.5 s; the figure is the total time over that limit.
//!
//! The judge is a minimal keep-alive HTTP/1.1 server on its own runtime and thread, so its
//! cost is not the grader's.
//!
//! `cargo bench -p llm-callbacks-cli --bench grade_judge` (one run, not a timed test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uptrain_plugin::{
    Check, GradeOptions, GradedRow, JudgeEvaluator, Limits, ProgressMode, Row, grade,
};

const ROWS: usize = 4_000;
const IN_FLIGHT: usize = 32;
const LATENCY: Duration = Duration::from_millis(20);
const CHECKS: [Check; 3] = [
    Check::ContextRelevance,
    Check::ResponseCompleteness,
    Check::ResponseConciseness,
];

fn main() {
    let url = start_judge();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(url));
}

/// The one reply: choice A.
fn reply() -> Vec<u8> {
    let content = json!({"Reasoning": "fine", "Choice": "A"}).to_string();
    let body =
        json!({"choices": [{"message": {"role": "assistant", "content": content}}]}).to_string();
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
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
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

/// Serves one keep-alive connection: read a request, wait, answer.
async fn serve(mut socket: TcpStream, reply: &'static [u8]) {
    let _ = socket.set_nodelay(true);
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let total = loop {
            if let Some(pos) = find(&buf, b"\r\n\r\n") {
                let total = pos + 4 + content_length(&buf[..pos]);
                if buf.len() >= total {
                    break total;
                }
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        buf.drain(..total);
        tokio::time::sleep(LATENCY).await;
        if socket.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// Starts the judge on its own runtime and thread; returns its base URL.
fn start_judge() -> String {
    let reply: &'static [u8] = Box::leak(reply().into_boxed_slice());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("loopback-judge")
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, reply));
        }
    });
    Box::leak(Box::new(runtime));
    format!("http://{addr}/v1")
}

async fn bench(url: String) {
    let judge = JudgeEvaluator::builder()
        .base_url(url)
        .api_key("bench")
        .limits(Limits::unlimited(IN_FLIGHT))
        .progress(ProgressMode::Never)
        .build()
        .unwrap();
    let rows: Vec<Row> = (0..ROWS)
        .map(|i| {
            json!({
                "question": format!("Question {i}: what is in the box?"),
                "context": format!("Box {i} holds a red ball."),
                "response": "A red ball.",
            })
            .as_object()
            .cloned()
            .unwrap()
        })
        .collect();
    let started = Instant::now();
    let graded = grade(&judge, rows, &CHECKS, &GradeOptions::default())
        .await
        .unwrap();
    let took = started.elapsed();
    let scored = graded
        .rows
        .iter()
        .filter(|r| matches!(r, GradedRow::Scored(r) if r.checks.iter().all(|c| c.is_ok())))
        .count();
    #[allow(clippy::cast_precision_loss)]
    let limit = LATENCY.as_secs_f64() * (ROWS * CHECKS.len()) as f64 / IN_FLIGHT as f64;
    println!(
        "grade_judge: {ROWS} rows x {} checks, {IN_FLIGHT} in flight, {} ms judge latency: \
         {:.2} s; latency limit {limit:.2} s; ratio {:.3}; {scored} rows fully scored, {} requests",
        CHECKS.len(),
        LATENCY.as_millis(),
        took.as_secs_f64(),
        took.as_secs_f64() / limit,
        graded.usage.requests,
    );
    assert_eq!(scored, ROWS, "every row must be scored");
}
