//! Lexical building blocks of the offline evaluator: content words (lower-cased, stop words
//! dropped, plural `s` stripped), sentences, coverage and overlap measures.

use std::collections::BTreeSet;

/// Content words, in a sorted set (so explanations are deterministic).
pub(crate) type Words = BTreeSet<String>;

/// Common English words that carry no content.
const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as",
    "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by",
    "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from",
    "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him",
    "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me",
    "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only",
    "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should", "so", "some",
    "such", "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they",
    "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were",
    "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would",
    "you", "your", "yours", "tell", "please", "give", "know", "many", "much", "there's", "it's",
    "i'm", "don't", "let", "us",
];

fn normalize(word: &str) -> Option<String> {
    let lower = word.trim_matches('\'').to_lowercase();
    let word = lower.strip_suffix("'s").unwrap_or(&lower).to_owned();
    if word.is_empty() || STOP_WORDS.contains(&word.as_str()) {
        return None;
    }
    if word.chars().count() == 1 && !word.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if let Some(stem) = word.strip_suffix("ies")
        && stem.chars().count() >= 2
    {
        return Some(format!("{stem}y"));
    }
    let stem = match word.strip_suffix('s') {
        Some(stem) if stem.chars().count() >= 3 && !stem.ends_with(['s', 'i', 'u']) => {
            stem.to_owned()
        }
        _ => word,
    };
    Some(stem)
}

/// The content words of `text`.
pub(crate) fn words(text: &str) -> Words {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter_map(normalize)
        .collect()
}

/// The words of `text` in order, lower-cased, stop words kept (for sequence measures).
pub(crate) fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.trim_matches('\'').is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Sentences of `text`: split after `.`, `!`, `?` followed by a space or the end, and at line
/// breaks. Sentences without content words are dropped.
pub(crate) fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next_is_break = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
        let ends = c == '\n' || (matches!(c, '.' | '!' | '?') && next_is_break);
        if ends {
            let end = i + c.len_utf8();
            if let Some(s) = text.get(start..end) {
                out.push(s);
            }
            start = end;
        }
    }
    if let Some(rest) = text.get(start..) {
        out.push(rest);
    }
    out.into_iter()
        .map(str::trim)
        .filter(|s| !words(s).is_empty())
        .collect()
}

/// Share of `wanted` found in `pool`, with the words found and missing.
pub(crate) fn coverage<'a>(wanted: &'a Words, pool: &Words) -> (f64, Vec<&'a str>, Vec<&'a str>) {
    let (found, missing): (Vec<&str>, Vec<&str>) = wanted
        .iter()
        .map(String::as_str)
        .partition(|w| pool.contains(*w));
    (ratio(found.len(), wanted.len()), found, missing)
}

/// Dice coefficient of two word sets (1 when both are empty).
pub(crate) fn dice(a: &Words, b: &Words) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    ratio(2 * a.intersection(b).count(), a.len() + b.len())
}

/// `part / whole`, 0 when `whole` is 0.
pub(crate) fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let r = part as f64 / whole as f64;
    r
}

/// Up to `max` words, comma separated, for explanations.
pub(crate) fn list(words: &[&str], max: usize) -> String {
    let mut shown: Vec<&str> = words.iter().take(max).copied().collect();
    if words.len() > max {
        shown.push("…");
    }
    if shown.is_empty() {
        "none".to_owned()
    } else {
        shown.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_words_drop_stop_words_and_plurals() {
        let w = words("What are the capitals of the European countries? Paris's 2 cats.");
        let got: Vec<&str> = w.iter().map(String::as_str).collect();
        assert_eq!(
            got,
            vec!["2", "capital", "cat", "country", "european", "paris"]
        );
    }

    #[test]
    fn sentences_split_on_terminal_punctuation_not_decimals() {
        let s = sentences("Pi is 3.14. It is irrational! Really?\nYes\n\n.");
        assert_eq!(
            s,
            vec!["Pi is 3.14.", "It is irrational!", "Really?", "Yes"]
        );
        assert!(sentences("").is_empty());
    }

    #[test]
    fn measures() {
        let a = words("red apple");
        let b = words("red pear");
        assert_eq!(dice(&a, &b), 0.5);
        let (score, found, missing) = coverage(&a, &b);
        assert_eq!((score, found, missing), (0.5, vec!["red"], vec!["apple"]));
        assert_eq!(ratio(1, 0), 0.0);
        assert_eq!(list(&["a", "b", "c"], 2), "a, b, …");
    }
}
