use std::sync::Arc;
use llm_callbacks::event::Text;
use llm_callbacks::{CallbackHandler, CallbackManager, callbacks};

#[derive(CallbackHandler)]
struct Handler;

#[callbacks]
impl Handler {
    #[on(text)]
    fn text(&self, _event: &Text<'_>) -> usize {
        0
    }
}

fn main() {
    let _ = CallbackManager::new().with_handler(Arc::new(Handler));
}
