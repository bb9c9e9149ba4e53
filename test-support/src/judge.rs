//! A loopback OpenAI-compatible judge on 127.0.0.1, on a runtime and thread of its own: it
//! answers every chat completion after a delay chosen per request, by what the prompt asks
//! for (verdicts on facts, a list of facts, or else a grade), each reply reporting the same
//! token usage (120 + 30 tokens, or the usage given, details included), over keep-alive
//! connections; and it counts the requests it received and the most it held at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The grade every graded check gets: choice `A`.
pub const GRADED: &str = r#"{"Reasoning": "The context answers the question.", "Choice": "A"}"#;
/// The facts of every fact-extraction request.
pub const FACTS: &str =
    r#"{"Facts": ["Paris is the capital of France.", "Paris is on the Seine."]}"#;
/// The verdicts of every fact-checking request: one fact supported, one unclear.
pub const VERDICTS: &str = r#"{"Result": [{"Fact": "Paris is the capital of France.", "Reasoning": "stated", "Judgement": "yes"},
 {"Fact": "Paris is on the Seine.", "Reasoning": "not stated", "Judgement": "unclear"}]}"#;

/// The name of the judge's threads (a bench can tell their CPU time apart by it).
pub const THREAD_NAME: &str = "loopback-judge";

/// How long to wait before answering a request, given its body.
pub type DelayFor = dyn Fn(&str) -> Duration + Send + Sync;

/// The judge; it stops when dropped.
pub struct LoopbackJudge {
    url: String,
    counts: Arc<Counts>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for LoopbackJudge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackJudge")
            .field("url", &self.url)
            .field("requests", &self.requests())
            .field("peak_in_flight", &self.peak_in_flight())
            .finish()
    }
}

#[derive(Default)]
struct Counts {
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl LoopbackJudge {
    /// A judge answering every request after `delay`.
    pub fn start(delay: Duration) -> std::io::Result<Self> {
        Self::start_with(move |_| delay)
    }

    /// A judge answering each request after `delay_for(body)`.
    pub fn start_with(
        delay_for: impl Fn(&str) -> Duration + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        Self::start_full(delay_for, default_usage())
    }

    /// A judge answering every request after `delay`, each reply reporting `usage` (the
    /// OpenAI API's `usage` object: counts, and `prompt_tokens_details`,
    /// `completion_tokens_details` when the test wants them; or `null` for none).
    pub fn start_reporting(delay: Duration, usage: serde_json::Value) -> std::io::Result<Self> {
        Self::start_full(move |_| delay, usage)
    }

    fn start_full(
        delay_for: impl Fn(&str) -> Duration + Send + Sync + 'static,
        usage: serde_json::Value,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(THREAD_NAME)
            .enable_all()
            .build()?;
        // Bound here, so that it may start from inside another runtime too.
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}/v1", listener.local_addr()?);
        let counts = Arc::new(Counts::default());
        let delay_for: Arc<DelayFor> = Arc::new(delay_for);
        let serving = counts.clone();
        let usage = Arc::new(usage);
        runtime.spawn(async move {
            let Ok(listener) = TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(
                    socket,
                    serving.clone(),
                    delay_for.clone(),
                    usage.clone(),
                ));
            }
        });
        Ok(Self {
            url,
            counts,
            runtime: Some(runtime),
        })
    }

    /// The base URL of its OpenAI-compatible API (`http://127.0.0.1:<port>/v1`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The requests received so far.
    pub fn requests(&self) -> usize {
        self.counts.requests.load(Ordering::SeqCst)
    }

    /// The most requests it held at once, received and not yet answered.
    pub fn peak_in_flight(&self) -> usize {
        self.counts.peak.load(Ordering::SeqCst)
    }
}

impl Drop for LoopbackJudge {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The usage every reply reports unless the judge was given another: 120 prompt and 30
/// completion tokens, no details.
pub fn default_usage() -> serde_json::Value {
    serde_json::json!({"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150})
}

/// A chat completion saying `content`, reporting [`default_usage`], as an HTTP/1.1
/// keep-alive response.
pub fn http_reply(content: &str) -> Vec<u8> {
    http_reply_with(content, &default_usage())
}

/// A chat completion saying `content`, reporting `usage` (left out when `null`), as an
/// HTTP/1.1 keep-alive response.
pub fn http_reply_with(content: &str, usage: &serde_json::Value) -> Vec<u8> {
    let mut body = serde_json::json!({
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
    });
    if !usage.is_null() {
        body["usage"] = usage.clone();
    }
    let body = body.to_string();
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: keep-alive\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &[u8]) -> usize {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    text.lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// The answer to a prompt: verdicts when it asks for judgements, facts when it asks for facts,
/// else a grade.
fn reply_to(body: &[u8]) -> &'static str {
    if find(body, b"\\\"Judgement\\\"").is_some() {
        VERDICTS
    } else if find(body, b"\\\"Facts\\\"").is_some() {
        FACTS
    } else {
        GRADED
    }
}

/// Serves one keep-alive connection: read a request, wait, answer.
async fn serve(
    mut socket: TcpStream,
    counts: Arc<Counts>,
    delay_for: Arc<DelayFor>,
    usage: Arc<serde_json::Value>,
) {
    let _ = socket.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let (head_end, total) = loop {
            if let Some(pos) = find(&buf, b"\r\n\r\n") {
                let total = pos + 4 + content_length(&buf[..pos]);
                if buf.len() >= total {
                    break (pos, total);
                }
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        counts.requests.fetch_add(1, Ordering::SeqCst);
        let now = counts.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        counts.peak.fetch_max(now, Ordering::SeqCst);
        let body = &buf[head_end + 4..total];
        let reply = http_reply_with(reply_to(body), &usage);
        let delay = delay_for(&String::from_utf8_lossy(body));
        buf.drain(..total);
        tokio::time::sleep(delay).await;
        counts.in_flight.fetch_sub(1, Ordering::SeqCst);
        if socket.write_all(&reply).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_follow_what_the_prompt_asks_for() {
        let cases: [(&[u8], &str); 3] = [
            (br#"{"content": "answer with \"Judgement\""}"#, VERDICTS),
            (br#"{"content": "list the \"Facts\""}"#, FACTS),
            (br#"{"content": "grade it"}"#, GRADED),
        ];
        for (body, reply) in cases {
            assert_eq!(reply_to(body), reply);
        }
    }

    #[test]
    fn replies_report_the_usage_given_or_none() {
        let body = |reply: Vec<u8>| -> serde_json::Value {
            let text = String::from_utf8(reply).unwrap_or_default();
            let json = text.split("\r\n\r\n").nth(1).unwrap_or_default();
            serde_json::from_str(json).unwrap_or_default()
        };
        assert_eq!(body(http_reply(GRADED))["usage"], default_usage());
        let usage = serde_json::json!({"prompt_tokens": 9, "completion_tokens": 1,
            "total_tokens": 10, "prompt_tokens_details": {"cached_tokens": 4}});
        assert_eq!(body(http_reply_with(GRADED, &usage))["usage"], usage);
        let none = body(http_reply_with(GRADED, &serde_json::Value::Null));
        assert!(none.get("usage").is_none(), "{none}");
        assert_eq!(none["choices"][0]["message"]["content"], GRADED);
    }
}
