//! Environment variables (and [`PluginConfig`](handler_core::registry::PluginConfig) keys)
//! the plugin reads.

/// The OpenAI-compatible judge's API key (used only with consent: `UPTRAIN_EVALUATOR=judge`
/// or a key given in code).
pub const OPENAI_API_KEY: &str = "OPENAI_API_KEY";
/// The OpenAI-compatible judge's base URL.
pub const OPENAI_BASE_URL: &str = "OPENAI_BASE_URL";
/// The UpTrain API's access key.
pub const UPTRAIN_API_KEY: &str = "UPTRAIN_API_KEY";
/// The UpTrain API's server URL.
pub const UPTRAIN_SERVER_URL: &str = "UPTRAIN_SERVER_URL";
/// Project name prefix.
pub const PROJECT_NAME: &str = "UPTRAIN_PROJECT_NAME";
/// `openai` or `uptrain`.
pub const KEY_TYPE: &str = "UPTRAIN_KEY_TYPE";
/// `auto`, `judge`, `uptrain_api` or `offline`.
pub const EVALUATOR: &str = "UPTRAIN_EVALUATOR";
/// The judge model.
pub const MODEL: &str = "UPTRAIN_MODEL";
/// `1`, `true`, `yes`, `on` (a block per row on standard output); `0`, `false`, `no`,
/// `off`; or `tracing` (one `tracing` event per row, scores and grading cost only).
pub const LOG_RESULTS: &str = "UPTRAIN_LOG_RESULTS";
/// Path of the JSONL results file.
pub const OUTPUT_FILE: &str = "UPTRAIN_OUTPUT_FILE";
/// Requests in flight at once.
pub const MAX_IN_FLIGHT: &str = "UPTRAIN_MAX_IN_FLIGHT";
/// Requests per minute; 0 = unlimited.
pub const REQUESTS_PER_MINUTE: &str = "UPTRAIN_REQUESTS_PER_MINUTE";
/// Estimated tokens per minute; 0 = unlimited.
pub const TOKENS_PER_MINUTE: &str = "UPTRAIN_TOKENS_PER_MINUTE";
/// Attempts per request, first included.
pub const MAX_ATTEMPTS: &str = "UPTRAIN_MAX_ATTEMPTS";
/// `true` sends judge and UpTrain API requests again after failures that may have been
/// billed (timeouts, 5xx); off by default.
pub const RETRY_IDEMPOTENT: &str = "UPTRAIN_RETRY_IDEMPOTENT";
/// Total timeout per request, in seconds.
pub const TIMEOUT_SECS: &str = "UPTRAIN_TIMEOUT_SECS";
/// Estimated bytes the evaluations waiting or running may hold.
pub const PENDING_BYTES: &str = "UPTRAIN_PENDING_BYTES";
/// `refuse` or `wait`: what happens to an answer when the queue is full.
pub const WHEN_FULL: &str = "UPTRAIN_WHEN_FULL";
/// With `UPTRAIN_WHEN_FULL=wait`: seconds to wait for room, or `forever` (the default).
pub const WAIT_FOR_ROOM_SECS: &str = "UPTRAIN_WAIT_FOR_ROOM_SECS";
/// Evaluations waiting or running, at most (as well as the bytes).
pub const QUEUE_CAPACITY: &str = "UPTRAIN_QUEUE_CAPACITY";
/// Estimated bytes of the rows kept for `results` and the next `flush` (0 = none).
pub const KEPT_BYTES: &str = "UPTRAIN_KEPT_BYTES";
/// Rows kept for `results` and for the next `flush`, at most (0 = none).
pub const RETENTION: &str = "UPTRAIN_RETENTION";
/// Seconds after which an unended run's state is dropped.
pub const RUN_TTL_SECS: &str = "UPTRAIN_RUN_TTL_SECS";
/// Runs tracked at once, at most.
pub const MAX_TRACKED_RUNS: &str = "UPTRAIN_MAX_TRACKED_RUNS";
/// Total seconds one evaluation may take.
pub const DEADLINE_SECS: &str = "UPTRAIN_DEADLINE_SECS";
/// Seconds a drop of the handler waits for unfinished evaluations.
pub const DROP_TIMEOUT_SECS: &str = "UPTRAIN_DROP_TIMEOUT_SECS";
/// The checks of the RAG flow, comma-separated (see [`FlowChecks`](crate::FlowChecks)).
pub const RAG_CHECKS: &str = "UPTRAIN_RAG_CHECKS";
/// The checks of the multi-query flow, comma-separated.
pub const MULTI_QUERY_CHECKS: &str = "UPTRAIN_MULTI_QUERY_CHECKS";
/// The checks of the context-reranking flow, comma-separated.
pub const CONTEXT_RERANKING_CHECKS: &str = "UPTRAIN_CONTEXT_RERANKING_CHECKS";
