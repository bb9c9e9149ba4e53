//! Items the `#[derive(CallbackHandler)]` / `#[callbacks]` macros generate code against.
//! Not public API: reached through `llm_callbacks::__private`.
