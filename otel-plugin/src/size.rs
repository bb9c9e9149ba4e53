//! The size of a span in an OTLP export request, estimated from above, so that a batch can be
//! split before it goes over a collector's request limit rather than fail whole.
//!
//! Protobuf spends at most a few bytes of tags and lengths per field; the estimate counts the
//! strings' bytes plus a generous allowance per field, so it errs on the large side.

use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// Allowance for an export request's own fields: resource, scope and wrappers.
pub(crate) const REQUEST_OVERHEAD: usize = 2048;
/// Allowance for a span's fixed fields: ids, times, kind, flags, status, wrappers.
const SPAN_OVERHEAD: usize = 128;
/// Allowance for one attribute's tags and lengths (key, value, wrappers).
const ATTRIBUTE_OVERHEAD: usize = 24;
/// Allowance for one event's fixed fields.
const EVENT_OVERHEAD: usize = 32;
/// A number's largest encoding, with its tag.
const NUMBER: usize = 11;

/// An upper estimate of `span`'s bytes in an OTLP/protobuf request.
pub(crate) fn estimate(span: &SpanData) -> usize {
    let status = match &span.status {
        opentelemetry::trace::Status::Error { description } => description.len(),
        _ => 0,
    };
    let events: usize = span
        .events
        .iter()
        .map(|event| EVENT_OVERHEAD + event.name.len() + attributes(&event.attributes))
        .sum();
    SPAN_OVERHEAD + span.name.len() + status + attributes(&span.attributes) + events
}

fn attributes(list: &[KeyValue]) -> usize {
    list.iter()
        .map(|kv| ATTRIBUTE_OVERHEAD + kv.key.as_str().len() + value(&kv.value))
        .sum()
}

fn value(value: &Value) -> usize {
    match value {
        Value::String(text) => text.as_str().len(),
        Value::Bool(_) | Value::I64(_) | Value::F64(_) => NUMBER,
        Value::Array(Array::String(texts)) => texts
            .iter()
            .map(|t| t.as_str().len() + ATTRIBUTE_OVERHEAD)
            .sum(),
        Value::Array(Array::Bool(v)) => v.len() * NUMBER,
        Value::Array(Array::I64(v)) => v.len() * NUMBER,
        Value::Array(Array::F64(v)) => v.len() * NUMBER,
        // Kinds added later: their text form is no smaller than their encoding.
        other => other.to_string().len() + ATTRIBUTE_OVERHEAD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_grows_with_every_part_of_the_span() {
        let mut span = crate::record::Record::new(
            (
                opentelemetry::trace::TraceId::from(1),
                opentelemetry::trace::SpanId::from(1),
                opentelemetry::trace::SpanId::INVALID,
            ),
            crate::SpanKind::Llm,
            "model",
            crate::record::Values::with_limits(1 << 20, 64),
        );
        let scope = opentelemetry::InstrumentationScope::builder("t").build();
        let empty =
            estimate(&span.take_span_data(&scope, handler_core::cost::PriceTable::shipped()));
        span.values.text("input.value", &"x".repeat(10_000));
        let mut event = crate::record::Values::small(1 << 20, 8);
        event.text("text", &"y".repeat(5_000));
        span.event("text", event);
        let full =
            estimate(&span.take_span_data(&scope, handler_core::cost::PriceTable::shipped()));
        assert!(full >= empty + 15_000, "{empty} → {full}");
    }
}
