//! What content may leave the process: one switch for every path, the OpenInference hiding
//! switches on top, and the user's redaction hook over every captured string.
//!
//! Content is everything a run says rather than what it is: prompts, messages, outputs,
//! documents, tool arguments, error messages, evaluation explanations, custom event data,
//! retry outcomes and invocation parameters beyond [`SAFE_INVOCATION_PARAMETERS`]. Names,
//! kinds, timings, scores, token counts and error types are not content and always go out.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde_json::Value as Json;

/// Invocation parameters exported even when content is not captured: they tune the model and
/// say nothing about the user.
pub const SAFE_INVOCATION_PARAMETERS: &[&str] = &[
    "model",
    "model_name",
    "model_id",
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "stream",
];

/// A user function over each captured string: `None` keeps the string, `Some` replaces it
/// (e.g. with e-mail addresses masked). It runs on the thread that emits the event, for
/// captured content only.
///
/// ```
/// use otel_plugin::Redactor;
///
/// let mask = Redactor::new(|text| text.contains('@').then(|| "<email>".to_owned()));
/// assert_eq!(mask.apply("ada@example.com"), "<email>");
/// assert_eq!(mask.apply("no address"), "no address");
/// ```
#[derive(Clone)]
pub struct Redactor(Arc<RedactFn>);

type RedactFn = dyn Fn(&str) -> Option<String> + Send + Sync;

impl Redactor {
    /// Wraps `redact`.
    pub fn new(redact: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(redact))
    }

    /// The string as it may be exported.
    pub fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match (self.0)(text) {
            Some(replaced) => Cow::Owned(replaced),
            None => Cow::Borrowed(text),
        }
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redactor(..)")
    }
}

impl PartialEq for Redactor {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Which part of a run a piece of content belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// Inputs: prompts, messages, queries, tool arguments, an agent's plan.
    Input,
    /// Outputs: answers, documents, tool results, printed text.
    Output,
    /// Content that may carry either: error messages, explanations, custom event data, retry
    /// outcomes, invocation parameters. Captured only when neither inputs nor outputs are
    /// hidden.
    Other,
}

/// The capture decision, made once from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Capture {
    inputs: bool,
    outputs: bool,
}

impl Capture {
    pub(crate) fn new(capture_content: bool, hide_inputs: bool, hide_outputs: bool) -> Self {
        Self {
            inputs: capture_content && !hide_inputs,
            outputs: capture_content && !hide_outputs,
        }
    }

    /// True when content of `part` may be exported.
    pub(crate) fn allows(self, part: Part) -> bool {
        match part {
            Part::Input => self.inputs,
            Part::Output => self.outputs,
            Part::Other => self.inputs && self.outputs,
        }
    }
}

pub(crate) fn is_safe_parameter(key: &str) -> bool {
    SAFE_INVOCATION_PARAMETERS.contains(&key)
}

/// The safe invocation parameters of a model's settings, serialised without copying them.
pub(crate) struct SafeParameters<'m>(pub(crate) &'m serde_json::Map<String, Json>);

impl serde::Serialize for SafeParameters<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.0.iter().filter(|(key, _)| is_safe_parameter(key)) {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_needs_the_switch_and_other_content_needs_both_parts() {
        let table = [
            // (capture, hide in, hide out) → (input, output, other)
            ((false, false, false), (false, false, false)),
            ((true, false, false), (true, true, true)),
            ((true, true, false), (false, true, false)),
            ((true, false, true), (true, false, false)),
            ((false, true, true), (false, false, false)),
        ];
        for ((capture, hide_in, hide_out), expected) in table {
            let c = Capture::new(capture, hide_in, hide_out);
            let got = (
                c.allows(Part::Input),
                c.allows(Part::Output),
                c.allows(Part::Other),
            );
            assert_eq!(got, expected, "{capture} {hide_in} {hide_out}");
        }
    }
}
