//! A stand-in LLM: deterministic, instant (or as slow as you ask), and honest about what it
//! does. It reads the prompts the pipeline renders and answers them from the text they carry.

use std::time::Duration;

use llm_callbacks::payload::{Document, Generation, LlmResult, TokenUsage};

use crate::text::{content_words, overlap, sentences, words};

/// The answer when the context holds nothing about the question.
pub const NO_ANSWER: &str = "I don't know: the context says nothing about that.";

const CONTEXT_HEADER: &str = "Context:\n";
const QUESTION_HEADER: &str = "\n\nQuestion: ";
const ORIGINAL_QUESTION: &str = "Original question: ";

/// The RAG prompt: instructions, the context (one document per line) and the question.
///
/// ```
/// use llm_callbacks::payload::Document;
/// let prompt = examples::llm::rag_prompt("Why?", &[Document::new("Because.")]);
/// assert!(prompt.ends_with("Context:\nBecause.\n\nQuestion: Why?\nAnswer:"));
/// ```
pub fn rag_prompt(question: &str, context: &[Document]) -> String {
    let lines: Vec<&str> = context.iter().map(|d| d.page_content.as_str()).collect();
    format!(
        "Answer the question using only the context below. Quote the context where you \
         can.\n\n{CONTEXT_HEADER}{}{QUESTION_HEADER}{question}\nAnswer:",
        lines.join("\n")
    )
}

/// The prompt of a multi-query retriever, as LangChain words it.
pub fn multi_query_prompt(question: &str, n: usize) -> String {
    format!(
        "You are an AI language model assistant. Your task is to generate {n} different \
         versions of the given user question to retrieve relevant documents from a vector \
         database. By generating multiple perspectives on the user question, your goal is to \
         help the user overcome some of the limitations of distance-based similarity search. \
         Provide these alternative questions separated by newlines.\n{ORIGINAL_QUESTION}{question}"
    )
}

/// The stand-in model. It answers a RAG prompt with the context sentences that best match the
/// question, and a multi-query prompt with rephrasings of the question, one per line.
///
/// ```
/// use llm_callbacks::payload::Document;
/// use examples::llm::{StandInLlm, rag_prompt};
///
/// let llm = StandInLlm::default();
/// let context = [Document::new("Mars is red. Mars has two small moons, Phobos and Deimos.")];
/// let answer = llm.complete(&rag_prompt("How many moons does Mars have?", &context));
/// assert_eq!(answer, "Mars has two small moons, Phobos and Deimos.");
/// ```
#[derive(Debug, Clone, Default)]
pub struct StandInLlm {
    /// Pause before each streamed token, to make runs overlap in concurrent demos and tests.
    pub token_delay: Duration,
}

impl StandInLlm {
    /// The model's name, as its runs report it.
    pub const MODEL_NAME: &'static str = "stand-in-llm";

    /// The completion of `prompt`.
    pub fn complete(&self, prompt: &str) -> String {
        if let Some(question) = prompt
            .lines()
            .find_map(|line| line.strip_prefix(ORIGINAL_QUESTION))
        {
            let n = words(prompt)
                .iter()
                .find_map(|w| w.parse::<usize>().ok())
                .unwrap_or(3);
            return rephrase(question, n).join("\n");
        }
        let (context, question) = match prompt.rsplit_once(QUESTION_HEADER) {
            Some((head, tail)) => (
                head.split_once(CONTEXT_HEADER).map_or("", |(_, c)| c),
                tail.split('\n').next().unwrap_or(tail),
            ),
            None => ("", prompt),
        };
        answer(question, context)
    }

    /// `text` cut into the tokens the model streams: words with their trailing space.
    ///
    /// ```
    /// assert_eq!(examples::llm::StandInLlm::tokens("Mars is red."), ["Mars ", "is ", "red."]);
    /// ```
    pub fn tokens(text: &str) -> Vec<&str> {
        text.split_inclusive(' ').collect()
    }

    /// The run's result: the text, the model's name and the token usage (one token per word).
    pub fn result(prompt: &str, text: &str) -> LlmResult {
        let prompt_tokens = prompt.split_whitespace().count() as u64;
        let completion_tokens = Self::tokens(text).len() as u64;
        LlmResult::new(vec![vec![Generation::new(text)]])
            .with_token_usage(TokenUsage::new(prompt_tokens, completion_tokens))
            .with_model_name(Self::MODEL_NAME)
    }
}

/// The context sentences that share the most content words with the question (at most two,
/// in context order), or [`NO_ANSWER`].
fn answer(question: &str, context: &str) -> String {
    let candidates: Vec<(usize, &str)> = context
        .lines()
        .flat_map(sentences)
        .map(|s| (overlap(question, s), s))
        .collect();
    let best = candidates.iter().map(|(n, _)| *n).max().unwrap_or(0);
    if best == 0 {
        return NO_ANSWER.to_owned();
    }
    let chosen: Vec<&str> = candidates
        .iter()
        .filter(|(n, _)| *n == best)
        .map(|(_, s)| *s)
        .take(2)
        .collect();
    chosen.join(" ")
}

/// `n` rephrasings of `question` (at most three kinds, repeated with a number if more are
/// asked for).
fn rephrase(question: &str, n: usize) -> Vec<String> {
    let core = question.trim().trim_end_matches('?').trim();
    let lowered = lower_first(core);
    let keywords: Vec<String> = words(core)
        .into_iter()
        .filter(|w| content_words(w).len() == 1)
        .collect();
    let forms = [
        format!("In other words, {lowered}?"),
        format!("Could you tell me {lowered}?"),
        format!("What does the reference say about {}?", keywords.join(" ")),
    ];
    (0..n)
        .map(|i| match i / forms.len() {
            0 => forms[i % forms.len()].clone(),
            round => format!("{} ({})", forms[i % forms.len()], round + 1),
        })
        .collect()
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if !text.starts_with("I ") => first.to_lowercase().chain(chars).collect(),
        _ => text.to_owned(),
    }
}
