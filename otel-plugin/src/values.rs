//! A span's attribute values, written by the event thread into one byte buffer with small
//! plain entries beside it, and turned into OpenTelemetry's types on the export thread.
//!
//! Every string is cut at the size cap on a character boundary; entries stop at the cap on
//! attributes, counted.

use std::io;

use handler_core::Uuid;
use opentelemetry::{Array, KeyValue, StringValue, Value};
use serde::Serialize;
use serde_json::Value as Json;

use crate::capture::Redactor;

/// An attribute key: a constant, or an indexed one (`llm.input_messages.0.message.role`),
/// formatted on the export thread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Key {
    /// A constant key.
    Static(&'static str),
    /// `{prefix}.{index}.{field}`.
    Indexed(&'static str, u32, &'static str),
}

impl From<&'static str> for Key {
    fn from(key: &'static str) -> Self {
        Key::Static(key)
    }
}

impl Key {
    fn to_otel(self) -> opentelemetry::Key {
        match self {
            Key::Static(key) => opentelemetry::Key::from_static_str(key),
            Key::Indexed(prefix, index, field) => format!("{prefix}.{index}.{field}").into(),
        }
    }
}

/// A byte range of a [`Values`] buffer.
pub(crate) type Span32 = (u32, u32);

/// An attribute value, with its strings kept in the buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Val {
    Text(Span32),
    Static(&'static str),
    I64(i64),
    F64(f64),
    /// A range of `Values::pieces`: a list of strings.
    Texts(Span32),
    /// A run id, hyphenated on the export thread.
    Uuid(Uuid),
}

/// Attribute values written into one buffer, each string cut at the size cap on a character
/// boundary.
#[derive(Debug, Default)]
pub(crate) struct Values {
    cap: usize,
    /// Entries kept at most; more are dropped and counted in `dropped`.
    max_entries: usize,
    dropped: u32,
    text: Vec<u8>,
    entries: Vec<(Key, Val)>,
    pieces: Vec<Span32>,
    /// The range of the last string pushed, shared by an equal string that follows.
    last_text: Span32,
}

/// Makes serde_json stop once `left` bytes are written: a capped value never costs more than
/// its cap to serialise.
struct CappedWriter<'a> {
    out: &'a mut Vec<u8>,
    left: usize,
}

impl io::Write for CappedWriter<'_> {
    // serde_json writes every fragment with `write_all`: one check and one copy each.
    #[inline]
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() <= self.left {
            self.out.extend_from_slice(bytes);
            self.left -= bytes.len();
            return Ok(());
        }
        self.write(bytes).map(drop)
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if bytes.len() > self.left {
            self.out.extend_from_slice(&bytes[..self.left]);
            self.left = 0;
            return Err(io::Error::other("attribute size cap reached"));
        }
        self.out.extend_from_slice(bytes);
        self.left -= bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn offset(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Values {
    /// Empty values whose strings are cut at `cap` bytes and whose entries stop at
    /// `max_entries`, with room for a typical span.
    pub(crate) fn with_limits(cap: usize, max_entries: usize) -> Self {
        Self {
            cap: cap.min(u32::MAX as usize / 4),
            max_entries,
            dropped: 0,
            text: Vec::with_capacity(256),
            entries: Vec::with_capacity(16),
            pieces: Vec::new(),
            last_text: (0, 0),
        }
    }

    /// Empties the values, keeping their buffers for the next span; false when the buffers
    /// grew too large to be worth keeping.
    pub(crate) fn recycle(&mut self) -> bool {
        const KEEP_TEXT: usize = 64 * 1024;
        const KEEP_ENTRIES: usize = 256;
        self.text.clear();
        self.entries.clear();
        self.pieces.clear();
        self.last_text = (0, 0);
        self.dropped = 0;
        self.text.capacity() <= KEEP_TEXT
            && self.entries.capacity() <= KEEP_ENTRIES
            && self.pieces.capacity() <= KEEP_ENTRIES
    }

    /// Sets the size cap of the strings, and the cap on entries, from now on.
    pub(crate) fn set_limits(&mut self, cap: usize, max_entries: usize) {
        self.cap = cap.min(u32::MAX as usize / 4);
        self.max_entries = max_entries;
    }

    /// Empty values for a few entries (an event's).
    pub(crate) fn small(cap: usize, max_entries: usize) -> Self {
        Self {
            cap: cap.min(u32::MAX as usize / 4),
            max_entries,
            ..Self::default()
        }
    }

    /// How many entries are written.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entries dropped because the cap on entries was reached.
    pub(crate) fn dropped(&self) -> u32 {
        self.dropped
    }

    /// True when one more entry fits; else counts it as dropped.
    fn room(&mut self) -> bool {
        if self.entries.len() < self.max_entries {
            return true;
        }
        self.dropped = self.dropped.saturating_add(1);
        false
    }

    /// Appends `text`, cut at the cap, and returns its range. A text equal to the last one
    /// written (a prompt that is both `input.value` and the first message's content, a model
    /// name under both conventions) shares its range instead of being copied again.
    pub(crate) fn push_text(&mut self, text: &str) -> Span32 {
        let mut end = text.len().min(self.cap);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let text = &text.as_bytes()[..end];
        let (last_start, last_end) = self.last_text;
        if end > 0 && self.text.get(last_start as usize..last_end as usize) == Some(text) {
            return self.last_text;
        }
        let start = offset(self.text.len());
        self.text.extend_from_slice(text);
        self.last_text = (start, offset(self.text.len()));
        self.last_text
    }

    /// A string, cut at the cap.
    pub(crate) fn text(&mut self, key: impl Into<Key>, text: &str) {
        if !self.room() {
            return;
        }
        let range = self.push_text(text);
        self.entries.push((key.into(), Val::Text(range)));
    }

    /// A string, through the redaction hook when there is one, cut at the cap.
    pub(crate) fn text_redacted(
        &mut self,
        key: impl Into<Key>,
        text: &str,
        redactor: Option<&Redactor>,
    ) {
        match redactor {
            None => self.text(key, text),
            Some(redactor) => self.text(key, &redactor.apply(text)),
        }
    }

    /// A JSON value as [`json`](Self::json) writes it, through the redaction hook when there
    /// is one (over the JSON text).
    pub(crate) fn json_redacted(
        &mut self,
        key: impl Into<Key>,
        value: &Json,
        redactor: Option<&Redactor>,
    ) {
        match value {
            Json::String(text) => self.text_redacted(key, text, redactor),
            other => self.serialized_redacted(key, other, redactor),
        }
    }

    /// Anything serialisable, as [`serialized`](Self::serialized) writes it, through the
    /// redaction hook when there is one (over the capped JSON text).
    pub(crate) fn serialized_redacted<T: Serialize + ?Sized>(
        &mut self,
        key: impl Into<Key>,
        value: &T,
        redactor: Option<&Redactor>,
    ) {
        let entries = self.entries.len();
        self.serialized(key, value);
        let Some(redactor) = redactor.filter(|_| self.entries.len() > entries) else {
            return;
        };
        let Some((_, Val::Text(range))) = self.entries.last().copied() else {
            return;
        };
        let replaced = match redactor.apply(self.str(range)) {
            std::borrow::Cow::Owned(replaced) => replaced,
            std::borrow::Cow::Borrowed(_) => return,
        };
        self.text.truncate(range.0 as usize);
        let new_range = self.push_text(&replaced);
        if let Some((_, value)) = self.entries.last_mut() {
            *value = Val::Text(new_range);
        }
    }

    /// A string known at compile time (never cut).
    pub(crate) fn static_text(&mut self, key: impl Into<Key>, text: &'static str) {
        if !self.room() {
            return;
        }
        self.entries.push((key.into(), Val::Static(text)));
    }

    /// A JSON value as a string, cut at the cap; a JSON string becomes its text.
    pub(crate) fn json(&mut self, key: impl Into<Key>, value: &Json) {
        match value {
            Json::String(text) => self.text(key, text),
            other => self.serialized(key, other),
        }
    }

    /// Anything serialisable, as JSON text cut at the cap.
    pub(crate) fn serialized<T: Serialize + ?Sized>(&mut self, key: impl Into<Key>, value: &T) {
        if !self.room() {
            return;
        }
        let start = self.text.len();
        let mut writer = CappedWriter {
            out: &mut self.text,
            left: self.cap,
        };
        if serde_json::to_writer(&mut writer, value).is_err() {
            // Cut mid-character by the cap: keep the valid prefix.
            let valid = match std::str::from_utf8(&self.text[start..]) {
                Ok(text) => text.len(),
                Err(error) => error.valid_up_to(),
            };
            self.text.truncate(start + valid);
        }
        let range = (offset(start), offset(self.text.len()));
        self.entries.push((key.into(), Val::Text(range)));
    }

    /// A run id, hyphenated (on the export thread).
    pub(crate) fn uuid(&mut self, key: impl Into<Key>, id: Uuid) {
        if !self.room() {
            return;
        }
        self.entries.push((key.into(), Val::Uuid(id)));
    }

    /// An integer.
    pub(crate) fn i64(&mut self, key: impl Into<Key>, value: i64) {
        if !self.room() {
            return;
        }
        self.entries.push((key.into(), Val::I64(value)));
    }

    /// A count, saturated into an integer attribute.
    pub(crate) fn count(&mut self, key: impl Into<Key>, value: u64) {
        self.i64(key, i64::try_from(value).unwrap_or(i64::MAX));
    }

    /// A float.
    pub(crate) fn f64(&mut self, key: impl Into<Key>, value: f64) {
        if !self.room() {
            return;
        }
        self.entries.push((key.into(), Val::F64(value)));
    }

    /// A list of strings, each cut at the cap.
    pub(crate) fn texts(&mut self, key: impl Into<Key>, texts: &[String]) {
        if !self.room() {
            return;
        }
        let first = offset(self.pieces.len());
        for text in texts {
            let range = self.push_text(text);
            self.pieces.push(range);
        }
        let range = (first, offset(self.pieces.len()));
        self.entries.push((key.into(), Val::Texts(range)));
    }

    /// The value of the constant `key`, if set, as the export thread will see it.
    #[cfg(test)]
    pub(crate) fn get(&self, key: &str) -> Option<Value> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(k, Key::Static(name) if *name == key))
            .map(|(_, v)| self.value(*v))
    }

    /// The text of the constant `key`, if written as a string: the first such entry.
    pub(crate) fn find_text(&self, key: &str) -> Option<&str> {
        self.entries.iter().find_map(|(k, v)| match (k, v) {
            (Key::Static(name), Val::Text(range)) if *name == key => Some(self.str(*range)),
            (Key::Static(name), Val::Static(text)) if *name == key => Some(*text),
            _ => None,
        })
    }

    pub(crate) fn str(&self, (start, end): Span32) -> &str {
        let bytes = self
            .text
            .get(start as usize..end as usize)
            .unwrap_or_default();
        // Only whole strings and valid prefixes are written, so this always holds.
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    fn value(&self, value: Val) -> Value {
        match value {
            Val::Text(range) => Value::String(self.str(range).to_owned().into()),
            Val::Static(text) => Value::String(StringValue::from(text)),
            Val::I64(n) => Value::I64(n),
            Val::F64(x) => Value::F64(x),
            Val::Uuid(id) => Value::String(id.hyphenated().to_string().into()),
            Val::Texts((first, end)) => {
                let pieces = self.pieces.get(first as usize..end as usize);
                let texts = pieces
                    .unwrap_or_default()
                    .iter()
                    .map(|range| StringValue::from(self.str(*range).to_owned()))
                    .collect();
                Value::Array(Array::String(texts))
            }
        }
    }

    /// The values as OpenTelemetry attributes, appended to `out`.
    pub(crate) fn append_to(&self, out: &mut Vec<KeyValue>) {
        out.reserve(self.entries.len());
        for (key, value) in &self.entries {
            out.push(KeyValue::new(key.to_otel(), self.value(*value)));
        }
    }

    /// The values as OpenTelemetry attributes.
    pub(crate) fn to_key_values(&self) -> Vec<KeyValue> {
        let mut out = Vec::new();
        self.append_to(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_cut_on_a_character_boundary() {
        let mut values = Values::with_limits(4, 64);
        values.text("a", "abcdef");
        values.text("b", "abcé"); // é is two bytes: cutting at 4 would split it
        values.json("c", &serde_json::json!({"k": "v"})); // {"k":"v"} → {"k"
        values.json("d", &serde_json::json!(["éé"])); // ["é → cut before the split é
        assert_eq!(values.get("a"), Some(Value::from("abcd")));
        assert_eq!(values.get("b"), Some(Value::from("abc")));
        assert_eq!(values.get("c"), Some(Value::from("{\"k\"")));
        assert_eq!(values.get("d"), Some(Value::from("[\"é")));
    }

    #[test]
    fn a_repeated_text_is_stored_once_and_read_twice() {
        let mut values = Values::with_limits(100, 64);
        values.text("a", "the prompt");
        values.static_text("mime", "text/plain");
        values.text("b", "the prompt");
        values.text("c", "other");
        assert_eq!(values.text.len(), "the prompt".len() + "other".len());
        assert_eq!(values.get("a"), Some(Value::from("the prompt")));
        assert_eq!(values.get("b"), Some(Value::from("the prompt")));
        assert_eq!(values.get("c"), Some(Value::from("other")));
    }

    #[test]
    fn every_kind_of_value_comes_back() {
        let mut values = Values::with_limits(100, 64);
        values.static_text("s", "LLM");
        values.i64("i", -3);
        values.count("n", u64::MAX);
        values.f64("f", 0.5);
        values.texts("t", &["x".to_owned(), "y".to_owned()]);
        values.json("j", &serde_json::json!("plain"));
        values.uuid("u", Uuid::nil());
        values.text(Key::Indexed("m", 2, "role"), "user");
        let all = values.to_key_values();
        let get = |key: &str| {
            all.iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.clone())
        };
        assert_eq!(get("s"), Some(Value::from("LLM")));
        assert_eq!(get("i"), Some(Value::I64(-3)));
        assert_eq!(get("n"), Some(Value::I64(i64::MAX)));
        assert_eq!(get("f"), Some(Value::F64(0.5)));
        assert_eq!(
            get("t"),
            Some(Value::Array(Array::String(vec!["x".into(), "y".into()])))
        );
        assert_eq!(get("j"), Some(Value::from("plain")));
        assert_eq!(
            get("u"),
            Some(Value::from("00000000-0000-0000-0000-000000000000"))
        );
        assert_eq!(get("m.2.role"), Some(Value::from("user")));
    }
}
