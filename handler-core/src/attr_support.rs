//! Items the run attributes (`#[chain]`, `#[tool]`, `#[retriever]`) generate code against.
//! Not public API: reached through `llm_callbacks::__private` (or `handler_core::__private`).
//!
//! A marked function reads the current manager ([`Manager::current`]); when there is none it
//! runs as written. Otherwise it collects its arguments as [`Inputs`], starts an [`AttrRun`] (a
//! [`SyncRun`] or [`AsyncRun`]), runs its body with the run current, and finishes the run with
//! an [`Outcome`] made from the return value.
//!
//! Which arguments and return values serialize is decided per type at compile time, on stable
//! Rust, by autoref specialization: `(&&Arg(&value)).attr_input()` resolves to the
//! [`SerializeInput`] method when the type implements `Serialize` and to the [`SkipInput`] one
//! (which gives `None`) otherwise. Errors go the same way: `std::error::Error`, then a boxed
//! `dyn Error`, then `Display`, then `Debug`, then the type name alone.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::category::Category;
use crate::current::Instrumented;
use crate::event::EventKind;
use crate::manager::{AsyncMode, DispatchMode, Manager, RunManager, SyncMode};
use crate::manager::{ChainRun, RetrieverRun, ToolRun};
use crate::payload::{AsDynError, Document, ErrorInfo, Metadata};
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

/// How many bytes of JSON one captured value (an argument, a `fields` or `metadata` value, the
/// return value) may take when the attribute does not say (`max_input_bytes = N`): 64 KiB.
pub const DEFAULT_MAX_INPUT_BYTES: usize = 64 * 1024;

/// True when some handler of `manager` wants the events of `kind`'s runs: only then are the
/// arguments serialized.
#[inline]
pub fn wants<D: DispatchMode>(manager: &Manager<D>, kind: Kind) -> bool {
    manager.scope.handlers.interest().contains(kind.category())
}

/// `value` as JSON, when it serializes in at most `limit` bytes; otherwise a string holding the
/// first bytes of its JSON and a mark that says where it was cut. Serializing stops at the
/// limit, so a huge value costs no more than `limit` bytes of work.
pub fn capped_json<T: Serialize + ?Sized>(value: &T, limit: usize) -> Option<Value> {
    let mut out = CappedWriter {
        bytes: Vec::new(),
        limit,
        cut: false,
    };
    match serde_json::to_writer(&mut out, value) {
        Ok(()) => serde_json::from_slice(&out.bytes).ok(),
        Err(_) if out.cut => {
            let head = String::from_utf8_lossy(&out.bytes);
            let head = head.trim_end_matches('\u{fffd}');
            Some(Value::String(format!(
                "{head}… [cut: over {limit} bytes of JSON]"
            )))
        }
        Err(_) => None,
    }
}

/// A writer that keeps at most `limit` bytes and fails past them.
struct CappedWriter {
    bytes: Vec<u8>,
    limit: usize,
    cut: bool,
}

impl std::io::Write for CappedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.limit - self.bytes.len();
        if buf.len() > room {
            self.bytes.extend_from_slice(&buf[..room]);
            self.cut = true;
            return Err(std::io::Error::other("over the size limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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

/// The inputs of one call, by argument name.
#[derive(Debug, Default)]
pub struct Inputs(Map<String, Value>);

impl Inputs {
    /// No inputs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an input; a `None` (an argument that does not serialize) is left out.
    pub fn push(&mut self, name: &str, value: Option<Value>) {
        if let Some(value) = value {
            self.0.insert(name.to_owned(), value);
        }
    }

    /// The one string a tool's input or a retriever's query is: the value of a single string
    /// input, otherwise the JSON of all inputs.
    fn as_text(&self) -> String {
        let mut values = self.0.values();
        match (values.next(), values.next()) {
            (Some(Value::String(text)), None) => text.clone(),
            _ => Value::Object(self.0.clone()).to_string(),
        }
    }
}

/// Metadata from `metadata(key = value, ...)`.
pub fn metadata<const N: usize>(entries: [(&str, Option<Value>); N]) -> Metadata {
    entries
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.unwrap_or(Value::Null)))
        .collect()
}

/// How a call ended.
#[derive(Debug)]
pub enum Outcome<'a> {
    /// The return value, serialized (`None` when its type does not serialize).
    Value(Option<Value>),
    /// A retriever's documents.
    Documents(Cow<'a, [Document]>),
    /// An `Err` return, as the run's error.
    Error(ErrorInfo),
}

/// A chain's outputs: an object as it is, nothing as `{}`, any other value as
/// `{"output": value}`.
fn chain_outputs(value: Option<Value>) -> Value {
    match value {
        Some(Value::Object(map)) => Value::Object(map),
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(other) => {
            let mut map = Map::new();
            map.insert("output".to_owned(), other);
            Value::Object(map)
        }
    }
}

/// A retriever's documents from a serialized return value: an array of documents, or of
/// strings (one document each); anything else gives none.
fn documents_from(value: Option<Value>) -> Vec<Document> {
    let Some(Value::Array(items)) = value else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| match item {
            Value::String(text) => Some(Document::new(text)),
            other => serde_json::from_value(other).ok(),
        })
        .collect()
}

/// The manager a marked function starts its run from, with the attribute's tags and metadata.
fn scoped<D: crate::manager::DispatchMode>(
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
pub enum AttrRun<D: crate::manager::DispatchMode> {
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

impl SyncRun {
    /// Starts the run of one call from the current manager. `None` when a handler with
    /// `raise_error` failed the start (the dispatch logged it; the function runs anyway).
    pub fn start(
        manager: Manager<SyncMode>,
        spec: &Spec,
        metadata: Option<Metadata>,
        inputs: Inputs,
    ) -> Option<Self> {
        let manager = scoped(manager, spec, metadata);
        let options = RunOptions::named(spec.name);
        let run = match spec.kind {
            Kind::Chain => manager
                .on_chain_start(None, &Value::Object(inputs.0), options)
                .map(Self::Chain),
            Kind::Tool => {
                let text = inputs.as_text();
                let inputs = Value::Object(inputs.0);
                manager
                    .on_tool_start(None, &text, Some(&inputs), options)
                    .map(Self::Tool)
            }
            Kind::Retriever => manager
                .on_retriever_start(None, &inputs.as_text(), options)
                .map(Self::Retriever),
        };
        run.ok()
    }

    /// Runs `body` with this run current.
    pub fn in_scope<R>(&self, body: impl FnOnce() -> R) -> R {
        match self {
            Self::Chain(run) => run.in_scope(body),
            Self::Tool(run) => run.in_scope(body),
            Self::Retriever(run) => run.in_scope(body),
        }
    }

    /// Ends the run. Handler errors were logged by the dispatch and never reach the function's
    /// caller.
    pub fn finish(self, outcome: Outcome<'_>) {
        let _ = match (self, outcome) {
            (run, Outcome::Error(error)) => match run {
                Self::Chain(run) => run.on_chain_error(error),
                Self::Tool(run) => run.on_tool_error(error),
                Self::Retriever(run) => run.on_retriever_error(error),
            },
            (Self::Chain(run), Outcome::Value(value)) => run.on_chain_end(&chain_outputs(value)),
            (Self::Tool(run), Outcome::Value(value)) => {
                run.on_tool_end(&value.unwrap_or(Value::Null))
            }
            (Self::Retriever(run), Outcome::Value(value)) => {
                run.on_retriever_end(&documents_from(value))
            }
            (Self::Retriever(run), Outcome::Documents(documents)) => {
                run.on_retriever_end(&documents)
            }
            (run, Outcome::Documents(documents)) => {
                let value = serde_json::to_value(&*documents).ok();
                return run.finish(Outcome::Value(value));
            }
        };
    }
}

impl AsyncRun {
    /// Starts the run of one call from the current manager; see [`SyncRun::start`].
    pub async fn start(
        manager: Manager<AsyncMode>,
        spec: &Spec,
        metadata: Option<Metadata>,
        inputs: Inputs,
    ) -> Option<Self> {
        let manager = scoped(manager, spec, metadata);
        let options = RunOptions::named(spec.name);
        let run = match spec.kind {
            Kind::Chain => manager
                .on_chain_start(None, &Value::Object(inputs.0), options)
                .await
                .map(Self::Chain),
            Kind::Tool => {
                let text = inputs.as_text();
                let inputs = Value::Object(inputs.0);
                manager
                    .on_tool_start(None, &text, Some(&inputs), options)
                    .await
                    .map(Self::Tool)
            }
            Kind::Retriever => manager
                .on_retriever_start(None, &inputs.as_text(), options)
                .await
                .map(Self::Retriever),
        };
        run.ok()
    }

    /// Makes this run current whenever `body` is polled.
    pub fn instrument<F: Future>(&self, body: F) -> Instrumented<F> {
        match self {
            Self::Chain(run) => run.instrument(body),
            Self::Tool(run) => run.instrument(body),
            Self::Retriever(run) => run.instrument(body),
        }
    }

    /// Ends the run; see [`SyncRun::finish`].
    pub async fn finish(self, outcome: Outcome<'_>) {
        let outcome = match (&self, outcome) {
            (Self::Chain(_) | Self::Tool(_), Outcome::Documents(documents)) => {
                Outcome::Value(serde_json::to_value(&*documents).ok())
            }
            (_, outcome) => outcome,
        };
        let _ = match (self, outcome) {
            (run, Outcome::Error(error)) => match run {
                Self::Chain(run) => run.on_chain_error(error).await,
                Self::Tool(run) => run.on_tool_error(error).await,
                Self::Retriever(run) => run.on_retriever_error(error).await,
            },
            (Self::Chain(run), Outcome::Value(value)) => {
                run.on_chain_end(&chain_outputs(value)).await
            }
            (Self::Tool(run), Outcome::Value(value)) => {
                run.on_tool_end(&value.unwrap_or(Value::Null)).await
            }
            (Self::Retriever(run), Outcome::Value(value)) => {
                run.on_retriever_end(&documents_from(value)).await
            }
            (Self::Retriever(run), Outcome::Documents(documents)) => {
                run.on_retriever_end(&documents).await
            }
            (Self::Chain(_) | Self::Tool(_), Outcome::Documents(_)) => return,
        };
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

/// A value seen by the autoref-specialized traits below.
#[derive(Debug)]
pub struct Arg<'a, T: ?Sized>(pub &'a T);

/// An argument or return value whose type serializes: its JSON, cut at `limit` bytes (see
/// [`capped_json`]; `None` if serializing fails).
pub trait SerializeInput {
    /// The value as JSON.
    fn attr_input(&self, limit: usize) -> Option<Value>;
}

impl<T: Serialize + ?Sized> SerializeInput for &Arg<'_, T> {
    fn attr_input(&self, limit: usize) -> Option<Value> {
        capped_json(self.0, limit)
    }
}

/// An argument or return value whose type does not serialize: skipped.
pub trait SkipInput {
    /// Nothing.
    fn attr_input(&self, limit: usize) -> Option<Value>;
}

impl<T: ?Sized> SkipInput for Arg<'_, T> {
    fn attr_input(&self, _: usize) -> Option<Value> {
        None
    }
}

/// A retriever's return value that is a list of documents: used as it is.
pub trait DocumentsOutput<'a> {
    /// The documents.
    fn attr_outcome(&self, limit: usize) -> Outcome<'a>;
}

impl<'a, T: AsRef<[Document]> + ?Sized> DocumentsOutput<'a> for &&Arg<'a, T> {
    fn attr_outcome(&self, _: usize) -> Outcome<'a> {
        Outcome::Documents(Cow::Borrowed(self.0.as_ref()))
    }
}

/// A retriever's return value of another type that serializes: read as documents.
pub trait SerializedOutput<'a> {
    /// The serialized value.
    fn attr_outcome(&self, limit: usize) -> Outcome<'a>;
}

impl<'a, T: Serialize + ?Sized> SerializedOutput<'a> for &Arg<'a, T> {
    fn attr_outcome(&self, limit: usize) -> Outcome<'a> {
        Outcome::Value(capped_json(self.0, limit))
    }
}

/// A retriever's return value that does not serialize: no documents.
pub trait OpaqueOutput<'a> {
    /// Nothing.
    fn attr_outcome(&self, limit: usize) -> Outcome<'a>;
}

impl<'a, T: ?Sized> OpaqueOutput<'a> for Arg<'a, T> {
    fn attr_outcome(&self, _: usize) -> Outcome<'a> {
        Outcome::Value(None)
    }
}

/// The short name of a type, as error kinds have it: `io::Error`, `Box<dyn Error + Send>`.
pub fn short_type_name<T: ?Sized>() -> String {
    crate::payload::short_type_name(std::any::type_name::<T>())
}

/// An error for `err(Display)`.
pub fn display_error<E: fmt::Display + ?Sized>(error: &E) -> ErrorInfo {
    ErrorInfo::new(short_type_name::<E>(), format!("{error:#}"))
}

/// An error for `err(Debug)`.
pub fn debug_error<E: fmt::Debug + ?Sized>(error: &E) -> ErrorInfo {
    ErrorInfo::new(short_type_name::<E>(), format!("{error:?}"))
}

/// An `Err` whose type is a `std::error::Error`: its message and causes.
pub trait ErrorViaError {
    /// The run's error.
    fn attr_error(&self) -> ErrorInfo;
}

impl<E: AsDynError + ?Sized> ErrorViaError for &&&&Arg<'_, E> {
    fn attr_error(&self) -> ErrorInfo {
        ErrorInfo::from_error(self.0)
    }
}

/// An `Err` that is a boxed error (`Box<dyn Error + Send + Sync>`): the boxed error's real
/// type, found by downcasting, and its causes.
pub trait ErrorViaBox {
    /// The run's error.
    fn attr_error(&self) -> ErrorInfo;
}

impl<E: AsDynError + ?Sized> ErrorViaBox for &&&Arg<'_, Box<E>> {
    fn attr_error(&self) -> ErrorInfo {
        ErrorInfo::from_error(&**self.0)
    }
}

/// An `Err` whose type is `Display` (e.g. `anyhow::Error`, `String`, `Box<dyn Error>`).
pub trait ErrorViaDisplay {
    /// The run's error.
    fn attr_error(&self) -> ErrorInfo;
}

impl<E: fmt::Display + ?Sized> ErrorViaDisplay for &&Arg<'_, E> {
    fn attr_error(&self) -> ErrorInfo {
        display_error(self.0)
    }
}

/// An `Err` whose type is only `Debug`.
pub trait ErrorViaDebug {
    /// The run's error.
    fn attr_error(&self) -> ErrorInfo;
}

impl<E: fmt::Debug + ?Sized> ErrorViaDebug for &Arg<'_, E> {
    fn attr_error(&self) -> ErrorInfo {
        debug_error(self.0)
    }
}

/// An `Err` of any other type: its type name.
pub trait ErrorViaName {
    /// The run's error.
    fn attr_error(&self) -> ErrorInfo;
}

impl<E: ?Sized> ErrorViaName for Arg<'_, E> {
    fn attr_error(&self) -> ErrorInfo {
        let kind = short_type_name::<E>();
        let message = format!("the function returned an `Err` of type `{kind}`");
        ErrorInfo::new(kind, message)
    }
}

#[cfg(test)]
// The borrows choose the impl, as in generated code, where the types are not known.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Opaque;

    #[derive(Debug)]
    struct OnlyDebug;

    #[test]
    fn serializable_arguments_give_json_and_others_none() {
        let text = "hi";
        assert_eq!((&&Arg(&text)).attr_input(64), Some(json!("hi")));
        assert_eq!((&&Arg(&vec![1, 2])).attr_input(64), Some(json!([1, 2])));
        assert_eq!((&&Arg(&Opaque)).attr_input(64), None);
    }

    #[test]
    fn documents_are_taken_as_they_are() {
        let docs = vec![Document::new("a")];
        let Outcome::Documents(found) = (&&&Arg(&docs)).attr_outcome(64) else {
            panic!("documents expected");
        };
        assert_eq!(found[0].page_content, "a");
        assert_eq!(
            documents_from(Some(json!(["x", {"page_content": "y"}])))
                .iter()
                .map(|d| d.page_content.as_str())
                .collect::<Vec<_>>(),
            ["x", "y"]
        );
    }

    #[test]
    fn errors_use_the_richest_form_their_type_has() {
        let io = std::io::Error::other("disk full");
        assert_eq!(
            (&&&&&Arg(&io)).attr_error(),
            ErrorInfo::new("io::Error", "disk full")
        );
        let text = String::from("bad input");
        assert_eq!(
            (&&&&&Arg(&text)).attr_error(),
            ErrorInfo::new("String", "bad input")
        );
        assert_eq!((&&&&&Arg(&OnlyDebug)).attr_error().message, "OnlyDebug");
        assert_eq!((&&&&&Arg(&Opaque)).attr_error().kind, "Opaque");
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(io);
        assert_eq!(
            (&&&&&Arg(&boxed)).attr_error(),
            ErrorInfo::new("io::Error", "disk full")
        );
    }

    #[test]
    fn values_over_the_limit_are_cut_and_marked() {
        let big = "x".repeat(1000);
        let Some(Value::String(cut)) = capped_json(&big, 16) else {
            panic!("a cut value is a string");
        };
        assert_eq!(cut, "\"xxxxxxxxxxxxxxx… [cut: over 16 bytes of JSON]");
        // At the limit exactly, the value is whole.
        assert_eq!(capped_json("abc", 5), Some(json!("abc")));
        assert!(matches!(capped_json("abcd", 5), Some(Value::String(s)) if s.contains("cut")));
        // A cut inside a multi-byte character drops the partial character.
        let Some(Value::String(cut)) = capped_json("éééé", 4) else {
            panic!("a cut value is a string");
        };
        assert!(cut.starts_with("\"é…"), "{cut}");
    }

    #[test]
    fn short_type_names_drop_paths() {
        assert_eq!(short_type_name::<Vec<String>>(), "Vec<String>");
        assert_eq!(short_type_name::<std::io::Error>(), "io::Error");
    }

    #[test]
    fn chain_outputs_are_objects() {
        assert_eq!(chain_outputs(Some(json!({"a": 1}))), json!({"a": 1}));
        assert_eq!(chain_outputs(Some(json!(3))), json!({"output": 3}));
        assert_eq!(chain_outputs(None), json!({}));
    }

    #[test]
    fn a_single_string_input_is_the_text() {
        let mut inputs = Inputs::new();
        inputs.push("query", Some(json!("paris")));
        assert_eq!(inputs.as_text(), "paris");
        inputs.push("k", Some(json!(3)));
        assert_eq!(inputs.as_text(), r#"{"k":3,"query":"paris"}"#);
    }
}
