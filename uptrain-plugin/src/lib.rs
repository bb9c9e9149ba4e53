//! UpTrain evaluations for llm-callbacks: UpTrain's checks, and three evaluators behind one
//! trait.
//!
//! - [`JudgeEvaluator`]: an LLM judge on any OpenAI-compatible chat-completions server, with
//!   our own prompts and UpTrain's grade-to-score mapping (`key_type = "openai"`).
//! - [`UptrainApiEvaluator`]: the managed UpTrain API, so results show on its dashboard
//!   (`key_type = "uptrain"`).
//! - [`OfflineEvaluator`]: deterministic lexical heuristics; no network, no key.
//!
//! Every check of UpTrain 0.7.1 is here: the named ones ([`Check`], by UpTrain's wire names)
//! and the parametric ones, values carrying their parameters ([`GuidelineAdherence`],
//! [`ResponseMatching`], [`CustomPromptEval`], the conversation checks, ...). The handler runs
//! the checks chosen per flow ([`FlowChecks`]).
//!
//! Every evaluator validates all rows before sending anything, returns every row in input
//! order with one [`CheckResult`] per check, and records a failed check as a typed
//! [`CheckError`] on its row instead of dropping it. The remote evaluators run all their
//! requests concurrently under one limiter (in-flight count, requests and tokens per minute),
//! retry by the workspace's one [`RetryPolicy`] (paid requests are sent again only when they
//! never reached the server or the server asked, unless [`Idempotency::Idempotent`] opts in),
//! and reuse one HTTP client.
//!
//! ```
//! use uptrain_plugin::{Check, EvaluationRequest, Evaluator, OfflineEvaluator};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let rows = vec![uptrain_plugin::row([
//!     ("question", "What is the boiling point of water at sea level?"),
//!     ("context", "At sea level, water boils at 100 degrees Celsius."),
//!     ("response", "Water boils at 100 degrees Celsius at sea level."),
//! ])];
//! let request = EvaluationRequest::new(rows, Check::RAG);
//! let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! let evaluation = runtime.block_on(OfflineEvaluator::new().evaluate(&request))?;
//! let json = evaluation.to_json_rows();
//! assert_eq!(json[0]["score_factual_accuracy"], 1.0);
//! assert!(json[0]["explanation_context_relevance"].as_str().unwrap().contains("heuristic"));
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod check;
mod checks;
mod choose;
mod config;
pub mod defaults;
pub mod env;
mod error;
mod evaluation;
mod evaluator;
mod flow_checks;
mod grade;
mod handler;
mod http;
mod judge;
mod limiter;
mod offline;
mod plugin;
mod progress;
mod recording;
mod row;
mod uptrain_api;
mod usage;

pub use check::{Check, Polarity, UnknownCheck};
pub use checks::{
    ConversationGuidelineAdherence, ConversationNumberOfTurns, ConversationObjective,
    ConversationSatisfaction, CritiqueTone, CustomPromptEval, GuidelineAdherence,
    JailbreakDetection, MatchMethod, ParametricCheck, QueryResolution, ResponseMatching,
};
pub use choose::{evaluator_for, resolve_kind};
pub use config::{Limits, ProgressMode, RetryPolicy, Timeouts};
pub use error::{BuildError, CheckError, EvaluationError, RowIssue};
pub use evaluation::{CheckResult, Evaluation, RowResult};
pub use evaluator::{EvaluationRequest, Evaluator, KeyType, UnknownKeyType};
pub use flow_checks::FlowChecks;
pub use grade::{GradeOptions, GradeProgress, Graded, GradedRow, ProgressFn, grade};
pub use handler::{
    EvaluatedRow, EvaluatorKind, Flow, FlushReport, HandlerStats, InvalidSetting, ResultsLog,
    ShutdownReport, UptrainConfig, UptrainError, UptrainHandler, UptrainHandlerBuilder, WhenFull,
};
/// The core's token usage, which [`JudgeUsage`] carries (one type across the workspace).
pub use handler_core::payload::TokenUsage;
pub use judge::{CacheError, CacheMiss, JudgeBuilder, JudgeCache, JudgeEvaluator};
pub use llm_callbacks_transport::Idempotency;
pub use offline::OfflineEvaluator;
pub use plugin::PLUGIN_NAME;
pub use recording::{RecordedRow, Recording, RecordingError, read_recording};
pub use row::{Row, row, validate};
pub use uptrain_api::{UptrainApiBuilder, UptrainApiEvaluator};
pub use usage::{JudgeCost, JudgeUsage};
