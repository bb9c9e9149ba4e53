//! The payload builders reach handlers as built and survive a recording: named messages, tool
//! calls, generation info, and tags a handler tests with `RunContext::has_tag`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::{Arc, Mutex};

use handler_core::error::*;
use handler_core::event::*;
use handler_core::manager::*;
use handler_core::payload::{ChatMessage, Generation, LlmResult, Metadata, Serialized, ToolCall};
use handler_core::*;
use serde_json::json;

/// Keeps an owned copy of every chat start and LLM end, and whether the run had the tag.
#[derive(Default)]
struct Keeps {
    records: Mutex<Vec<EventRecord>>,
    tagged: Mutex<Vec<bool>>,
}

impl Keeps {
    fn keep(&self, event: Event<'_>) -> HandlerResult {
        self.tagged
            .lock()
            .unwrap()
            .push(event.run().has_tag("prod"));
        self.records.lock().unwrap().push(EventRecord::from(&event));
        Ok(())
    }
}

impl CallbackHandler for Keeps {
    fn on_chat_model_start(&self, event: &ChatModelStart<'_>) -> HandlerResult {
        self.keep(Event::ChatModelStart(*event))
    }
    fn on_llm_end(&self, event: &LlmEnd<'_>) -> HandlerResult {
        self.keep(Event::LlmEnd(*event))
    }
}

#[test]
fn named_messages_tool_calls_and_generation_info_reach_handlers_and_round_trip() {
    let keeps = Arc::new(Keeps::default());
    let mut manager = CallbackManager::new().with_handler(keeps.clone());
    manager.add_tags(["prod"]);

    let call = ToolCall::new("search", json!({"q": "paris"})).with_id("call-1");
    let messages = [
        ChatMessage::system("be brief"),
        ChatMessage::user("where is Paris?").with_name("alice"),
        ChatMessage::assistant("").with_tool_call(call.clone()),
    ];
    let chat = manager
        .on_chat_model_start(&Serialized::named("gpt"), &messages, RunOptions::new())
        .unwrap();
    let info: Metadata = [("finish_reason".to_owned(), json!("stop"))]
        .into_iter()
        .collect();
    let generation = Generation::new("In France.").with_generation_info(info.clone());
    chat.on_llm_end(&LlmResult::new(vec![vec![generation]]))
        .unwrap();

    assert_eq!(*keeps.tagged.lock().unwrap(), [true, true]);
    let records = keeps.records.lock().unwrap().clone();
    for record in &records {
        // What a JSONL recorder writes reads back the same.
        let line = serde_json::to_string(&record.as_event()).unwrap();
        assert_eq!(&serde_json::from_str::<EventRecord>(&line).unwrap(), record);
    }
    let Event::ChatModelStart(start) = records[0].as_event() else {
        panic!("{:?}", records[0]);
    };
    let sent = &start.messages[0];
    assert_eq!(sent[1].name.as_deref(), Some("alice"));
    assert_eq!(sent[2].tool_calls, [call]);
    let Event::LlmEnd(end) = records[1].as_event() else {
        panic!("{:?}", records[1]);
    };
    assert_eq!(end.response.generations[0][0].generation_info, Some(info));
}

#[test]
fn has_tag_is_false_for_a_run_without_the_tag() {
    let keeps = Arc::new(Keeps::default());
    let manager = CallbackManager::new().with_handler(keeps.clone());
    let chat = manager
        .on_chat_model_start(None, &[ChatMessage::user("hi")], RunOptions::new())
        .unwrap();
    chat.on_llm_end(&LlmResult::from_text("yo")).unwrap();
    assert_eq!(*keeps.tagged.lock().unwrap(), [false, false]);
}
