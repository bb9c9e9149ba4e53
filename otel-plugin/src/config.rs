//! The exporter's settings: where spans go, what they carry, and how much may wait in memory.
//!
//! Every setting has a builder method and most have an environment variable, read by
//! [`OtelConfig::from_plugin_config`] (explicit plugin values first, then the environment).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use handler_core::cost::PriceTable;
use handler_core::registry::{DurationUnit, PluginConfig, PluginError};
use llm_callbacks_transport::{Secret, redacted_url};

use crate::capture::Redactor;
use crate::error::OtelError;

/// Environment variables the exporter reads.
pub mod env {
    /// Base URL of an OTLP/HTTP collector; spans go to `{endpoint}/v1/traces`.
    pub const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    /// Full URL for spans; wins over [`ENDPOINT`].
    pub const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    /// Headers sent with every export, `key=value,key2=value2`.
    pub const HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
    /// The service name, and the default project name.
    pub const SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
    /// The Phoenix project the spans belong to (`openinference.project.name`).
    pub const PROJECT_NAME: &str = "PHOENIX_PROJECT_NAME";
    /// Phoenix's base URL: evaluations become span annotations there, and spans go to its
    /// `/v1/traces` when no OTLP endpoint is set.
    pub const PHOENIX_ENDPOINT: &str = "PHOENIX_COLLECTOR_ENDPOINT";
    /// Phoenix's API key, sent as `Authorization: Bearer <key>` to Phoenix (annotations, and
    /// spans when they go to Phoenix).
    pub const PHOENIX_API_KEY: &str = "PHOENIX_API_KEY";
    /// Headers sent to Phoenix's REST API, `key=value,key2=value2`.
    pub const PHOENIX_CLIENT_HEADERS: &str = "PHOENIX_CLIENT_HEADERS";
    /// `true` captures content (prompts, messages, outputs, documents, tool arguments, error
    /// messages, explanations, custom data); off by default, as the GenAI conventions ask.
    /// Also accepts `NO_CONTENT` (off) and `SPAN_ONLY` / `EVENT_ONLY` / `SPAN_AND_EVENT` (on).
    pub const CAPTURE_CONTENT: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";
    /// `true` omits inputs (and content that may carry them) even when content is captured.
    pub const HIDE_INPUTS: &str = "OPENINFERENCE_HIDE_INPUTS";
    /// `true` omits outputs (and content that may carry them) even when content is captured.
    pub const HIDE_OUTPUTS: &str = "OPENINFERENCE_HIDE_OUTPUTS";
    /// `true` omits input messages: here, all inputs (the exporter does not hide less).
    pub const HIDE_INPUT_MESSAGES: &str = "OPENINFERENCE_HIDE_INPUT_MESSAGES";
    /// `true` omits output messages: here, all outputs.
    pub const HIDE_OUTPUT_MESSAGES: &str = "OPENINFERENCE_HIDE_OUTPUT_MESSAGES";
    /// `true` omits input text: here, all inputs.
    pub const HIDE_INPUT_TEXT: &str = "OPENINFERENCE_HIDE_INPUT_TEXT";
    /// `true` omits output text: here, all outputs.
    pub const HIDE_OUTPUT_TEXT: &str = "OPENINFERENCE_HIDE_OUTPUT_TEXT";
    /// Attributes kept per span; more are dropped and counted.
    pub const MAX_SPAN_ATTRIBUTES: &str = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT";
    /// Events kept per span; more are dropped and counted.
    pub const MAX_SPAN_EVENTS: &str = "OTEL_SPAN_EVENT_COUNT_LIMIT";
    /// The longest string attribute kept, in bytes; longer ones are cut.
    pub const MAX_ATTRIBUTE_LEN: &str = "LLM_CALLBACKS_OTEL_MAX_ATTRIBUTE_LEN";
    /// How many ended spans may wait for export before new ones are dropped (and counted).
    pub const MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
    /// How long one export or annotation request may take, in milliseconds.
    pub const TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
    /// The same, named for span exports; wins over [`TIMEOUT`] (one timeout serves both here).
    pub const TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
    /// How long ended spans may wait before a batch is sent, in milliseconds.
    pub const SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
    /// A JSON price table (a file path) merged over the shipped one, to price model runs.
    pub const PRICES: &str = "LLM_CALLBACKS_PRICES";
}

/// The values a setting has when none is given.
pub mod defaults {
    use std::time::Duration;

    /// The service name and project used when none is configured.
    pub const SERVICE_NAME: &str = "llm-callbacks";
    /// The default cap on a string attribute, in bytes.
    pub const MAX_ATTRIBUTE_LEN: usize = 32 * 1024;
    /// The default bound on ended spans waiting for export.
    pub const MAX_QUEUE_SIZE: usize = 2048;
    /// The default bound on runs open at once; runs started beyond it are not traced (and counted).
    pub const MAX_OPEN_RUNS: usize = 16 * 1024;
    /// The default bound on Phoenix annotations waiting to be sent.
    pub const MAX_PENDING_ANNOTATIONS: usize = 1024;
    /// The default time a run may stay open without an end before its span is closed as abandoned.
    pub const RUN_TTL: Duration = Duration::from_secs(60 * 60);
    /// The default number of ended runs remembered, so that their late evaluations are recorded.
    pub const RECENT_RUNS: usize = 16 * 1024;
    /// The default cap on attributes per span (the OpenTelemetry SDK's).
    pub const MAX_SPAN_ATTRIBUTES: usize = 128;
    /// The default cap on events per span (the OpenTelemetry SDK's).
    pub const MAX_SPAN_EVENTS: usize = 128;
    /// The default cap on the bytes of one export request (a collector's usual 4 MiB limit).
    pub const MAX_EXPORT_BYTES: usize = 4 * 1024 * 1024;
}

/// What the exporter does: where to, with what, and within which bounds.
///
/// Its `Debug` shows header names but never their values, nor Phoenix's API key.
#[derive(Clone, PartialEq)]
pub struct OtelConfig {
    /// The full URL spans are posted to (`…/v1/traces`); `None` exports nowhere.
    pub traces_endpoint: Option<String>,
    /// Headers sent with every export.
    pub headers: Vec<(String, String)>,
    /// Phoenix's API key, sent as `Authorization: Bearer <key>` to Phoenix; never printed.
    pub phoenix_api_key: Option<Secret>,
    /// Headers sent to Phoenix's REST API (`PHOENIX_CLIENT_HEADERS`).
    pub phoenix_headers: Vec<(String, String)>,
    /// Whether content leaves the process at all (off by default); see
    /// [`env::CAPTURE_CONTENT`].
    pub capture_content: bool,
    /// Applied to every captured string before it is exported.
    pub redactor: Option<Redactor>,
    /// `service.name` of the resource.
    pub service_name: String,
    /// `openinference.project.name` of the resource: Phoenix's project.
    pub project_name: String,
    /// Phoenix's base URL, for span annotations; `None` sends none.
    pub phoenix_url: Option<String>,
    /// Omit inputs even when content is captured.
    pub hide_inputs: bool,
    /// Omit outputs even when content is captured.
    pub hide_outputs: bool,
    /// The longest string attribute kept, in bytes.
    pub max_attribute_len: usize,
    /// Ended spans that may wait for export.
    pub max_queue_size: usize,
    /// Runs that may be open at once; beyond it the oldest is closed as abandoned (counted).
    pub max_open_runs: usize,
    /// How long a run may stay open without an end before its span is closed as abandoned
    /// (`Duration::MAX`: no limit).
    pub run_ttl: Duration,
    /// Ended runs remembered, so that their late evaluations are recorded.
    pub recent_runs: usize,
    /// Attributes kept per span.
    pub max_span_attributes: usize,
    /// Events kept per span.
    pub max_span_events: usize,
    /// Bytes of one export request, estimated; a larger batch is split.
    pub max_export_bytes: usize,
    /// Annotations that may wait to be sent to Phoenix.
    pub max_pending_annotations: usize,
    /// How long one export or annotation request may take.
    pub request_timeout: Duration,
    /// How long ended spans may wait before a batch is sent.
    pub scheduled_delay: Duration,
    /// How long dropping the handler may wait for the last exports.
    pub shutdown_timeout: Duration,
    /// The prices model runs are costed by (the shipped table by default); see
    /// [`handler_core::cost`].
    pub prices: Arc<PriceTable>,
}

impl Default for OtelConfig {
    fn default() -> Self {
        Self {
            traces_endpoint: None,
            headers: Vec::new(),
            phoenix_api_key: None,
            phoenix_headers: Vec::new(),
            capture_content: false,
            redactor: None,
            service_name: defaults::SERVICE_NAME.to_owned(),
            project_name: defaults::SERVICE_NAME.to_owned(),
            phoenix_url: None,
            hide_inputs: false,
            hide_outputs: false,
            max_attribute_len: defaults::MAX_ATTRIBUTE_LEN,
            max_queue_size: defaults::MAX_QUEUE_SIZE,
            max_open_runs: defaults::MAX_OPEN_RUNS,
            run_ttl: defaults::RUN_TTL,
            recent_runs: defaults::RECENT_RUNS,
            max_span_attributes: defaults::MAX_SPAN_ATTRIBUTES,
            max_span_events: defaults::MAX_SPAN_EVENTS,
            max_export_bytes: defaults::MAX_EXPORT_BYTES,
            max_pending_annotations: defaults::MAX_PENDING_ANNOTATIONS,
            request_timeout: Duration::from_secs(10),
            scheduled_delay: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(5),
            prices: Arc::new(PriceTable::shipped().clone()),
        }
    }
}

impl OtelConfig {
    /// Reads the settings from plugin configuration: explicit values, then (with
    /// [`PluginConfig::from_env`]) the environment variables of [`env`](mod@env).
    ///
    /// ```
    /// use handler_core::registry::PluginConfig;
    /// use otel_plugin::{OtelConfig, env};
    ///
    /// let config = OtelConfig::from_plugin_config(
    ///     &PluginConfig::new()
    ///         .set(env::ENDPOINT, "http://127.0.0.1:4318/")
    ///         .set(env::HEADERS, "authorization=Bearer x, team=llm")
    ///         .set(env::SERVICE_NAME, "qa-bot"),
    /// )?;
    /// assert_eq!(config.traces_endpoint.as_deref(), Some("http://127.0.0.1:4318/v1/traces"));
    /// assert_eq!(config.headers[1], ("team".to_owned(), "llm".to_owned()));
    /// assert_eq!(config.project_name, "qa-bot");
    /// # Ok::<(), otel_plugin::OtelError>(())
    /// ```
    pub fn from_plugin_config(config: &PluginConfig) -> Result<Self, OtelError> {
        let mut out = Self::default();
        let phoenix_url = config.get(env::PHOENIX_ENDPOINT).map(|u| trim_url(&u));
        out.traces_endpoint = match (
            config.get(env::TRACES_ENDPOINT),
            config.get(env::ENDPOINT),
            &phoenix_url,
        ) {
            (Some(url), _, _) => Some(url.trim().to_owned()),
            (None, Some(base), _) => Some(traces_url(&base)),
            (None, None, Some(phoenix)) => Some(traces_url(phoenix)),
            (None, None, None) => None,
        };
        out.phoenix_url = phoenix_url;
        if let Some(headers) = config.get(env::HEADERS) {
            out.headers = parse_headers(&headers)?;
        }
        if let Some(service) = config.get(env::SERVICE_NAME) {
            out.service_name = service.trim().to_owned();
            out.project_name = out.service_name.clone();
        }
        if let Some(project) = config.get(env::PROJECT_NAME) {
            out.project_name = project.trim().to_owned();
        }
        out.phoenix_api_key = config
            .get(env::PHOENIX_API_KEY)
            .map(|key| Secret::new(key.trim()))
            .filter(|key| !key.is_empty());
        if let Some(headers) = config.get(env::PHOENIX_CLIENT_HEADERS) {
            out.phoenix_headers = parse_headers_of(env::PHOENIX_CLIENT_HEADERS, &headers)?;
        }
        out.capture_content = capture_flag(config)?.unwrap_or(false);
        let any = |keys: [&'static str; 3]| -> Result<bool, OtelError> {
            let mut hide = false;
            for key in keys {
                hide |= flag(config, key)?.unwrap_or(false);
            }
            Ok(hide)
        };
        out.hide_inputs = any([
            env::HIDE_INPUTS,
            env::HIDE_INPUT_MESSAGES,
            env::HIDE_INPUT_TEXT,
        ])?;
        out.hide_outputs = any([
            env::HIDE_OUTPUTS,
            env::HIDE_OUTPUT_MESSAGES,
            env::HIDE_OUTPUT_TEXT,
        ])?;
        if let Some(n) = number(config, env::MAX_SPAN_ATTRIBUTES)? {
            out.max_span_attributes = n;
        }
        if let Some(n) = number(config, env::MAX_SPAN_EVENTS)? {
            out.max_span_events = n;
        }
        if let Some(len) = number(config, env::MAX_ATTRIBUTE_LEN)? {
            out.max_attribute_len = len;
        }
        if let Some(size) = number(config, env::MAX_QUEUE_SIZE)? {
            out.max_queue_size = size.max(1);
        }
        let timeout = millis(config, env::TRACES_TIMEOUT)?;
        if let Some(timeout) = timeout.or(millis(config, env::TIMEOUT)?) {
            out.request_timeout = timeout;
        }
        if let Some(delay) = millis(config, env::SCHEDULE_DELAY)? {
            out.scheduled_delay = delay;
        }
        if let Some(path) = config.get(env::PRICES).filter(|p| !p.trim().is_empty()) {
            let table = PriceTable::shipped_with_overrides(path.trim()).map_err(|error| {
                OtelError::Config {
                    key: env::PRICES,
                    message: error.to_string(),
                }
            })?;
            out.prices = Arc::new(table);
        }
        Ok(out)
    }
}

/// `{base}/v1/traces`, the OTLP/HTTP path for spans under a base URL.
pub fn traces_url(base: &str) -> String {
    format!("{}/v1/traces", trim_url(base))
}

fn trim_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

/// Parses `key=value,key2=value2` (the OTLP headers variable); values may be percent-encoded.
/// An error names the bad item by its position and key, never by its value.
pub fn parse_headers(list: &str) -> Result<Vec<(String, String)>, OtelError> {
    parse_headers_of(env::HEADERS, list)
}

fn parse_headers_of(setting: &'static str, list: &str) -> Result<Vec<(String, String)>, OtelError> {
    let mut headers = Vec::new();
    let items = list.split(',').map(str::trim).filter(|i| !i.is_empty());
    for (i, item) in items.enumerate() {
        let bad = |message: String| OtelError::Config {
            key: setting,
            message,
        };
        let Some((key, value)) = item.split_once('=') else {
            return Err(bad(format!(
                "header item {} has no `=` (expected `key=value`; its text is not shown, it may be a secret)",
                i + 1
            )));
        };
        let key = key.trim();
        let value = percent_decode(value.trim());
        check_header(setting, i, key, &value)?;
        headers.push((key.to_owned(), value));
    }
    Ok(headers)
}

/// Checks that a header (item `i` of `setting`) can be sent; the error names the item and,
/// when the name is valid, the header, but never the value.
pub(crate) fn check_header(
    setting: &'static str,
    i: usize,
    name: &str,
    value: &str,
) -> Result<(), OtelError> {
    let bad = |message: String| OtelError::Config {
        key: setting,
        message,
    };
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(bad(format!("header item {} has an invalid name", i + 1)));
    }
    if reqwest::header::HeaderValue::from_str(value).is_err() {
        return Err(bad(format!(
            "the value of header `{name}` (item {}) is not a valid header value",
            i + 1
        )));
    }
    Ok(())
}

/// Header names with their values hidden, for `Debug`.
pub(crate) struct RedactedHeaders<'a>(pub(crate) &'a [(String, String)]);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, _)| (name, "<redacted>")))
            .finish()
    }
}

impl fmt::Debug for OtelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelConfig")
            .field(
                "traces_endpoint",
                &self.traces_endpoint.as_deref().map(redacted_url),
            )
            .field("headers", &RedactedHeaders(&self.headers))
            .field("phoenix_api_key", &self.phoenix_api_key)
            .field("phoenix_headers", &RedactedHeaders(&self.phoenix_headers))
            .field("capture_content", &self.capture_content)
            .field("redactor", &self.redactor)
            .field("service_name", &self.service_name)
            .field("project_name", &self.project_name)
            .field(
                "phoenix_url",
                &self.phoenix_url.as_deref().map(redacted_url),
            )
            .field("hide_inputs", &self.hide_inputs)
            .field("hide_outputs", &self.hide_outputs)
            .field("max_attribute_len", &self.max_attribute_len)
            .field("max_queue_size", &self.max_queue_size)
            .field("max_open_runs", &self.max_open_runs)
            .field("run_ttl", &self.run_ttl)
            .field("recent_runs", &self.recent_runs)
            .field("max_span_attributes", &self.max_span_attributes)
            .field("max_span_events", &self.max_span_events)
            .field("prices", &self.prices.version())
            .field("max_export_bytes", &self.max_export_bytes)
            .field("max_pending_annotations", &self.max_pending_annotations)
            .field("request_timeout", &self.request_timeout)
            .field("scheduled_delay", &self.scheduled_delay)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish()
    }
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| value.to_owned())
}

/// A switch, read by the one typed reader of settings (`1/0`, `true/false`, `yes/no`, `on/off`).
fn flag(config: &PluginConfig, key: &'static str) -> Result<Option<bool>, OtelError> {
    config
        .get_bool(key)
        .map_err(|error| invalid(config, key, error))
}

/// The GenAI capture variable: `true`/`false`, or the newer modes.
fn capture_flag(config: &PluginConfig) -> Result<Option<bool>, OtelError> {
    let key = env::CAPTURE_CONTENT;
    match config.get(key).map(|v| v.trim().to_ascii_uppercase()) {
        Some(v) if v == "NO_CONTENT" => Ok(Some(false)),
        Some(v) if matches!(v.as_str(), "SPAN_ONLY" | "EVENT_ONLY" | "SPAN_AND_EVENT") => {
            Ok(Some(true))
        }
        _ => flag(config, key),
    }
}

fn number(config: &PluginConfig, key: &'static str) -> Result<Option<usize>, OtelError> {
    config
        .get_number(key, "a whole number")
        .map_err(|error| invalid(config, key, error))
}

/// A timeout in milliseconds, as the OpenTelemetry variables give them (or with a unit, or
/// `none` for no limit).
fn millis(config: &PluginConfig, key: &'static str) -> Result<Option<Duration>, OtelError> {
    config
        .get_duration(key, DurationUnit::Milliseconds)
        .map_err(|error| invalid(config, key, error))
}

/// The error for `key`, whose value the typed reader refused.
fn invalid(config: &PluginConfig, key: &'static str, error: PluginError) -> OtelError {
    let message = match error {
        PluginError::InvalidValue { expected, .. } => {
            let value = config.get(key).unwrap_or_default();
            format!("`{}` is not {expected}", value.trim())
        }
        other => other.to_string(),
    };
    OtelError::Config { key, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_endpoint_wins_then_the_base_then_phoenix() -> Result<(), OtelError> {
        let both = PluginConfig::new()
            .set(env::ENDPOINT, "http://a:4318")
            .set(env::TRACES_ENDPOINT, "http://b/custom");
        let config = OtelConfig::from_plugin_config(&both)?;
        assert_eq!(config.traces_endpoint.as_deref(), Some("http://b/custom"));

        let phoenix = PluginConfig::new().set(env::PHOENIX_ENDPOINT, "http://127.0.0.1:6006/");
        let config = OtelConfig::from_plugin_config(&phoenix)?;
        assert_eq!(
            config.traces_endpoint.as_deref(),
            Some("http://127.0.0.1:6006/v1/traces")
        );
        assert_eq!(config.phoenix_url.as_deref(), Some("http://127.0.0.1:6006"));

        let nothing = OtelConfig::from_plugin_config(&PluginConfig::new())?;
        assert_eq!(nothing.traces_endpoint, None);
        assert_eq!(nothing.project_name, defaults::SERVICE_NAME);
        Ok(())
    }

    #[test]
    fn headers_are_parsed_and_decoded_and_bad_values_are_errors() {
        assert_eq!(
            parse_headers("a=1, b = x%20y ,").ok(),
            Some(vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x y".to_owned())
            ])
        );
        let err = parse_headers("novalue").map(|_| ()).err();
        assert!(matches!(
            err,
            Some(OtelError::Config {
                key: env::HEADERS,
                ..
            })
        ));

        let bad = PluginConfig::new().set(env::HIDE_INPUTS, "maybe");
        let message = OtelConfig::from_plugin_config(&bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains(env::HIDE_INPUTS), "{message}");
    }

    #[test]
    fn switches_numbers_and_timeouts_use_the_one_typed_reader() -> Result<(), OtelError> {
        for (text, hide) in [("1", true), ("on", true), ("Yes", true), ("off", false)] {
            let config = PluginConfig::new().set(env::HIDE_OUTPUTS, text);
            assert_eq!(OtelConfig::from_plugin_config(&config)?.hide_outputs, hide);
        }
        // OpenTelemetry's timeouts are in milliseconds; a unit or `none` may be given.
        let ms = Duration::from_millis;
        let cases = [
            (vec![(env::TIMEOUT, "2500")], ms(2500), ms(1000)),
            (
                vec![(env::TIMEOUT, "2500"), (env::TRACES_TIMEOUT, "3s")],
                ms(3000),
                ms(1000),
            ),
            (vec![(env::SCHEDULE_DELAY, "200")], ms(10_000), ms(200)),
            (vec![(env::TIMEOUT, "none")], Duration::MAX, ms(1000)),
        ];
        for (pairs, timeout, delay) in cases {
            let source = pairs
                .iter()
                .fold(PluginConfig::new(), |c, (k, v)| c.set(*k, *v));
            let config = OtelConfig::from_plugin_config(&source)?;
            assert_eq!(
                (config.request_timeout, config.scheduled_delay),
                (timeout, delay),
                "{pairs:?}"
            );
        }
        for (key, value) in [
            (env::TIMEOUT, "soon"),
            (env::MAX_SPAN_EVENTS, "-3"),
            (env::CAPTURE_CONTENT, "maybe"),
        ] {
            let error = OtelConfig::from_plugin_config(&PluginConfig::new().set(key, value))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains(key) && error.contains(value), "{error}");
        }
        Ok(())
    }

    #[test]
    fn the_phoenix_key_never_prints() -> Result<(), OtelError> {
        let source = PluginConfig::new().set(env::PHOENIX_API_KEY, " px-secret ");
        let config = OtelConfig::from_plugin_config(&source)?;
        let key = config.phoenix_api_key.as_ref().map(Secret::expose);
        assert_eq!(key, Some("px-secret"));
        assert!(!format!("{config:?}").contains("px-secret"));
        Ok(())
    }

    #[test]
    fn project_defaults_to_the_service_name_unless_set() -> Result<(), OtelError> {
        let service = PluginConfig::new().set(env::SERVICE_NAME, "svc");
        assert_eq!(
            OtelConfig::from_plugin_config(&service)?.project_name,
            "svc"
        );
        let both = service.set(env::PROJECT_NAME, "proj");
        let config = OtelConfig::from_plugin_config(&both)?;
        assert_eq!(
            (config.service_name.as_str(), config.project_name.as_str()),
            ("svc", "proj")
        );
        Ok(())
    }
}
