use std::sync::Arc;
use llm_callbacks::event::ChainEnd;
use llm_callbacks::{CallbackHandler, CallbackManager, callbacks};

#[derive(CallbackHandler)]
struct Handler;

#[callbacks]
impl Handler {
    #[on(chian_end)]
    fn end(&self, _event: &ChainEnd<'_>) {}
}

fn main() {
    let _ = CallbackManager::new().with_handler(Arc::new(Handler));
}
