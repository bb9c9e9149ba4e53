//! Which provider serves a model run, in each convention's words: OpenInference's
//! `llm.provider` and `llm.system`, GenAI's `gen_ai.provider.name`. With the model's name, the
//! provider is what Phoenix prices a run by.
//!
//! Read from the component that starts the run: an explicit `provider` (or LangChain's
//! `ls_provider`) argument, else a known provider named in its id path or its `_type`
//! (`["llm_callbacks", "openai", "ChatOpenAI"]`, `openai-chat`).

use handler_core::payload::Serialized;
use serde_json::Value as Json;

/// A provider's names under the three attributes (`llm.system` only where OpenInference
/// defines one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Provider<'a> {
    pub llm_provider: &'a str,
    pub llm_system: Option<&'a str>,
    pub gen_ai: &'a str,
}

/// The providers recognised in a component's id path or `_type`: the name matched, then the
/// names under `llm.provider`, `llm.system` and `gen_ai.provider.name`.
const KNOWN: [(&str, Provider<'static>); 9] = [
    ("openai", provider("openai", Some("openai"), "openai")),
    (
        "azure",
        provider("azure", Some("openai"), "azure.ai.openai"),
    ),
    (
        "anthropic",
        provider("anthropic", Some("anthropic"), "anthropic"),
    ),
    (
        "mistralai",
        provider("mistralai", Some("mistralai"), "mistral_ai"),
    ),
    ("cohere", provider("cohere", Some("cohere"), "cohere")),
    (
        "vertexai",
        provider("google", Some("vertexai"), "gcp.vertex_ai"),
    ),
    ("groq", provider("groq", None, "groq")),
    ("deepseek", provider("deepseek", None, "deepseek")),
    ("xai", provider("xai", None, "x_ai")),
];

const fn provider(
    llm_provider: &'static str,
    llm_system: Option<&'static str>,
    gen_ai: &'static str,
) -> Provider<'static> {
    Provider {
        llm_provider,
        llm_system,
        gen_ai,
    }
}

/// The provider of the model `serialized` starts, when it says or it can be told.
pub(crate) fn of(serialized: &Serialized) -> Option<Provider<'_>> {
    let kwargs = &serialized.kwargs;
    let named = ["provider", "ls_provider"]
        .iter()
        .find_map(|key| kwargs.get(*key).and_then(Json::as_str))
        .map(str::trim)
        .filter(|name| !name.is_empty());
    if let Some(name) = named {
        return Some(known(name).unwrap_or(Provider {
            llm_provider: name,
            llm_system: None,
            gen_ai: name,
        }));
    }
    let kind = kwargs.get("_type").and_then(Json::as_str);
    let kind = kind.and_then(|t| t.split(['-', '_']).next());
    serialized
        .id
        .iter()
        .map(String::as_str)
        .chain(kind)
        .find_map(known)
}

fn known(name: &str) -> Option<Provider<'static>> {
    KNOWN
        .iter()
        .find(|(known, _)| name.eq_ignore_ascii_case(known))
        .map(|(_, provider)| *provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_comes_from_an_argument_the_id_path_or_the_type() {
        let openai = Serialized::new(["llm_callbacks", "openai", "ChatOpenAI"]);
        let mut typed = Serialized::named("chat");
        typed
            .kwargs
            .insert("_type".into(), Json::from("anthropic-chat"));
        let mut explicit = Serialized::new(["llm_callbacks", "openai", "ChatOpenAI"]);
        explicit
            .kwargs
            .insert("provider".into(), Json::from("together"));
        let mut azure = Serialized::named("chat");
        azure
            .kwargs
            .insert("ls_provider".into(), Json::from("azure"));
        let cases = [
            (&openai, Some(("openai", Some("openai"), "openai"))),
            (&typed, Some(("anthropic", Some("anthropic"), "anthropic"))),
            (&explicit, Some(("together", None, "together"))),
            (&azure, Some(("azure", Some("openai"), "azure.ai.openai"))),
            (&Serialized::named("stand-in"), None),
        ];
        for (serialized, expected) in cases {
            let found = of(serialized).map(|p| (p.llm_provider, p.llm_system, p.gen_ai));
            assert_eq!(found, expected, "{serialized:?}");
        }
    }
}
