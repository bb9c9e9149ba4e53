//! Building the handler in code: settings, and where spans go.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use llm_callbacks_transport::Secret;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanExporter;

use crate::capture::Redactor;
use crate::config::{OtelConfig, check_header, env, traces_url};
use crate::deadline::finite;
use crate::error::OtelError;
use crate::export::SpanSink;
use crate::handler::OtelHandler;
use crate::phoenix::PhoenixAnnotations;
use crate::semconv;

type MakeSink = Box<dyn FnOnce(&OtelConfig, &Resource) -> std::io::Result<SpanSink> + Send>;

/// Builds an [`OtelHandler`]. Spans go to the exporter given with
/// [`exporter`](Self::exporter), else over OTLP/HTTP to the configured endpoint; with neither,
/// [`build`](Self::build) is an error (nothing leaves the process unless asked).
///
/// ```
/// use std::time::Duration;
/// use otel_plugin::OtelHandler;
///
/// let otel = OtelHandler::builder()
///     .endpoint("http://127.0.0.1:4318")
///     .project_name("qa-bot")
///     .hide_inputs(true)
///     .max_queue_size(512)
///     .build()?;
/// assert_eq!(otel.config().traces_endpoint.as_deref(), Some("http://127.0.0.1:4318/v1/traces"));
/// // Nothing listens there: the export fails in the background, counted, not raised.
/// otel.shutdown(Duration::from_secs(1));
/// # Ok::<(), otel_plugin::OtelError>(())
/// ```
#[derive(Default)]
pub struct OtelHandlerBuilder {
    config: OtelConfig,
    exporter: Option<MakeSink>,
    ignore_published: bool,
}

impl fmt::Debug for OtelHandlerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelHandlerBuilder")
            .field("config", &self.config)
            .field("exporter", &self.exporter.as_ref().map(|_| "custom"))
            .field("listen", &!self.ignore_published)
            .finish()
    }
}

impl OtelHandlerBuilder {
    /// Replaces every setting (e.g. with [`OtelConfig::from_plugin_config`]).
    #[must_use]
    pub fn config(mut self, config: OtelConfig) -> Self {
        self.config = config;
        self
    }

    /// An OTLP/HTTP collector's base URL; spans go to `{base}/v1/traces`.
    #[must_use]
    pub fn endpoint(mut self, base: impl AsRef<str>) -> Self {
        self.config.traces_endpoint = Some(traces_url(base.as_ref()));
        self
    }

    /// The full URL spans are posted to.
    #[must_use]
    pub fn traces_endpoint(mut self, url: impl Into<String>) -> Self {
        self.config.traces_endpoint = Some(url.into());
        self
    }

    /// A header sent with every export (e.g. an API key).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.headers.push((name.into(), value.into()));
        self
    }

    /// The `service.name` resource attribute.
    #[must_use]
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.config.service_name = name.into();
        self
    }

    /// The Phoenix project (`openinference.project.name`).
    #[must_use]
    pub fn project_name(mut self, name: impl Into<String>) -> Self {
        self.config.project_name = name.into();
        self
    }

    /// Phoenix's base URL: evaluations become span annotations there.
    #[must_use]
    pub fn phoenix_url(mut self, url: impl AsRef<str>) -> Self {
        self.config.phoenix_url = Some(url.as_ref().trim_end_matches('/').to_owned());
        self
    }

    /// Whether content leaves the process: prompts, messages, outputs, documents, tool
    /// arguments, error messages, evaluation explanations, custom event data, retry outcomes
    /// and invocation parameters beyond the [safe ones](crate::SAFE_INVOCATION_PARAMETERS).
    /// Off by default, as the GenAI conventions ask (`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`).
    /// Names, kinds, timings, scores, token counts and error types are always exported.
    #[must_use]
    pub fn capture_content(mut self, capture: bool) -> Self {
        self.config.capture_content = capture;
        self
    }

    /// Passes every captured string through `redact` before export: `None` keeps it, `Some`
    /// replaces it. See [`Redactor`].
    #[must_use]
    pub fn redact(
        mut self,
        redact: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.config.redactor = Some(Redactor::new(redact));
        self
    }

    /// Phoenix's API key, sent as `Authorization: Bearer <key>` with annotations (and with
    /// spans when they go to Phoenix).
    #[must_use]
    pub fn phoenix_api_key(mut self, key: impl Into<String>) -> Self {
        self.config.phoenix_api_key = Some(Secret::new(key));
        self
    }

    /// The prices model runs are costed by (`llm.cost.*` and the other cost attributes): the
    /// shipped table by default, or yours, e.g.
    /// `PriceTable::shipped_with_overrides("prices.json")` (see [`handler_core::cost`]).
    #[must_use]
    pub fn prices(mut self, prices: handler_core::cost::PriceTable) -> Self {
        self.config.prices = Arc::new(prices);
        self
    }

    /// Omits inputs even when content is captured.
    #[must_use]
    pub fn hide_inputs(mut self, hide: bool) -> Self {
        self.config.hide_inputs = hide;
        self
    }

    /// Omits outputs even when content is captured.
    #[must_use]
    pub fn hide_outputs(mut self, hide: bool) -> Self {
        self.config.hide_outputs = hide;
        self
    }

    /// Cuts string attributes longer than this many bytes.
    #[must_use]
    pub fn max_attribute_len(mut self, bytes: usize) -> Self {
        self.config.max_attribute_len = bytes;
        self
    }

    /// Bounds the ended spans waiting for export; beyond it spans are dropped and counted.
    #[must_use]
    pub fn max_queue_size(mut self, spans: usize) -> Self {
        self.config.max_queue_size = spans.max(1);
        self
    }

    /// Bounds the runs open at once; beyond it the oldest open run is closed as abandoned,
    /// and counted.
    #[must_use]
    pub fn max_open_runs(mut self, runs: usize) -> Self {
        self.config.max_open_runs = runs;
        self
    }

    /// How long a run may stay open without an end; then its span is closed with an error
    /// status, and counted. `Duration::MAX`: no limit.
    #[must_use]
    pub fn run_ttl(mut self, ttl: Duration) -> Self {
        self.config.run_ttl = ttl;
        self
    }

    /// How many ended runs are remembered, so that their late evaluations are recorded.
    #[must_use]
    pub fn recent_runs(mut self, runs: usize) -> Self {
        self.config.recent_runs = runs;
        self
    }

    /// Attributes kept per span; more are dropped and counted.
    #[must_use]
    pub fn max_span_attributes(mut self, attributes: usize) -> Self {
        self.config.max_span_attributes = attributes;
        self
    }

    /// Events kept per span; more are dropped and counted.
    #[must_use]
    pub fn max_span_events(mut self, events: usize) -> Self {
        self.config.max_span_events = events;
        self
    }

    /// The most bytes (estimated) one export request may carry; a larger batch is split.
    #[must_use]
    pub fn max_export_bytes(mut self, bytes: usize) -> Self {
        self.config.max_export_bytes = bytes.max(1);
        self
    }

    /// Bounds the annotations waiting for Phoenix.
    #[must_use]
    pub fn max_pending_annotations(mut self, annotations: usize) -> Self {
        self.config.max_pending_annotations = annotations;
        self
    }

    /// How long one export or annotation request may take.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// How long ended spans may wait before a batch goes out.
    #[must_use]
    pub fn scheduled_delay(mut self, delay: Duration) -> Self {
        self.config.scheduled_delay = delay;
        self
    }

    /// How long dropping the handler may wait for the last exports.
    #[must_use]
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// Whether evaluations published through the core (`handler_core::evaluation::publish`)
    /// are recorded (`true` by default). Off, only
    /// [`record_evaluation`](OtelHandler::record_evaluation) records them.
    #[must_use]
    pub fn listen(mut self, listen: bool) -> Self {
        self.ignore_published = !listen;
        self
    }

    /// Exports through this exporter (batched, in the background) instead of OTLP/HTTP: the
    /// SDK's in-memory exporter in tests, or any other.
    #[must_use]
    pub fn exporter<E: SpanExporter + 'static>(mut self, exporter: E) -> Self {
        self.exporter = Some(Box::new(move |config: &OtelConfig, resource: &Resource| {
            SpanSink::batched(exporter, resource, config)
        }));
        self
    }

    /// Builds the handler and starts its export threads.
    pub fn build(self) -> Result<OtelHandler, OtelError> {
        let config = self.config;
        for (setting, headers) in [
            ("header", &config.headers),
            ("PHOENIX_CLIENT_HEADERS", &config.phoenix_headers),
        ] {
            for (i, (name, value)) in headers.iter().enumerate() {
                check_header(setting, i, name, value)?;
            }
        }
        if !config.capture_content {
            say_content_is_off();
        }
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .with_attribute(KeyValue::new(
                semconv::PROJECT_NAME,
                config.project_name.clone(),
            ))
            .build();
        let sink = match (self.exporter, &config.traces_endpoint) {
            (Some(make), _) => make(&config, &resource),
            (None, Some(url)) => {
                SpanSink::batched(otlp_exporter(&config, url)?, &resource, &config)
            }
            (None, None) => {
                return Err(OtelError::Config {
                    key: env::ENDPOINT,
                    message: "no endpoint and no exporter: set OTEL_EXPORTER_OTLP_ENDPOINT (or PHOENIX_COLLECTOR_ENDPOINT), or call `endpoint` or `exporter`".into(),
                });
            }
        };
        let sink = Arc::new(sink.map_err(|source| OtelError::Thread {
            what: "OpenTelemetry export",
            source,
        })?);
        let annotations = match &config.phoenix_url {
            Some(url) => Some(PhoenixAnnotations::start(url, &config, sink.clone())?),
            None => None,
        };
        Ok(OtelHandler::from_parts(
            config,
            sink,
            annotations,
            !self.ignore_published,
        ))
    }
}

/// Says, once per process, that content is not exported and how to turn it on.
fn say_content_is_off() {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::info!(
            "OpenTelemetry export without content (prompts, outputs, documents, explanations): set {}=true or call `capture_content(true)` to capture it",
            env::CAPTURE_CONTENT
        );
    }
}

fn otlp_exporter(
    config: &OtelConfig,
    url: &str,
) -> Result<opentelemetry_otlp::SpanExporter, OtelError> {
    let mut headers: HashMap<String, String> = config.headers.iter().cloned().collect();
    // Phoenix with auth on reads its API key from OTLP requests too.
    let to_phoenix = config
        .phoenix_url
        .as_deref()
        .is_some_and(|phoenix| url.starts_with(phoenix));
    if let Some(key) = config.phoenix_api_key.as_ref().filter(|_| to_phoenix)
        && !headers
            .keys()
            .any(|h| h.eq_ignore_ascii_case("authorization"))
    {
        headers.insert("authorization".into(), format!("Bearer {}", key.expose()));
    }
    opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url)
        .with_timeout(finite(config.request_timeout))
        .with_headers(headers)
        .build()
        .map_err(|error| OtelError::Exporter(error.to_string()))
}
