//! Retrieval stand-ins: a keyword-overlap retriever, the union a multi-query retriever takes,
//! and the compressor of a contextual compression retriever.

use llm_callbacks::payload::Document;

use crate::corpus::Corpus;
use crate::text::{content_words, overlap, sentences};

/// Finds the documents that share the most content words with a query.
///
/// ```
/// let retriever = examples::KeywordRetriever::new(examples::Corpus::shipped()?);
/// let found = retriever.search("What are the rings of Saturn made of?", 2);
/// assert_eq!(found[0].id.as_deref(), Some("saturn"));
/// # Ok::<(), examples::CorpusError>(())
/// ```
#[derive(Debug, Clone)]
pub struct KeywordRetriever {
    corpus: Corpus,
}

impl KeywordRetriever {
    /// A retriever over `corpus`.
    pub fn new(corpus: Corpus) -> Self {
        Self { corpus }
    }

    /// The corpus searched.
    pub fn corpus(&self) -> &Corpus {
        &self.corpus
    }

    /// At most `k` documents sharing at least one content word (title included) with `query`,
    /// best first, ties in corpus order. Each carries its overlap as metadata `score`.
    pub fn search(&self, query: &str, k: usize) -> Vec<Document> {
        let mut scored: Vec<(usize, &Document)> = self
            .corpus
            .documents()
            .iter()
            .map(|d| {
                let title = d.metadata.get("title").and_then(|t| t.as_str());
                let haystack = format!("{} {}", title.unwrap_or_default(), d.page_content);
                (overlap(query, &haystack), d)
            })
            .filter(|(score, _)| *score > 0)
            .collect();
        scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
        scored
            .into_iter()
            .take(k)
            .map(|(score, d)| d.clone().with_metadata("score", score))
            .collect()
    }
}

/// The documents of several result lists, each once (by id, else by text), in order of first
/// appearance: what a multi-query retriever returns.
pub fn unique_union<'a>(lists: impl IntoIterator<Item = &'a [Document]>) -> Vec<Document> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for list in lists {
        for doc in list {
            let key = doc.id.as_deref().unwrap_or(&doc.page_content);
            if !seen.contains(&key) {
                seen.push(key);
                let mut doc = doc.clone();
                doc.metadata.remove("score");
                out.push(doc);
            }
        }
    }
    out
}

/// Compresses retrieved documents for `question`, as a contextual compression retriever's
/// compressor does: each document keeps only its sentences that share a content word with the
/// question; documents that score less than half the best one are dropped; the rest are
/// reranked, most relevant first (metadata `relevance_score`).
///
/// ```
/// use llm_callbacks::payload::Document;
///
/// let docs = [
///     Document::new("Venus is hot. A day on Venus lasts 243 Earth days."),
///     Document::new("Mars is red."),
///     Document::new("Earth days are 24 hours long. Earth has one moon."),
/// ];
/// let compressed = examples::compress("How long is a day on Venus?", &docs);
/// let texts: Vec<&str> = compressed.iter().map(|d| d.page_content.as_str()).collect();
/// assert_eq!(texts, ["Venus is hot. A day on Venus lasts 243 Earth days.", "Earth days are 24 hours long."]);
/// ```
pub fn compress(question: &str, documents: &[Document]) -> Vec<Document> {
    let wanted = content_words(question);
    let mut kept: Vec<(usize, Document)> = documents
        .iter()
        .filter_map(|doc| {
            let relevant: Vec<&str> = sentences(&doc.page_content)
                .into_iter()
                .filter(|s| overlap(question, s) > 0)
                .collect();
            let text = relevant.join(" ");
            let score = content_words(&text).intersection(&wanted).count();
            (score > 0).then(|| {
                let mut compressed = doc.clone();
                compressed.page_content = text;
                compressed.metadata.remove("score");
                (score, compressed.with_metadata("relevance_score", score))
            })
        })
        .collect();
    let best = kept.iter().map(|(score, _)| *score).max().unwrap_or(0);
    kept.retain(|(score, _)| score * 2 >= best);
    kept.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
    kept.into_iter().map(|(_, doc)| doc).collect()
}
