//! The values settings take when none is given.

use std::time::Duration;

/// The judge's base URL when neither the builder nor the environment names one.
pub const BASE_URL: &str = "https://api.openai.com/v1";
/// The judge model, unless another is set.
pub const MODEL: &str = "gpt-3.5-turbo";
/// The judge's sampling temperature, unless another is set.
pub const TEMPERATURE: f64 = 0.1;
/// The cap on a response body: 4 MiB.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Estimated bytes the evaluations waiting or running may hold: 64 MiB.
pub const PENDING_BYTES: usize = 64 << 20;
/// Estimated bytes of the rows kept for `results` and the next `flush`: 64 MiB.
pub const KEPT_BYTES: usize = 64 << 20;
/// How long `UPTRAIN_WHEN_FULL=wait` waits when no deadline is given: until room.
pub const WAIT_FOR_ROOM: Duration = Duration::MAX;
/// How long an unended run's state is kept.
pub const RUN_TTL: Duration = Duration::from_secs(15 * 60);
/// Runs tracked at once, at most.
pub const MAX_TRACKED_RUNS: usize = 10_000;
/// Total time one evaluation may take (judge and offline).
pub const DEADLINE: Duration = Duration::from_secs(5 * 60);
/// Total time one evaluation may take through the UpTrain API (its batches are slower).
pub const API_DEADLINE: Duration = Duration::from_secs(11 * 60);
/// How long a drop of the handler waits for unfinished evaluations.
pub const DROP_TIMEOUT: Duration = Duration::from_secs(5);
