use llm_callbacks::event::Text;
use llm_callbacks::{CallbackHandler, callbacks};

struct Handler;

#[callbacks]
impl CallbackHandler for Handler {
    #[on(text)]
    fn on_text(&self, _event: &Text<'_>) -> llm_callbacks::HandlerResult {
        Ok(())
    }
}

fn main() {}
