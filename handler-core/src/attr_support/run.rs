//! The run of one call of a marked function: started from the current manager with the
//! call's inputs, current while the body runs, ended with the call's [`Outcome`]. Starting and
//! ending are written once for both modes.

use std::future::Future;

use serde_json::Value;

use super::capture::{Inputs, Outcome, chain_outputs};
use crate::category::Category;
use crate::current::Instrumented;
use crate::event::EventKind;
use crate::manager::{
    AsyncMode, ChainRun, DispatchMode, Manager, RetrieverRun, RunManager, SyncMode, ToolRun,
};
use crate::payload::Metadata;
use crate::run_context::RunOptions;

/// The kind of run a marked function starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `#[chain]`.
    Chain,
    /// `#[tool]`.
    Tool,
    /// `#[retriever]`.
    Retriever,
}

impl Kind {
    /// The category of this kind's events, which handlers want or ignore.
    const fn category(self) -> Category {
        match self {
            Self::Chain => EventKind::ChainStart.category(),
            Self::Tool => EventKind::ToolStart.category(),
            Self::Retriever => EventKind::RetrieverStart.category(),
        }
    }
}

/// True when some handler of `manager` wants the events of `kind`'s runs: only then are the
/// arguments serialized.
#[inline]
pub fn wants<D: DispatchMode>(manager: &Manager<D>, kind: Kind) -> bool {
    manager.scope.handlers.interest().contains(kind.category())
}

/// What the attribute says about every run of one function.
#[derive(Debug)]
pub struct Spec {
    /// The run kind.
    pub kind: Kind,
    /// The run name (the function's name unless `name = "..."`).
    pub name: &'static str,
    /// `tags(...)`: tags of this function's runs (not inherited by their children).
    pub tags: &'static [&'static str],
    /// `max_input_bytes = N`: the most bytes of JSON one captured value may take.
    pub max_input_bytes: usize,
}

/// The manager a marked function starts its run from, with the attribute's tags and metadata.
fn scoped<D: DispatchMode>(
    mut manager: Manager<D>,
    spec: &Spec,
    metadata: Option<Metadata>,
) -> Manager<D> {
    if !spec.tags.is_empty() {
        manager.add_local_tags(spec.tags.iter().copied());
    }
    if let Some(metadata) = metadata {
        manager.add_local_metadata(metadata);
    }
    manager
}

/// A run started by a marked function, of any kind, in either manager.
#[derive(Debug)]
pub enum AttrRun<D: DispatchMode> {
    /// `#[chain]`.
    Chain(RunManager<D, ChainRun>),
    /// `#[tool]`.
    Tool(RunManager<D, ToolRun>),
    /// `#[retriever]`.
    Retriever(RunManager<D, RetrieverRun>),
}

/// A run of a marked sync function.
pub type SyncRun = AttrRun<SyncMode>;
/// A run of a marked async function.
pub type AsyncRun = AttrRun<AsyncMode>;

impl<D: DispatchMode> AttrRun<D> {
    /// True when some handler wants this run's end: only then is the return value serialized.
    #[inline]
    pub fn wants_end(&self) -> bool {
        let (interest, kind) = match self {
            Self::Chain(run) => (run.interest, EventKind::ChainEnd),
            Self::Tool(run) => (run.interest, EventKind::ToolEnd),
            Self::Retriever(run) => (run.interest, EventKind::RetrieverEnd),
        };
        interest.contains(kind.category())
    }
}

/// Generates `start` and `finish` for one mode: `[$($async)?]` is `async` or nothing,
/// `[$($await)*]` is `.await` or nothing.
macro_rules! start_and_finish {
    ($mode:ident, [$($async:tt)?], [$($await:tt)*]) => {
        impl AttrRun<$mode> {
            /// Starts the run of one call from the current manager. `None` when a handler with
            /// `raise_error` failed the start (the dispatch logged it; the function runs
            /// anyway).
            pub $($async)? fn start(
                manager: Manager<$mode>,
                spec: &Spec,
                metadata: Option<Metadata>,
                inputs: Inputs,
            ) -> Option<Self> {
                let manager = scoped(manager, spec, metadata);
                let options = RunOptions::named(spec.name);
                let run = match spec.kind {
                    Kind::Chain => manager
                        .on_chain_start(None, &Value::Object(inputs.0), options)
                        $($await)*
                        .map(Self::Chain),
                    Kind::Tool => {
                        let text = inputs.as_text();
                        let inputs = Value::Object(inputs.0);
                        manager
                            .on_tool_start(None, &text, Some(&inputs), options)
                            $($await)*
                            .map(Self::Tool)
                    }
                    Kind::Retriever => manager
                        .on_retriever_start(None, &inputs.as_text(), options)
                        $($await)*
                        .map(Self::Retriever),
                };
                run.ok()
            }

            /// Ends the run. Handler errors were logged by the dispatch and never reach the
            /// function's caller.
            pub $($async)? fn finish(self, outcome: Outcome<'_>) {
                let _ = match self {
                    Self::Chain(run) => match outcome.into_value() {
                        Ok(value) => run.on_chain_end(&chain_outputs(value)) $($await)*,
                        Err(error) => run.on_chain_error(error) $($await)*,
                    },
                    Self::Tool(run) => match outcome.into_value() {
                        Ok(value) => run.on_tool_end(&value.unwrap_or(Value::Null)) $($await)*,
                        Err(error) => run.on_tool_error(error) $($await)*,
                    },
                    Self::Retriever(run) => match outcome.into_documents() {
                        Ok(documents) => run.on_retriever_end(&documents) $($await)*,
                        Err(error) => run.on_retriever_error(error) $($await)*,
                    },
                };
            }
        }
    };
}

start_and_finish!(SyncMode, [], []);
start_and_finish!(AsyncMode, [async], [.await]);

impl SyncRun {
    /// Runs `body` with this run current.
    pub fn in_scope<R>(&self, body: impl FnOnce() -> R) -> R {
        match self {
            Self::Chain(run) => run.in_scope(body),
            Self::Tool(run) => run.in_scope(body),
            Self::Retriever(run) => run.in_scope(body),
        }
    }
}

impl AsyncRun {
    /// Makes this run current whenever `body` is polled.
    pub fn instrument<F: Future>(&self, body: F) -> Instrumented<F> {
        match self {
            Self::Chain(run) => run.instrument(body),
            Self::Tool(run) => run.instrument(body),
            Self::Retriever(run) => run.instrument(body),
        }
    }
}

/// Calls the body of a marked sync function when nothing is current.
#[inline(always)]
pub fn call<R>(body: impl FnOnce() -> R) -> R {
    body()
}

/// Forces the output type of a marked async function's body, so that `?` inside it knows the
/// error type.
pub fn typed_body<T, F: Future<Output = T>>(body: F) -> F {
    body
}
