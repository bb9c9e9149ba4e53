//! What a marked function's values become: its arguments as [`Inputs`], its return value as
//! an [`Outcome`] (the one rule for documents: what a chain, a tool and a retriever make of a
//! value or a list of documents), each captured value cut at a size limit, and the
//! autoref-specialized traits that choose, per type, whether a value serializes.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::payload::{Document, ErrorInfo, Metadata};

/// How many bytes of JSON one captured value (an argument, a `fields` or `metadata` value, the
/// return value) may take when the attribute does not say (`max_input_bytes = N`): 64 KiB.
pub const DEFAULT_MAX_INPUT_BYTES: usize = 64 * 1024;

/// `value` as JSON, when it serializes in at most `limit` bytes; otherwise a string holding the
/// first bytes of its JSON and a mark that says where it was cut. Serializing stops at the
/// limit, so a huge value costs no more than `limit` bytes of work.
pub fn capped_json<T: Serialize + ?Sized>(value: &T, limit: usize) -> Option<Value> {
    let mut out = CappedWriter {
        bytes: Vec::new(),
        limit,
        cut: false,
    };
    match serde_json::to_writer(&mut out, value) {
        Ok(()) => serde_json::from_slice(&out.bytes).ok(),
        Err(_) if out.cut => {
            let head = String::from_utf8_lossy(&out.bytes);
            let head = head.trim_end_matches('\u{fffd}');
            Some(Value::String(format!(
                "{head}… [cut: over {limit} bytes of JSON]"
            )))
        }
        Err(_) => None,
    }
}

/// A writer that keeps at most `limit` bytes and fails past them.
struct CappedWriter {
    bytes: Vec<u8>,
    limit: usize,
    cut: bool,
}

impl std::io::Write for CappedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.limit - self.bytes.len();
        if buf.len() > room {
            self.bytes.extend_from_slice(&buf[..room]);
            self.cut = true;
            return Err(std::io::Error::other("over the size limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The inputs of one call, by argument name.
#[derive(Debug, Default)]
pub struct Inputs(pub(crate) Map<String, Value>);

impl Inputs {
    /// No inputs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an input; a `None` (an argument that does not serialize) is left out.
    pub fn push(&mut self, name: &str, value: Option<Value>) {
        if let Some(value) = value {
            self.0.insert(name.to_owned(), value);
        }
    }

    /// The one string a tool's input or a retriever's query is: the value of a single string
    /// input, otherwise the JSON of all inputs.
    pub(crate) fn as_text(&self) -> String {
        let mut values = self.0.values();
        match (values.next(), values.next()) {
            (Some(Value::String(text)), None) => text.clone(),
            _ => Value::Object(self.0.clone()).to_string(),
        }
    }
}

/// Metadata from `metadata(key = value, ...)`.
pub fn metadata<const N: usize>(entries: [(&str, Option<Value>); N]) -> Metadata {
    entries
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.unwrap_or(Value::Null)))
        .collect()
}

/// How a call ended.
#[derive(Debug)]
pub enum Outcome<'a> {
    /// The return value, serialized (`None` when its type does not serialize).
    Value(Option<Value>),
    /// A retriever's documents.
    Documents(Cow<'a, [Document]>),
    /// An `Err` return, as the run's error.
    Error(ErrorInfo),
}

impl<'a> Outcome<'a> {
    /// The outcome of a chain or a tool: its value (documents as their JSON), or its error.
    pub(crate) fn into_value(self) -> Result<Option<Value>, ErrorInfo> {
        match self {
            Self::Value(value) => Ok(value),
            Self::Documents(documents) => Ok(serde_json::to_value(&*documents).ok()),
            Self::Error(error) => Err(error),
        }
    }

    /// The outcome of a retriever: its documents (read from a serialized value, see
    /// [`documents_from`]), or its error.
    pub(crate) fn into_documents(self) -> Result<Cow<'a, [Document]>, ErrorInfo> {
        match self {
            Self::Documents(documents) => Ok(documents),
            Self::Value(value) => Ok(Cow::Owned(documents_from(value))),
            Self::Error(error) => Err(error),
        }
    }
}

/// A chain's outputs: an object as it is, nothing as `{}`, any other value as
/// `{"output": value}`.
pub(crate) fn chain_outputs(value: Option<Value>) -> Value {
    match value {
        Some(Value::Object(map)) => Value::Object(map),
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(other) => {
            let mut map = Map::new();
            map.insert("output".to_owned(), other);
            Value::Object(map)
        }
    }
}

/// A retriever's documents from a serialized return value: an array of documents, or of
/// strings (one document each); anything else gives none.
pub(crate) fn documents_from(value: Option<Value>) -> Vec<Document> {
    let Some(Value::Array(items)) = value else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| match item {
            Value::String(text) => Some(Document::new(text)),
            other => serde_json::from_value(other).ok(),
        })
        .collect()
}

/// A value seen by the autoref-specialized traits below.
#[derive(Debug)]
pub struct Arg<'a, T: ?Sized>(pub &'a T);

/// An argument or return value whose type serializes: its JSON, cut at `limit` bytes (see
/// [`capped_json`]; `None` if serializing fails).
pub trait SerializeInput {
    /// The value as JSON.
    fn attr_input(&self, limit: usize) -> Option<Value>;
}

impl<T: Serialize + ?Sized> SerializeInput for &Arg<'_, T> {
    fn attr_input(&self, limit: usize) -> Option<Value> {
        capped_json(self.0, limit)
    }
}

/// An argument or return value whose type does not serialize: skipped.
pub trait SkipInput {
    /// Nothing.
    fn attr_input(&self, limit: usize) -> Option<Value>;
}

impl<T: ?Sized> SkipInput for Arg<'_, T> {
    fn attr_input(&self, _: usize) -> Option<Value> {
        None
    }
}

/// A retriever's return value that is a list of documents: used as it is.
pub trait DocumentsOutput<'a> {
    /// The documents.
    fn attr_outcome(&self, limit: usize) -> Outcome<'a>;
}

impl<'a, T: AsRef<[Document]> + ?Sized> DocumentsOutput<'a> for &&Arg<'a, T> {
    fn attr_outcome(&self, _: usize) -> Outcome<'a> {
        Outcome::Documents(Cow::Borrowed(self.0.as_ref()))
    }
}

/// A retriever's return value of another type that serializes: read as documents.
pub trait SerializedOutput<'a> {
    /// The serialized value.
    fn attr_outcome(&self, limit: usize) -> Outcome<'a>;
}

impl<'a, T: Serialize + ?Sized> SerializedOutput<'a> for &Arg<'a, T> {
    fn attr_outcome(&self, limit: usize) -> Outcome<'a> {
        Outcome::Value(capped_json(self.0, limit))
    }
}

/// A retriever's return value that does not serialize: no documents.
pub trait OpaqueOutput<'a> {
    /// Nothing.
    fn attr_outcome(&self, limit: usize) -> Outcome<'a>;
}

impl<'a, T: ?Sized> OpaqueOutput<'a> for Arg<'a, T> {
    fn attr_outcome(&self, _: usize) -> Outcome<'a> {
        Outcome::Value(None)
    }
}

#[cfg(test)]
// The borrows choose the impl, as in generated code, where the types are not known.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Opaque;

    #[test]
    fn serializable_arguments_give_json_and_others_none() {
        let text = "hi";
        assert_eq!((&&Arg(&text)).attr_input(64), Some(json!("hi")));
        assert_eq!((&&Arg(&vec![1, 2])).attr_input(64), Some(json!([1, 2])));
        assert_eq!((&&Arg(&Opaque)).attr_input(64), None);
    }

    #[test]
    fn documents_are_taken_as_they_are() {
        let docs = vec![Document::new("a")];
        let Outcome::Documents(found) = (&&&Arg(&docs)).attr_outcome(64) else {
            panic!("documents expected");
        };
        assert_eq!(found[0].page_content, "a");
        assert_eq!(
            documents_from(Some(json!(["x", {"page_content": "y"}])))
                .iter()
                .map(|d| d.page_content.as_str())
                .collect::<Vec<_>>(),
            ["x", "y"]
        );
    }

    #[test]
    fn the_documents_rule_is_one_rule_for_every_run_kind() {
        let docs = || Outcome::Documents(Cow::Owned(vec![Document::new("a")]));
        // A chain or a tool that returns documents ends with their JSON.
        let value = docs().into_value().ok().flatten();
        assert_eq!(
            value.as_ref().map(|v| v[0]["page_content"].clone()),
            Some(json!("a"))
        );
        // A retriever that returns a serialized list ends with the documents read from it.
        let read = Outcome::Value(Some(json!(["b"]))).into_documents().ok();
        assert_eq!(
            read.map(|d| d[0].page_content.clone()),
            Some("b".to_owned())
        );
        assert_eq!(docs().into_documents().ok().map(|d| d.len()), Some(1));
        // An error stays the error, whatever the kind.
        let error = || Outcome::Error(ErrorInfo::new("E", "m"));
        assert_eq!(error().into_value().err(), Some(ErrorInfo::new("E", "m")));
        assert_eq!(
            error().into_documents().err(),
            Some(ErrorInfo::new("E", "m"))
        );
    }

    #[test]
    fn values_over_the_limit_are_cut_and_marked() {
        let big = "x".repeat(1000);
        let Some(Value::String(cut)) = capped_json(&big, 16) else {
            panic!("a cut value is a string");
        };
        assert_eq!(cut, "\"xxxxxxxxxxxxxxx… [cut: over 16 bytes of JSON]");
        // At the limit exactly, the value is whole.
        assert_eq!(capped_json("abc", 5), Some(json!("abc")));
        assert!(matches!(capped_json("abcd", 5), Some(Value::String(s)) if s.contains("cut")));
        // A cut inside a multi-byte character drops the partial character.
        let Some(Value::String(cut)) = capped_json("éééé", 4) else {
            panic!("a cut value is a string");
        };
        assert!(cut.starts_with("\"é…"), "{cut}");
    }

    #[test]
    fn chain_outputs_are_objects() {
        assert_eq!(chain_outputs(Some(json!({"a": 1}))), json!({"a": 1}));
        assert_eq!(chain_outputs(Some(json!(3))), json!({"output": 3}));
        assert_eq!(chain_outputs(None), json!({}));
    }

    #[test]
    fn a_single_string_input_is_the_text() {
        let mut inputs = Inputs::new();
        inputs.push("query", Some(json!("paris")));
        assert_eq!(inputs.as_text(), "paris");
        inputs.push("k", Some(json!(3)));
        assert_eq!(inputs.as_text(), r#"{"k":3,"query":"paris"}"#);
    }
}
