//! The run attributes (feature `derive`): `#[chain]`, `#[tool]` and `#[retriever]` turn a
//! function into a run of that kind, as LangSmith's `@traceable` and `tracing`'s
//! `#[instrument]` do.

/// Makes every call of a function a chain run, nested in the current run (feature `derive`).
///
/// Calling a marked function, when a manager is current ([`Manager::current`](crate::manager::Manager::current)):
///
/// 1. starts a run of the attribute's kind from the current manager: a child of the current
///    run, or a root run when a manager was entered rather than a run
///    ([`Manager::in_scope`](crate::manager::Manager::in_scope));
/// 2. emits its start event with the arguments as inputs: a JSON object with one entry per
///    named argument whose type implements `serde::Serialize`, chosen at compile time (other
///    arguments, and `self`, are left out without being named);
/// 3. runs the body with the run current ([`RunManager::in_scope`](crate::manager::RunManager::in_scope),
///    or [`RunManager::instrument`](crate::manager::RunManager::instrument) for an `async fn`, so the
///    run follows the body across `.await`), so marked functions it calls nest under it;
/// 4. ends the run with the return value, serialized; or, for a function returning a
///    `Result`, with the run's error event when it returns `Err(e)`; or, when the body panics
///    or the future is dropped before it completes, with an error event of kind
///    [`ErrorInfo::ABANDONED`](crate::payload::ErrorInfo::ABANDONED).
///
/// A sync function looks up a [`CallbackManager`](crate::CallbackManager), an `async fn` an
/// [`AsyncCallbackManager`](crate::AsyncCallbackManager): each is traced only under its own
/// kind of manager. When none is current, the function runs as written, after one
/// thread-local read: nothing is allocated or serialized.
///
/// Tracing pays only for interest: the arguments (and `fields`, `metadata`) are serialized only
/// when some handler of the current manager wants the run's events, and the return value only
/// when some handler wants its end. Each captured value is cut at `max_input_bytes` of JSON
/// (64 KiB unless the attribute says otherwise): serializing stops there, and the value becomes
/// a string of its first bytes ending in `… [cut: over N bytes of JSON]`, so a function that
/// takes a whole corpus costs at most that much per call.
///
/// Handler errors never change what the function returns: a handler with `raise_error` that
/// fails is logged by the dispatch (with `tracing`), and the function runs and returns as if
/// nothing was traced.
///
/// ```
/// use std::sync::Arc;
/// use llm_callbacks::handlers::ConsoleHandler;
/// use llm_callbacks::{CallbackManager, chain, tool};
///
/// #[tool]
/// fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// #[chain(name = "sum", tags("math"))]
/// fn sum(numbers: &[i64]) -> i64 {
///     numbers.iter().fold(0, |total, n| add(total, *n)) // each `add` is a tool run under `sum`
/// }
///
/// assert_eq!(sum(&[1, 2]), 3); // nothing current: no events
///
/// let manager = CallbackManager::new().with_handler(Arc::new(ConsoleHandler::new()));
/// assert_eq!(manager.in_scope(|| sum(&[1, 2, 3])), 6); // a root chain run with 3 tool runs
/// ```
///
/// What each kind records:
///
/// | attribute | start | end |
/// |---|---|---|
/// | `#[chain]` | the inputs object | the return value if it is an object, `{}` for `()`, else `{"output": value}` |
/// | `#[tool]` | the input string (a single string argument, else the inputs' JSON) and the inputs object | the return value |
/// | `#[retriever]` | the query (a single string argument, else the inputs' JSON) | the documents: a `Vec<Document>` (or anything `AsRef<[Document]>`) as it is, else the return value read as a list of documents or strings |
///
/// Options, all optional:
///
/// | option | meaning |
/// |---|---|
/// | `name = "..."` | the run's name (default: the function's name) |
/// | `tags("a", "b")` | tags of this function's runs (not inherited by the runs nested in them) |
/// | `metadata(key = value, ...)` | metadata of this function's runs; values are any serializable expressions |
/// | `skip(arg, ...)` | arguments left out of the inputs |
/// | `skip_all` | no argument is an input |
/// | `inputs(arg, ...)` | only these arguments are inputs |
/// | `fields(key = expr, ...)` | inputs computed from the arguments, e.g. `fields(user = self.user_id)` |
/// | `err` | treat the return value as a `Result` (needed only for an alias not named `Result`; a return type named `Result` is one by default); `err = false` records `Err` values as ordinary outputs |
/// | `err(Display)`, `err(Debug)` | the run's error message is the error's `Display` or `Debug` form |
/// | `max_input_bytes = N` | the most bytes of JSON one captured argument or return value may take (default 64 KiB) |
/// | `crate = "handler_core"` | for code that depends on `handler-core` directly |
///
/// By default an `Err(e)` becomes [`ErrorInfo::from_error(&e)`](crate::payload::ErrorInfo::from_error)
/// (its type as the kind, its message and causes) when `e` is a `std::error::Error` or a boxed
/// `dyn Error` (named by its real type), else its `Display` form (`{:#}`, so `anyhow::Error`
/// shows its causes), else its `Debug` form, with the error type's name as the kind.
/// `fields(...)` and `metadata(...)` expressions are evaluated only when a manager is current.
///
/// Mistakes are compile errors that point at them:
///
/// ```compile_fail
/// #[llm_callbacks::chain(skip(questoin))] // error: `questoin` is not an argument of this function; did you mean `question`?
/// fn answer(question: &str) -> String {
///     question.to_owned()
/// }
/// ```
///
/// and so are an unknown option ("did you mean"), a mark on something other than a function,
/// a `const fn`, and `err` on a function that returns nothing.
///
/// There is no `#[llm]`: model runs come from the instrumented client, which knows the
/// messages, the invocation parameters and the token usage that an attribute cannot see.
pub use handler_macros::chain;

/// Makes every call of a function a tool run, nested in the current run (feature `derive`).
///
/// The tool's input string is its single string argument, or the JSON of its inputs; its
/// output is the return value. Everything else is as for [`chain`](macro@chain), whose page
/// has the full guide and the options.
///
/// ```
/// use llm_callbacks::{CallbackManager, tool};
///
/// #[tool(name = "calculator")]
/// fn calculate(expression: &str) -> Result<f64, std::num::ParseFloatError> {
///     expression.trim().parse()
/// }
///
/// let manager = CallbackManager::new();
/// assert_eq!(manager.in_scope(|| calculate(" 4 ")), Ok(4.0));
/// assert!(manager.in_scope(|| calculate("four")).is_err()); // a tool error event
/// ```
pub use handler_macros::tool;

/// Makes every call of a function a retriever run, nested in the current run (feature
/// `derive`).
///
/// The query is its single string argument, or the JSON of its inputs. A return value that is
/// a `Vec<Document>` (or a `Result` of one) becomes the retriever end's documents. Everything
/// else is as for [`chain`](macro@chain), whose page has the full guide and the options.
///
/// ```
/// use llm_callbacks::payload::Document;
/// use llm_callbacks::{AsyncCallbackManager, retriever};
///
/// #[retriever(metadata(index = "cities"))]
/// async fn search(query: &str) -> Vec<Document> {
///     vec![Document::new(format!("{query} is a city"))]
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let manager = AsyncCallbackManager::new();
/// let documents = manager.instrument(search("Paris")).await;
/// assert_eq!(documents[0].page_content, "Paris is a city");
/// # });
/// ```
pub use handler_macros::retriever;
