//! Trace and span ids derived from run ids, so that every thread, and every evaluation that
//! names a run, finds the same span without asking anyone.
//!
//! - trace id: the 16 bytes of the run tree's root run id;
//! - span id: the run id's 16 bytes folded into 8 by XOR (never zero).

use handler_core::Uuid;
use opentelemetry::trace::{SpanId, TraceId};

/// The trace id of a run tree whose root run is `root`.
///
/// ```
/// use otel_plugin::ids::trace_id;
/// use handler_core::Uuid;
///
/// let root = Uuid::now_v7();
/// assert_eq!(trace_id(root).to_bytes(), *root.as_bytes());
/// ```
pub fn trace_id(root: Uuid) -> TraceId {
    match TraceId::from_bytes(*root.as_bytes()) {
        TraceId::INVALID => TraceId::from_bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        id => id,
    }
}

/// The span id of the run `run_id`: its two halves XOR-ed, `1` if that is zero.
///
/// ```
/// use otel_plugin::ids::span_id;
/// use handler_core::Uuid;
///
/// let run = Uuid::from_u128(0x0000_0000_0000_00ff_0000_0000_0000_0f00);
/// assert_eq!(span_id(run).to_string(), "0000000000000fff");
/// assert_ne!(span_id(Uuid::nil()), opentelemetry::trace::SpanId::INVALID);
/// ```
pub fn span_id(run_id: Uuid) -> SpanId {
    let (high, low) = run_id.as_u64_pair();
    match high ^ low {
        0 => SpanId::from_bytes(1u64.to_be_bytes()),
        folded => SpanId::from_bytes(folded.to_be_bytes()),
    }
}
