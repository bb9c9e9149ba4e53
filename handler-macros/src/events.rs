//! The table of events a method can be marked with: name, event type and category, plus the
//! "did you mean" lookup used in error messages.

/// The category whose `ignore_*` flag gates an event; mirrors `handler_core::event::Category` (a test
/// checks the two agree, as their `Debug` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    Llm,
    LlmNewToken,
    ChatModel,
    Chain,
    Agent,
    Retriever,
    Retry,
    CustomEvent,
    Text,
}

/// The categories with an `ignore_*` flag: all but text.
pub(crate) const FLAGGED: [Category; 8] = [
    Category::Llm,
    Category::LlmNewToken,
    Category::ChatModel,
    Category::Chain,
    Category::Agent,
    Category::Retriever,
    Category::Retry,
    Category::CustomEvent,
];

/// One event a method can handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventInfo {
    /// The name in `#[on(...)]`, also the trait method without its `on_` prefix.
    pub(crate) name: &'static str,
    /// The event struct's name in the core crate.
    pub(crate) ty: &'static str,
    /// Its category.
    pub(crate) category: Category,
}

const fn event(name: &'static str, ty: &'static str, category: Category) -> EventInfo {
    EventInfo { name, ty, category }
}

impl EventInfo {
    /// The handler trait method that receives the event: `on_<name>`.
    pub(crate) fn method(&self) -> String {
        format!("on_{}", self.name)
    }
}

/// Every event, in the order of the handler traits. `tests::matches_the_core` checks it against
/// `handler_core::event::EventKind::ALL`: names, event types, categories and trait methods.
pub(crate) const EVENTS: [EventInfo; 19] = [
    event("llm_start", "LlmStart", Category::Llm),
    event("chat_model_start", "ChatModelStart", Category::ChatModel),
    event("llm_new_token", "LlmNewToken", Category::LlmNewToken),
    event("llm_end", "LlmEnd", Category::Llm),
    event("llm_error", "LlmError", Category::Llm),
    event("chain_start", "ChainStart", Category::Chain),
    event("chain_end", "ChainEnd", Category::Chain),
    event("chain_error", "ChainError", Category::Chain),
    event("tool_start", "ToolStart", Category::Agent),
    event("tool_end", "ToolEnd", Category::Agent),
    event("tool_error", "ToolError", Category::Agent),
    event("retriever_start", "RetrieverStart", Category::Retriever),
    event("retriever_end", "RetrieverEnd", Category::Retriever),
    event("retriever_error", "RetrieverError", Category::Retriever),
    event("agent_action", "AgentAction", Category::Agent),
    event("agent_finish", "AgentFinish", Category::Agent),
    event("retry", "Retry", Category::Retry),
    event("text", "Text", Category::Text),
    event("custom_event", "CustomEvent", Category::CustomEvent),
];

/// The event called `name`.
pub(crate) fn lookup(name: &str) -> Option<&'static EventInfo> {
    EVENTS.iter().find(|e| e.name == name)
}

/// The event whose struct is called `ty`.
pub(crate) fn by_type(ty: &str) -> Option<&'static EventInfo> {
    EVENTS.iter().find(|e| e.ty == ty)
}

/// The message for an unknown event name: a suggestion when one is close, else the list.
pub(crate) fn unknown_event_message(name: &str) -> String {
    if let Some(stripped) = name.strip_prefix("on_")
        && lookup(stripped).is_some()
    {
        return format!("unknown event `{name}`; write it without `on_`: `{stripped}`");
    }
    if let Some(ty) = by_type(name) {
        return format!(
            "unknown event `{name}`; events are named in snake case: did you mean `{}`?",
            ty.name
        );
    }
    match closest(name, EVENTS.iter().map(|e| e.name)) {
        Some(best) => format!("unknown event `{name}`; did you mean `{best}`?"),
        None => {
            let all: Vec<&str> = EVENTS.iter().map(|e| e.name).collect();
            format!("unknown event `{name}`; the events are: {}", all.join(", "))
        }
    }
}

/// The candidate closest to `word`, if it is close enough to be a typo of it.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein edit distance (insertions, deletions, substitutions), by characters.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("chain_end", "chain_end"), 0);
        assert_eq!(distance("chian_end", "chain_end"), 2);
        assert_eq!(distance("llm_toke", "llm_token"), 1);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn suggestions() {
        assert!(unknown_event_message("chian_end").contains("did you mean `chain_end`"));
        assert!(unknown_event_message("llm_new_tokens").contains("did you mean `llm_new_token`"));
        assert!(unknown_event_message("on_chain_end").contains("without `on_`"));
        assert!(unknown_event_message("ChainEnd").contains("`chain_end`"));
        assert!(unknown_event_message("banana").contains("the events are: llm_start"));
    }

    /// The core's events, as this table spells them: (name, event type, category, method).
    fn core_events() -> Vec<(String, String, String, String)> {
        handler_core::event::EventKind::ALL
            .iter()
            .map(|kind| {
                (
                    kind.name().to_owned(),
                    format!("{kind:?}"),
                    format!("{:?}", kind.category()),
                    kind.method_name(),
                )
            })
            .collect()
    }

    fn table_events() -> Vec<(String, String, String, String)> {
        EVENTS
            .iter()
            .map(|e| {
                (
                    e.name.to_owned(),
                    e.ty.to_owned(),
                    format!("{:?}", e.category),
                    e.method(),
                )
            })
            .collect()
    }

    /// Fails when the core gains an event the macros do not know, or the other way round, or
    /// when one event differs in its type, category or method.
    #[test]
    fn matches_the_core() {
        let core = core_events();
        let table = table_events();
        let missing: Vec<_> = core.iter().filter(|e| !table.contains(e)).collect();
        let extra: Vec<_> = table.iter().filter(|e| !core.contains(e)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "the macros' event table differs from the core's EventKind::ALL\n\
             in the core only: {missing:?}\nin the macros only: {extra:?}"
        );
        assert_eq!(table.len(), core.len());
    }

    /// The categories the macros compute flags for are the core's, text aside (it has none).
    #[test]
    fn flagged_categories_match_the_core() {
        let core: Vec<String> = handler_core::event::Category::ALL
            .iter()
            .filter(|c| **c != handler_core::event::Category::Text)
            .map(|c| format!("{c:?}"))
            .collect();
        let flagged: Vec<String> = FLAGGED.iter().map(|c| format!("{c:?}")).collect();
        assert_eq!(flagged, core);
    }

    #[test]
    fn table_is_complete() {
        assert_eq!(
            lookup("tool_end").map(|e| e.category),
            Some(Category::Agent)
        );
        assert_eq!(by_type("Text").map(|e| e.name), Some("text"));
        for (i, e) in EVENTS.iter().enumerate() {
            assert!(EVENTS[..i].iter().all(|o| o.name != e.name && o.ty != e.ty));
        }
    }
}
