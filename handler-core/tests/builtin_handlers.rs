//! The built-in handlers under hostile conditions: model output full of terminal control
//! sequences, and a writer that panics while a handler holds its lock.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use handler_core::handlers::{ConsoleHandler, JsonlRecorder};
use handler_core::payload::ErrorInfo;
use handler_core::{CallbackManager, RunOptions};
use serde_json::{Value, json};

/// A writer into a shared buffer whose first `panics` writes (or flushes) panic.
#[derive(Clone, Default)]
struct Flaky {
    written: Arc<Mutex<Vec<u8>>>,
    panics: Arc<AtomicUsize>,
}

impl Flaky {
    fn panicking(times: usize) -> Self {
        let flaky = Self::default();
        flaky.panics.store(times, Ordering::SeqCst);
        flaky
    }

    fn maybe_panic(&self) {
        let left = self.panics.load(Ordering::SeqCst);
        if left > 0 {
            self.panics.store(left - 1, Ordering::SeqCst);
            panic!("the writer broke");
        }
    }

    fn text(&self) -> String {
        String::from_utf8(self.written.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Flaky {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.maybe_panic();
        self.written.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.maybe_panic();
        Ok(())
    }
}

const CLEAR_SCREEN: &str = "\x1b[2J";
const SET_TITLE: &str = "\x1b]0;pwned\x07";

#[test]
fn the_console_escapes_control_characters_from_model_output() {
    let console = Arc::new(ConsoleHandler::to_writer(Vec::new()));
    let manager = CallbackManager::new().with_handler(console.clone());
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::named("qa\x1b[8m"))
        .unwrap();
    chain
        .on_text(&format!("line one\nline two\t{CLEAR_SCREEN}"))
        .unwrap();
    chain
        .on_agent_action("search", &json!({}), &format!("thinking{SET_TITLE}"))
        .unwrap();
    let tool = chain
        .child()
        .on_tool_start(None, "q", None, RunOptions::new())
        .unwrap();
    tool.on_tool_end(&json!("result\roverwritten\u{9b}31m"))
        .unwrap();
    chain
        .on_chain_error(ErrorInfo::new("ValueError", "bad \x1b[5m input"))
        .unwrap();

    let out = console.take_output().unwrap();
    for raw in ['\x1b', '\x07', '\r', '\u{9b}'] {
        assert!(
            !out.contains(raw),
            "raw {raw:?} reached the terminal:\n{out:?}"
        );
    }
    for shown in [
        "> Entering new qa\\u{1b}[8m chain...",
        "line one\nline two\t\\u{1b}[2J",
        "thinking\\u{1b}]0;pwned\\u{7}",
        "result\\roverwritten\\u{9b}31m",
        "Chain failed: ValueError: bad \\u{1b}[5m input",
    ] {
        assert!(out.contains(shown), "missing {shown:?} in:\n{out}");
    }
}

#[test]
fn a_panic_while_printing_does_not_silence_the_console() {
    let writer = Flaky::panicking(1);
    let console = Arc::new(ConsoleHandler::to_boxed_writer(Box::new(writer.clone())));
    let manager = CallbackManager::new().with_handler(console);
    let chain = manager
        .on_chain_start(None, &json!({}), RunOptions::named("first"))
        .unwrap();
    assert_eq!(
        writer.panics.load(Ordering::SeqCst),
        0,
        "the writer panicked"
    );
    chain.on_text("still printing").unwrap();
    chain.on_chain_end(&json!({})).unwrap();
    let out = writer.text();
    assert!(out.contains("still printing"), "{out:?}");
    assert!(out.contains("> Finished chain."), "{out:?}");
}

#[test]
fn a_panic_while_recording_does_not_stop_the_recorder() {
    let writer = Flaky::panicking(1);
    let recorder = Arc::new(JsonlRecorder::new(writer.clone()));
    let manager = CallbackManager::new().with_handler(recorder.clone());
    for name in ["first", "second"] {
        let chain = manager
            .on_chain_start(None, &json!({}), RunOptions::named(name))
            .unwrap();
        chain.on_chain_end(&json!({"name": name})).unwrap();
    }
    assert_eq!(
        writer.panics.load(Ordering::SeqCst),
        0,
        "the writer panicked"
    );
    recorder.flush().unwrap();
    let text = writer.text();
    let records: Vec<Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let events: Vec<&str> = records
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["chain_start", "chain_end", "chain_start", "chain_end"],
        "{text}"
    );
}
