use llm_callbacks::event::Text;
use llm_callbacks::{CallbackHandler, callbacks};

#[derive(CallbackHandler)]
struct Handler {
    #[callback(name)]
    id: u32,
    #[callback(options)]
    ignore_text: bool,
}

#[callbacks]
impl Handler {
    #[on(text)]
    fn text(&self, _event: &Text<'_>) {}
}

fn main() {}
