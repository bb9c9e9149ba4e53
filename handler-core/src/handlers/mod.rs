//! Built-in handlers: a console printer, and a JSONL recorder with its replay.

mod console;
mod jsonl;
mod terminal;

pub use console::ConsoleHandler;
pub use jsonl::{JsonlRecorder, ReplayError, replay, replay_async};
