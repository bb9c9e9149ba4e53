//! How long the server asked the client to wait: `retry-after-ms`, then `Retry-After` in whole
//! or fractional seconds or as an HTTP date.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, RETRY_AFTER};

/// The header OpenAI and Azure OpenAI send beside `Retry-After`, in milliseconds.
pub const RETRY_AFTER_MS: HeaderName = HeaderName::from_static("retry-after-ms");

/// The wait the response's headers ask for: `retry-after-ms` when present and valid, else
/// `Retry-After` (see [`parse_retry_after`]). `None` when neither is there or readable.
///
/// ```
/// use std::time::Duration;
/// use llm_callbacks_transport::reqwest::header::{HeaderMap, HeaderValue};
/// use llm_callbacks_transport::retry_after;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", HeaderValue::from_static("2"));
/// assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
/// headers.insert("retry-after-ms", HeaderValue::from_static("150"));
/// assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
/// ```
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

/// [`retry_after`] with `now` as the time an HTTP date is measured from.
pub fn retry_after_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name| headers.get(name).and_then(|value| value.to_str().ok());
    text(RETRY_AFTER_MS)
        .and_then(parse_retry_after_ms)
        .or_else(|| text(RETRY_AFTER).and_then(|value| parse_retry_after(value, now)))
}

/// A `retry-after-ms` value: milliseconds, whole or fractional. `None` for anything else
/// (negative, not a number, not finite).
///
/// ```
/// use std::time::Duration;
/// use llm_callbacks_transport::parse_retry_after_ms;
///
/// assert_eq!(parse_retry_after_ms("250"), Some(Duration::from_millis(250)));
/// assert_eq!(parse_retry_after_ms("-1"), None);
/// ```
pub fn parse_retry_after_ms(value: &str) -> Option<Duration> {
    seconds(value).map(|ms| ms / 1000.0).and_then(duration)
}

/// A `Retry-After` value: seconds (whole, or fractional as some servers send), or an HTTP date
/// (a date at or before `now` asks for no wait). `None` for anything else.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use llm_callbacks_transport::parse_retry_after;
///
/// let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
/// assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
/// assert_eq!(parse_retry_after("0.5", now), Some(Duration::from_millis(500)));
/// assert_eq!(
///     parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
///     Some(Duration::from_secs(30))
/// );
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Some(secs) = seconds(value) {
        return duration(secs);
    }
    let date = httpdate::parse_http_date(value.trim()).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A non-negative, finite number.
fn seconds(value: &str) -> Option<f64> {
    let number: f64 = value.trim().parse().ok()?;
    (number.is_finite() && number >= 0.0).then_some(number)
}

/// Seconds as a duration; `None` when too large for one.
fn duration(secs: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use reqwest::header::HeaderValue;

    use super::*;

    /// Sun, 06 Nov 1994 08:49:37 GMT.
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(784_111_777)
    }

    #[test]
    fn retry_after_values() {
        let ms = Duration::from_millis;
        let cases: [(&str, Option<Duration>); 14] = [
            ("0", Some(Duration::ZERO)),
            ("7", Some(Duration::from_secs(7))),
            (" 7 ", Some(Duration::from_secs(7))),
            ("1.5", Some(ms(1500))),
            ("0.001", Some(ms(1))),
            ("-1", None),
            ("NaN", None),
            ("inf", None),
            ("1e400", None),
            ("", None),
            ("soon", None),
            (
                "Sun, 06 Nov 1994 08:49:47 GMT",
                Some(Duration::from_secs(10)),
            ),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(Duration::ZERO)),
            ("Sat, 05 Nov 1994 08:49:37 GMT", Some(Duration::ZERO)),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_retry_after(value, now()), expected, "{value:?}");
        }
    }

    #[test]
    fn retry_after_ms_values() {
        let cases = [
            ("0", Some(Duration::ZERO)),
            ("250", Some(Duration::from_millis(250))),
            ("1.5", Some(Duration::from_micros(1500))),
            ("-5", None),
            ("x", None),
            ("Sun, 06 Nov 1994 08:49:47 GMT", None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_retry_after_ms(value), expected, "{value:?}");
        }
    }

    #[test]
    fn headers_prefer_milliseconds_and_fall_back_to_seconds() {
        type Headers<'a> = &'a [(&'a str, &'a str)];
        let cases: [(Headers, Option<Duration>); 5] = [
            (&[], None),
            (&[("retry-after", "3")], Some(Duration::from_secs(3))),
            (&[("retry-after-ms", "40")], Some(Duration::from_millis(40))),
            (
                &[("retry-after", "3"), ("retry-after-ms", "40")],
                Some(Duration::from_millis(40)),
            ),
            (
                &[("retry-after", "3"), ("retry-after-ms", "bad")],
                Some(Duration::from_secs(3)),
            ),
        ];
        for (pairs, expected) in cases {
            let mut headers = HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, HeaderValue::from_static(value));
            }
            assert_eq!(retry_after_at(&headers, now()), expected, "{pairs:?}");
        }
    }
}
