//! Input rows and their validation, plus helpers that read a row's text fields.
//!
//! A row is a JSON object (`serde_json::Map`) with UpTrain's column names: `question`,
//! `context`, `response`, `variants`, `sub_questions`, `reranked_context`, `concise_context`,
//! `scenario_description`, `ground_truth`, `conversation`, `objective`. `question` and
//! `response` must be strings, `conversation` a list of `{role, content}` turns (or a text);
//! the other keys may be a string or a list of strings. Every row is checked before any
//! request is sent.

use serde_json::Value;

use crate::check::Check;
use crate::error::{BuildError, EvaluationError, RowIssue};

/// One input row: UpTrain's column names mapped to JSON values.
pub type Row = serde_json::Map<String, Value>;

/// Builds a row from `(key, text)` pairs.
///
/// ```
/// let row = uptrain_plugin::row([("question", "Who?"), ("response", "Me.")]);
/// assert_eq!(row["question"], "Who?");
/// ```
pub fn row<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Row {
    fields
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
        .collect()
}

/// Whether `value` has the type `key` needs: `question` and `response` are strings,
/// `conversation` a string or a list of `{role, content}` turns, any other key a string or a
/// list of strings.
fn has_valid_type(key: &str, value: &Value) -> bool {
    match (key, value) {
        (_, Value::String(_)) => true,
        ("question" | "response", _) => false,
        ("conversation", turns) => is_conversation(turns),
        (_, Value::Array(items)) => items.iter().all(Value::is_string),
        _ => false,
    }
}

/// Checks the parametric checks' parameters, then every row against every check's required
/// keys.
///
/// Returns one [`RowIssue`] per bad row (missing keys, or values of the wrong type), so a caller
/// sees all problems at once.
///
/// ```
/// use uptrain_plugin::{Check, CritiqueTone, validate};
///
/// let rows = vec![uptrain_plugin::row([("question", "Hi?")])];
/// let err = validate(&rows, &[Check::from(CritiqueTone::default())]).unwrap_err();
/// assert_eq!(err.to_string(), "invalid rows: row 0: missing keys response");
/// ```
pub fn validate(rows: &[Row], checks: &[Check]) -> Result<(), EvaluationError> {
    if checks.is_empty() {
        return Err(EvaluationError::NoChecks);
    }
    for check in checks {
        if let Check::Parametric(p) = check
            && let Some(reason) = p.problem()
        {
            return Err(EvaluationError::Config(BuildError::Invalid {
                name: "check",
                reason: format!("{}: {reason}", p.class_name()),
            }));
        }
    }
    if let Some(reason) = crate::check::key_clash(checks) {
        return Err(EvaluationError::Config(BuildError::Invalid {
            name: "checks",
            reason,
        }));
    }
    let mut keys: Vec<&str> = Vec::new();
    for check in checks {
        for key in check.required_keys() {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    let mut issues = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let mut issue = RowIssue {
            row: index,
            missing: Vec::new(),
            wrong_type: Vec::new(),
        };
        for key in &keys {
            match row.get(*key) {
                None | Some(Value::Null) => issue.missing.push((*key).to_owned()),
                Some(value) if has_valid_type(key, value) => {}
                Some(_) => issue.wrong_type.push((*key).to_owned()),
            }
        }
        if !issue.missing.is_empty() || !issue.wrong_type.is_empty() {
            issues.push(issue);
        }
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(EvaluationError::InvalidRows { issues })
    }
}

/// Drops repeated checks, keeping the first occurrence's position.
pub(crate) fn dedup_checks(checks: &[Check]) -> Vec<Check> {
    let mut out: Vec<Check> = Vec::with_capacity(checks.len());
    for check in checks {
        if !out.contains(check) {
            out.push(check.clone());
        }
    }
    out
}

/// The items of a field: a list's strings, or a string's non-empty lines with any `1. ` style
/// numbering removed. A missing or non-text field has no items.
pub(crate) fn items(row: &Row, key: &str) -> Vec<String> {
    match row.get(key) {
        Some(Value::Array(values)) => values
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::String(text)) => text
            .lines()
            .map(strip_numbering)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// A field as prompt text: strings as they are, lists as numbered lines (`1. a`, `2. b`).
pub(crate) fn text(row: &Row, key: &str) -> String {
    match row.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(values)) => numbered(values.iter().filter_map(Value::as_str)),
        _ => String::new(),
    }
}

/// Renders items as numbered lines.
pub(crate) fn numbered<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{}. {}", i + 1, item.trim()));
    }
    out
}

fn strip_numbering(line: &str) -> &str {
    let line = line.trim();
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 {
        let rest = &line[digits..];
        if let Some(stripped) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return stripped.trim();
        }
    }
    line
}

/// Whether `value` is a valid `conversation`: a text, or a list of `{role, content}` texts.
pub(crate) fn is_conversation(value: &Value) -> bool {
    match value {
        Value::String(_) => true,
        Value::Array(items) => items.iter().all(|t| {
            t.get("role").is_some_and(Value::is_string)
                && t.get("content").is_some_and(Value::is_string)
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Row {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn reports_every_bad_row_with_its_missing_keys() {
        let rows = vec![
            obj(json!({"question": "q", "context": "c", "response": "r"})),
            obj(json!({"question": "q"})),
            obj(json!({"question": 3, "context": ["a"], "response": null})),
        ];
        let err = validate(&rows, &[Check::FactualAccuracy]).unwrap_err();
        let EvaluationError::InvalidRows { issues } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(issues.len(), 2);
        assert_eq!(issues[0].row, 1);
        assert_eq!(issues[0].missing, vec!["context", "response"]);
        assert_eq!(issues[1].row, 2);
        assert_eq!(issues[1].missing, vec!["response"]);
        assert_eq!(issues[1].wrong_type, vec!["question"]);
        let msg = err.to_string();
        assert!(msg.contains("row 1") && msg.contains("context") && msg.contains("row 2"));
    }

    #[test]
    fn lists_are_accepted_for_list_like_keys_only() {
        let ok = obj(json!({"question": "q", "variants": ["a", "b"]}));
        assert!(validate(&[ok], &[Check::MultiQueryAccuracy]).is_ok());
        let bad = obj(json!({"question": "q", "response": ["a"]}));
        assert!(validate(&[bad], &[Check::ValidResponse]).is_err());
        let bad_items = obj(json!({"question": "q", "variants": ["a", 1]}));
        assert!(validate(&[bad_items], &[Check::MultiQueryAccuracy]).is_err());
    }

    #[test]
    fn checks_writing_one_key_are_refused_before_any_row_is_read() {
        use crate::checks::GuidelineAdherence;
        let checks = [
            Check::from(GuidelineAdherence::new("Be brief.", "style")),
            Check::from(GuidelineAdherence::new("Be kind.", "style")),
        ];
        let err = validate(&[], &checks).unwrap_err();
        assert!(err.to_string().contains("score_style_adherence"), "{err}");
    }

    #[test]
    fn no_checks_is_an_error() {
        assert!(matches!(validate(&[], &[]), Err(EvaluationError::NoChecks)));
    }

    #[test]
    fn items_and_text_render_lists_as_numbered_lines() {
        let r = obj(json!({"a": ["x", " y "], "b": "1. first\n2) second\n\nplain"}));
        assert_eq!(text(&r, "a"), "1. x\n2. y");
        assert_eq!(items(&r, "b"), vec!["first", "second", "plain"]);
        assert_eq!(items(&r, "a"), vec!["x", "y"]);
        assert!(items(&r, "missing").is_empty());
    }
}
