//! The event API of managers and run managers, written once for both modes: the macro below
//! generates every method for [`SyncMode`] (plain methods returning `Result`) and for
//! [`AsyncMode`] (the same methods, `async`), on top of the few per-mode primitives in
//! `send.rs` (`emit`, `emit_end`). A new event's emitting method goes here, once.

use std::future::Future;

use serde_json::Value;

use super::base::Manager;
use super::mode::{AsyncMode, SyncMode};
use super::run_manager::{ChainRun, LlmRun, RetrieverRun, RunKind, RunManager, ToolRun, run_event};
use crate::error::CallbackError;
use crate::event::{
    AgentAction, AgentFinish, ChainEnd, ChainError, ChainStart, ChatModelStart, CustomEvent, Event,
    LlmEnd, LlmError, LlmStart, RetrieverEnd, RetrieverError, RetrieverStart, ToolEnd, ToolError,
    ToolStart,
};
use crate::payload::{
    ChatMessage, Document, ErrorInfo, GenerationChunk, LlmResult, RetryState, Serialized,
};
use crate::run_context::RunOptions;

/// Generates the event API for one mode. `[$($async)?]` is `async` or nothing, `[$($await)*]`
/// is `.await` or nothing; the token method's lifetime `$lt` and return type `$token` are the
/// one place where the two modes' signatures differ (the async token method returns a future
/// directly, so that it inlines across crates).
macro_rules! event_api {
    (
        $mode:ident, [$($async:tt)?], [$($await:tt)*],
        token: <$($lt:lifetime)?> -> $token:ty $(,)?
    ) => {
        impl Manager<$mode> {
            /// Starts an LLM run on one prompt.
            pub $($async)? fn on_llm_start<'s>(
                &self,
                serialized: impl Into<Option<&'s Serialized>>,
                prompt: &str,
                options: RunOptions,
            ) -> Result<RunManager<$mode, LlmRun>, CallbackError> {
                let serialized = serialized.into();
                let prompts = [prompt.to_owned()];
                let manager = self.run_manager(options.run_id, &options);
                let run = manager.context();
                self.emit(&Event::LlmStart(LlmStart {
                    run,
                    serialized,
                    prompts: &prompts,
                }))
                $($await)*?;
                Ok(manager)
            }

            /// Starts one LLM run per prompt and returns their run managers, in prompt order
            /// (LangChain's shape). Each handler receives one `on_llm_start` per prompt, with
            /// that prompt alone. `options.run_id` is used for the first prompt only.
            pub $($async)? fn on_llm_start_batch<'s>(
                &self,
                serialized: impl Into<Option<&'s Serialized>>,
                prompts: &[String],
                options: RunOptions,
            ) -> Result<Vec<RunManager<$mode, LlmRun>>, CallbackError> {
                let serialized = serialized.into();
                let mut runs = Vec::with_capacity(prompts.len());
                for (i, prompt) in prompts.iter().enumerate() {
                    let manager = self.run_manager(options.run_id.filter(|_| i == 0), &options);
                    let run = manager.context();
                    self.emit(&Event::LlmStart(LlmStart {
                        run,
                        serialized,
                        prompts: std::slice::from_ref(prompt),
                    }))
                    $($await)*?;
                    runs.push(manager);
                }
                Ok(runs)
            }

            /// Starts a chat model run on one conversation. Handlers that do not handle chat
            /// model start receive `on_llm_start` with the conversation rendered as text, unless
            /// they ignore LLM events. (The conversation is copied once;
            /// [`on_chat_model_start_batch`](Self::on_chat_model_start_batch) borrows it.)
            pub $($async)? fn on_chat_model_start<'s>(
                &self,
                serialized: impl Into<Option<&'s Serialized>>,
                messages: &[ChatMessage],
                options: RunOptions,
            ) -> Result<RunManager<$mode, LlmRun>, CallbackError> {
                let serialized = serialized.into();
                let conversations = [messages.to_vec()];
                let manager = self.run_manager(options.run_id, &options);
                let run = manager.context();
                self.emit(&Event::ChatModelStart(ChatModelStart {
                    run,
                    serialized,
                    messages: &conversations,
                }))
                $($await)*?;
                Ok(manager)
            }

            /// Starts one chat model run per conversation and returns their run managers, in
            /// order. `options.run_id` is used for the first conversation only.
            pub $($async)? fn on_chat_model_start_batch<'s>(
                &self,
                serialized: impl Into<Option<&'s Serialized>>,
                messages: &[Vec<ChatMessage>],
                options: RunOptions,
            ) -> Result<Vec<RunManager<$mode, LlmRun>>, CallbackError> {
                let serialized = serialized.into();
                let mut runs = Vec::with_capacity(messages.len());
                for (i, conversation) in messages.iter().enumerate() {
                    let manager = self.run_manager(options.run_id.filter(|_| i == 0), &options);
                    let run = manager.context();
                    self.emit(&Event::ChatModelStart(ChatModelStart {
                        run,
                        serialized,
                        messages: std::slice::from_ref(conversation),
                    }))
                    $($await)*?;
                    runs.push(manager);
                }
                Ok(runs)
            }

            /// Starts a chain run.
            pub $($async)? fn on_chain_start<'s>(
                &self,
                serialized: impl Into<Option<&'s Serialized>>,
                inputs: &Value,
                options: RunOptions,
            ) -> Result<RunManager<$mode, ChainRun>, CallbackError> {
                let serialized = serialized.into();
                let manager = self.run_manager(options.run_id, &options);
                let run = manager.context();
                self.emit(&Event::ChainStart(ChainStart {
                    run,
                    serialized,
                    inputs,
                }))
                $($await)*?;
                Ok(manager)
            }

            /// Starts a tool run. `input` is the tool's input as a string; `inputs` its
            /// structured form, if any.
            pub $($async)? fn on_tool_start<'s>(
                &self,
                serialized: impl Into<Option<&'s Serialized>>,
                input: &str,
                inputs: Option<&Value>,
                options: RunOptions,
            ) -> Result<RunManager<$mode, ToolRun>, CallbackError> {
                let serialized = serialized.into();
                let manager = self.run_manager(options.run_id, &options);
                let run = manager.context();
                self.emit(&Event::ToolStart(ToolStart {
                    run,
                    serialized,
                    input,
                    inputs,
                }))
                $($await)*?;
                Ok(manager)
            }

            /// Starts a retriever run.
            pub $($async)? fn on_retriever_start<'s>(
                &self,
                serialized: impl Into<Option<&'s Serialized>>,
                query: &str,
                options: RunOptions,
            ) -> Result<RunManager<$mode, RetrieverRun>, CallbackError> {
                let serialized = serialized.into();
                let manager = self.run_manager(options.run_id, &options);
                let run = manager.context();
                self.emit(&Event::RetrieverStart(RetrieverStart {
                    run,
                    serialized,
                    query,
                }))
                $($await)*?;
                Ok(manager)
            }

            /// Dispatches a custom event attributed to the enclosing run (this manager's parent
            /// run), as LangChain's `dispatch_custom_event`. Fails when the manager has no
            /// parent run.
            pub $($async)? fn dispatch_custom_event(
                &self,
                name: &str,
                data: &Value,
            ) -> Result<(), CallbackError> {
                let run = self.custom_event_context(name)?;
                self.emit(&Event::CustomEvent(CustomEvent {
                    run: &run,
                    name,
                    data,
                }))
                $($await)*
            }
        }

        impl<K: RunKind> RunManager<$mode, K> {
            /// The run printed text. Every handler receives it: no flag gates text.
            pub $($async)? fn on_text(&self, text: &str) -> Result<(), CallbackError> {
                self.emit(self.text_event(text)) $($await)*
            }

            /// A call of this run is about to be retried.
            pub $($async)? fn on_retry(&self, state: &RetryState) -> Result<(), CallbackError> {
                self.emit(self.retry_event(state)) $($await)*
            }

            /// Dispatches a custom event attributed to this run.
            pub $($async)? fn dispatch_custom_event(
                &self,
                name: &str,
                data: &Value,
            ) -> Result<(), CallbackError> {
                let run = self.custom_context();
                self.emit(Event::CustomEvent(CustomEvent {
                    run: &run,
                    name,
                    data,
                }))
                $($await)*
            }
        }

        impl RunManager<$mode, LlmRun> {
            /// The model streamed a token. Costs no heap allocation when only sync handlers want
            /// it (with async handlers: one box for the dispatch and one per handler's future).
            /// The run counts it (for [`StreamStats`](crate::payload::StreamStats)) when any
            /// handler wants LLM events.
            #[inline]
            pub fn on_llm_new_token<$($lt)?>(
                &$($lt)? self,
                token: &$($lt)? str,
                chunk: Option<&$($lt)? GenerationChunk>,
            ) -> $token {
                self.count_token();
                self.emit_token(token, chunk)
            }

            /// The model run ended. Ends the run.
            pub $($async)? fn on_llm_end(self, response: &LlmResult) -> Result<(), CallbackError> {
                let stream = &self.state.stream_stats();
                self.emit_end(run_event!(self, LlmEnd { response, stream })) $($await)*
            }

            /// The model run failed. Ends the run.
            pub $($async)? fn on_llm_error(
                self,
                error: impl Into<ErrorInfo>,
            ) -> Result<(), CallbackError> {
                self.llm_error(&error.into(), None) $($await)*
            }

            /// The model run failed after producing `response`. Ends the run.
            pub $($async)? fn on_llm_error_with_response(
                self,
                error: impl Into<ErrorInfo>,
                response: &LlmResult,
            ) -> Result<(), CallbackError> {
                self.llm_error(&error.into(), Some(response)) $($await)*
            }

            $($async)? fn llm_error(
                self,
                error: &ErrorInfo,
                response: Option<&LlmResult>,
            ) -> Result<(), CallbackError> {
                let stream = &self.state.stream_stats();
                self.emit_end(run_event!(
                    self,
                    LlmError {
                        error,
                        response,
                        stream
                    }
                ))
                $($await)*
            }
        }

        impl RunManager<$mode, ChainRun> {
            /// The chain ended. Ends the run.
            pub $($async)? fn on_chain_end(self, outputs: &Value) -> Result<(), CallbackError> {
                self.emit_end(run_event!(self, ChainEnd { outputs })) $($await)*
            }

            /// The chain failed. Ends the run.
            pub $($async)? fn on_chain_error(
                self,
                error: impl Into<ErrorInfo>,
            ) -> Result<(), CallbackError> {
                let error = &error.into();
                self.emit_end(run_event!(self, ChainError { error })) $($await)*
            }

            /// The agent of this chain chose an action.
            pub $($async)? fn on_agent_action(
                &self,
                tool: &str,
                tool_input: &Value,
                log: &str,
            ) -> Result<(), CallbackError> {
                self.emit(run_event!(
                    self,
                    AgentAction {
                        tool,
                        tool_input,
                        log
                    }
                ))
                $($await)*
            }

            /// The agent of this chain finished. The chain itself ends with
            /// [`on_chain_end`](Self::on_chain_end).
            pub $($async)? fn on_agent_finish(
                &self,
                return_values: &Value,
                log: &str,
            ) -> Result<(), CallbackError> {
                self.emit(run_event!(self, AgentFinish { return_values, log })) $($await)*
            }
        }

        impl RunManager<$mode, ToolRun> {
            /// The tool ended. Ends the run.
            pub $($async)? fn on_tool_end(self, output: &Value) -> Result<(), CallbackError> {
                self.emit_end(run_event!(self, ToolEnd { output })) $($await)*
            }

            /// The tool failed. Ends the run.
            pub $($async)? fn on_tool_error(
                self,
                error: impl Into<ErrorInfo>,
            ) -> Result<(), CallbackError> {
                let error = &error.into();
                self.emit_end(run_event!(self, ToolError { error })) $($await)*
            }
        }

        impl RunManager<$mode, RetrieverRun> {
            /// The retriever ended with these documents. Ends the run.
            pub $($async)? fn on_retriever_end(
                self,
                documents: &[Document],
            ) -> Result<(), CallbackError> {
                self.emit_end(run_event!(self, RetrieverEnd { documents })) $($await)*
            }

            /// The retriever failed. Ends the run.
            pub $($async)? fn on_retriever_error(
                self,
                error: impl Into<ErrorInfo>,
            ) -> Result<(), CallbackError> {
                let error = &error.into();
                self.emit_end(run_event!(self, RetrieverError { error })) $($await)*
            }
        }
    };
}

event_api!(SyncMode, [], [], token: <> -> Result<(), CallbackError>);
event_api!(
    AsyncMode,
    [async],
    [.await],
    token: <'a> -> impl Future<Output = Result<(), CallbackError>> + Send + 'a,
);
