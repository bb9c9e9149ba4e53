//! What the event thread writes about a span: every attribute key and value in two flat
//! buffers, turned into OpenTelemetry's types on the export thread.
//!
//! Building `SpanData` on the event thread meant a heap allocation per attribute, each freed
//! later by the export thread, and allocators serialise such cross-thread frees. A [`Record`]
//! holds a span's strings in one byte buffer and its attributes as small plain entries beside
//! it: a span costs its event thread two or three allocations whatever its size, and the
//! export thread pays for the rest.

use std::io;
use std::time::SystemTime;

use handler_core::Uuid;
use handler_core::payload::StreamStats;
use opentelemetry::trace::{Event, SpanContext, SpanId, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use serde::Serialize;
use serde_json::Value as Json;

use crate::attributes::SpanKind;
use crate::capture::Redactor;
use crate::semconv as k;

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
type Span32 = (u32, u32);

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
    fn push_text(&mut self, text: &str) -> Span32 {
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

    fn str(&self, (start, end): Span32) -> &str {
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

/// The bounds of one span: bytes per string, attributes, events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpanLimits {
    pub attribute_len: usize,
    pub attributes: usize,
    pub events: usize,
}

/// An event of a span (agent step, retry, text, evaluation, exception).
#[derive(Debug)]
pub(crate) struct RecordedEvent {
    pub name: &'static str,
    pub time: SystemTime,
    pub values: Values,
}

/// A span as the event thread leaves it: ids, times, name, values, events and status.
#[derive(Debug)]
pub(crate) struct Record {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent: SpanId,
    pub kind: SpanKind,
    /// The span's name: a range of `values`' buffer.
    name: Span32,
    pub start_time: SystemTime,
    pub end_time: SystemTime,
    pub values: Values,
    pub events: Vec<RecordedEvent>,
    /// Events kept at most; more are dropped and counted in `dropped_events`.
    pub max_events: usize,
    pub dropped_events: u32,
    pub status: Status,
    pub stream: StreamStats,
}

impl Record {
    /// A span starting now; its name goes into the buffer of `values`.
    pub(crate) fn new(
        ids: (TraceId, SpanId, SpanId),
        kind: SpanKind,
        name: &str,
        values: Values,
    ) -> Self {
        let now = SystemTime::now();
        let mut record = Self {
            trace_id: TraceId::INVALID,
            span_id: SpanId::INVALID,
            parent: SpanId::INVALID,
            kind,
            name: (0, 0),
            start_time: now,
            end_time: now,
            values,
            events: Vec::new(),
            max_events: usize::MAX,
            dropped_events: 0,
            status: Status::Unset,
            stream: StreamStats::NONE,
        };
        record.restart(ids, kind, name, now);
        record
    }

    /// Makes a used record (its values recycled) the record of a new span starting at `now`.
    pub(crate) fn restart(
        &mut self,
        (trace_id, span_id, parent): (TraceId, SpanId, SpanId),
        kind: SpanKind,
        name: &str,
        now: SystemTime,
    ) {
        self.trace_id = trace_id;
        self.span_id = span_id;
        self.parent = parent;
        self.kind = kind;
        self.name = self.values.push_text(name);
        self.start_time = now;
        self.end_time = now;
        self.events.clear();
        self.dropped_events = 0;
        self.status = Status::Unset;
        self.stream = StreamStats::NONE;
    }

    /// The span's name.
    pub(crate) fn name(&self) -> &str {
        self.values.str(self.name)
    }

    /// Adds an event happening now, unless the span has all the events it may keep (then it
    /// is counted as dropped).
    pub(crate) fn event(&mut self, name: &'static str, values: Values) {
        if self.events.len() >= self.max_events {
            self.dropped_events = self.dropped_events.saturating_add(1);
            return;
        }
        self.events.push(RecordedEvent {
            name,
            time: SystemTime::now(),
            values,
        });
    }

    /// The span, in the SDK's type (on the export thread). The record keeps its buffers, to be
    /// recycled.
    pub(crate) fn take_span_data(&mut self, scope: &InstrumentationScope) -> SpanData {
        let mut attributes = Vec::with_capacity(self.values.entries.len() + 4);
        attributes.push(KeyValue::new(k::SPAN_KIND, self.kind.as_str()));
        if self.kind == SpanKind::Agent {
            attributes.push(KeyValue::new(k::GEN_AI_OPERATION_NAME, "invoke_agent"));
        }
        self.values.append_to(&mut attributes);
        let mut events = SpanEvents::default();
        events.events.reserve(self.events.len() + 1);
        if self.stream.tokens > 0 {
            let tokens = i64::try_from(self.stream.tokens).unwrap_or(i64::MAX);
            attributes.push(KeyValue::new(k::STREAMED_TOKENS, tokens));
        }
        if let Some(first) = self.stream.time_to_first_token {
            let ms = first.as_secs_f64() * 1000.0;
            attributes.push(KeyValue::new(k::TIME_TO_FIRST_TOKEN_MS, ms));
            // The core's clock started a little before this span's: keep the event inside it.
            let at = (self.start_time + first).min(self.end_time);
            events
                .events
                .push(Event::new(k::FIRST_TOKEN_EVENT, at, Vec::new(), 0));
        }
        for event in self.events.drain(..) {
            events.events.push(Event::new(
                event.name,
                event.time,
                event.values.to_key_values(),
                event.values.dropped(),
            ));
        }
        events.dropped_count = self.dropped_events;
        let span_kind = match self.kind {
            SpanKind::Llm => opentelemetry::trace::SpanKind::Client,
            _ => opentelemetry::trace::SpanKind::Internal,
        };
        SpanData {
            span_context: SpanContext::new(
                self.trace_id,
                self.span_id,
                TraceFlags::SAMPLED,
                false,
                TraceState::NONE,
            ),
            parent_span_id: self.parent,
            parent_span_is_remote: false,
            span_kind,
            name: self.name().to_owned().into(),
            start_time: self.start_time,
            end_time: self.end_time,
            attributes,
            dropped_attributes_count: self.values.dropped(),
            events,
            links: SpanLinks::default(),
            status: std::mem::replace(&mut self.status, Status::Unset),
            instrumentation_scope: scope.clone(),
        }
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

    #[test]
    fn a_record_becomes_span_data_with_its_stream() {
        let ids = (TraceId::from(7), SpanId::from(8), SpanId::from(9));
        let mut record = Record::new(ids, SpanKind::Agent, "plan", Values::with_limits(64, 64));
        record.stream = StreamStats::new(3, Some(std::time::Duration::from_millis(5)));
        let mut event = Values::small(64, 8);
        event.text("text", "hello");
        record.event("text", event);
        let span = record.take_span_data(&InstrumentationScope::builder("t").build());
        assert!(record.events.is_empty() && record.values.recycle());
        assert_eq!(span.name, "plan");
        assert_eq!(span.parent_span_id, SpanId::from(9));
        let get = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.clone())
        };
        assert_eq!(get(k::SPAN_KIND), Some(Value::from("AGENT")));
        assert_eq!(
            get(k::GEN_AI_OPERATION_NAME),
            Some(Value::from("invoke_agent"))
        );
        assert_eq!(get(k::STREAMED_TOKENS), Some(Value::I64(3)));
        assert_eq!(get(k::TIME_TO_FIRST_TOKEN_MS), Some(Value::F64(5.0)));
        let names: Vec<_> = span.events.iter().map(|e| e.name.as_ref()).collect();
        assert_eq!(names, [k::FIRST_TOKEN_EVENT, "text"]);
    }
}
