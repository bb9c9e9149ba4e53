use std::sync::Arc;
use llm_callbacks::event::{ChainEnd, Text, ToolEnd};
use llm_callbacks::{CallbackHandler, CallbackManager, RunContext, callbacks};

#[derive(CallbackHandler)]
struct Handler;

#[callbacks]
impl Handler {
    #[on(text)]
    fn no_event(&self) {}

    #[on(chain_end)]
    fn by_value(&self, _event: ChainEnd<'_>) {}

    #[on(tool_end)]
    fn too_many(&self, _event: &ToolEnd<'_>, _run: &RunContext, _extra: u32) {}

    #[on(retry)]
    fn swapped(&self, _run: &RunContext, _event: &Text<'_>) {}
}

fn main() {
    let _ = CallbackManager::new().with_handler(Arc::new(Handler));
}
