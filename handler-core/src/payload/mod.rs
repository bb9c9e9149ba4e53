//! The data that events carry: messages, generations, documents, agent steps, retries, errors.
//!
//! Every type here is owned, `serde`-serializable and round-trips through JSON, so a recorder can
//! write a run to a file and a replay can dispatch it again. Events borrow these types, so
//! dispatching an event never copies its payload.

pub mod depth;
mod document;
mod error;
mod message;
mod output;
mod retry;
mod serialized;
mod stream;
mod usage;

pub use document::Document;
pub use error::{AsDynError, ErrorInfo};
pub(crate) use error::{as_dyn_error, dynamic_kind, short_type_name};
pub use message::{ChatMessage, Role, ToolCall};
pub use output::{Generation, GenerationChunk, LlmResult};
pub use retry::{RetryOutcome, RetryState};
pub use serialized::Serialized;
pub(crate) use stream::StreamCounter;
pub use stream::StreamStats;
pub use usage::TokenUsage;

/// Free-form key/value metadata, as JSON.
pub type Metadata = serde_json::Map<String, serde_json::Value>;
