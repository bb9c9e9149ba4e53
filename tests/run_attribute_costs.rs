//! The run attributes pay only for interest: no argument or return value is serialized unless
//! some handler wants the run's events, and what is captured is cut at a size limit, with the
//! cut marked.

#![cfg(feature = "derive")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use llm_callbacks::event::Category;
use llm_callbacks::event::{ChainEnd, ChainStart, LlmStart};
use llm_callbacks::{CallbackHandler, CallbackManager, HandlerOptions, HandlerResult, chain};
use serde::{Serialize, Serializer};
use serde_json::Value;

/// How many times a [`Counted`] value was serialized.
static SERIALIZED: AtomicUsize = AtomicUsize::new(0);

/// A large argument that counts its serializations.
struct Counted(Vec<String>);

impl Serialize for Counted {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SERIALIZED.fetch_add(1, Ordering::SeqCst);
        self.0.serialize(serializer)
    }
}

#[chain]
fn answer(docs: &Counted, question: &str) -> Counted {
    Counted(vec![format!("{question}: {} docs", docs.0.len())])
}

#[chain(max_input_bytes = 32)]
fn small(text: &str) -> String {
    text.to_owned()
}

/// Records the chain starts and ends it gets.
#[derive(Default)]
struct Chains(Mutex<Vec<(Value, Value)>>);

impl CallbackHandler for Chains {
    fn on_chain_start(&self, event: &ChainStart<'_>) -> HandlerResult {
        self.0
            .lock()
            .unwrap()
            .push((event.inputs.clone(), Value::Null));
        Ok(())
    }
    fn on_chain_end(&self, event: &ChainEnd<'_>) -> HandlerResult {
        self.0.lock().unwrap().last_mut().unwrap().1 = event.outputs.clone();
        Ok(())
    }
}

/// Wants model events only: chains are ignored.
struct ModelsOnly(AtomicUsize);

impl CallbackHandler for ModelsOnly {
    fn options(&self) -> HandlerOptions {
        HandlerOptions::new().ignore(Category::Chain)
    }
    fn on_llm_start(&self, _: &LlmStart<'_>) -> HandlerResult {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// One test, so the serialization counter is read by nothing else.
#[test]
fn arguments_are_serialized_only_for_interested_handlers_and_cut_at_the_limit() {
    // About 50 MB of documents.
    let corpus = Counted(vec!["lorem ipsum dolor sit amet ".repeat(40); 50_000]);

    // Nobody wants chains: the call costs no serialization at all.
    let manager = CallbackManager::new().with_handler(Arc::new(ModelsOnly(AtomicUsize::new(0))));
    let out = manager.in_scope(|| answer(&corpus, "q"));
    assert_eq!(out.0, ["q: 50000 docs"]);
    assert_eq!(
        SERIALIZED.load(Ordering::SeqCst),
        0,
        "serialized for nobody"
    );

    // A handler wants chains: the argument and the return value are serialized once each, and
    // the 50 MB argument is cut at the default limit with the cut marked.
    let chains = Arc::new(Chains::default());
    let manager = CallbackManager::new().with_handler(chains.clone());
    manager.in_scope(|| answer(&corpus, "q"));
    assert_eq!(SERIALIZED.load(Ordering::SeqCst), 2);
    let (inputs, outputs) = chains.0.lock().unwrap()[0].clone();
    let docs = inputs["docs"].as_str().expect("a cut value is a string");
    assert!(
        docs.len() <= 64 * 1024 + 64,
        "{} bytes captured",
        docs.len()
    );
    assert!(
        docs.ends_with("… [cut: over 65536 bytes of JSON]"),
        "{}",
        &docs[docs.len() - 60..]
    );
    assert_eq!(inputs["question"], "q");
    assert_eq!(outputs["output"], serde_json::json!(["q: 50000 docs"]));

    // The attribute's own limit.
    manager.in_scope(|| small(&"y".repeat(100)));
    manager.in_scope(|| small("short"));
    let seen = chains.0.lock().unwrap().clone();
    let cut = seen[1].0["text"].as_str().unwrap();
    assert!(
        cut.starts_with("\"yyyy") && cut.ends_with("[cut: over 32 bytes of JSON]"),
        "{cut}"
    );
    assert!(
        seen[1].1["output"]
            .as_str()
            .unwrap()
            .contains("[cut: over 32 bytes")
    );
    assert_eq!(seen[2].0["text"], "short");
    assert_eq!(seen[2].1["output"], "short");
}
