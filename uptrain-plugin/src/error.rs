//! Errors: [`CheckError`] for one check of one row (kept in the result, never dropped),
//! [`EvaluationError`] for a whole call that cannot start, and [`BuildError`] for an evaluator
//! that cannot be built.

use std::fmt;

use serde::Serialize;

/// Why one check failed for one row. The row stays in the result, with a null score and this
/// reason.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckError {
    /// The server answered with an error status. `body` is the server's `detail` (or error
    /// message) when it sent one, else an excerpt of the body.
    #[error("HTTP {status}: {body}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The server's reason, or an excerpt of the body.
        body: String,
    },
    /// The server answered with an HTML page where JSON was expected (often a wrong base URL
    /// or a proxy's error page).
    #[error("HTTP {status}: got an HTML page, not JSON (is the server URL right?): {excerpt}")]
    Html {
        /// The HTTP status code.
        status: u16,
        /// The start of the page, tags and all.
        excerpt: String,
    },
    /// The request took longer than the configured timeout.
    #[error("timed out: {message}")]
    Timeout {
        /// What timed out.
        message: String,
    },
    /// The server could not be reached (the request was never sent).
    #[error("cannot connect: {message}")]
    Connect {
        /// The transport's reason.
        message: String,
    },
    /// The connection was reset or closed before the reply was complete (often a server
    /// closing an idle keep-alive connection). The server may have seen the request.
    #[error("connection closed before the reply was complete: {message}")]
    Reset {
        /// The transport's reason.
        message: String,
    },
    /// The TLS handshake failed (e.g. an untrusted or expired certificate): not retried.
    #[error("TLS failure (not retried): {message}")]
    Tls {
        /// The transport's reason.
        message: String,
    },
    /// The request is estimated larger than the whole per-minute token budget, so it was not
    /// sent (it could never fit, and waiting for it would stall every other request).
    #[error(
        "prompt of about {tokens} tokens exceeds the budget of {tokens_per_minute} tokens per \
         minute: not sent (raise the tokens-per-minute limit or shorten the input)"
    )]
    OverTokenBudget {
        /// The request's estimated tokens (characters / 3).
        tokens: u64,
        /// The configured budget.
        tokens_per_minute: u32,
    },
    /// The response body broke off or could not be read.
    #[error("response body could not be read (truncated?): {message}")]
    Body {
        /// The transport's reason.
        message: String,
    },
    /// The response body was larger than the configured cap.
    #[error("response body larger than {limit} bytes")]
    BodyTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// Any other transport failure.
    #[error("request failed: {message}")]
    Transport {
        /// The transport's reason.
        message: String,
    },
    /// The reply could not be understood (malformed JSON, missing field, out-of-range choice).
    #[error("unparseable reply ({reason}): {reply}")]
    Parse {
        /// What was wrong.
        reason: String,
        /// An excerpt of the reply.
        reply: String,
    },
    /// The judge found no facts in the response, so factual accuracy has nothing to average.
    #[error("no facts could be extracted from the response")]
    NoFacts,
    /// The check has no offline estimate: only a judge (or the UpTrain API) can grade it.
    #[error("needs a judge: {check} has no offline estimate")]
    NeedsJudge {
        /// The check's wire name.
        check: String,
    },
    /// A strict judge cache had no answer for this request, so it was not sent.
    #[error("not in the judge cache (strict): request {key}")]
    CacheMiss {
        /// The request's key in the cache.
        key: String,
    },
    /// The UpTrain server returned no score for this check and row.
    #[error("the server returned no score: {reason}")]
    MissingScore {
        /// What the server sent instead.
        reason: String,
    },
}

/// A row that cannot be evaluated, found before any request was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowIssue {
    /// Index of the row in the input.
    pub row: usize,
    /// Needed keys that are absent or null.
    pub missing: Vec<String>,
    /// Keys whose value has the wrong type (`question` and `response` must be strings; the
    /// others a string or a list of strings).
    pub wrong_type: Vec<String>,
}

impl fmt::Display for RowIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}:", self.row)?;
        if !self.missing.is_empty() {
            write!(f, " missing keys {}", self.missing.join(", "))?;
        }
        if !self.wrong_type.is_empty() {
            if !self.missing.is_empty() {
                f.write_str(";")?;
            }
            write!(f, " wrong type for {}", self.wrong_type.join(", "))?;
        }
        Ok(())
    }
}

/// A whole evaluation that could not run. Per-row failures are never reported here: they are
/// [`CheckError`]s in the result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvaluationError {
    /// Some rows lack keys their checks need, or hold values of the wrong type.
    #[error("invalid rows: {}", format_issues(issues))]
    InvalidRows {
        /// One entry per bad row.
        issues: Vec<RowIssue>,
    },
    /// No check was asked for.
    #[error("no checks to run")]
    NoChecks,
    /// The evaluator was misconfigured.
    #[error(transparent)]
    Config(#[from] BuildError),
    /// The evaluation could not finish (the evaluator panicked, or its thread stopped).
    #[error("the evaluation could not finish: {0}")]
    Internal(String),
    /// The handler's queue was full, so the row was recorded without being evaluated.
    #[error("not evaluated: queue full ({capacity} evaluations waiting)")]
    QueueFull {
        /// The evaluations waiting or running when the row was refused (the queue is bounded
        /// by the bytes they hold).
        capacity: usize,
    },
    /// The evaluation did not finish within its deadline (all attempts and waits included).
    #[error("not evaluated: deadline of {}s exceeded", deadline.as_secs_f64())]
    DeadlineExceeded {
        /// The deadline.
        deadline: std::time::Duration,
    },
    /// The handler shut down (or was dropped) before this evaluation finished.
    #[error("not evaluated: the handler shut down before the evaluation finished")]
    ShutDown,
}

fn format_issues(issues: &[RowIssue]) -> String {
    const SHOWN: usize = 10;
    let mut parts: Vec<String> = issues.iter().take(SHOWN).map(ToString::to_string).collect();
    if issues.len() > SHOWN {
        parts.push(format!("and {} more rows", issues.len() - SHOWN));
    }
    parts.join("; ")
}

/// An evaluator that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// No API key was given and the environment variable is unset.
    #[error("no API key: set {env} or pass a key")]
    MissingKey {
        /// The environment variable that was consulted.
        env: &'static str,
    },
    /// The API key is empty or only whitespace.
    #[error("the API key is empty: a remote evaluator needs a non-empty key")]
    EmptyKey,
    /// The server URL is missing.
    #[error("no server URL: {hint}")]
    MissingUrl {
        /// How to provide one.
        hint: &'static str,
    },
    /// The server URL is not an http(s) URL.
    #[error("invalid server URL `{url}`: expected http:// or https://")]
    InvalidUrl {
        /// The URL given.
        url: String,
    },
    /// A setting is out of range.
    #[error("invalid setting {name}: {reason}")]
    Invalid {
        /// The setting's name.
        name: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// The HTTP client could not be created.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Cuts `text` to at most `max` characters, marking the cut.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_on_char_boundaries() {
        assert_eq!(excerpt("héllo", 2), "hé…");
        assert_eq!(excerpt("hi", 5), "hi");
    }

    #[test]
    fn long_issue_lists_are_summarised() {
        let issues: Vec<RowIssue> = (0..12)
            .map(|row| RowIssue {
                row,
                missing: vec!["context".into()],
                wrong_type: vec![],
            })
            .collect();
        let msg = EvaluationError::InvalidRows { issues }.to_string();
        assert!(msg.contains("row 9: missing keys context"));
        assert!(!msg.contains("row 10:"));
        assert!(msg.contains("and 2 more rows"));
    }

    #[test]
    fn handler_level_errors_say_why_a_row_was_not_evaluated() {
        assert_eq!(
            EvaluationError::QueueFull { capacity: 8 }.to_string(),
            "not evaluated: queue full (8 evaluations waiting)"
        );
        assert_eq!(
            EvaluationError::DeadlineExceeded {
                deadline: std::time::Duration::from_millis(1500)
            }
            .to_string(),
            "not evaluated: deadline of 1.5s exceeded"
        );
    }
}
