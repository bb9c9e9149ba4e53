//! Per check, table-driven: the prompt built from the row, the judge's answer parsed clean,
//! fenced and wrapped in prose, every option mapped to UpTrain's score, a bad choice refused
//! with a reason, and a missing input key named before any call.

use serde_json::json;

use super::asks;
use crate::check::Check;
use crate::checks::*;
use crate::judge::{parse, prompt};
use crate::row::{Row, validate};

fn full_row() -> Row {
    json!({
        "question": "How do I reset my password?",
        "context": "def reset(user): send_mail(user)",
        "response": "Call reset(user); it mails a link.",
        "scenario_description": "A bank's support bot that may not share balances.",
        "ground_truth": "Use the reset link.",
        "objective": "The user resets the password.",
        "conversation": [
            {"role": "user", "content": "I forgot my password."},
            {"role": "assistant", "content": "Use the reset link."},
            {"role": "user", "content": "Thanks, done!"}
        ],
        "ticket": "T-42",
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

struct Case {
    check: Check,
    /// Text the (first) prompt must show: data from the row and the parameters.
    shows: &'static [&'static str],
    /// Answers and the score each maps to.
    answers: &'static [(&'static str, f64)],
    /// An answer that must be refused.
    bad: &'static str,
    /// An input key whose absence is reported before any call.
    needs: &'static str,
}

fn a(letter: &str) -> String {
    json!({"Reasoning": "because", "Choice": letter}).to_string()
}

fn cases() -> Vec<Case> {
    const AB_DETECT: &[(&str, f64)] = &[("A", 1.0), ("B", 0.0)];
    const AB_GOOD: &[(&str, f64)] = &[("A", 1.0), ("B", 0.0)];
    const ABC: &[(&str, f64)] = &[("A", 1.0), ("B", 0.5), ("C", 0.0)];
    const RATING: &[(&str, f64)] = &[("1", 0.2), ("2", 0.4), ("3", 0.6), ("4", 0.8), ("5", 1.0)];
    vec![
        Case {
            check: Check::CritiqueLanguage,
            shows: &["fluent", "Call reset(user)"],
            answers: RATING,
            bad: "6",
            needs: "response",
        },
        Case {
            check: Check::ResponseAlignmentWithScenario,
            shows: &[
                "may not share balances",
                "How do I reset",
                "Call reset(user)",
            ],
            answers: ABC,
            bad: "D",
            needs: "scenario_description",
        },
        Case {
            check: Check::ResponseSincerityWithScenario,
            shows: &["may not share balances", "sincere"],
            answers: AB_GOOD,
            bad: "C",
            needs: "scenario_description",
        },
        Case {
            check: Check::PromptInjection,
            shows: &["How do I reset", "injection"],
            answers: AB_DETECT,
            bad: "C",
            needs: "question",
        },
        Case {
            check: Check::CodeHallucination,
            shows: &["send_mail", "Call reset(user)"],
            answers: AB_DETECT,
            bad: "maybe",
            needs: "context",
        },
        Case {
            check: CritiqueTone::new("a calm agent").into(),
            shows: &["a calm agent", "Call reset(user)"],
            answers: RATING,
            bad: "0",
            needs: "response",
        },
        Case {
            check: GuidelineAdherence::new("Never share balances.", "privacy").into(),
            shows: &["Never share balances.", "privacy", "Call reset(user)"],
            answers: AB_GOOD,
            bad: "C",
            needs: "response",
        },
        Case {
            check: JailbreakDetection::new("Password help only.").into(),
            shows: &["Password help only.", "How do I reset"],
            answers: AB_DETECT,
            bad: "Z",
            needs: "question",
        },
        Case {
            check: CustomPromptEval::new(
                "Ticket {{ticket}}: is {{response}} polite?",
                [("polite", 1.0), ("rude", 0.0)],
            )
            .into(),
            shows: &["Ticket T-42: is Call reset(user); it mails a link. polite?"],
            answers: &[("polite", 1.0), ("Rude", 0.0)],
            bad: "neutral",
            needs: "ticket",
        },
        Case {
            check: QueryResolution::default().into(),
            shows: &[
                "user: I forgot my password.",
                "assistant: Use the reset link.",
            ],
            answers: ABC,
            bad: "D",
            needs: "conversation",
        },
        Case {
            check: ConversationSatisfaction::default().into(),
            shows: &["highly frustrated", "user: Thanks, done!"],
            answers: &[("A", 0.0), ("B", 0.5), ("C", 1.0)],
            bad: "D",
            needs: "conversation",
        },
        Case {
            check: ConversationGuidelineAdherence::new("Stay polite.", "polite").into(),
            shows: &["Stay polite.", "user: I forgot"],
            answers: &[("A", 0.0), ("B", 1.0)],
            bad: "C",
            needs: "conversation",
        },
        Case {
            check: ConversationObjective::default().into(),
            shows: &["The user resets the password.", "user: I forgot"],
            answers: ABC,
            bad: "D",
            needs: "objective",
        },
        Case {
            check: ConversationNumberOfTurns::default().into(),
            shows: &["user: Thanks, done!", "\"Turns\""],
            answers: &[("1", 1.0), ("3", 3.0)],
            bad: "-1",
            needs: "conversation",
        },
    ]
}

/// The judge's answer for `value`, in the shape the check's answer takes.
fn reply(check: &Check, value: &str) -> String {
    match check {
        Check::CritiqueLanguage | Check::Parametric(ParametricCheck::CritiqueTone(_)) => {
            format!(r#"{{"Reasoning": "because", "Score": {value}}}"#)
        }
        Check::Parametric(ParametricCheck::ConversationNumberOfTurns(_)) => {
            format!(r#"{{"Reasoning": "because", "Turns": {value}}}"#)
        }
        _ => a(value),
    }
}

#[test]
fn prompts_show_the_row_and_the_parameters() {
    let row = full_row();
    for case in cases() {
        let asks = asks(&case.check, &row);
        assert_eq!(asks.len(), case.check.judge_calls(), "{}", case.check);
        let text = prompt::ask(&asks[0]);
        assert!(text.contains("JSON"), "{}", case.check);
        assert!(text.contains("\"Reasoning\""), "{}", case.check);
        for shown in case.shows {
            assert!(
                text.contains(shown),
                "{}: {shown:?} not in\n{text}",
                case.check
            );
        }
    }
}

#[test]
fn answers_parse_clean_fenced_and_in_prose_with_uptrains_scores() {
    let row = full_row();
    for case in cases() {
        for ask in asks(&case.check, &row) {
            for (value, score) in case.answers {
                let clean = reply(&case.check, value);
                for text in [
                    clean.clone(),
                    format!("```json\n{clean}\n```"),
                    format!("Here is my verdict.\n{clean}\nI hope this helps."),
                ] {
                    let got = parse::answer(&text, &ask.answer);
                    assert_eq!(
                        got,
                        Ok((*score, "because".to_owned())),
                        "{} {text}",
                        case.check
                    );
                }
            }
            let bad = parse::answer(&reply(&case.check, case.bad), &ask.answer);
            let reason = bad.expect_err(case.bad);
            assert!(!reason.is_empty(), "{}", case.check);
        }
    }
}

#[test]
fn a_missing_input_is_named_before_any_call() {
    for case in cases() {
        let mut row = full_row();
        row.remove(case.needs);
        let err = validate(&[row], std::slice::from_ref(&case.check)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("row 0") && msg.contains(case.needs),
            "{}: {msg}",
            case.check
        );
    }
}

#[test]
fn critique_language_asks_one_question_per_aspect() {
    let aspects = asks(&Check::CritiqueLanguage, &full_row());
    let titles: Vec<String> = aspects.iter().map(|a| a.title.to_string()).collect();
    for (title, aspect) in titles
        .iter()
        .zip(["fluency", "coherence", "grammar", "politeness"])
    {
        assert!(title.contains(aspect), "{title}");
    }
    assert!(asks(&Check::QuestionCompleteness, &full_row()).is_empty());
}

#[test]
fn unusable_parameters_are_refused_before_any_call() {
    let row = full_row();
    for (check, says) in [
        (Check::from(GuidelineAdherence::new("", "x")), "empty"),
        (Check::from(GuidelineAdherence::new("g", "a/b")), "name"),
        (
            Check::from(CustomPromptEval::new("no placeholder", [("a", 1.0)])),
            "placeholder",
        ),
        (
            Check::from(CustomPromptEval::new("{{response}}", [("a", 2.0)])),
            "outside",
        ),
        (
            Check::from(CustomPromptEval::new(
                "{{response}}",
                Vec::<(&str, f64)>::new(),
            )),
            "one score per choice",
        ),
    ] {
        let err = validate(std::slice::from_ref(&row), &[check]).unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
    }
}
