//! From events to span attributes: what each kind of run says about itself, in OpenInference's
//! and GenAI's words, with the privacy switches and the size cap applied.

use handler_core::RunContext;
use handler_core::payload::{ChatMessage, Document, LlmResult, Serialized};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use serde_json::Value as Json;

use crate::config::OtelConfig;
use crate::semconv as k;

/// What kind of step a span is, in OpenInference's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// A chain or any other step.
    Chain,
    /// A model call (text or chat).
    Llm,
    /// A tool call.
    Tool,
    /// A retriever.
    Retriever,
    /// An agent (a chain that chose actions).
    Agent,
    /// An evaluation of another span.
    Evaluator,
}

impl SpanKind {
    /// The value of `openinference.span.kind`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SpanKind::Chain => "CHAIN",
            SpanKind::Llm => "LLM",
            SpanKind::Tool => "TOOL",
            SpanKind::Retriever => "RETRIEVER",
            SpanKind::Agent => "AGENT",
            SpanKind::Evaluator => "EVALUATOR",
        }
    }

    /// The span name used when the run has no name.
    pub const fn default_name(self) -> &'static str {
        match self {
            SpanKind::Chain => "chain",
            SpanKind::Llm => "llm",
            SpanKind::Tool => "tool",
            SpanKind::Retriever => "retriever",
            SpanKind::Agent => "agent",
            SpanKind::Evaluator => "evaluation",
        }
    }
}

/// Builds attribute values under the configured privacy switches and size cap.
#[derive(Debug, Clone, Copy)]
pub struct Mapper<'a> {
    config: &'a OtelConfig,
}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain";

impl<'a> Mapper<'a> {
    /// A mapper for `config`.
    pub fn new(config: &'a OtelConfig) -> Self {
        Self { config }
    }

    /// A string value, cut at the size cap (on a character boundary).
    pub fn text(&self, text: &str) -> Value {
        Value::String(self.cut(text).into())
    }

    fn cut(&self, text: &str) -> String {
        let max = self.config.max_attribute_len;
        if text.len() <= max {
            return text.to_owned();
        }
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_owned()
    }

    /// A JSON value as a string (a JSON string becomes its text), cut at the size cap.
    pub fn json(&self, value: &Json) -> Value {
        match value {
            Json::String(text) => self.text(text),
            other => self.text(&other.to_string()),
        }
    }

    fn io(&self, out: &mut Vec<KeyValue>, input: bool, value: &Json) {
        let (key, mime) = if input {
            (k::INPUT_VALUE, k::INPUT_MIME_TYPE)
        } else {
            (k::OUTPUT_VALUE, k::OUTPUT_MIME_TYPE)
        };
        if (input && self.config.hide_inputs) || (!input && self.config.hide_outputs) {
            return;
        }
        let kind = if value.is_string() { TEXT } else { JSON };
        out.push(KeyValue::new(key, self.json(value)));
        out.push(KeyValue::new(mime, kind));
    }

    fn io_text(&self, out: &mut Vec<KeyValue>, input: bool, text: &str) {
        let (key, mime, hidden) = if input {
            (k::INPUT_VALUE, k::INPUT_MIME_TYPE, self.config.hide_inputs)
        } else {
            (
                k::OUTPUT_VALUE,
                k::OUTPUT_MIME_TYPE,
                self.config.hide_outputs,
            )
        };
        if !hidden {
            out.push(KeyValue::new(key, self.text(text)));
            out.push(KeyValue::new(mime, TEXT));
        }
    }

    /// What every span carries: kind, run id and type, tags, metadata.
    pub fn run(&self, kind: SpanKind, run: &RunContext) -> Vec<KeyValue> {
        let mut out = Vec::with_capacity(16);
        out.push(KeyValue::new(k::SPAN_KIND, kind.as_str()));
        out.push(KeyValue::new(k::RUN_ID, run.run_id.to_string()));
        if let Some(run_type) = &run.run_type {
            out.push(KeyValue::new(k::RUN_TYPE, run_type.clone()));
        }
        if !run.tags.is_empty() {
            let tags: Vec<StringValue> = run.tags.iter().map(|t| t.clone().into()).collect();
            out.push(KeyValue::new(
                k::TAG_TAGS,
                Value::Array(Array::String(tags)),
            ));
        }
        if !run.metadata.is_empty() {
            let metadata = Json::Object((*run.metadata).clone());
            out.push(KeyValue::new(k::METADATA, self.json(&metadata)));
            for (field, key) in [("session_id", k::SESSION_ID), ("user_id", k::USER_ID)] {
                if let Some(value) = run.metadata.get(field) {
                    out.push(KeyValue::new(key, self.json(value)));
                }
            }
        }
        out
    }

    /// A chain's inputs.
    pub fn chain_start(&self, out: &mut Vec<KeyValue>, inputs: &Json) {
        self.io(out, true, inputs);
    }

    /// A chain's, or a tool's, outputs.
    pub fn outputs(&self, out: &mut Vec<KeyValue>, outputs: &Json) {
        self.io(out, false, outputs);
    }

    /// The model, its parameters and the GenAI operation of a model run.
    pub fn model(&self, out: &mut Vec<KeyValue>, serialized: Option<&Serialized>, chat: bool) {
        let operation = if chat { "chat" } else { "text_completion" };
        out.push(KeyValue::new(k::GEN_AI_OPERATION_NAME, operation));
        let Some(serialized) = serialized else {
            return;
        };
        let model = ["model_name", "model", "model_id"]
            .iter()
            .find_map(|key| serialized.kwargs.get(*key).and_then(Json::as_str))
            .map(str::to_owned)
            .or_else(|| serialized.name.clone());
        if let Some(model) = model {
            out.push(KeyValue::new(k::LLM_MODEL_NAME, self.text(&model)));
            out.push(KeyValue::new(k::GEN_AI_REQUEST_MODEL, self.text(&model)));
        }
        if !serialized.kwargs.is_empty() {
            let parameters = Json::Object(serialized.kwargs.clone());
            out.push(KeyValue::new(
                k::LLM_INVOCATION_PARAMETERS,
                self.json(&parameters),
            ));
        }
        if let Some(temperature) = serialized.kwargs.get("temperature").and_then(Json::as_f64) {
            out.push(KeyValue::new(k::GEN_AI_REQUEST_TEMPERATURE, temperature));
        }
    }

    /// A text model's prompt.
    pub fn prompt(&self, out: &mut Vec<KeyValue>, prompt: &str) {
        self.io_text(out, true, prompt);
        if !self.config.hide_inputs {
            self.message(out, k::LLM_INPUT_MESSAGES, 0, "user", prompt);
        }
    }

    /// A chat model's conversation.
    pub fn messages(&self, out: &mut Vec<KeyValue>, messages: &[ChatMessage]) {
        if self.config.hide_inputs {
            return;
        }
        if let Ok(json) = serde_json::to_value(messages) {
            self.io(out, true, &json);
        }
        for (i, message) in messages.iter().enumerate() {
            let role = role_name(message);
            self.message(out, k::LLM_INPUT_MESSAGES, i, role, &message.content);
        }
    }

    fn message(&self, out: &mut Vec<KeyValue>, prefix: &str, i: usize, role: &str, text: &str) {
        out.push(KeyValue::new(
            format!("{prefix}.{i}.message.role"),
            role.to_owned(),
        ));
        out.push(KeyValue::new(
            format!("{prefix}.{i}.message.content"),
            self.text(text),
        ));
    }

    /// What a model run produced: its text, messages, model and token usage.
    pub fn llm_end(&self, out: &mut Vec<KeyValue>, response: &LlmResult) {
        if !self.config.hide_outputs {
            if let Some(text) = response.first_text() {
                self.io_text(out, false, text);
            }
            let first = response.generations.first().into_iter().flatten();
            for (i, generation) in first.enumerate() {
                let (role, content) = match &generation.message {
                    Some(message) => (role_name(message), message.content.as_str()),
                    None => ("assistant", generation.text.as_str()),
                };
                self.message(out, k::LLM_OUTPUT_MESSAGES, i, role, content);
            }
        }
        if let Some(model) = &response.model_name {
            out.push(KeyValue::new(k::GEN_AI_RESPONSE_MODEL, self.text(model)));
        }
        if let Some(usage) = response.token_usage {
            let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            out.push(KeyValue::new(
                k::LLM_TOKEN_COUNT_PROMPT,
                count(usage.prompt_tokens),
            ));
            out.push(KeyValue::new(
                k::LLM_TOKEN_COUNT_COMPLETION,
                count(usage.completion_tokens),
            ));
            out.push(KeyValue::new(
                k::LLM_TOKEN_COUNT_TOTAL,
                count(usage.total_tokens),
            ));
            out.push(KeyValue::new(
                k::GEN_AI_USAGE_INPUT_TOKENS,
                count(usage.prompt_tokens),
            ));
            out.push(KeyValue::new(
                k::GEN_AI_USAGE_OUTPUT_TOKENS,
                count(usage.completion_tokens),
            ));
        }
    }

    /// A tool's name, description, parameters and input.
    pub fn tool_start(
        &self,
        out: &mut Vec<KeyValue>,
        name: &str,
        serialized: Option<&Serialized>,
        input: &str,
        inputs: Option<&Json>,
    ) {
        out.push(KeyValue::new(k::GEN_AI_OPERATION_NAME, "execute_tool"));
        out.push(KeyValue::new(k::TOOL_NAME, self.text(name)));
        out.push(KeyValue::new(k::GEN_AI_TOOL_NAME, self.text(name)));
        if let Some(description) = serialized
            .and_then(|s| s.kwargs.get("description"))
            .and_then(Json::as_str)
        {
            out.push(KeyValue::new(k::TOOL_DESCRIPTION, self.text(description)));
        }
        match inputs {
            Some(inputs) => {
                if !self.config.hide_inputs {
                    out.push(KeyValue::new(k::TOOL_PARAMETERS, self.json(inputs)));
                }
                self.io(out, true, inputs);
            }
            None => self.io_text(out, true, input),
        }
    }

    /// The attributes of an agent action event; its input and reasoning are inputs.
    pub fn agent_action(&self, tool: &str, input: &Json, log: &str) -> Vec<KeyValue> {
        let mut out = vec![KeyValue::new(k::TOOL_NAME, self.text(tool))];
        if !self.config.hide_inputs {
            out.push(KeyValue::new(k::TOOL_PARAMETERS, self.json(input)));
            out.push(KeyValue::new("agent.log", self.text(log)));
        }
        out
    }

    /// The attributes of an agent finish event; its values and reasoning are outputs.
    pub fn agent_finish(&self, return_values: &Json, log: &str) -> Vec<KeyValue> {
        if self.config.hide_outputs {
            return Vec::new();
        }
        vec![
            KeyValue::new("agent.return_values", self.json(return_values)),
            KeyValue::new("agent.log", self.text(log)),
        ]
    }

    /// A retriever's query.
    pub fn retriever_start(&self, out: &mut Vec<KeyValue>, query: &str) {
        self.io_text(out, true, query);
    }

    /// The documents a retriever found.
    pub fn documents(&self, out: &mut Vec<KeyValue>, documents: &[Document]) {
        if self.config.hide_outputs {
            return;
        }
        for (i, document) in documents.iter().enumerate() {
            let key = |field: &str| format!("{}.{i}.document.{field}", k::RETRIEVAL_DOCUMENTS);
            out.push(KeyValue::new(
                key("content"),
                self.text(&document.page_content),
            ));
            if let Some(id) = &document.id {
                out.push(KeyValue::new(key("id"), self.text(id)));
            }
            if let Some(score) = document.metadata.get("score").and_then(Json::as_f64) {
                out.push(KeyValue::new(key("score"), score));
            }
            if !document.metadata.is_empty() {
                let metadata = Json::Object(document.metadata.clone());
                out.push(KeyValue::new(key("metadata"), self.json(&metadata)));
            }
        }
    }
}

fn role_name(message: &ChatMessage) -> &str {
    use handler_core::payload::Role;
    match &message.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
        Role::Function => "function",
        Role::Other(name) => name,
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'v>(attributes: &'v [KeyValue], key: &str) -> Option<&'v Value> {
        attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    #[test]
    fn long_values_are_cut_on_a_character_boundary() {
        let config = OtelConfig {
            max_attribute_len: 4,
            ..OtelConfig::default()
        };
        let mapper = Mapper::new(&config);
        assert_eq!(mapper.text("abcdef").as_str(), "abcd");
        assert_eq!(mapper.text("abcé").as_str(), "abc"); // é is two bytes
    }

    #[test]
    fn hidden_inputs_and_outputs_leave_no_trace() {
        let config = OtelConfig {
            hide_inputs: true,
            hide_outputs: true,
            ..OtelConfig::default()
        };
        let mapper = Mapper::new(&config);
        let mut out = Vec::new();
        mapper.prompt(&mut out, "secret prompt");
        mapper.chain_start(&mut out, &serde_json::json!({"q": "secret"}));
        mapper.llm_end(&mut out, &LlmResult::from_text("secret answer"));
        mapper.documents(&mut out, &[Document::new("secret document")]);
        out.extend(mapper.agent_action("calc", &serde_json::json!("secret"), "secret plan"));
        out.extend(mapper.agent_finish(&serde_json::json!("secret"), "secret log"));
        let leaked: Vec<_> = out
            .iter()
            .filter(|kv| kv.value.as_str().contains("secret"))
            .collect();
        assert!(leaked.is_empty(), "{leaked:?}");
    }

    #[test]
    fn documents_carry_content_id_score_and_metadata() {
        let config = OtelConfig::default();
        let mut out = Vec::new();
        let document = Document::new("Venus")
            .with_id("d1")
            .with_metadata("score", 0.5);
        Mapper::new(&config).documents(&mut out, &[document]);
        let get = |key: &str| find(&out, key).map(|v| v.as_str().into_owned());
        assert_eq!(
            get("retrieval.documents.0.document.content").as_deref(),
            Some("Venus")
        );
        assert_eq!(
            get("retrieval.documents.0.document.id").as_deref(),
            Some("d1")
        );
        assert_eq!(
            get("retrieval.documents.0.document.score").as_deref(),
            Some("0.5")
        );
        assert_eq!(
            get("retrieval.documents.0.document.metadata").as_deref(),
            Some(r#"{"score":0.5}"#)
        );
    }
}
