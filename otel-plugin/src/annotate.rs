//! The Phoenix annotation worker: posts batches to `/v1/span_annotations` with the configured
//! auth, and keeps one bad annotation from failing the others.
//!
//! - Phoenix refuses an annotation of a span it has not received yet, so the worker first has
//!   the span queue flushed, and retries a batch Phoenix answers 404 a few times with growing
//!   pauses (its spans may still be on their way).
//! - A batch Phoenix still refuses (404, 400, 409, 422) is split in halves, each sent once,
//!   down to single annotations: only the bad ones are counted as rejected.
//! - 401 and 403 fail the batch at once (the credentials will not change), with a log line
//!   that says which setting to check.
//! - An unreachable, rate-limiting (429) or failing (5xx) Phoenix and a request over its
//!   timeout are retried by the workspace's one [`RetryPolicy`] (from
//!   `llm-callbacks-transport`, `Retry-After` honoured): annotations are idempotent upserts (the
//!   same name, span and identifier update one annotation), so sending one twice does no harm.
//!   A batch's sending, retries and waits included, ends within [`DELIVERY_TIMEOUTS`] request
//!   timeouts; then it is counted as failed. Each kind of failure is logged once per streak,
//!   then counted.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use llm_callbacks_transport::{
    Deadline, Decision, Failure, Idempotency, RetryPolicy, Secret, redacted_headers, redacted_url,
};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName};
use serde::Serialize;

use crate::config::OtelConfig;
use crate::deadline::finite;
use crate::export::SpanSink;
use crate::phoenix::{Annotation, Counters, Message};

/// Annotations sent in one request at most.
const MAX_BATCH: usize = 100;
/// Pauses before sending again a batch Phoenix answered 404 (its spans may be on their way).
const NOT_FOUND_PAUSES: [Duration; 4] = [
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
];

/// A batch's sending, every retry and wait included, ends within this many request timeouts.
const DELIVERY_TIMEOUTS: u32 = 3;

/// How annotations are retried: as idempotent requests (Phoenix upserts them).
fn retry_policy() -> RetryPolicy {
    RetryPolicy::default().with_idempotency(Idempotency::Idempotent)
}

/// How one request ended.
#[derive(Debug)]
enum Outcome {
    Sent,
    /// Phoenix refused the annotations themselves (some may be fine): worth splitting.
    Refused(u16, String),
    /// Phoenix refused the credentials.
    Unauthorized(u16),
    /// Unreachable, too slow, or failing: nothing to split; maybe worth sending again.
    Failed(String, Failure),
}

#[derive(Serialize)]
struct Body<'a> {
    data: &'a [Annotation],
}

/// The worker's side of the annotation queue.
pub(crate) struct Worker {
    url: String,
    /// Where trace annotations go.
    trace_url: String,
    headers: HeaderMap,
    sink: Arc<SpanSink>,
    timeout: Duration,
    retry: RetryPolicy,
    counters: Arc<Counters>,
    /// The failure being logged, so that a streak of the same is logged once.
    failing: Option<&'static str>,
}

/// Header values (auth above all) print redacted.
impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("url", &redacted_url(&self.url))
            .field("headers", &redacted_headers(&self.headers))
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Worker {
    pub(crate) fn new(
        base_url: &str,
        config: &OtelConfig,
        sink: Arc<SpanSink>,
        counters: Arc<Counters>,
    ) -> Self {
        let base_url = base_url.trim_end_matches('/');
        Self {
            url: format!("{base_url}/v1/span_annotations?sync=true"),
            trace_url: format!("{base_url}/v1/trace_annotations?sync=true"),
            headers: auth_headers(base_url, config),
            sink,
            timeout: config.request_timeout,
            retry: retry_policy(),
            counters,
            failing: None,
        }
    }

    pub(crate) fn run(mut self, receiver: Receiver<Message>) {
        let client = match reqwest::blocking::Client::builder()
            .timeout(finite(self.timeout))
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .default_headers(self.headers.clone())
            .build()
        {
            Ok(client) => Some(client),
            Err(error) => {
                tracing::warn!(%error, "cannot build the HTTP client for Phoenix annotations");
                None
            }
        };
        let mut batch = Vec::new();
        let mut waiters = Vec::new();
        while let Ok(first) = receiver.recv() {
            let mut next = Some(first);
            while let Some(message) = next.take() {
                match message {
                    Message::Annotate(annotation) => batch.push(*annotation),
                    Message::Flush(reply) => waiters.push(reply),
                }
                if batch.len() < MAX_BATCH {
                    next = receiver.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                match &client {
                    // Span and trace annotations go to their own endpoints.
                    Some(client) => {
                        batch.sort_by_key(|a| a.target.is_trace());
                        for part in
                            batch.chunk_by(|a, b| a.target.is_trace() == b.target.is_trace())
                        {
                            self.deliver(client, part);
                        }
                    }
                    None => self.count(&self.counters.failed, batch.len()),
                }
                batch.clear();
            }
            for reply in waiters.drain(..) {
                let _ = reply.send(());
            }
        }
    }

    fn count(&self, counter: &std::sync::atomic::AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Sends a batch: retried while Phoenix answers 404, then split if it still refuses.
    fn deliver(&mut self, client: &reqwest::blocking::Client, batch: &[Annotation]) {
        let deadline = Deadline::after(self.timeout.saturating_mul(DELIVERY_TIMEOUTS));
        // The spans must reach Phoenix before their annotations.
        self.sink.flush(self.timeout);
        let mut pauses = NOT_FOUND_PAUSES.iter();
        loop {
            let outcome = self.send(client, batch, deadline);
            if matches!(outcome, Outcome::Refused(404, _))
                && let Some(pause) = pauses.next()
            {
                std::thread::sleep(*pause);
                continue;
            }
            return self.split_if_refused(client, outcome, batch, deadline);
        }
    }

    /// Settles what Phoenix said of `part`; when it refused a part of several annotations,
    /// sends each half once, and so on down to single annotations.
    fn split_if_refused(
        &mut self,
        client: &reqwest::blocking::Client,
        outcome: Outcome,
        part: &[Annotation],
        deadline: Deadline,
    ) {
        match outcome {
            Outcome::Refused(..) if part.len() > 1 => {
                let (left, right) = part.split_at(part.len() / 2);
                for half in [left, right] {
                    let outcome = self.send(client, half, deadline);
                    self.split_if_refused(client, outcome, half, deadline);
                }
            }
            other => self.settle(other, part.len()),
        }
    }

    /// Posts `batch`, sending it again by the retry policy while it fails in a way a retry may
    /// cure and `deadline` leaves time for the wait.
    fn send(
        &self,
        client: &reqwest::blocking::Client,
        batch: &[Annotation],
        deadline: Deadline,
    ) -> Outcome {
        let mut retries = 0;
        loop {
            let outcome = self.post(client, batch);
            let Outcome::Failed(error, failure) = &outcome else {
                return outcome;
            };
            match self.retry.decide(failure, retries, deadline) {
                Decision::Retry(wait) => {
                    retries += 1;
                    tracing::debug!(%error, retries, ?wait, "sending Phoenix annotations again");
                    std::thread::sleep(wait);
                }
                Decision::GiveUp(_) => return outcome,
            }
        }
    }

    fn post(&self, client: &reqwest::blocking::Client, batch: &[Annotation]) -> Outcome {
        let trace = batch.first().is_some_and(|a| a.target.is_trace());
        let url = if trace { &self.trace_url } else { &self.url };
        let response = match client.post(url).json(&Body { data: batch }).send() {
            Ok(response) => response,
            Err(error) => {
                let failure = Failure::from_reqwest(&error);
                let message = if error.is_timeout() {
                    format!("no answer within {:?}", self.timeout)
                } else {
                    error.to_string()
                };
                return Outcome::Failed(message, failure);
            }
        };
        let status = response.status().as_u16();
        match status {
            200..=299 => Outcome::Sent,
            401 | 403 => Outcome::Unauthorized(status),
            400 | 404 | 409 | 422 => {
                let body = response.text().unwrap_or_default();
                Outcome::Refused(status, body.chars().take(300).collect())
            }
            _ => {
                let failure = Failure::from_status(response.status(), response.headers())
                    .unwrap_or(Failure::Other);
                let body = response.text().unwrap_or_default();
                let body: String = body.chars().take(300).collect();
                Outcome::Failed(format!("{status}: {body}"), failure)
            }
        }
    }

    /// Counts and logs an outcome that ends the annotations' journey.
    fn settle(&mut self, outcome: Outcome, n: usize) {
        match outcome {
            Outcome::Sent => {
                self.count(&self.counters.sent, n);
                if self.failing.take().is_some() {
                    tracing::info!("Phoenix takes annotations again");
                }
            }
            Outcome::Unauthorized(status) => {
                self.count(&self.counters.failed, n);
                if self.failing.replace("unauthorized") != Some("unauthorized") {
                    tracing::warn!(
                        status,
                        url = %self.url,
                        headers = %redacted_headers(&self.headers),
                        annotations = n,
                        "Phoenix refused the credentials: set PHOENIX_API_KEY (or the builder's phoenix_api_key) to a valid key; annotations are not sent (further failures are counted, not logged)"
                    );
                }
            }
            Outcome::Failed(error, _) => {
                self.count(&self.counters.failed, n);
                if self.failing.replace("failed") != Some("failed") {
                    tracing::warn!(
                        %error,
                        url = %self.url,
                        annotations = n,
                        "Phoenix did not take the annotations (further failures are counted, not logged)"
                    );
                }
            }
            Outcome::Refused(status, body) => self.refused(status, &body, n),
        }
    }

    fn refused(&mut self, status: u16, body: &str, n: usize) {
        self.count(&self.counters.rejected, n);
        if self.failing.replace("refused") != Some("refused") {
            tracing::warn!(
                status,
                answer = body,
                "Phoenix refused an annotation (e.g. for a span it does not have); the others of its batch were sent (further refusals are counted, not logged)"
            );
        }
    }
}

/// The headers of every annotation request: the OTLP headers when spans go to this Phoenix,
/// then `PHOENIX_CLIENT_HEADERS`, then the API key as `Authorization: Bearer`. A header that
/// is not valid is left out, named (never its value) in the log.
fn auth_headers(base_url: &str, config: &OtelConfig) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let spans_go_here = config
        .traces_endpoint
        .as_deref()
        .is_some_and(|url| url.starts_with(base_url));
    let otlp = config.headers.iter().filter(|_| spans_go_here);
    for (name, value) in otlp.chain(&config.phoenix_headers) {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            Secret::new(value.as_str()).header_value(),
        ) {
            (Ok(name), Ok(value)) => {
                headers.insert(name, value);
            }
            _ => tracing::warn!(header = %name, "invalid header for Phoenix left out"),
        }
    }
    if let Some(key) = &config.phoenix_api_key {
        match key.bearer() {
            Ok(value) => {
                headers.insert(AUTHORIZATION, value);
            }
            Err(_) => tracing::warn!("PHOENIX_API_KEY is not a valid header value; left out"),
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_and_headers_are_sent_but_never_printed() -> std::io::Result<()> {
        let config = OtelConfig {
            phoenix_api_key: Some(Secret::new("px-secret")),
            phoenix_headers: vec![("x-team".into(), "team-secret".into())],
            ..OtelConfig::default()
        };
        let headers = auth_headers("http://127.0.0.1:6006", &config);
        let sent = headers.get(AUTHORIZATION).map(|v| v.as_bytes().to_vec());
        assert_eq!(sent.as_deref(), Some(&b"Bearer px-secret"[..]));
        let worker = Worker {
            url: "http://127.0.0.1:6006/v1/span_annotations".into(),
            trace_url: "http://127.0.0.1:6006/v1/trace_annotations".into(),
            headers,
            sink: Arc::new(SpanSink::batched(
                opentelemetry_sdk::trace::InMemorySpanExporter::default(),
                &opentelemetry_sdk::Resource::builder().build(),
                &OtelConfig::default(),
            )?),
            timeout: Duration::from_secs(1),
            retry: retry_policy(),
            counters: Arc::default(),
            failing: None,
        };
        let shown = format!("{worker:?}");
        assert!(shown.contains(r#""authorization": "***""#), "{shown}");
        assert!(shown.contains("x-team"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
        assert_eq!(worker.retry.idempotency, Idempotency::Idempotent);
        Ok(())
    }
}
