//! Secrets that never print: API keys and auth headers in `Debug`, `Display` and errors.

use std::fmt;

use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue, InvalidHeaderValue};

/// What a secret prints as.
pub const REDACTED: &str = "***";

/// A secret (an API key, a bearer token, an auth header's value) whose `Debug` and `Display`
/// print [`REDACTED`]; only [`expose`](Self::expose) gives the text.
///
/// ```
/// use llm_callbacks_transport::Secret;
///
/// let key = Secret::new("sk-live-123");
/// assert_eq!(format!("{key:?} {key}"), "*** ***");
/// assert_eq!(key.expose(), "sk-live-123");
/// let header = key.bearer()?;
/// assert!(header.is_sensitive());
/// assert_eq!(format!("{header:?}"), "Sensitive");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Keeps `text` secret.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret's text, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The secret as a header value marked sensitive (so `http` never prints it). The error
    /// says what is wrong without the secret's text.
    pub fn header_value(&self) -> Result<HeaderValue, InvalidHeaderValue> {
        let mut value = HeaderValue::from_str(&self.0)?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// `Bearer <secret>` as a header value marked sensitive.
    pub fn bearer(&self) -> Result<HeaderValue, InvalidHeaderValue> {
        Secret::new(format!("Bearer {}", self.0)).header_value()
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Headers whose values are safe to print: they describe the exchange, never the caller.
const PRINTABLE: [HeaderName; 8] = [
    header::ACCEPT,
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
    header::DATE,
    header::RETRY_AFTER,
    header::USER_AGENT,
    HeaderName::from_static("retry-after-ms"),
    HeaderName::from_static("x-request-id"),
];

/// A header map for `Debug` and error messages: every name, and the values of only a short
/// list of harmless headers (content type and length, accept, date, user agent, `Retry-After`,
/// `retry-after-ms`, `x-request-id`); every other value, auth above all, prints as
/// [`REDACTED`].
///
/// ```
/// use llm_callbacks_transport::reqwest::header::{HeaderMap, HeaderValue};
/// use llm_callbacks_transport::redacted_headers;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("authorization", HeaderValue::from_static("Bearer sk-live-123"));
/// headers.insert("content-type", HeaderValue::from_static("application/json"));
/// let shown = format!("{:?}", redacted_headers(&headers));
/// assert!(shown.contains(r#""authorization": "***""#), "{shown}");
/// assert!(shown.contains(r#""content-type": "application/json""#), "{shown}");
/// assert!(!shown.contains("sk-live"));
/// ```
pub fn redacted_headers(headers: &HeaderMap) -> RedactedHeaders<'_> {
    RedactedHeaders(headers)
}

/// A header map that prints redacted; see [`redacted_headers`].
#[derive(Clone, Copy)]
pub struct RedactedHeaders<'a>(&'a HeaderMap);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in self.0 {
            let shown = match value.to_str() {
                Ok(text) if !value.is_sensitive() && PRINTABLE.contains(name) => text,
                _ => REDACTED,
            };
            map.entry(&name.as_str(), &shown);
        }
        map.finish()
    }
}

impl fmt::Display for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_harmless_values_print() {
        let cases = [
            ("authorization", "Bearer sk-1", "***"),
            ("proxy-authorization", "Basic dXNlcg==", "***"),
            ("api-key", "azure-key", "***"),
            ("x-api-key", "k", "***"),
            ("cookie", "session=1", "***"),
            ("openai-organization", "org-1", "***"),
            ("x-custom", "anything", "***"),
            ("content-type", "application/json", "application/json"),
            ("retry-after", "3", "3"),
            ("retry-after-ms", "30", "30"),
            ("x-request-id", "req-1", "req-1"),
        ];
        for (name, value, shown) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
            assert_eq!(
                format!("{}", redacted_headers(&headers)),
                format!("{{{name:?}: {shown:?}}}"),
                "{name}"
            );
        }
    }

    #[test]
    fn a_sensitive_value_never_prints_even_under_a_harmless_name() {
        let mut headers = HeaderMap::new();
        let mut value = HeaderValue::from_static("secret-type");
        value.set_sensitive(true);
        headers.insert(header::CONTENT_TYPE, value);
        assert_eq!(
            format!("{:?}", redacted_headers(&headers)),
            r#"{"content-type": "***"}"#
        );
    }

    #[test]
    fn a_bad_secret_is_refused_without_echoing_it() {
        let secret = Secret::new("line\nbreak-sk-9");
        let error = secret.header_value().err().map(|e| format!("{e} {e:?}"));
        let shown = error.unwrap_or_default();
        assert!(!shown.is_empty());
        assert!(!shown.contains("sk-9"), "{shown}");
    }
}
