//! An OpenAI-compatible chat client whose calls become chat model runs: users keep their
//! [`async_openai::Client`] and its request types, wrap the client once
//! ([`InstrumentedClient::new`] or [`ClientExt::instrumented`]), and every chat completion
//! made under a current run ([`AsyncCallbackManager::current`], entered by the run attributes
//! or by `instrument`) reports itself:
//!
//! - a chat model start with the request's messages ([`chat_messages`]) and a safe allow-list of
//!   its invocation parameters (model, temperature, max_tokens, tool names, ...) in the
//!   component's `kwargs` ([`invocation_component`]);
//! - for a stream, one `on_llm_new_token` per delta;
//! - an `on_retry` per retry, when the client's HTTP calls go through a [`RetryService`]
//!   (async-openai's own retries are silent); retries follow the workspace's one
//!   [`RetryPolicy`], which never sends a paid completion twice unless it never reached the
//!   server, the server asked for it, or the policy says the requests are idempotent;
//! - an LLM end with the choices, their tool calls and the token usage the server reported
//!   ([`llm_result`]), or an LLM error with the HTTP status and body ([`error_info`]), or the
//!   [`Limits`] a call or a stream hit (a timeout, a stream's idle timeout, deadline or byte
//!   cap) with the tokens so far.
//!
//! It works with any server that speaks OpenAI's chat completions (OpenAI, vLLM, llama.cpp,
//! Ollama, LiteLLM): point the client at it with `OpenAIConfig::new().with_api_base(..)`.
//!
//! ```no_run
//! use async_openai::Client;
//! use async_openai::types::chat::{
//!     ChatCompletionRequestUserMessage, CreateChatCompletionRequestArgs,
//! };
//! use futures_util::StreamExt;
//! use llm_callbacks_openai::{AsyncCallbackManager, ClientExt};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new().instrumented();
//! let manager = AsyncCallbackManager::new(); // with your handlers
//! let request = CreateChatCompletionRequestArgs::default()
//!     .model("gpt-4o-mini")
//!     .messages([ChatCompletionRequestUserMessage::from("Tell me a story").into()])
//!     .build()?;
//! manager
//!     .instrument(async {
//!         let mut stream = client.chat().create_stream(request).await?;
//!         while let Some(chunk) = stream.next().await {
//!             let chunk = chunk?; // one token event per delta was sent
//!             # let _ = chunk;
//!         }
//!         Ok::<_, llm_callbacks_openai::CallError>(())
//!     })
//!     .await?;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod bounded;
mod call;
mod client;
mod error;
mod limits;
mod request;
mod response;
mod retry;
mod stream;

pub use client::{ClientExt, InstrumentedChat, InstrumentedClient, defaults};
pub use error::{CallError, error_info, kinds};
pub use limits::{Limit, LimitExceeded, Limits};
pub use llm_callbacks_transport::{GiveUp, Idempotency, NotResent, RetryPolicy};
pub use request::{COMPONENT_ID, RUN_NAME, chat_messages, invocation_component};
pub use response::llm_result;
pub use retry::RetryService;
pub use stream::ChatStream;

pub use async_openai;
pub use handler_core::payload;
pub use handler_core::{AsyncCallbackManager, CallbackError};
pub use reqwest;
