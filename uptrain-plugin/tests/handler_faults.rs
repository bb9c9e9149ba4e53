//! A panic while printing or logging results (as a `tracing` subscriber panics when stderr is
//! closed) never loses an evaluation nor leaves `flush` waiting forever.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::io::Write;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use handler_core::payload::{LlmResult, Serialized};
use handler_core::{CallbackManager, RunOptions};
use serde_json::json;
use uptrain_plugin::{Check, UptrainHandler};

/// A console whose writes panic.
struct Exploding;

impl Write for Exploding {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        panic!("console gone");
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_panicking_console_does_not_lose_the_row_or_hang_flush() {
    let handler = Arc::new(UptrainHandler::builder().log_to(Exploding).build().unwrap());
    let manager = CallbackManager::new().with_handler(handler.clone());
    let inputs = json!({"question": "What colour is Mars?", "context": "Mars is red."});
    let chain = manager
        .on_chain_start(None, &inputs, RunOptions::default())
        .unwrap();
    let llm = chain
        .child()
        .on_llm_start(&Serialized::named("m"), "p", RunOptions::default())
        .unwrap();
    llm.on_llm_end(&LlmResult::from_text("Mars is red."))
        .unwrap();
    chain.on_chain_end(&json!({})).unwrap();

    let (done, flushed) = mpsc::channel();
    let waiting = handler.clone();
    std::thread::spawn(move || done.send(waiting.flush()).unwrap());
    let rows = flushed
        .recv_timeout(Duration::from_secs(30))
        .expect("flush returned: the evaluation left the pending count");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].score(Check::ContextRelevance).is_some());
    assert_eq!(handler.results()["langchain_rag"].len(), 1);
}
