//! The tokens a model call consumed, with the details servers report: cache reads and writes
//! of the prompt, reasoning tokens of the completion.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Tokens a model call consumed.
///
/// The counts follow the OpenAI API's usage: `prompt_tokens` counts every input token, those
/// read from the provider's prompt cache and those written to it included; `completion_tokens`
/// counts every output token, reasoning tokens (billed, never shown) included. The details are
/// `None` when the server did not report them, which is not the same as `Some(0)`: "no cached
/// tokens" and "the server did not say" price the same, but only one of them is known.
///
/// Build it with [`new`](Self::new) and the `with_*` methods; more details may be added later,
/// so it cannot be written as a struct literal outside this crate. Records written before the
/// details existed still read: a missing detail reads as `None`.
///
/// ```
/// use handler_core::payload::TokenUsage;
///
/// let usage = TokenUsage::new(1_000, 300)
///     .with_cache_read_tokens(800)
///     .with_reasoning_tokens(250);
/// assert_eq!(usage.total_tokens, 1_300);
/// assert_eq!(usage.cache_read_tokens, Some(800));
/// assert_eq!(usage.cache_write_tokens, None); // the server did not say
///
/// // An old record, before the details existed.
/// let old: TokenUsage = serde_json::from_str(
///     r#"{"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}"#,
/// )?;
/// assert_eq!(old, TokenUsage::new(3, 1));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenUsage {
    /// Tokens in the prompt, cached ones included.
    pub prompt_tokens: u64,
    /// Tokens generated, reasoning ones included.
    pub completion_tokens: u64,
    /// Both together, as the server said.
    pub total_tokens: u64,
    /// Prompt tokens read from the provider's prompt cache (OpenAI:
    /// `prompt_tokens_details.cached_tokens`; Anthropic: `cache_read_input_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_tokens: Option<u64>,
    /// Prompt tokens written to the provider's prompt cache (OpenAI-compatible servers:
    /// `prompt_tokens_details.cache_write_tokens`; Anthropic: `cache_creation_input_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
    /// Completion tokens the model spent reasoning (OpenAI:
    /// `completion_tokens_details.reasoning_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
}

impl TokenUsage {
    /// Usage of `prompt_tokens` in and `completion_tokens` out; the total is their sum; no
    /// details.
    ///
    /// ```
    /// use handler_core::payload::TokenUsage;
    ///
    /// assert_eq!(TokenUsage::new(3, 1).total_tokens, 4);
    /// ```
    pub const fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
            cache_read_tokens: None,
            cache_write_tokens: None,
            reasoning_tokens: None,
        }
    }

    /// Sets the total as the server said it (some count tokens the two parts do not).
    #[must_use]
    pub const fn with_total_tokens(mut self, total_tokens: u64) -> Self {
        self.total_tokens = total_tokens;
        self
    }

    /// Sets the prompt tokens read from the prompt cache.
    #[must_use]
    pub const fn with_cache_read_tokens(mut self, tokens: u64) -> Self {
        self.cache_read_tokens = Some(tokens);
        self
    }

    /// Sets the prompt tokens written to the prompt cache.
    #[must_use]
    pub const fn with_cache_write_tokens(mut self, tokens: u64) -> Self {
        self.cache_write_tokens = Some(tokens);
        self
    }

    /// Sets the completion tokens spent reasoning.
    #[must_use]
    pub const fn with_reasoning_tokens(mut self, tokens: u64) -> Self {
        self.reasoning_tokens = Some(tokens);
        self
    }
}

/// Sums two usages (saturating, never overflowing). A detail is `Some` in the sum when either
/// side reported it: the sum of what was reported.
///
/// ```
/// use handler_core::payload::TokenUsage;
///
/// let mut sum = TokenUsage::new(10, 2);
/// sum += TokenUsage::new(20, 4).with_cache_read_tokens(16);
/// assert_eq!((sum.prompt_tokens, sum.total_tokens), (30, 36));
/// assert_eq!(sum.cache_read_tokens, Some(16));
/// assert_eq!(sum.reasoning_tokens, None);
/// ```
impl std::ops::AddAssign for TokenUsage {
    fn add_assign(&mut self, other: Self) {
        fn detail(mine: Option<u64>, theirs: Option<u64>) -> Option<u64> {
            match (mine, theirs) {
                (Some(a), Some(b)) => Some(a.saturating_add(b)),
                (a, b) => a.or(b),
            }
        }
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_tokens = self
            .completion_tokens
            .saturating_add(other.completion_tokens);
        self.total_tokens = self.total_tokens.saturating_add(other.total_tokens);
        self.cache_read_tokens = detail(self.cache_read_tokens, other.cache_read_tokens);
        self.cache_write_tokens = detail(self.cache_write_tokens, other.cache_write_tokens);
        self.reasoning_tokens = detail(self.reasoning_tokens, other.reasoning_tokens);
    }
}

/// `90 in (40 cached, 10 cache-write), 3 out (2 reasoning), 93 total`: each detail only when the
/// server reported it.
///
/// ```
/// use handler_core::payload::TokenUsage;
///
/// let usage = TokenUsage::new(90, 3).with_cache_read_tokens(40).with_reasoning_tokens(0);
/// assert_eq!(usage.to_string(), "90 in (40 cached), 3 out (0 reasoning), 93 total");
/// assert_eq!(TokenUsage::new(5, 2).to_string(), "5 in, 2 out, 7 total");
/// ```
impl fmt::Display for TokenUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in", self.prompt_tokens)?;
        let prompt_details = [
            (self.cache_read_tokens, "cached"),
            (self.cache_write_tokens, "cache-write"),
        ];
        let mut first = true;
        for (count, name) in prompt_details {
            if let Some(count) = count {
                f.write_str(if first { " (" } else { ", " })?;
                write!(f, "{count} {name}")?;
                first = false;
            }
        }
        if !first {
            f.write_str(")")?;
        }
        write!(f, ", {} out", self.completion_tokens)?;
        if let Some(reasoning) = self.reasoning_tokens {
            write!(f, " ({reasoning} reasoning)")?;
        }
        write!(f, ", {} total", self.total_tokens)
    }
}
