//! The events of a run, typed, borrowed, and serializable.
//!
//! Each event is a small struct of references: building one on the stack costs nothing, and
//! handlers receive it by reference. [`Event`] wraps any of them, for code that handles events
//! generically (recorders, replay). [`EventRecord`] is the owned twin of [`Event`], read back
//! from JSON; [`EventRecord::as_event`] turns it into an [`Event`] again.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::category::{Categories, Category};
use crate::payload::{
    ChatMessage, Document, ErrorInfo, GenerationChunk, LlmResult, RetryState, Serialized,
    StreamStats,
};
use crate::run_context::RunContext;

/// Borrows an owned record field as the event's field type.
trait View<'a, V> {
    fn view(&'a self) -> V;
}

impl<'a, T> View<'a, &'a T> for T {
    fn view(&'a self) -> &'a T {
        self
    }
}

impl<'a, T> View<'a, &'a [T]> for Vec<T> {
    fn view(&'a self) -> &'a [T] {
        self
    }
}

impl<'a> View<'a, &'a str> for String {
    fn view(&'a self) -> &'a str {
        self
    }
}

impl<'a, T> View<'a, Option<&'a T>> for Option<T> {
    fn view(&'a self) -> Option<&'a T> {
        self.as_ref()
    }
}

/// Copies an event field into the owned record field.
trait Own<T> {
    fn own(self) -> T;
}

impl<T: Clone> Own<T> for &T {
    fn own(self) -> T {
        self.clone()
    }
}

impl<T: Clone> Own<Vec<T>> for &[T] {
    fn own(self) -> Vec<T> {
        self.to_vec()
    }
}

impl Own<String> for &str {
    fn own(self) -> String {
        self.to_owned()
    }
}

impl<T: Clone> Own<Option<T>> for Option<&T> {
    fn own(self) -> Option<T> {
        self.cloned()
    }
}

macro_rules! define_events {
    ($(
        $(#[$doc:meta])*
        $name:ident = $wire:literal in $category:ident {
            $( $(#[$fdoc:meta])* $field:ident : $borrowed:ty => $(#[$rattr:meta])* $owned:ty ),* $(,)?
        }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Serialize)]
            pub struct $name<'a> {
                /// The run this event belongs to.
                pub run: &'a RunContext,
                $( $(#[$fdoc])* pub $field: $borrowed, )*
            }

            impl $name<'_> {
                /// This event's kind.
                pub const KIND: EventKind = EventKind::$name;
            }

            impl<'a> From<$name<'a>> for Event<'a> {
                fn from(event: $name<'a>) -> Self {
                    Event::$name(event)
                }
            }
        )*

        /// The kind of an event, without its data.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum EventKind {
            $( $(#[$doc])* $name, )*
        }

        impl EventKind {
            /// Every kind of event.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$name),*];

            /// The event's name, as the handler method without its `on_` prefix
            /// (`"llm_new_token"`).
            pub const fn name(self) -> &'static str {
                match self { $( EventKind::$name => $wire, )* }
            }

            /// The category whose `ignore_*` flag gates this event.
            pub const fn category(self) -> Category {
                match self { $( EventKind::$name => Category::$category, )* }
            }
        }

        /// Any event, borrowed.
        #[derive(Debug, Clone, Copy, PartialEq, Serialize)]
        #[serde(tag = "event", rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum Event<'a> {
            $( $(#[$doc])* $name($name<'a>), )*
        }

        impl<'a> Event<'a> {
            /// The event's kind.
            pub const fn kind(&self) -> EventKind {
                match self { $( Event::$name(_) => EventKind::$name, )* }
            }

            /// The run the event belongs to.
            pub const fn run(&self) -> &'a RunContext {
                match self { $( Event::$name(event) => event.run, )* }
            }
        }

        /// An event as it is stored: owned, deserializable. The JSON shape is the one
        /// [`Event`] serializes to: `{"event": "<kind>", "run": {...}, <payload fields>}`.
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(tag = "event", rename_all = "snake_case")]
        #[allow(missing_docs)]
        pub enum EventRecord {
            $( $name { run: RunContext, $( $(#[$rattr])* $field: $owned, )* }, )*
        }

        impl EventRecord {
            /// Borrows the record as an event, ready to dispatch.
            pub fn as_event(&self) -> Event<'_> {
                match self {
                    $( EventRecord::$name { run, $($field),* } => Event::$name($name {
                        run,
                        $( $field: $field.view(), )*
                    }), )*
                }
            }
        }

        impl From<&Event<'_>> for EventRecord {
            /// Copies a borrowed event into an owned record (what the recorder writes, and what
            /// the async manager hands to a detached dispatch).
            fn from(event: &Event<'_>) -> Self {
                match *event {
                    $( Event::$name($name { run, $($field),* }) => EventRecord::$name {
                        run: run.clone(),
                        $( $field: $field.own(), )*
                    }, )*
                }
            }
        }
    };
}

define_events! {
    /// A text model starts, on one prompt (a start with N prompts is N runs).
    LlmStart = "llm_start" in Llm {
        /// The model, when it has a serialized form.
        serialized: Option<&'a Serialized> => Option<Serialized>,
        /// The prompt of this run (one element).
        prompts: &'a [String] => Vec<String>,
    }
    /// A chat model starts, on one conversation (a start with N conversations is N runs).
    ChatModelStart = "chat_model_start" in ChatModel {
        /// The model, when it has a serialized form.
        serialized: Option<&'a Serialized> => Option<Serialized>,
        /// The conversation of this run (one element).
        messages: &'a [Vec<ChatMessage>] => Vec<Vec<ChatMessage>>,
    }
    /// A model streamed a token.
    LlmNewToken = "llm_new_token" in LlmNewToken {
        /// The token's text.
        token: &'a str => String,
        /// The streamed chunk, when the model gives one.
        chunk: Option<&'a GenerationChunk> => Option<GenerationChunk>,
    }
    /// A model run ended.
    LlmEnd = "llm_end" in Llm {
        /// What the model produced.
        response: &'a LlmResult => LlmResult,
        /// How many tokens it streamed, and when the first came.
        stream: &'a StreamStats => #[serde(default)] StreamStats,
    }
    /// A model run failed.
    LlmError = "llm_error" in Llm {
        /// The error.
        error: &'a ErrorInfo => ErrorInfo,
        /// What the model produced before it failed, if anything.
        response: Option<&'a LlmResult> => Option<LlmResult>,
        /// How many tokens it streamed before it failed, and when the first came.
        stream: &'a StreamStats => #[serde(default)] StreamStats,
    }
    /// A chain starts.
    ChainStart = "chain_start" in Chain {
        /// The chain, when it has a serialized form.
        serialized: Option<&'a Serialized> => Option<Serialized>,
        /// The chain's inputs (any JSON value).
        inputs: &'a Value => Value,
    }
    /// A chain ended.
    ChainEnd = "chain_end" in Chain {
        /// The chain's outputs (any JSON value).
        outputs: &'a Value => Value,
    }
    /// A chain failed.
    ChainError = "chain_error" in Chain {
        /// The error.
        error: &'a ErrorInfo => ErrorInfo,
    }
    /// A tool starts. Gated by `ignore_agent`, as in LangChain.
    ToolStart = "tool_start" in Agent {
        /// The tool (name and description).
        serialized: Option<&'a Serialized> => Option<Serialized>,
        /// The tool's input as a string.
        input: &'a str => String,
        /// The tool's structured inputs, when it has them.
        inputs: Option<&'a Value> => Option<Value>,
    }
    /// A tool ended.
    ToolEnd = "tool_end" in Agent {
        /// The tool's output (any JSON value; usually a string).
        output: &'a Value => Value,
    }
    /// A tool failed.
    ToolError = "tool_error" in Agent {
        /// The error.
        error: &'a ErrorInfo => ErrorInfo,
    }
    /// A retriever starts.
    RetrieverStart = "retriever_start" in Retriever {
        /// The retriever, when it has a serialized form.
        serialized: Option<&'a Serialized> => Option<Serialized>,
        /// The query.
        query: &'a str => String,
    }
    /// A retriever ended.
    RetrieverEnd = "retriever_end" in Retriever {
        /// The documents it found.
        documents: &'a [Document] => Vec<Document>,
    }
    /// A retriever failed.
    RetrieverError = "retriever_error" in Retriever {
        /// The error.
        error: &'a ErrorInfo => ErrorInfo,
    }
    /// An agent chose an action (a tool call).
    AgentAction = "agent_action" in Agent {
        /// The tool to call.
        tool: &'a str => String,
        /// The tool's input (a string or an object).
        tool_input: &'a Value => Value,
        /// The agent's reasoning that led to the action.
        log: &'a str => String,
    }
    /// An agent finished.
    AgentFinish = "agent_finish" in Agent {
        /// The agent's final return values.
        return_values: &'a Value => Value,
        /// The agent's final reasoning.
        log: &'a str => String,
    }
    /// A call of the run is about to be retried.
    Retry = "retry" in Retry {
        /// The state of the retried call.
        state: &'a RetryState => RetryState,
    }
    /// A run printed text. No flag gates it: every handler receives it.
    Text = "text" in Text {
        /// The text.
        text: &'a str => String,
    }
    /// User code dispatched a custom event inside a run. Its context carries the enclosing run's
    /// id, tags and metadata, and no parent id.
    CustomEvent = "custom_event" in CustomEvent {
        /// The event's name.
        name: &'a str => String,
        /// The event's data.
        data: &'a Value => Value,
    }
}

impl EventKind {
    /// The handler method that receives this event (`"on_llm_new_token"`).
    pub fn method_name(self) -> String {
        format!("on_{}", self.name())
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
