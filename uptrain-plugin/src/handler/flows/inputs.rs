//! The texts a flow's row is made of, read from chain inputs and retrieved documents.

use handler_core::payload::Document;
use serde_json::Value;

/// The question a chain's inputs carry: its `question`, `query` or `input` text, the inputs
/// themselves when they are a text, or their only text value.
pub(super) fn question_of(inputs: &Value) -> Option<String> {
    if let Some(text) = inputs.as_str() {
        return Some(text.to_owned());
    }
    let object = inputs.as_object()?;
    for key in ["question", "query", "input"] {
        if let Some(text) = object.get(key).and_then(Value::as_str) {
            return Some(text.to_owned());
        }
    }
    let mut texts = object.values().filter_map(Value::as_str);
    match (texts.next(), texts.next()) {
        (Some(only), None) => Some(only.to_owned()),
        _ => None,
    }
}

/// The text of a chain's `context` input: a string, or documents / strings joined by newlines.
pub(super) fn context_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Array(items) => {
            let texts: Option<Vec<&str>> = items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Some(text.as_str()),
                    other => other.get("page_content").and_then(Value::as_str),
                })
                .collect();
            texts.map(|t| t.join("\n"))
        }
        Value::Object(_) => value
            .get("page_content")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// Documents rendered `1. text\n2. text`.
pub(super) fn numbered(documents: &[Document]) -> String {
    documents
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{}. {}", i + 1, d.page_content))
        .collect::<Vec<_>>()
        .join("\n")
}
