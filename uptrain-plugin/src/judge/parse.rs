//! Lenient parsing of judge replies: take the text from the first `{` to the last `}` (so
//! fenced or chatty replies work), parse it as JSON, then read the expected fields. Field names
//! match case-insensitively. Every failure is a reason string; nothing here panics.

use serde_json::{Map, Value};

use crate::checks::{Answer, Grade};

/// The JSON object inside `text`.
pub(crate) fn object(text: &str) -> Result<Map<String, Value>, String> {
    let start = text.find('{').ok_or("no JSON object in the reply")?;
    let end = text.rfind('}').ok_or("no closing brace in the reply")?;
    if end < start {
        return Err("no JSON object in the reply".into());
    }
    let slice = text.get(start..=end).ok_or("no JSON object in the reply")?;
    match serde_json::from_str::<Value>(slice) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("the reply is not a JSON object".into()),
        Err(e) => Err(format!("malformed JSON: {e}")),
    }
}

/// A field by name, exact first, then ignoring case.
fn field<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn text_field(map: &Map<String, Value>, name: &str) -> String {
    match field(map, name) {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// A graded reply `{"Reasoning", "Choice"}`: the score of the chosen option and the
/// reasoning. Accepts `"A"`, `"a"`, `"(A)"`, `"Option A"`, `"A. fully"`.
pub(crate) fn graded(text: &str, options: &[Grade]) -> Result<(f64, String), String> {
    let map = object(text)?;
    let choice = match field(&map, "Choice") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(format!("`Choice` is not text: {other}")),
        None => return Err("no `Choice` field".into()),
    };
    let letter = choice_letter(&choice)
        .ok_or_else(|| format!("`Choice` {choice:?} is not one of the options"))?;
    let grade = options
        .iter()
        .find(|g| g.letter == letter)
        .ok_or_else(|| format!("`Choice` {choice:?} is not one of the options"))?;
    let mut reasoning = text_field(&map, "Reasoning");
    if reasoning.is_empty() {
        reasoning = format!("{}. {}", grade.letter, grade.meaning);
    }
    Ok((grade.score, reasoning))
}

fn choice_letter(choice: &str) -> Option<char> {
    let upper = choice.trim().to_ascii_uppercase();
    let rest = upper.strip_prefix("OPTION").unwrap_or(&upper);
    let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(' || c == '"');
    let mut chars = rest.chars();
    let letter = chars.next().filter(char::is_ascii_uppercase)?;
    match chars.next() {
        None => Some(letter),
        Some(c) if !c.is_alphanumeric() => Some(letter),
        Some(_) => None,
    }
}

/// Fact extraction `{"Facts": [..]}`: the non-empty facts, at most `limit`. An empty list is
/// a valid answer.
pub(crate) fn facts(text: &str, limit: usize) -> Result<Vec<String>, String> {
    let map = object(text)?;
    let Some(Value::Array(items)) = field(&map, "Facts") else {
        return Err("no `Facts` list".into());
    };
    let facts: Vec<String> = items
        .iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.trim().to_owned()),
            Value::Object(o) => field(o, "Fact").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        })
        .filter(|s| !s.is_empty())
        .take(limit)
        .collect();
    if facts.is_empty() && !items.is_empty() {
        return Err("`Facts` holds no text".into());
    }
    Ok(facts)
}

/// One judged fact.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FactVerdict {
    /// The fact, as the judge restated it.
    pub(crate) fact: String,
    /// 1.0 for yes, 0.5 for unclear, 0.0 for no.
    pub(crate) score: f64,
    /// The judgement word.
    pub(crate) judgement: &'static str,
    /// The judge's reasoning.
    pub(crate) reasoning: String,
}

/// Fact judging `{"Result": [{"Fact", "Reasoning", "Judgement"}]}`. An empty list or an
/// unknown judgement is an error (so the call is retried).
pub(crate) fn verdicts(text: &str) -> Result<Vec<FactVerdict>, String> {
    let map = object(text)?;
    let Some(Value::Array(items)) = field(&map, "Result") else {
        return Err("no `Result` list".into());
    };
    if items.is_empty() {
        return Err("`Result` is empty".into());
    }
    items
        .iter()
        .map(|item| {
            let Value::Object(o) = item else {
                return Err("a `Result` entry is not an object".to_owned());
            };
            let raw = text_field(o, "Judgement");
            let word = raw
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_ascii_lowercase();
            let (judgement, score) = match word.as_str() {
                "yes" => ("yes", 1.0),
                "unclear" => ("unclear", 0.5),
                "no" => ("no", 0.0),
                _ => return Err(format!("`Judgement` {raw:?} is not yes, unclear or no")),
            };
            Ok(FactVerdict {
                fact: text_field(o, "Fact"),
                score,
                judgement,
                reasoning: text_field(o, "Reasoning"),
            })
        })
        .collect()
}

/// A scored reply `{"Argument", "Reasoning", "Score"}`: the score in `0..=1` and an
/// explanation.
pub(crate) fn score(text: &str) -> Result<(f64, String), String> {
    let map = object(text)?;
    let value = match field(&map, "Score") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or("no numeric `Score` field")?;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!("`Score` {value} is outside 0..1"));
    }
    let argument = text_field(&map, "Argument");
    let reasoning = text_field(&map, "Reasoning");
    let explanation = match (argument.is_empty(), reasoning.is_empty()) {
        (false, false) => format!("{argument}\n{reasoning}"),
        (false, true) => argument,
        _ => reasoning,
    };
    Ok((value, explanation))
}

/// A reply to one [`Answer`] shape: the score and the reasoning.
pub(crate) fn answer(text: &str, answer: &Answer) -> Result<(f64, String), String> {
    match answer {
        Answer::Choice(grades) => graded(text, grades),
        Answer::Named(choices) => named(text, choices),
        Answer::Rating { min, max } => rating(text, *min, *max),
        Answer::Turns => turns(text),
    }
}

/// A whole number field, accepting `3`, `3.0` and `"3"`.
fn whole(map: &Map<String, Value>, name: &str) -> Result<u64, String> {
    let value = match field(map, name) {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("no numeric `{name}` field"))?;
    if value < 0.0 || value.fract() != 0.0 || value > 1e9 {
        return Err(format!("`{name}` {value} is not a whole number"));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(value as u64)
}

/// A rating `{"Reasoning", "Score": min..=max}`, scored `n / max`.
pub(crate) fn rating(text: &str, min: u32, max: u32) -> Result<(f64, String), String> {
    let map = object(text)?;
    let n = whole(&map, "Score")?;
    if n < u64::from(min) || n > u64::from(max) {
        return Err(format!("`Score` {n} is outside {min}..{max}"));
    }
    #[allow(clippy::cast_precision_loss)]
    Ok((n as f64 / f64::from(max), text_field(&map, "Reasoning")))
}

/// A count `{"Reasoning", "Turns": n}`.
pub(crate) fn turns(text: &str) -> Result<(f64, String), String> {
    let map = object(text)?;
    let n = whole(&map, "Turns")?;
    #[allow(clippy::cast_precision_loss)]
    Ok((n as f64, text_field(&map, "Reasoning")))
}

/// A named choice `{"Reasoning", "Choice": "<name>"}`, matched ignoring case, surrounding
/// space and quotes.
pub(crate) fn named(text: &str, choices: &[(String, f64)]) -> Result<(f64, String), String> {
    let map = object(text)?;
    let choice = match field(&map, "Choice") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(format!("`Choice` is not text: {other}")),
        None => return Err("no `Choice` field".into()),
    };
    let wanted = choice
        .trim()
        .trim_matches(|c| c == '"' || c == '\'' || c == '.');
    let (_, score) = choices
        .iter()
        .find(|(name, _)| name.trim().eq_ignore_ascii_case(wanted))
        .ok_or_else(|| format!("`Choice` {choice:?} is not one of the choices"))?;
    Ok((*score, text_field(&map, "Reasoning")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn abc() -> Vec<Grade> {
        vec![
            Grade {
                letter: 'A',
                meaning: "all",
                score: 1.0,
            },
            Grade {
                letter: 'B',
                meaning: "some",
                score: 0.5,
            },
            Grade {
                letter: 'C',
                meaning: "none",
                score: 0.0,
            },
        ]
    }

    #[test]
    fn graded_replies_map_letters_to_scores() {
        let o = abc();
        assert_eq!(
            graded(r#"{"Reasoning": "r", "Choice": "A"}"#, &o).unwrap(),
            (1.0, "r".into())
        );
        assert_eq!(graded(r#"{"choice": "b"}"#, &o).unwrap().0, 0.5);
        assert_eq!(
            graded(r#"{"Choice": "(C)"}"#, &o).unwrap(),
            (0.0, "C. none".into())
        );
        assert_eq!(graded(r#"{"Choice": "Option A"}"#, &o).unwrap().0, 1.0);
        assert_eq!(graded(r#"{"Choice": "B. partly"}"#, &o).unwrap().0, 0.5);
        assert!(graded(r#"{"Choice": "D"}"#, &o).is_err());
        assert!(graded(r#"{"Choice": "Absolutely"}"#, &o).is_err());
        assert!(graded(r#"{"Choice": 1}"#, &o).is_err());
        assert!(graded(r#"{"Reasoning": "r"}"#, &o).is_err());
    }

    #[test]
    fn fenced_and_chatty_replies_parse() {
        let fenced =
            "Sure!\n```json\n{\"Reasoning\": \"ok\", \"Choice\": \"B\"}\n```\nHope this helps.";
        assert_eq!(graded(fenced, &abc()).unwrap(), (0.5, "ok".into()));
        assert!(
            object("```json\n{\"a\": 1,}\n```")
                .unwrap_err()
                .contains("malformed")
        );
        assert!(object("} nothing {").is_err());
        assert!(object("[1, 2]").is_err());
    }

    #[test]
    fn facts_and_verdicts() {
        assert_eq!(
            facts(r#"{"Facts": ["a", " ", "b", "c"]}"#, 2).unwrap(),
            vec!["a", "b"]
        );
        assert!(facts(r#"{"Facts": []}"#, 5).unwrap().is_empty());
        // Facts restated as objects count as their `Fact`.
        assert_eq!(
            facts(r#"{"Facts": [{"Fact": "a"}, "b", {"fact": "c"}]}"#, 5).unwrap(),
            vec!["a", "b", "c"]
        );
        assert!(facts(r#"{"Facts": "a"}"#, 5).is_err());
        let v = verdicts(
            r#"{"Result": [{"Fact": "a", "Reasoning": "r", "Judgement": "Yes."},
                           {"Fact": "b", "Judgement": "unclear"},
                           {"Fact": "c", "Judgement": "NO"}]}"#,
        )
        .unwrap();
        let scores: Vec<f64> = v.iter().map(|f| f.score).collect();
        assert_eq!(scores, vec![1.0, 0.5, 0.0]);
        assert!(verdicts(r#"{"Result": []}"#).is_err());
        assert!(verdicts(r#"{"Result": [{"Judgement": "maybe"}]}"#).is_err());
    }

    #[test]
    fn scores_must_be_in_range() {
        assert_eq!(
            score(r#"{"Argument": "a", "Reasoning": "r", "Score": 0.8}"#).unwrap(),
            (0.8, "a\nr".into())
        );
        assert_eq!(score(r#"{"Score": "0.25"}"#).unwrap().0, 0.25);
        assert!(score(r#"{"Score": 4}"#).is_err());
        assert!(score(r#"{"Score": null}"#).is_err());
    }

    #[test]
    fn the_explanation_is_the_argument_the_reasoning_or_both() {
        assert_eq!(score(r#"{"Argument": "a", "Score": 0.8}"#).unwrap().1, "a");
        assert_eq!(score(r#"{"Reasoning": "r", "Score": 0.8}"#).unwrap().1, "r");
        assert_eq!(score(r#"{"Score": 0.8}"#).unwrap().1, "");
    }

    #[test]
    fn whole_numbers_are_numbers_or_text_from_zero_to_a_billion() {
        assert_eq!(turns(r#"{"Turns": 0}"#).unwrap().0, 0.0);
        assert_eq!(turns(r#"{"Turns": "3"}"#).unwrap().0, 3.0);
        assert_eq!(turns(r#"{"Turns": 3.0}"#).unwrap().0, 3.0);
        assert_eq!(turns(r#"{"Turns": 1000000000}"#).unwrap().0, 1e9);
        assert_eq!(rating(r#"{"Score": " 4 "}"#, 1, 5).unwrap().0, 0.8);
        for bad in [
            r#"{"Turns": 2.5}"#,
            r#"{"Turns": "2.5"}"#,
            r#"{"Turns": -1}"#,
            r#"{"Turns": 1000000001}"#,
            r#"{"Turns": 1e12}"#,
        ] {
            assert!(turns(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn named_choices_ignore_case_space_quotes_and_a_final_dot() {
        let choices = [("Relevant".to_owned(), 1.0), ("Irrelevant".to_owned(), 0.0)];
        for reply in [
            "relevant",
            " RELEVANT ",
            "\"Relevant\"",
            "'Relevant'",
            "Relevant.",
            "'relevant'.",
        ] {
            let text = serde_json::json!({"Choice": reply, "Reasoning": "r"}).to_string();
            let parsed = named(&text, &choices).unwrap();
            assert_eq!(parsed, (1.0, "r".to_owned()), "{reply:?}");
        }
        assert!(named(r#"{"Choice": "maybe"}"#, &choices).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parsers_never_panic_on_arbitrary_text(text in any::<String>()) {
            let _ = object(&text);
            let _ = graded(&text, &abc());
            let _ = facts(&text, 5);
            let _ = verdicts(&text);
            let _ = score(&text);
            let _ = rating(&text, 1, 5);
            let _ = turns(&text);
            let _ = named(&text, &[("yes".to_owned(), 1.0)]);
        }

        #[test]
        fn parsers_never_panic_on_json_like_text(
            text in r#"[ \{\}\[\]":,ABCabc0-9.\-yesnoChoiceFactsResultJudgementScoreTurns]{0,80}"#
        ) {
            let _ = graded(&text, &abc());
            let _ = facts(&text, 5);
            let _ = verdicts(&text);
            if let Ok((s, _)) = score(&text) {
                prop_assert!((0.0..=1.0).contains(&s));
            }
            if let Ok((s, _)) = rating(&text, 1, 5) {
                prop_assert!([0.2, 0.4, 0.6, 0.8, 1.0].contains(&s));
            }
            if let Ok((n, _)) = turns(&text) {
                prop_assert!(n >= 0.0 && n.fract() == 0.0);
            }
        }

        #[test]
        fn a_wrapped_valid_reply_always_parses(prefix in "[^{}]{0,40}", suffix in "[^{}]{0,40}", pick in 0usize..3) {
            let letter = ['A', 'B', 'C'][pick];
            let text = format!("{prefix}{{\"Reasoning\": \"x\", \"Choice\": \"{letter}\"}}{suffix}");
            let (s, _) = graded(&text, &abc()).unwrap();
            prop_assert_eq!(s, [1.0, 0.5, 0.0][pick]);
        }
    }
}
