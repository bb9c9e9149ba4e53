//! The exporter's settings: where spans go, what they carry, and how much may wait in memory.
//!
//! Every setting has a builder method and most have an environment variable, read by
//! [`OtelConfig::from_plugin_config`] (explicit plugin values first, then the environment).

use std::time::Duration;

use handler_core::registry::PluginConfig;

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
    /// `true` omits `input.value` and input messages from spans.
    pub const HIDE_INPUTS: &str = "OPENINFERENCE_HIDE_INPUTS";
    /// `true` omits `output.value` and output messages from spans.
    pub const HIDE_OUTPUTS: &str = "OPENINFERENCE_HIDE_OUTPUTS";
    /// The longest string attribute kept, in bytes; longer ones are cut.
    pub const MAX_ATTRIBUTE_LEN: &str = "LLM_CALLBACKS_OTEL_MAX_ATTRIBUTE_LEN";
    /// How many ended spans may wait for export before new ones are dropped (and counted).
    pub const MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
}

/// The service name and project used when none is configured.
pub const DEFAULT_SERVICE_NAME: &str = "llm-callbacks";
/// The default cap on a string attribute, in bytes.
pub const DEFAULT_MAX_ATTRIBUTE_LEN: usize = 32 * 1024;
/// The default bound on ended spans waiting for export.
pub const DEFAULT_MAX_QUEUE_SIZE: usize = 2048;
/// The default bound on runs open at once; runs started beyond it are not traced (and counted).
pub const DEFAULT_MAX_OPEN_RUNS: usize = 16 * 1024;
/// The default bound on Phoenix annotations waiting to be sent.
pub const DEFAULT_MAX_PENDING_ANNOTATIONS: usize = 1024;

/// What the exporter does: where to, with what, and within which bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct OtelConfig {
    /// The full URL spans are posted to (`…/v1/traces`); `None` exports nowhere.
    pub traces_endpoint: Option<String>,
    /// Headers sent with every export.
    pub headers: Vec<(String, String)>,
    /// `service.name` of the resource.
    pub service_name: String,
    /// `openinference.project.name` of the resource: Phoenix's project.
    pub project_name: String,
    /// Phoenix's base URL, for span annotations; `None` sends none.
    pub phoenix_url: Option<String>,
    /// Omit inputs (privacy).
    pub hide_inputs: bool,
    /// Omit outputs (privacy).
    pub hide_outputs: bool,
    /// The longest string attribute kept, in bytes.
    pub max_attribute_len: usize,
    /// Ended spans that may wait for export.
    pub max_queue_size: usize,
    /// Runs that may be open at once.
    pub max_open_runs: usize,
    /// Annotations that may wait to be sent to Phoenix.
    pub max_pending_annotations: usize,
    /// How long one export or annotation request may take.
    pub request_timeout: Duration,
    /// How long ended spans may wait before a batch is sent.
    pub scheduled_delay: Duration,
    /// How long dropping the handler may wait for the last exports.
    pub shutdown_timeout: Duration,
}

impl Default for OtelConfig {
    fn default() -> Self {
        Self {
            traces_endpoint: None,
            headers: Vec::new(),
            service_name: DEFAULT_SERVICE_NAME.to_owned(),
            project_name: DEFAULT_SERVICE_NAME.to_owned(),
            phoenix_url: None,
            hide_inputs: false,
            hide_outputs: false,
            max_attribute_len: DEFAULT_MAX_ATTRIBUTE_LEN,
            max_queue_size: DEFAULT_MAX_QUEUE_SIZE,
            max_open_runs: DEFAULT_MAX_OPEN_RUNS,
            max_pending_annotations: DEFAULT_MAX_PENDING_ANNOTATIONS,
            request_timeout: Duration::from_secs(10),
            scheduled_delay: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(5),
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
        out.hide_inputs = flag(config, env::HIDE_INPUTS)?.unwrap_or(false);
        out.hide_outputs = flag(config, env::HIDE_OUTPUTS)?.unwrap_or(false);
        if let Some(len) = number(config, env::MAX_ATTRIBUTE_LEN)? {
            out.max_attribute_len = len;
        }
        if let Some(size) = number(config, env::MAX_QUEUE_SIZE)? {
            out.max_queue_size = size.max(1);
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
pub fn parse_headers(list: &str) -> Result<Vec<(String, String)>, OtelError> {
    let mut headers = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(OtelError::Config {
                key: env::HEADERS,
                message: format!("`{item}` is not `key=value`"),
            });
        };
        headers.push((key.trim().to_owned(), percent_decode(value.trim())));
    }
    Ok(headers)
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

fn flag(config: &PluginConfig, key: &'static str) -> Result<Option<bool>, OtelError> {
    match config.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if matches!(v.as_str(), "true" | "1" | "yes") => Ok(Some(true)),
        Some(v) if matches!(v.as_str(), "false" | "0" | "no") => Ok(Some(false)),
        Some(v) => Err(OtelError::Config {
            key,
            message: format!("`{v}` is not true or false"),
        }),
    }
}

fn number(config: &PluginConfig, key: &'static str) -> Result<Option<usize>, OtelError> {
    config
        .get(key)
        .map(|v| {
            v.trim().parse().map_err(|_| OtelError::Config {
                key,
                message: format!("`{v}` is not a whole number"),
            })
        })
        .transpose()
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
        assert_eq!(nothing.project_name, DEFAULT_SERVICE_NAME);
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
