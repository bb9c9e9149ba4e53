//! Event categories and the interest masks built from them.

use std::fmt;

/// The category an event belongs to; each has an `ignore_*` flag, except [`Category::Text`],
/// which reaches every handler, as in LangChain.
///
/// New categories may come with new kinds of events, so matches need a wildcard arm; iterate
/// [`Category::ALL`] rather than counting them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Category {
    /// LLM start, end and error (and the LLM-start fallback of a chat start).
    Llm,
    /// Streamed tokens (LLM new token): gated by `ignore_llm` and by `ignore_llm_new_token`.
    /// A handler that wants a run's token count and time to first token but not each token
    /// ignores this category and reads [`StreamStats`](crate::payload::StreamStats) from the
    /// run's end.
    LlmNewToken,
    /// Chat model start only.
    ChatModel,
    /// Chain start, end and error.
    Chain,
    /// Agent action and finish, and tool start, end and error.
    Agent,
    /// Retriever start, end and error.
    Retriever,
    /// Retry.
    Retry,
    /// Custom events.
    CustomEvent,
    /// Text: no flag gates it.
    Text,
}

impl Category {
    /// Every category, in declaration order.
    ///
    /// ```
    /// use handler_core::event::Category;
    ///
    /// assert_eq!(Category::ALL.first(), Some(&Category::Llm));
    /// assert!(Category::ALL.iter().enumerate().all(|(i, c)| c.index() == i));
    /// ```
    pub const ALL: &'static [Category] = &Self::ARRAY;

    /// Every category, as an array: for tables indexed by category inside the crate. The public
    /// [`ALL`](Self::ALL) is a slice, so that adding a category changes no public type.
    pub(crate) const ARRAY: [Category; 9] = [
        Category::Llm,
        Category::LlmNewToken,
        Category::ChatModel,
        Category::Chain,
        Category::Agent,
        Category::Retriever,
        Category::Retry,
        Category::CustomEvent,
        Category::Text,
    ];

    /// The category's position in [`Category::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Category::Llm => "llm",
            Category::LlmNewToken => "llm_new_token",
            Category::ChatModel => "chat_model",
            Category::Chain => "chain",
            Category::Agent => "agent",
            Category::Retriever => "retriever",
            Category::Retry => "retry",
            Category::CustomEvent => "custom_event",
            Category::Text => "text",
        })
    }
}

/// A set of categories: which events a handler (or a whole manager) wants. Computed once, when a
/// handler is added, from its [`HandlerOptions`](crate::HandlerOptions).
///
/// ```
/// use handler_core::event::{Categories, Category};
///
/// let interest = Categories::NONE.with(Category::Llm);
/// assert!(interest.contains(Category::Llm));
/// assert!(!interest.contains(Category::Chain));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Categories(u16);

impl Categories {
    /// No category.
    pub const NONE: Categories = Categories(0);
    /// Every category.
    pub const ALL: Categories = Categories(u16::MAX);

    /// This set plus `category`.
    #[must_use]
    pub const fn with(self, category: Category) -> Self {
        Categories(self.0 | category.bit())
    }

    /// This set without `category`.
    #[must_use]
    pub const fn without(self, category: Category) -> Self {
        Categories(self.0 & !category.bit())
    }

    /// True when the set holds `category`.
    pub const fn contains(self, category: Category) -> bool {
        self.0 & category.bit() != 0
    }

    /// The union of two sets.
    #[must_use]
    pub const fn union(self, other: Categories) -> Self {
        Categories(self.0 | other.0)
    }
}

impl fmt::Debug for Categories {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(Category::ALL.iter().filter(|c| self.contains(**c)))
            .finish()
    }
}
