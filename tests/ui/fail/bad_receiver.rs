use std::sync::Arc;
use llm_callbacks::event::{ChainEnd, ChainStart, Text};
use llm_callbacks::{CallbackHandler, CallbackManager, callbacks};

#[derive(CallbackHandler)]
struct Handler;

#[callbacks]
impl Handler {
    #[on(chain_start)]
    fn by_value(self, _event: &ChainStart<'_>) {}

    #[on(chain_end)]
    fn mutable(&mut self, _event: &ChainEnd<'_>) {}

    #[on(text)]
    fn no_receiver(_event: &Text<'_>) {}
}

fn main() {
    let _ = CallbackManager::new().with_handler(Arc::new(Handler));
}
