use llm_callbacks::event::Text;
use llm_callbacks::{CallbackHandler, HandlerOptions, callbacks};

#[derive(CallbackHandler)]
struct Handler {
    #[callback(name)]
    name: String,
    #[callback(name)]
    label: String,
    #[callback(options = "all")]
    options: HandlerOptions,
    #[callback(raise_error)]
    strict: bool,
}

#[callbacks]
impl Handler {
    #[on(text)]
    fn text(&self, _event: &Text<'_>) {}
}

#[derive(CallbackHandler)]
#[callback(options)]
enum Either {
    A {
        #[callback(name)]
        name: String,
    },
}

fn main() {}
