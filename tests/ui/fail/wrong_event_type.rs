use std::sync::Arc;
use llm_callbacks::event::ChainStart;
use llm_callbacks::{CallbackHandler, CallbackManager, callbacks};

#[derive(CallbackHandler)]
struct Handler;

#[callbacks]
impl Handler {
    #[on(chain_end)]
    fn end(&self, _event: &ChainStart<'_>) {}
}

fn main() {
    let _ = CallbackManager::new().with_handler(Arc::new(Handler));
}
