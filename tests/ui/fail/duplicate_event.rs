use std::sync::Arc;
use llm_callbacks::event::LlmNewToken;
use llm_callbacks::{CallbackHandler, CallbackManager, callbacks};

#[derive(CallbackHandler)]
struct Handler;

#[callbacks]
impl Handler {
    #[on(llm_new_token)]
    fn count(&self, _event: &LlmNewToken<'_>) {}

    #[on(llm_new_token)]
    fn print(&self, _event: &LlmNewToken<'_>) {}
}

fn main() {
    let _ = CallbackManager::new().with_handler(Arc::new(Handler));
}
