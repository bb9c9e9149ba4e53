//! The little text processing the stand-ins share: words, content words and sentences.
//!
//! Everything here is deliberately simple and deterministic: lower-cased alphanumeric words,
//! a short stop-word list and a naive plural fold, so that the retriever, the compressor and
//! the stand-in LLM agree on what "the same word" means.

use std::collections::BTreeSet;

/// Words that carry no topic: dropped before comparing texts.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "an",
    "and",
    "answer",
    "are",
    "as",
    "at",
    "be",
    "by",
    "can",
    "could",
    "did",
    "do",
    "document",
    "does",
    "for",
    "from",
    "had",
    "has",
    "have",
    "how",
    "i",
    "in",
    "into",
    "is",
    "it",
    "its",
    "me",
    "most",
    "of",
    "on",
    "or",
    "other",
    "please",
    "reference",
    "say",
    "so",
    "tell",
    "than",
    "that",
    "the",
    "their",
    "there",
    "this",
    "to",
    "was",
    "were",
    "what",
    "when",
    "where",
    "which",
    "who",
    "why",
    "with",
    "word",
    "you",
];

/// The lower-cased alphanumeric words of `text`, in order.
///
/// ```
/// assert_eq!(examples::text::words("Saturn's rings!"), ["saturn", "s", "rings"]);
/// ```
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Folds a plural onto its singular, naively: `days` → `day`, `rings` → `ring`.
fn fold(word: &str) -> String {
    match word.strip_suffix('s') {
        Some(stem) if stem.len() > 2 && !stem.ends_with('s') => stem.to_owned(),
        _ => word.to_owned(),
    }
}

/// The content words of `text`: stop words and one-letter words dropped, plurals folded,
/// duplicates removed.
///
/// ```
/// let words = examples::text::content_words("How long is a day on Venus?");
/// assert_eq!(words.into_iter().collect::<Vec<_>>(), ["day", "long", "venu"]);
/// ```
pub fn content_words(text: &str) -> BTreeSet<String> {
    words(text)
        .iter()
        .filter(|w| w.len() > 1 && !STOP_WORDS.contains(&w.as_str()))
        .map(|w| fold(w))
        .collect()
}

/// How many content words of `query` appear in `text`.
///
/// ```
/// assert_eq!(examples::text::overlap("day on Venus", "A day on Venus lasts 243 days."), 2);
/// ```
pub fn overlap(query: &str, text: &str) -> usize {
    let wanted = content_words(query);
    content_words(text).intersection(&wanted).count()
}

/// The sentences of `text`, each ending with its punctuation, trimmed.
///
/// ```
/// let s = examples::text::sentences("Mars is red. It has two moons! Why?");
/// assert_eq!(s, ["Mars is red.", "It has two moons!", "Why?"]);
/// ```
pub fn sentences(text: &str) -> Vec<&str> {
    text.split_inclusive(['.', '!', '?'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}
