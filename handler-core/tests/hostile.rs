//! Hostile input: metadata nested 100,000 deep is merged, dispatched, recorded and dropped on a
//! thread with the default 2 MiB stack, without overflowing it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

use std::sync::{Arc, Mutex};

use handler_core::handlers::JsonlRecorder;
use handler_core::payload::{Metadata, depth};
use handler_core::{AsyncCallbackManager, CallbackManager, RunOptions};
use serde_json::{Value, json};

/// A value nested `levels` deep, alternating arrays and objects, built without recursion.
fn nested(levels: usize) -> Value {
    let mut value = json!("bottom");
    for level in 0..levels {
        value = if level % 2 == 0 {
            Value::Array(vec![value])
        } else {
            let mut map = Metadata::new();
            map.insert("k".into(), value);
            Value::Object(map)
        };
    }
    value
}

/// Runs `f` on a thread with the default 2 MiB stack of spawned threads; an overflow aborts
/// the whole test binary, which fails the test too.
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    let thread = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .unwrap();
    thread.join().unwrap();
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn hostile_metadata() -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert("deep".into(), nested(100_000));
    metadata.insert("user".into(), json!("ada"));
    metadata
}

#[test]
fn metadata_nested_100_000_deep_is_merged_recorded_and_dropped_on_a_small_stack() {
    on_small_stack(|| {
        let written = Shared::default();
        let recorder = Arc::new(JsonlRecorder::new(written.clone()));
        let mut manager = CallbackManager::new().with_handler(recorder.clone());
        manager.add_metadata(hostile_metadata());
        manager.add_local_metadata(hostile_metadata());
        let kept = manager.metadata().get("deep").unwrap();
        assert_eq!(depth::depth_of(kept), depth::MAX_METADATA_DEPTH);
        assert_eq!(manager.metadata().get("user"), Some(&json!("ada")));

        let chain = manager
            .on_chain_start(None, &json!({}), RunOptions::named("qa"))
            .unwrap();
        let child = chain.child();
        assert_eq!(
            depth::depth_of(child.metadata().get("deep").unwrap()),
            depth::MAX_METADATA_DEPTH,
            "inherited as cut"
        );
        chain.on_chain_end(&json!({})).unwrap();
        drop(child);
        drop(manager);
        drop(recorder);

        let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 2);
        for line in text.lines() {
            let record: Value = serde_json::from_str(line).expect("a recorded line parses back");
            assert!(line.contains(depth::CUT_MARKER));
            drop(record);
        }
    });
}

#[test]
fn the_async_manager_cuts_deep_metadata_too() {
    on_small_stack(|| {
        let mut manager = AsyncCallbackManager::new();
        manager.add_metadata(hostile_metadata());
        let kept = manager.metadata().get("deep").unwrap();
        assert_eq!(depth::depth_of(kept), depth::MAX_METADATA_DEPTH);
    });
}
