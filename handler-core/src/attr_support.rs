//! Items the run attributes (`#[chain]`, `#[tool]`, `#[retriever]`) generate code against.
//! Not public API: reached through `llm_callbacks::__private` (or `handler_core::__private`).
//!
//! A marked function reads the current manager
//! ([`Manager::current`](crate::manager::Manager::current)); when there is none it runs as written.
//! Otherwise it collects its arguments as [`Inputs`], starts an [`AttrRun`] (a [`SyncRun`] or
//! [`AsyncRun`]), runs its body with the run current, and finishes the run with an [`Outcome`]
//! made from the return value.
//!
//! Files, bottom to top: `capture` (arguments and return values: inputs, outcomes, the
//! documents rule, size limits), `errors` (what an `Err` becomes), `run` (starting, entering
//! and ending the run, once for both modes).
//!
//! Which arguments and return values serialize is decided per type at compile time, on stable
//! Rust, by autoref specialization: `(&&Arg(&value)).attr_input()` resolves to the
//! [`SerializeInput`] method when the type implements `Serialize` and to the [`SkipInput`] one
//! (which gives `None`) otherwise. Errors go the same way: `std::error::Error`, then a boxed
//! `dyn Error`, then `Display`, then `Debug`, then the type name alone.

mod capture;
mod errors;
mod run;

pub use capture::{
    Arg, DEFAULT_MAX_INPUT_BYTES, DocumentsOutput, Inputs, OpaqueOutput, Outcome, SerializeInput,
    SerializedOutput, SkipInput, capped_json, metadata,
};
pub use errors::{
    ErrorViaBox, ErrorViaDebug, ErrorViaDisplay, ErrorViaError, ErrorViaName, debug_error,
    display_error, short_type_name,
};
pub use run::{AsyncRun, AttrRun, Kind, Spec, SyncRun, call, typed_body, wants};
