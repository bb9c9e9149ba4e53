use std::sync::Arc;
use llm_callbacks::event::Text;
use llm_callbacks::{CallbackHandler, CallbackManager, callbacks};

#[derive(CallbackHandler)]
#[callback(name = "h", run_inlin)]
struct Handler;

#[callbacks]
impl Handler {
    #[on(text)]
    fn text(&self, _event: &Text<'_>) {}
}

fn main() {
    let _ = CallbackManager::new().with_handler(Arc::new(Handler));
}
