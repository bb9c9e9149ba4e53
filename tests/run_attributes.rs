//! The run attributes at run time: marked functions, sync and async, start runs under the
//! current run, with their arguments as inputs and their return values as outputs, and end them
//! exactly once, whatever happens (an `Err`, a panic, a cancelled future).

#![cfg(feature = "derive")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use llm_callbacks::event::{
    ChainEnd, ChainError, ChainStart, Event, RetrieverEnd, RetrieverError, RetrieverStart, ToolEnd,
    ToolError, ToolStart,
};
use llm_callbacks::payload::Document;
use llm_callbacks::{
    AsyncCallbackManager, CallbackHandler, CallbackManager, HandlerResult, RunOptions, chain,
    retriever, tool,
};
use serde_json::{Value, json};

/// Records the chain, tool and retriever events it receives, as their JSON.
#[derive(Default)]
struct Recorder(Mutex<Vec<Value>>);

impl Recorder {
    fn push(&self, event: Event<'_>) -> HandlerResult {
        let value = serde_json::to_value(event).map_err(|e| e.to_string())?;
        self.0.lock().map_err(|e| e.to_string())?.push(value);
        Ok(())
    }

    fn events(&self) -> Vec<Value> {
        self.0
            .lock()
            .map(|events| events.clone())
            .unwrap_or_default()
    }

    fn kinds(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| format!("{}:{}", e["event"].as_str().unwrap_or("?"), name(e)))
            .collect()
    }
}

fn name(event: &Value) -> &str {
    event["run"]["name"].as_str().unwrap_or("")
}

fn id(event: &Value, field: &str) -> Value {
    event["run"][field].clone()
}

macro_rules! record {
    ($($method:ident($event:ident)),* $(,)?) => {
        impl CallbackHandler for Recorder {
            $(fn $method(&self, event: &$event<'_>) -> HandlerResult {
                self.push(Event::$event(*event))
            })*
        }
    };
}

record!(
    on_chain_start(ChainStart),
    on_chain_end(ChainEnd),
    on_chain_error(ChainError),
    on_tool_start(ToolStart),
    on_tool_end(ToolEnd),
    on_tool_error(ToolError),
    on_retriever_start(RetrieverStart),
    on_retriever_end(RetrieverEnd),
    on_retriever_error(RetrieverError),
);

fn recording() -> (Arc<Recorder>, CallbackManager) {
    let recorder = Arc::new(Recorder::default());
    (
        recorder.clone(),
        CallbackManager::new().with_handler(recorder),
    )
}

fn async_recording() -> (Arc<Recorder>, AsyncCallbackManager) {
    let recorder = Arc::new(Recorder::default());
    (
        recorder.clone(),
        AsyncCallbackManager::new().with_handler(recorder),
    )
}

/// Not serializable: skipped from the inputs without being named.
struct Client {
    prefix: &'static str,
}

/// An error type, as `thiserror` would write it.
#[derive(Debug)]
struct NotFound(String);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no document about {}", self.0)
    }
}

impl std::error::Error for NotFound {}

// ---- sync ----

#[retriever(tags("search"), metadata(index = "wiki", k = 2))]
fn search(client: &Client, query: &str, limit: usize) -> Vec<Document> {
    (0..limit)
        .map(|i| Document::new(format!("{}{query} {i}", client.prefix)))
        .collect()
}

#[tool(name = "word_count")]
fn count_words(text: &str) -> usize {
    text.split_whitespace().count()
}

#[chain(skip(secret))]
fn answer(client: &Client, question: String, secret: &str) -> Result<String, NotFound> {
    let _ = secret;
    let documents = search(client, &question, 2);
    let words = count_words(&documents[0].page_content);
    if question.is_empty() {
        return Err(NotFound(question));
    }
    Ok(format!("{words} words"))
}

#[test]
fn sync_runs_nest_three_deep_with_parents_and_root() {
    let (recorder, manager) = recording();
    let client = Client { prefix: "about " };
    let top = manager
        .on_chain_start(None, &json!({}), RunOptions::named("top"))
        .unwrap();
    let result = top.in_scope(|| answer(&client, "paris".to_owned(), "hunter2"));
    top.on_chain_end(&json!({})).unwrap();
    assert_eq!(result.unwrap(), "3 words");

    assert_eq!(
        recorder.kinds(),
        [
            "chain_start:top",
            "chain_start:answer",
            "retriever_start:search",
            "retriever_end:search",
            "tool_start:word_count",
            "tool_end:word_count",
            "chain_end:answer",
            "chain_end:top",
        ]
    );
    let events = recorder.events();
    let (top_id, answer_id) = (id(&events[0], "run_id"), id(&events[1], "run_id"));
    assert_eq!(id(&events[1], "parent_run_id"), top_id);
    for child in [2, 3, 4, 5] {
        assert_eq!(id(&events[child], "parent_run_id"), answer_id);
        assert_eq!(id(&events[child], "root_run_id"), top_id);
    }
    assert_eq!(id(&events[1], "root_run_id"), top_id);

    // Inputs: serializable arguments by name; `client` (not Serialize) and `secret` (skipped)
    // are left out.
    assert_eq!(events[1]["inputs"], json!({"question": "paris"}));
    assert_eq!(events[6]["outputs"], json!({"output": "3 words"}));
    // A retriever's query is its single string input... here there are two inputs.
    assert_eq!(
        serde_json::from_str::<Value>(events[2]["query"].as_str().unwrap()).unwrap(),
        json!({"query": "paris", "limit": 2})
    );
    assert_eq!(events[2]["run"]["tags"], json!(["search"]));
    assert_eq!(
        events[2]["run"]["metadata"],
        json!({"index": "wiki", "k": 2})
    );
    let documents: Vec<&str> = events[3]["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["page_content"].as_str().unwrap())
        .collect();
    assert_eq!(documents, ["about paris 0", "about paris 1"]);
    // A tool's input is its single string input; its output the return value.
    assert_eq!(events[4]["input"], json!("about paris 0"));
    assert_eq!(events[4]["inputs"], json!({"text": "about paris 0"}));
    assert_eq!(events[5]["output"], json!(3));
}

#[test]
fn an_err_return_is_the_runs_error() {
    let (recorder, manager) = recording();
    let client = Client { prefix: "" };
    let result = manager.in_scope(|| answer(&client, String::new(), ""));
    assert!(result.is_err());
    let events = recorder.events();
    let last = events.last().unwrap();
    assert_eq!(last["event"], "chain_error");
    assert_eq!(
        last["error"],
        json!({"kind": "NotFound", "message": "no document about "})
    );
    // A root run: the manager, not a run, was current.
    assert_eq!(id(&events[0], "parent_run_id"), Value::Null);
    assert_eq!(id(last, "run_id"), id(&events[0], "run_id"));
}

#[test]
fn nothing_current_means_no_events_and_the_same_result() {
    let (recorder, _manager) = recording();
    let client = Client { prefix: "x " };
    assert_eq!(answer(&client, "q".to_owned(), "").unwrap(), "3 words");
    assert_eq!(count_words("a b c"), 3);
    assert!(recorder.events().is_empty());
    assert!(CallbackManager::current().is_none());
}

#[chain]
fn explode(depth: u32) -> u32 {
    if depth > 0 {
        panic!("too deep");
    }
    depth
}

#[test]
fn a_panic_abandons_the_run() {
    let (recorder, manager) = recording();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        manager.in_scope(|| explode(1))
    }));
    assert!(panicked.is_err());
    let events = recorder.events();
    assert_eq!(
        recorder.kinds(),
        ["chain_start:explode", "chain_error:explode"]
    );
    assert_eq!(events[1]["error"]["kind"], "abandoned");
    // The current run was restored while unwinding.
    assert!(CallbackManager::current().is_none());
}

struct Calculator {
    offset: i64,
}

impl Calculator {
    #[tool(fields(offset = self.offset))]
    fn add(&self, a: i64, b: i64) -> i64 {
        a + b + self.offset
    }

    #[chain(name = "calculate", err(Display))]
    fn checked(&self, a: i64) -> Result<i64, String> {
        if a < 0 {
            return Err(format!("{a} is negative"));
        }
        Ok(self.add(a, 1))
    }
}

#[test]
fn methods_with_self_work_and_skip_self() {
    let (recorder, manager) = recording();
    let calculator = Calculator { offset: 10 };
    assert_eq!(manager.in_scope(|| calculator.checked(1)), Ok(12));
    assert_eq!(
        manager.in_scope(|| calculator.checked(-1)),
        Err("-1 is negative".to_owned())
    );
    assert_eq!(
        recorder.kinds(),
        [
            "chain_start:calculate",
            "tool_start:add",
            "tool_end:add",
            "chain_end:calculate",
            "chain_start:calculate",
            "chain_error:calculate",
        ]
    );
    let events = recorder.events();
    assert_eq!(events[0]["inputs"], json!({"a": 1}));
    assert_eq!(events[1]["inputs"], json!({"a": 1, "b": 1, "offset": 10}));
    assert_eq!(
        events[1]["input"],
        json!({"a": 1, "b": 1, "offset": 10}).to_string()
    );
    assert_eq!(
        events[5]["error"],
        json!({"kind": "String", "message": "-1 is negative"})
    );
}

// ---- async ----

#[retriever]
async fn fetch(query: &str) -> Result<Vec<Document>, NotFound> {
    tokio::task::yield_now().await;
    if query.is_empty() {
        return Err(NotFound(query.to_owned()));
    }
    Ok(vec![
        Document::new(format!("{query} is a city")).with_id("1"),
    ])
}

#[tool]
async fn shout(text: String) -> String {
    tokio::task::yield_now().await;
    text.to_uppercase()
}

#[chain]
async fn rag(question: &str) -> Result<String, NotFound> {
    let documents = fetch(question).await?;
    // Two awaits later, on whatever thread, the run is still current.
    let Some(current) = AsyncCallbackManager::current() else {
        return Err(NotFound("the current run".to_owned()));
    };
    let text = documents[0].page_content.clone();
    let loud = tokio::spawn(current.instrument(shout(text)))
        .await
        .map_err(|e| NotFound(e.to_string()))?;
    Ok(loud)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_runs_nest_three_deep_across_awaits_and_tasks() {
    let (recorder, manager) = async_recording();
    let top = manager
        .on_chain_start(None, &json!({}), RunOptions::named("top"))
        .await
        .unwrap();
    let answer = top.instrument(rag("paris")).await.unwrap();
    top.on_chain_end(&json!({})).await.unwrap();
    assert_eq!(answer, "PARIS IS A CITY");
    assert_eq!(
        recorder.kinds(),
        [
            "chain_start:top",
            "chain_start:rag",
            "retriever_start:fetch",
            "retriever_end:fetch",
            "tool_start:shout",
            "tool_end:shout",
            "chain_end:rag",
            "chain_end:top",
        ]
    );
    let events = recorder.events();
    let (top_id, rag_id) = (id(&events[0], "run_id"), id(&events[1], "run_id"));
    assert_eq!(id(&events[1], "parent_run_id"), top_id);
    for child in &events[2..=5] {
        assert_eq!(id(child, "parent_run_id"), rag_id);
        assert_eq!(id(child, "root_run_id"), top_id);
    }
    assert_eq!(events[1]["inputs"], json!({"question": "paris"}));
    assert_eq!(events[2]["query"], "paris");
    assert_eq!(events[3]["documents"][0]["page_content"], "paris is a city");
    assert_eq!(events[3]["documents"][0]["id"], "1");
    assert_eq!(events[5]["output"], "PARIS IS A CITY");
    assert_eq!(events[6]["outputs"], json!({"output": "PARIS IS A CITY"}));
}

#[tokio::test]
async fn an_async_err_is_the_error_of_each_run_it_crosses() {
    let (recorder, manager) = async_recording();
    let result = manager.instrument(rag("")).await;
    assert!(result.is_err());
    assert_eq!(
        recorder.kinds(),
        [
            "chain_start:rag",
            "retriever_start:fetch",
            "retriever_error:fetch",
            "chain_error:rag",
        ]
    );
    assert_eq!(recorder.events()[3]["error"]["kind"], "NotFound");
}

#[chain]
async fn wait_forever(label: &str) -> String {
    std::future::pending::<()>().await;
    label.to_owned()
}

#[tokio::test]
async fn a_cancelled_future_abandons_the_run() {
    let (recorder, manager) = async_recording();
    let outcome = tokio::time::timeout(
        Duration::from_millis(20),
        manager.instrument(wait_forever("late")),
    )
    .await;
    assert!(outcome.is_err(), "timed out");
    assert_eq!(
        recorder.kinds(),
        ["chain_start:wait_forever", "chain_error:wait_forever"]
    );
    assert_eq!(recorder.events()[1]["error"]["kind"], "abandoned");
}

#[tokio::test]
async fn async_with_nothing_current_runs_as_is() {
    assert_eq!(
        fetch("rome").await.unwrap()[0].page_content,
        "rome is a city"
    );
    assert_eq!(shout("hi".to_owned()).await, "HI");
}

#[test]
fn a_sync_manager_does_not_trace_async_functions() {
    // Each kind of function looks up its own kind of manager: a sync one is not current for
    // async functions, which then run as they are.
    let (recorder, manager) = recording();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let loud = manager.in_scope(|| runtime.block_on(shout("a".to_owned())));
    assert_eq!(loud, "A");
    assert!(recorder.events().is_empty());
}

/// Fails every chain start and end, and asks for its errors to be raised.
struct Failing;

impl CallbackHandler for Failing {
    fn options(&self) -> llm_callbacks::HandlerOptions {
        llm_callbacks::HandlerOptions::new().raise_error(true)
    }
    fn on_chain_start(&self, _: &ChainStart<'_>) -> HandlerResult {
        Err("start refused".into())
    }
    fn on_chain_end(&self, _: &ChainEnd<'_>) -> HandlerResult {
        Err("end refused".into())
    }
}

#[test]
fn handler_errors_never_change_the_result() {
    let (recorder, manager) = recording();
    let manager = manager.with_handler(Arc::new(Failing));
    let calculator = Calculator { offset: 0 };
    assert_eq!(manager.in_scope(|| calculator.checked(2)), Ok(3));
    // The failed start ended the chain run as abandoned; the body still ran, and its tool run
    // is a root run since the chain never became current.
    assert_eq!(
        recorder.kinds(),
        [
            "chain_start:calculate",
            "chain_error:calculate",
            "tool_start:add",
            "tool_end:add",
        ]
    );
    assert_eq!(recorder.events()[1]["error"]["kind"], "abandoned");
}

#[tool]
fn parse_number(text: &str) -> Result<i32, Box<dyn std::error::Error + Send + Sync>> {
    Ok(text.trim().parse::<i32>()?)
}

#[test]
fn a_boxed_error_is_named_by_its_real_type() {
    let (recorder, manager) = recording();
    assert!(manager.in_scope(|| parse_number("twelve")).is_err());
    assert_eq!(manager.in_scope(|| parse_number(" 12 ")).ok(), Some(12));
    let events = recorder.events();
    assert_eq!(events[1]["event"], "tool_error");
    assert_eq!(events[1]["error"]["kind"], "ParseIntError");
    assert_eq!(
        events[1]["error"]["message"],
        "invalid digit found in string"
    );
    assert_eq!(events[3]["output"], 12);
}

// ---- input selection and error options ----

#[derive(Debug)]
#[allow(dead_code)] // read through `Debug`
struct Rejected {
    code: u16,
}

#[chain(skip_all)]
fn private_answer(question: &str, user: &str) -> String {
    format!("{user}: {question}")
}

#[chain(inputs(question))]
fn picked_answer(question: &str, user: &str, k: usize) -> String {
    format!("{user}: {question} {k}")
}

#[chain(err = false)]
fn lookup(key: &str) -> Result<u32, String> {
    if key == "a" {
        Ok(1)
    } else {
        Err(format!("no {key}"))
    }
}

#[chain(err(Debug))]
fn guarded(code: u16) -> Result<(), Rejected> {
    Err(Rejected { code })
}

#[test]
fn input_selection_and_error_options_shape_the_events() {
    let (recorder, manager) = recording();
    manager.in_scope(|| {
        private_answer("where?", "alice");
        picked_answer("where?", "alice", 3);
        let _ = lookup("b");
        let _ = guarded(403);
    });
    let events = recorder.events();
    let of = |name: &str, kind: &str| -> Value {
        events
            .iter()
            .find(|e| e["run"]["name"] == name && e["event"] == kind)
            .unwrap_or_else(|| panic!("no {kind} of {name}: {events:#?}"))
            .clone()
    };
    // `skip_all`: no argument is an input.
    assert_eq!(of("private_answer", "chain_start")["inputs"], json!({}));
    // `inputs(question)`: only that one.
    assert_eq!(
        of("picked_answer", "chain_start")["inputs"],
        json!({"question": "where?"})
    );
    // `err = false`: an `Err` is an ordinary output, the run ends normally.
    assert_eq!(
        of("lookup", "chain_end")["outputs"],
        json!({"Err": "no b"}) // an object, as it is
    );
    assert!(
        events
            .iter()
            .all(|e| e["event"] != "chain_error" || e["run"]["name"] != "lookup")
    );
    // `err(Debug)`: the message is the error's `Debug` form.
    assert_eq!(
        of("guarded", "chain_error")["error"],
        json!({"kind": "Rejected", "message": "Rejected { code: 403 }"})
    );
}
