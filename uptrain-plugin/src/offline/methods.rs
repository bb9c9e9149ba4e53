//! One documented lexical method per check. Each returns a score in `0..=1` and an explanation
//! that says it is a heuristic and shows the evidence (words found and missing, sentences
//! supported).

use super::lexical::{Words, coverage, dice, list, ratio, sentences, words};
use crate::check::Check;
use crate::error::CheckError;
use crate::row::{self, Row};

/// Words shown in an explanation.
const SHOWN: usize = 8;
/// A sentence whose content words are at least this share in the reference is supported.
const SUPPORTED: f64 = 0.8;
/// ... and at least this share is unclear; below it, unsupported.
const PARTLY_SUPPORTED: f64 = 0.5;

/// Prefix of every explanation.
pub(crate) const HEURISTIC: &str = "Offline lexical heuristic, not an LLM judgement";

type Scored = Result<(f64, String), CheckError>;

fn field_words(row: &Row, key: &str) -> Words {
    words(&row::text(row, key))
}

/// Scores a check of the RAG family on `row`; `None` for the other checks.
pub(crate) fn score(check: &Check, row: &Row) -> Option<Scored> {
    Some(match check {
        Check::ContextRelevance => question_coverage(row, "context", "the context"),
        Check::ResponseCompleteness => question_coverage(row, "response", "the response"),
        Check::SubQueryCompleteness => question_coverage(row, "sub_questions", "the sub-questions"),
        Check::ResponseConciseness => conciseness(row),
        Check::ResponseRelevance => relevance(row),
        Check::FactualAccuracy => factual_accuracy(row),
        Check::ResponseConsistency => consistency(row),
        Check::ResponseCompletenessWrtContext => {
            relevant_info_kept(row, "response", "the response")
        }
        Check::ContextConciseness => {
            relevant_info_kept(row, "concise_context", "the concise context")
        }
        Check::ValidResponse => valid_response(row),
        Check::MultiQueryAccuracy => multi_query(row),
        Check::ContextReranking => reranking(row),
        _ => return None,
    })
}

/// Share of the question's content words that appear in `key`.
fn question_coverage(row: &Row, key: &str, what: &str) -> Scored {
    let question = field_words(row, "question");
    if question.is_empty() {
        return Ok((
            0.0,
            format!("{HEURISTIC}: the question has no content words."),
        ));
    }
    let (score, found, missing) = coverage(&question, &field_words(row, key));
    Ok((
        score,
        format!(
            "{HEURISTIC}: {} of {} content words of the question appear in {what} \
             (found: {}; missing: {}).",
            found.len(),
            question.len(),
            list(&found, SHOWN),
            list(&missing, SHOWN)
        ),
    ))
}

/// Share of the response's sentences that share a content word with the question (or the
/// context, when there is one).
fn conciseness(row: &Row) -> Scored {
    let mut topic = field_words(row, "question");
    topic.extend(field_words(row, "context"));
    let response = row::text(row, "response");
    let sentences = sentences(&response);
    if sentences.is_empty() {
        return Ok((
            0.0,
            format!("{HEURISTIC}: the response has no content words."),
        ));
    }
    let on_topic = sentences
        .iter()
        .filter(|s| !words(s).is_disjoint(&topic))
        .count();
    Ok((
        ratio(on_topic, sentences.len()),
        format!(
            "{HEURISTIC}: {on_topic} of {} response sentences share words with the question; \
             the others are counted as irrelevant.",
            sentences.len()
        ),
    ))
}

/// F1 of completeness and conciseness.
fn relevance(row: &Row) -> Scored {
    let (c, why_c) = question_coverage(row, "response", "the response")?;
    let (s, why_s) = conciseness(row)?;
    let f1 = if c <= 0.0 || s <= 0.0 {
        0.0
    } else {
        2.0 * c * s / (c + s)
    };
    Ok((
        f1,
        format!(
            "{HEURISTIC}: harmonic mean of completeness {c:.2} and conciseness {s:.2}.\n\
             {why_c}\n{why_s}"
        ),
    ))
}

/// Each response sentence is a fact: supported (yes) when ≥ 80 % of its content words occur
/// in `reference`, unclear when ≥ 50 %, otherwise no; the score is the mean.
fn support(row: &Row, reference: &Words, against: &str) -> Scored {
    let response = row::text(row, "response");
    let facts = sentences(&response);
    if facts.is_empty() {
        return Err(CheckError::NoFacts);
    }
    let mut total = 0.0;
    let mut lines = Vec::with_capacity(facts.len());
    for (i, fact) in facts.iter().enumerate() {
        let fact_words = words(fact);
        let (share, _, missing) = coverage(&fact_words, reference);
        let (verdict, value) = if share >= SUPPORTED {
            ("yes", 1.0)
        } else if share >= PARTLY_SUPPORTED {
            ("unclear", 0.5)
        } else {
            ("no", 0.0)
        };
        total += value;
        lines.push(format!(
            "{}. {fact} — {verdict} ({:.0}% of its words in {against}; missing: {})",
            i + 1,
            share * 100.0,
            list(&missing, SHOWN)
        ));
    }
    Ok((
        total / facts.len() as f64,
        format!(
            "{HEURISTIC}: each response sentence is a fact, supported when most of its content \
             words occur in {against}.\n{}",
            lines.join("\n")
        ),
    ))
}

fn factual_accuracy(row: &Row) -> Scored {
    support(row, &field_words(row, "context"), "the context")
}

fn consistency(row: &Row) -> Scored {
    let mut reference = field_words(row, "context");
    reference.extend(field_words(row, "question"));
    support(row, &reference, "the question and context")
}

/// The content words of the context passages that mention the question, minus the question's
/// own words (the information an answer would add), and the share of them found in `key`.
fn relevant_info_kept(row: &Row, key: &str, what: &str) -> Scored {
    let question = field_words(row, "question");
    let mut relevant = Words::new();
    for passage in row::items(row, "context") {
        for sentence in sentences(&passage) {
            let w = words(sentence);
            if !w.is_disjoint(&question) {
                relevant.extend(w.into_iter().filter(|x| !question.contains(x)));
            }
        }
    }
    if relevant.is_empty() {
        return Ok((
            1.0,
            format!(
                "{HEURISTIC}: the context holds no passage about the question, so {what} misses nothing."
            ),
        ));
    }
    let (score, found, missing) = coverage(&relevant, &field_words(row, key));
    Ok((
        score,
        format!(
            "{HEURISTIC}: {what} keeps {} of {} content words of the context passages that \
             mention the question (kept: {}; missing: {}).",
            found.len(),
            relevant.len(),
            list(&found, SHOWN),
            list(&missing, SHOWN)
        ),
    ))
}

const REFUSALS: &[&str] = &[
    "i don't know",
    "i do not know",
    "i cannot answer",
    "i can't answer",
    "i am unable",
    "i'm unable",
    "i'm not sure",
    "no information",
    "not enough information",
    "cannot be determined",
    "as an ai",
];

/// 0 for an empty response or a refusal, 1 otherwise.
fn valid_response(row: &Row) -> Scored {
    let response = row::text(row, "response").to_lowercase().replace('’', "'");
    if words(&response).is_empty() {
        return Ok((
            0.0,
            format!("{HEURISTIC}: the response has no content words."),
        ));
    }
    if let Some(phrase) = REFUSALS.iter().find(|p| response.contains(*p)) {
        return Ok((
            0.0,
            format!("{HEURISTIC}: the response reads as a refusal (\"{phrase}\")."),
        ));
    }
    Ok((
        1.0,
        format!("{HEURISTIC}: the response has content and no refusal phrase."),
    ))
}

/// Mean Dice overlap between the question and each variant.
fn multi_query(row: &Row) -> Scored {
    let question = field_words(row, "question");
    let variants = row::items(row, "variants");
    if variants.is_empty() {
        return Ok((0.0, format!("{HEURISTIC}: there are no variants.")));
    }
    let overlaps: Vec<f64> = variants
        .iter()
        .map(|v| dice(&question, &words(v)))
        .collect();
    let mean = overlaps.iter().sum::<f64>() / overlaps.len() as f64;
    let shown: Vec<String> = overlaps.iter().map(|o| format!("{o:.2}")).collect();
    Ok((
        mean,
        format!(
            "{HEURISTIC}: mean word overlap (Dice) between the question and its {} variants \
             ({}); paraphrases with synonyms score lower than they deserve.",
            variants.len(),
            shown.join(", ")
        ),
    ))
}

/// nDCG of the reranked passages, each passage's relevance being its coverage of the
/// question's content words.
fn reranking(row: &Row) -> Scored {
    let question = field_words(row, "question");
    let relevance: Vec<f64> = row::items(row, "reranked_context")
        .iter()
        .map(|p| coverage(&question, &words(p)).0)
        .collect();
    let dcg = |rels: &[f64]| -> f64 {
        rels.iter()
            .enumerate()
            .map(|(i, r)| r / ((i + 2) as f64).log2())
            .sum()
    };
    let mut ideal = relevance.clone();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let best = dcg(&ideal);
    if best <= 0.0 {
        return Ok((
            0.5,
            format!(
                "{HEURISTIC}: no reranked passage shares words with the question; the order cannot be judged."
            ),
        ));
    }
    let shown: Vec<String> = relevance.iter().map(|r| format!("{r:.2}")).collect();
    Ok((
        dcg(&relevance) / best,
        format!(
            "{HEURISTIC}: nDCG of the reranked order, a passage's relevance being its share of \
             the question's words (in order: {}).",
            shown.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(pairs: &[(&str, &str)]) -> Row {
        row::row(pairs.iter().copied())
    }

    #[test]
    fn factual_accuracy_grades_sentences() {
        let row = r(&[
            (
                "context",
                "Paris is the capital of France. It has 2 million inhabitants.",
            ),
            (
                "response",
                "Paris is the capital of France. Paris hosts the Olympic winter games.",
            ),
        ]);
        let (score, why) = score(&Check::FactualAccuracy, &row).unwrap().unwrap();
        assert_eq!(score, 0.5);
        assert!(why.starts_with(HEURISTIC));
        assert!(why.contains("— yes") && why.contains("— no"));
        let empty = r(&[("context", "x"), ("response", "  ")]);
        assert_eq!(
            score_err(&Check::FactualAccuracy, &empty),
            CheckError::NoFacts
        );
    }

    fn score_err(check: &Check, row: &Row) -> CheckError {
        score(check, row).unwrap().unwrap_err()
    }

    #[test]
    fn reranking_rewards_relevant_first() {
        let q = "How tall is the Eiffel tower?";
        let good = r(&[
            ("question", q),
            (
                "reranked_context",
                "1. The Eiffel tower is 330 m tall.\n2. Bananas are yellow.",
            ),
        ]);
        let bad = r(&[
            ("question", q),
            (
                "reranked_context",
                "1. Bananas are yellow.\n2. The Eiffel tower is 330 m tall.",
            ),
        ]);
        let (g, _) = score(&Check::ContextReranking, &good).unwrap().unwrap();
        let (b, _) = score(&Check::ContextReranking, &bad).unwrap().unwrap();
        assert_eq!(g, 1.0);
        assert!(b < g, "{b} < {g}");
    }

    #[test]
    fn refusals_are_not_valid() {
        let refusal = r(&[("question", "q"), ("response", "I don’t know.")]);
        assert_eq!(
            score(&Check::ValidResponse, &refusal).unwrap().unwrap().0,
            0.0
        );
        let answer = r(&[("question", "q"), ("response", "Forty-two.")]);
        assert_eq!(
            score(&Check::ValidResponse, &answer).unwrap().unwrap().0,
            1.0
        );
    }
}
