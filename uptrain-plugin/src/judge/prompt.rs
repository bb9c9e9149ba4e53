//! Our judge prompts. Each one states the judge's role, the task, the lettered options (for
//! graded checks), asks for step-by-step reasoning and a JSON answer of a fixed shape, and ends
//! with the task data as labelled fields. Lists are rendered as numbered lines.

use crate::check::Check;
pub(crate) use crate::checks::Grade;
use crate::checks::{Answer, Ask, abc};
use crate::row::{self, Row};

/// A graded (multiple-choice) check.
#[derive(Debug)]
pub(crate) struct GradedSpec {
    /// Title line, also the check's display name.
    pub(crate) title: &'static str,
    /// What to judge.
    pub(crate) task: &'static str,
    /// The options, best first.
    pub(crate) options: &'static [Grade],
    /// `(label, row key)` of the data shown to the judge.
    pub(crate) fields: &'static [(&'static str, &'static str)],
}

const QUESTION: (&str, &str) = ("Question", "question");
const CONTEXT: (&str, &str) = ("Context", "context");
const RESPONSE: (&str, &str) = ("Response", "response");

static CONTEXT_RELEVANCE: GradedSpec = GradedSpec {
    title: "Context Relevance",
    task: "Decide whether the context contains the information needed to answer the question.",
    options: &abc(
        "The context can answer the question completely.",
        "The context can answer the question only in part.",
        "The context holds nothing that answers the question.",
    ),
    fields: &[QUESTION, CONTEXT],
};

static RESPONSE_COMPLETENESS: GradedSpec = GradedSpec {
    title: "Response Completeness",
    task: "Decide whether the response answers every part of the question.",
    options: &abc(
        "The response answers the question fully.",
        "The response answers some parts of the question and leaves others out.",
        "The response does not answer the question at all.",
    ),
    fields: &[QUESTION, RESPONSE],
};

static RESPONSE_CONCISENESS: GradedSpec = GradedSpec {
    title: "Response Conciseness",
    task: "Decide how much of the response is irrelevant to the question (padding, digressions, \
           information nobody asked for).",
    options: &abc(
        "The response holds no irrelevant information.",
        "The response holds a little irrelevant information.",
        "The response holds a lot of irrelevant information.",
    ),
    fields: &[QUESTION, RESPONSE],
};

static RESPONSE_COMPLETENESS_WRT_CONTEXT: GradedSpec = GradedSpec {
    title: "Response Completeness wrt Context",
    task: "Decide whether the response uses all the information in the context that is \
           relevant to the question.",
    options: &abc(
        "The response includes all of the relevant information from the context.",
        "The response includes some of the relevant information and misses some.",
        "The response includes none of the relevant information from the context.",
    ),
    fields: &[QUESTION, CONTEXT, RESPONSE],
};

static VALID_RESPONSE: GradedSpec = GradedSpec {
    title: "Valid Response",
    task: "Decide whether the response gives any information in reply to the question, as \
           opposed to being empty, a refusal, or a statement that the answer is unknown.",
    options: &[
        Grade {
            letter: 'A',
            meaning: "The response gives some information in reply to the question.",
            score: 1.0,
        },
        Grade {
            letter: 'B',
            meaning: "The response gives no information (empty, a refusal, or \"I don't know\").",
            score: 0.0,
        },
    ],
    fields: &[QUESTION, RESPONSE],
};

static MULTI_QUERY_ACCURACY: GradedSpec = GradedSpec {
    title: "Multi Query Accuracy",
    task: "Decide whether the query variants ask for the same information as the original \
           question, so that answering any of them answers the question.",
    options: &abc(
        "Every variant asks for the same information as the question.",
        "Some variants drift from the question or ask for only part of it.",
        "The variants ask for different information than the question.",
    ),
    fields: &[QUESTION, ("Variants", "variants")],
};

static SUB_QUERY_COMPLETENESS: GradedSpec = GradedSpec {
    title: "Sub Query Completeness",
    task: "Decide whether the sub-questions, taken together, cover every aspect of the \
           question.",
    options: &abc(
        "The sub-questions cover every aspect of the question.",
        "The sub-questions cover some aspects and miss others.",
        "The sub-questions cover few or none of the aspects of the question.",
    ),
    fields: &[QUESTION, ("Sub-questions", "sub_questions")],
};

static CONTEXT_RERANKING: GradedSpec = GradedSpec {
    title: "Context Reranking",
    task: "Compare the original order of the context passages with the reranked order, and \
           decide how well the reranked order puts the passages most relevant to the question \
           first.",
    options: &abc(
        "The reranking is very effective: the most relevant passages come first.",
        "The reranking is somewhat effective.",
        "The reranking is not effective: relevant passages are not moved forward.",
    ),
    fields: &[
        QUESTION,
        ("Original context", "context"),
        ("Reranked context", "reranked_context"),
    ],
};

static CONTEXT_CONCISENESS: GradedSpec = GradedSpec {
    title: "Context Conciseness",
    task: "Compare the original context with the concise context, and decide whether the \
           concise context keeps the information needed to answer the question.",
    options: &abc(
        "The concise context keeps all of the relevant information.",
        "The concise context keeps part of the relevant information.",
        "The concise context keeps none of the relevant information.",
    ),
    fields: &[
        QUESTION,
        ("Original context", "context"),
        ("Concise context", "concise_context"),
    ],
};

/// The graded spec of a single-call multiple-choice check; `None` for factual accuracy,
/// response relevance and response consistency, which are scored differently.
pub(crate) fn graded_spec(check: &Check) -> Option<&'static GradedSpec> {
    Some(match check {
        Check::ContextRelevance => &CONTEXT_RELEVANCE,
        Check::ResponseCompleteness => &RESPONSE_COMPLETENESS,
        Check::ResponseConciseness => &RESPONSE_CONCISENESS,
        Check::ResponseCompletenessWrtContext => &RESPONSE_COMPLETENESS_WRT_CONTEXT,
        Check::ValidResponse => &VALID_RESPONSE,
        Check::MultiQueryAccuracy => &MULTI_QUERY_ACCURACY,
        Check::SubQueryCompleteness => &SUB_QUERY_COMPLETENESS,
        Check::ContextReranking => &CONTEXT_RERANKING,
        Check::ContextConciseness => &CONTEXT_CONCISENESS,
        _ => return None,
    })
}

const PERSONA: &str = "You are a meticulous, impartial evaluator of answers produced by a \
                       question-answering system. Judge only from the material given below.";
const STEP_BY_STEP: &str = "Reason step by step before you decide. Reply with one JSON object \
                            and nothing else, in exactly this shape:";

fn push_fields(out: &mut String, row: &Row, fields: &[(&str, &str)]) {
    for (label, key) in fields {
        out.push_str("\n\n[");
        out.push_str(label);
        out.push_str("]\n");
        out.push_str(row::text(row, key).trim());
    }
}

/// `a, b or c`.
fn either<'a>(items: impl ExactSizeIterator<Item = &'a str>) -> String {
    let count = items.len();
    let mut out = String::new();
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == count { " or " } else { ", " });
        }
        out.push_str(item);
    }
    out
}

/// The head of every prompt: title, persona, task.
fn head(out: &mut String, title: &str, task: &str) {
    out.push_str("Evaluation: ");
    out.push_str(title);
    out.push_str("\n\n");
    out.push_str(PERSONA);
    out.push_str("\n\nTask: ");
    out.push_str(task);
}

/// The lettered options and the `{"Reasoning", "Choice"}` shape.
fn options(out: &mut String, options: &[Grade]) {
    out.push_str("\n\nOptions:");
    for grade in options {
        out.push_str(&format!("\n{}. {}", grade.letter, grade.meaning));
    }
    let letters: Vec<String> = options.iter().map(|g| g.letter.to_string()).collect();
    shape(
        out,
        &format!(
            "\"Choice\": \"<{}>\"",
            either(letters.iter().map(String::as_str))
        ),
    );
}

/// The closing instruction and the JSON shape, `{"Reasoning": ..., <rest>}`.
fn shape(out: &mut String, rest: &str) {
    out.push_str("\n\n");
    out.push_str(STEP_BY_STEP);
    out.push_str("\n{\"Reasoning\": \"<your step-by-step reasoning>\", ");
    out.push_str(rest);
    out.push('}');
}

/// The prompt of a graded check.
pub(crate) fn graded(spec: &GradedSpec, row: &Row) -> String {
    let mut out = String::with_capacity(1024);
    head(&mut out, spec.title, spec.task);
    options(&mut out, spec.options);
    push_fields(&mut out, row, spec.fields);
    out
}

/// The prompt of one judge call of the checks beyond the RAG family (same shape).
pub(crate) fn ask(ask: &Ask) -> String {
    let mut out = String::with_capacity(1024);
    head(&mut out, &ask.title, &ask.task);
    match &ask.answer {
        Answer::Choice(grades) => options(&mut out, grades),
        Answer::Named(choices) => {
            out.push_str("\n\nChoices:");
            for (choice, _) in choices {
                out.push_str("\n- ");
                out.push_str(choice);
            }
            let names = either(choices.iter().map(|(c, _)| c.as_str()));
            shape(&mut out, &format!("\"Choice\": \"<{names}>\""));
        }
        Answer::Rating { min, max } => {
            shape(
                &mut out,
                &format!("\"Score\": <a whole number from {min} to {max}>"),
            );
        }
        Answer::Turns => shape(&mut out, "\"Turns\": <a whole number>"),
    }
    for (label, text) in &ask.fields {
        out.push_str("\n\n[");
        out.push_str(label);
        out.push_str("]\n");
        out.push_str(text.trim());
    }
    out
}

/// Factual accuracy, phase 1: extract the response's facts.
pub(crate) fn extract_facts(row: &Row) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str("Evaluation: Factual Accuracy (fact extraction)\n\n");
    out.push_str(PERSONA);
    out.push_str(
        "\n\nTask: List the factual claims made by the response, each as a short sentence that \
         can be checked on its own (at most 5, most important first). Leave out opinions, \
         greetings and restatements of the question. If the response makes no factual claim, \
         give an empty list.\n\n",
    );
    out.push_str(STEP_BY_STEP);
    out.push_str("\n{\"Facts\": [\"<first fact>\", \"<second fact>\"]}");
    push_fields(&mut out, row, &[QUESTION, RESPONSE]);
    out
}

/// Factual accuracy, phase 2: judge each fact against the context.
pub(crate) fn judge_facts(row: &Row, facts: &[String]) -> String {
    let mut out = String::with_capacity(1536);
    out.push_str("Evaluation: Factual Accuracy (fact checking)\n\n");
    out.push_str(PERSONA);
    out.push_str(
        "\n\nTask: For every fact listed below, decide whether the context supports it. \
         Answer \"yes\" when the context states or clearly implies the fact, \"no\" when the \
         context contradicts it or does not support it, and \"unclear\" when the context is \
         ambiguous about it. Give one entry per fact, in order.\n\n",
    );
    out.push_str(STEP_BY_STEP);
    out.push_str(
        "\n{\"Result\": [{\"Fact\": \"<the fact>\", \"Reasoning\": \"<why>\", \
         \"Judgement\": \"<yes, unclear or no>\"}]}",
    );
    push_fields(&mut out, row, &[CONTEXT]);
    out.push_str("\n\n[Facts]\n");
    out.push_str(&row::numbered(facts.iter().map(String::as_str)));
    out
}

/// Response consistency: a direct score between 0 and 1.
pub(crate) fn consistency(row: &Row) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str("Evaluation: Response Consistency\n\n");
    out.push_str(PERSONA);
    out.push_str(
        "\n\nTask: Decide how consistent the response is with the question and the context: \
         does it follow from what the context says, and does it address the question without \
         contradicting the context? First state the strongest argument for the response, then \
         weigh it, then give a score from 0 (inconsistent) to 1 (fully consistent).\n\n",
    );
    out.push_str(STEP_BY_STEP);
    out.push_str(
        "\n{\"Argument\": \"<argument>\", \"Reasoning\": \"<your reasoning>\", \
         \"Score\": <a number from 0 to 1>}",
    );
    push_fields(&mut out, row, &[QUESTION, CONTEXT, RESPONSE]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Row {
        json!({
            "question": "Q?",
            "context": "C.",
            "response": "R.",
            "variants": ["v one", "v two"],
            "sub_questions": ["s1"],
            "reranked_context": "1. b\n2. a",
            "concise_context": "a",
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn every_prompt_mentions_json_and_carries_the_data() {
        let row = sample();
        for check in Check::ALL {
            if let Some(spec) = graded_spec(&check) {
                let prompt = graded(spec, &row);
                assert!(prompt.contains("JSON"), "{check}");
                assert!(prompt.contains("\"Choice\""));
                assert!(prompt.contains("[Question]\nQ?"));
                assert!(prompt.contains(check.display_name()));
            }
        }
        let facts = vec!["f1".to_owned(), "f2".to_owned()];
        for prompt in [
            extract_facts(&row),
            judge_facts(&row, &facts),
            consistency(&row),
        ] {
            assert!(prompt.contains("JSON"));
        }
        assert!(judge_facts(&row, &facts).contains("[Facts]\n1. f1\n2. f2"));
    }

    #[test]
    fn lists_render_as_numbered_lines() {
        let prompt = graded(&MULTI_QUERY_ACCURACY, &sample());
        assert!(prompt.contains("[Variants]\n1. v one\n2. v two"));
        assert!(prompt.contains("\"<A, B or C>\""));
        let valid = graded(&VALID_RESPONSE, &sample());
        assert!(valid.contains("\"<A or B>\""));
    }
}
