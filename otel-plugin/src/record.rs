//! What the event thread writes about a span: its ids, times, status and events, with its
//! attribute values in [`Values`], turned into the SDK's `SpanData` on the export thread.
//!
//! Building `SpanData` on the event thread meant a heap allocation per attribute, each freed
//! later by the export thread, and allocators serialise such cross-thread frees. A [`Record`]
//! holds a span's strings in one byte buffer and its attributes as small plain entries beside
//! it: a span costs its event thread two or three allocations whatever its size, and the
//! export thread pays for the rest.

use std::time::SystemTime;

use handler_core::cost::PriceTable;
use handler_core::payload::{StreamStats, TokenUsage};
use opentelemetry::trace::{Event, SpanContext, SpanId, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::attributes::SpanKind;
use crate::semconv as k;
use crate::values::Span32;
pub(crate) use crate::values::Values;

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
    /// A model run's token usage, priced on the export thread.
    pub usage: Option<TokenUsage>,
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
            usage: None,
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
        self.usage = None;
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

    /// The span, in the SDK's type (on the export thread), a model run's priced by `prices`.
    /// The record keeps its buffers, to be recycled.
    pub(crate) fn take_span_data(
        &mut self,
        scope: &InstrumentationScope,
        prices: &PriceTable,
    ) -> SpanData {
        let mut attributes = Vec::with_capacity(self.values.len() + 4);
        attributes.push(KeyValue::new(k::SPAN_KIND, self.kind.as_str()));
        if self.kind == SpanKind::Agent {
            attributes.push(KeyValue::new(k::GEN_AI_OPERATION_NAME, "invoke_agent"));
        }
        self.values.append_to(&mut attributes);
        if self.kind == SpanKind::Llm {
            let cost = crate::priced::cost_of(prices, &self.values, self.usage.as_ref());
            crate::priced::append(&mut attributes, &cost);
        }
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
    use opentelemetry::Value;

    #[test]
    fn a_record_becomes_span_data_with_its_stream() {
        let ids = (TraceId::from(7), SpanId::from(8), SpanId::from(9));
        let mut record = Record::new(ids, SpanKind::Agent, "plan", Values::with_limits(64, 64));
        record.stream = StreamStats::new(3, Some(std::time::Duration::from_millis(5)));
        let mut event = Values::small(64, 8);
        event.text("text", "hello");
        record.event("text", event);
        let scope = InstrumentationScope::builder("t").build();
        let span = record.take_span_data(&scope, PriceTable::shipped());
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
