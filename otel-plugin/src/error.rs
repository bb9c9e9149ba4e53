//! The exporter's errors.

use thiserror::Error;

/// Why the exporter could not be built or could not finish.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OtelError {
    /// A setting has an invalid value.
    #[error("invalid {key}: {message}")]
    Config {
        /// The setting's environment variable (or builder method).
        key: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The OTLP exporter could not be built (e.g. an endpoint that is not a URL).
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
    /// A background thread could not be started.
    #[error("cannot start the {what} thread: {source}")]
    Thread {
        /// Which thread.
        what: &'static str,
        /// The system's error.
        source: std::io::Error,
    },
}
