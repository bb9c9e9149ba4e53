// A type the macro cannot judge by its name: the compiler checks it, at the argument.
use std::sync::Arc;
use llm_callbacks::{CallbackHandler, CallbackManager, callbacks};

#[derive(CallbackHandler)]
struct Handler;

#[callbacks]
impl Handler {
    #[on(chain_end)]
    fn end(&self, _event: &serde_json::Value) {}
}

fn main() {
    let _ = CallbackManager::new().with_handler(Arc::new(Handler));
}
