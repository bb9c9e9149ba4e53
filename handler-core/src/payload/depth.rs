//! Deeply nested JSON, handled without recursion: measuring, cutting and dropping values whose
//! nesting would overflow the stack of the recursive `Clone`, `Drop` and serializers of
//! `serde_json`.
//!
//! Managers cut the metadata they are given at [`MAX_METADATA_DEPTH`], so that every handler
//! can clone, serialize and drop what it receives; a recorded run parses back too (`serde_json`
//! refuses input nested deeper than 128).

use serde_json::Value;

use super::Metadata;

/// How deep a metadata value may nest (an object or array in the value is one level); deeper
/// parts are replaced by [`CUT_MARKER`].
pub const MAX_METADATA_DEPTH: usize = 64;

/// What replaces a part of a value that nested too deep.
pub const CUT_MARKER: &str = "[cut: nested too deep]";

/// The nesting depth of a value: 0 for a scalar, 1 for an array or object of scalars, ...
/// Iterative: any depth is measured.
///
/// ```
/// use handler_core::payload::depth;
/// use serde_json::json;
///
/// assert_eq!(depth::depth_of(&json!(1)), 0);
/// assert_eq!(depth::depth_of(&json!({"a": [1, {"b": []}]})), 4);
/// ```
pub fn depth_of(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0)];
    while let Some((value, depth)) = stack.pop() {
        match value {
            Value::Array(items) => {
                deepest = deepest.max(depth + 1);
                stack.extend(items.iter().map(|v| (v, depth + 1)));
            }
            Value::Object(map) => {
                deepest = deepest.max(depth + 1);
                stack.extend(map.values().map(|v| (v, depth + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// Replaces every array or object nested deeper than `max_depth` with [`CUT_MARKER`], dropping
/// what it replaces with [`drop_deep`]; returns how many parts were cut. Iterative.
///
/// ```
/// use handler_core::payload::depth;
/// use serde_json::json;
///
/// let mut value = json!({"a": {"b": {"c": 1}}, "d": 2});
/// assert_eq!(depth::limit_depth(&mut value, 2), 1);
/// assert_eq!(value, json!({"a": {"b": depth::CUT_MARKER}, "d": 2}));
/// ```
pub fn limit_depth(value: &mut Value, max_depth: usize) -> usize {
    let mut cut = 0;
    let mut stack = vec![(value, 0)];
    while let Some((value, depth)) = stack.pop() {
        let container = matches!(value, Value::Array(_) | Value::Object(_));
        if container && depth >= max_depth {
            drop_deep(std::mem::replace(
                value,
                Value::String(CUT_MARKER.to_owned()),
            ));
            cut += 1;
            continue;
        }
        match value {
            Value::Array(items) => stack.extend(items.iter_mut().map(|v| (v, depth + 1))),
            Value::Object(map) => stack.extend(map.values_mut().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    cut
}

/// [`limit_depth`] on every value of a metadata map, at [`MAX_METADATA_DEPTH`] (the map itself
/// is not counted); returns how many parts were cut.
pub fn limit_metadata_depth(metadata: &mut Metadata) -> usize {
    metadata
        .values_mut()
        .map(|value| limit_depth(value, MAX_METADATA_DEPTH))
        .sum()
}

/// Drops a value of any depth without recursion (`serde_json`'s own drop recurses once per
/// level, and overflows the stack on values nested some ten thousand deep).
pub fn drop_deep(value: Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

/// Cuts metadata a manager is given to [`MAX_METADATA_DEPTH`], and says so in the log.
pub(crate) fn bound_metadata(metadata: &mut Metadata) {
    let cut = limit_metadata_depth(metadata);
    if cut > 0 {
        tracing::warn!(
            cut,
            max_depth = MAX_METADATA_DEPTH,
            "metadata nested too deep: the deeper parts are replaced by a marker"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A value nested `depth` deep, alternating arrays and objects, built without recursion.
    pub(crate) fn nested(depth: usize) -> Value {
        let mut value = json!("bottom");
        for level in 0..depth {
            value = if level % 2 == 0 {
                Value::Array(vec![value])
            } else {
                let mut map = Metadata::new();
                map.insert("k".into(), value);
                Value::Object(map)
            };
        }
        value
    }

    /// Runs `f` on a thread with the default 2 MiB stack of spawned threads.
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        let joined = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(f)
            .map(|thread| thread.join());
        assert!(matches!(joined, Ok(Ok(()))));
    }

    #[test]
    fn a_value_100_000_deep_is_measured_cut_and_dropped_on_a_small_stack() {
        on_small_stack(|| {
            let mut value = nested(100_000);
            assert_eq!(depth_of(&value), 100_000);
            assert_eq!(limit_depth(&mut value, 10), 1);
            assert_eq!(depth_of(&value), 10);
            drop_deep(nested(100_000));
        });
    }

    #[test]
    fn shallow_values_are_untouched() {
        let mut value = json!({"a": [1, 2, {"b": null}], "c": "x"});
        let before = value.clone();
        assert_eq!(limit_depth(&mut value, 3), 0);
        assert_eq!(value, before);
        assert_eq!(limit_depth(&mut value, 2), 1);
        assert_eq!(value, json!({"a": [1, 2, CUT_MARKER], "c": "x"}));
        let mut scalar = json!(7);
        assert_eq!(limit_depth(&mut scalar, 0), 0);
    }
}
