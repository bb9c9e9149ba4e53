//! Test helpers shared by the workspace's tests, benches and examples, written once: a global
//! allocator that counts the calls of the current thread, a loopback OpenAI-compatible judge
//! that answers after a chosen delay and counts the requests in flight, and an in-memory
//! writer to share with a handler or a log subscriber.
//!
//! It knows no plugin: the judge answers by what the prompt asks for (a grade, facts, or
//! verdicts on facts), in the OpenAI chat-completion format.
#![deny(missing_docs)]

pub mod alloc;
pub mod judge;
pub mod writer;

pub use alloc::{CountingAllocator, allocations};
pub use judge::LoopbackJudge;
pub use writer::SharedBuffer;
