//! From events to span attributes: what each kind of run says about itself, in OpenInference's
//! and GenAI's words, with the privacy switches and the size cap applied.

use handler_core::RunContext;
use handler_core::payload::{ChatMessage, Document, ErrorInfo, LlmResult, RetryState, Serialized};
use opentelemetry::trace::Status;
use serde_json::Value as Json;

use crate::capture::{Capture, Part, Redactor, SafeParameters, is_safe_parameter};
use crate::config::OtelConfig;
use crate::semconv as k;
use crate::values::{Key, Values};

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

/// Writes a run's attributes under the configured capture switch, hiding switches and
/// redaction hook (the size cap is applied by [`Values`]). Every piece of content goes through
/// [`Mapper::content`]-style gates here, and nowhere else.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mapper<'a> {
    config: &'a OtelConfig,
    capture: Capture,
}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain";

impl<'a> Mapper<'a> {
    /// A mapper for `config`.
    pub(crate) fn new(config: &'a OtelConfig) -> Self {
        Self {
            config,
            capture: Capture::new(
                config.capture_content,
                config.hide_inputs,
                config.hide_outputs,
            ),
        }
    }

    /// Empty values for a span, with the configured cap.
    #[cfg(test)]
    pub(crate) fn values(&self) -> Values {
        Values::with_limits(
            self.config.max_attribute_len,
            self.config.max_span_attributes,
        )
    }

    /// Empty values for an event, with the configured cap.
    pub(crate) fn event_values(&self) -> Values {
        Values::small(
            self.config.max_attribute_len,
            self.config.max_span_attributes,
        )
    }

    /// True when content of `part` may be exported.
    pub(crate) fn captures(&self, part: Part) -> bool {
        self.capture.allows(part)
    }

    fn redactor(&self) -> Option<&'a Redactor> {
        self.config.redactor.as_ref()
    }

    /// Captured text of `part`, redacted; nothing when not captured.
    pub(crate) fn content(&self, out: &mut Values, part: Part, key: impl Into<Key>, text: &str) {
        if self.captures(part) {
            out.text_redacted(key, text, self.redactor());
        }
    }

    /// Captured JSON of `part`, redacted; nothing when not captured.
    pub(crate) fn content_json(
        &self,
        out: &mut Values,
        part: Part,
        key: impl Into<Key>,
        value: &Json,
    ) {
        if self.captures(part) {
            out.json_redacted(key, value, self.redactor());
        }
    }

    /// A captured string of `part`, redacted, for a place that is not an attribute (a span's
    /// status, an annotation); `None` when not captured.
    pub(crate) fn content_string(&self, part: Part, text: &str) -> Option<String> {
        if !self.captures(part) {
            return None;
        }
        Some(match self.redactor() {
            Some(redactor) => redactor.apply(text).into_owned(),
            None => text.to_owned(),
        })
    }

    fn part(input: bool) -> Part {
        if input { Part::Input } else { Part::Output }
    }

    fn io_keys(input: bool) -> (&'static str, &'static str) {
        if input {
            (k::INPUT_VALUE, k::INPUT_MIME_TYPE)
        } else {
            (k::OUTPUT_VALUE, k::OUTPUT_MIME_TYPE)
        }
    }

    fn io(&self, out: &mut Values, input: bool, value: &Json) {
        if !self.captures(Self::part(input)) {
            return;
        }
        let (key, mime) = Self::io_keys(input);
        out.json_redacted(key, value, self.redactor());
        out.static_text(mime, if value.is_string() { TEXT } else { JSON });
    }

    fn io_text(&self, out: &mut Values, input: bool, text: &str) {
        if !self.captures(Self::part(input)) {
            return;
        }
        let (key, mime) = Self::io_keys(input);
        out.text_redacted(key, text, self.redactor());
        out.static_text(mime, TEXT);
    }

    /// What every span carries: run id and type, tags, metadata (the kind is added on export).
    pub(crate) fn run(&self, out: &mut Values, run: &RunContext) {
        out.uuid(k::RUN_ID, run.run_id);
        if let Some(run_type) = &run.run_type {
            out.text(k::RUN_TYPE, run_type);
        }
        if !run.tags.is_empty() {
            out.texts(k::TAG_TAGS, &run.tags);
        }
        if !run.metadata.is_empty() {
            out.serialized(k::METADATA, &*run.metadata);
            for (field, key) in [("session_id", k::SESSION_ID), ("user_id", k::USER_ID)] {
                if let Some(value) = run.metadata.get(field) {
                    out.json(key, value);
                }
            }
        }
    }

    /// A chain's inputs.
    pub(crate) fn chain_start(&self, out: &mut Values, inputs: &Json) {
        self.io(out, true, inputs);
    }

    /// A chain's, or a tool's, outputs.
    pub(crate) fn outputs(&self, out: &mut Values, outputs: &Json) {
        self.io(out, false, outputs);
    }

    /// The model, its parameters and the GenAI operation of a model run. Without content
    /// capture only the [safe parameters](crate::SAFE_INVOCATION_PARAMETERS) are written.
    pub(crate) fn model(&self, out: &mut Values, serialized: Option<&Serialized>, chat: bool) {
        let operation = if chat { "chat" } else { "text_completion" };
        out.static_text(k::GEN_AI_OPERATION_NAME, operation);
        let Some(serialized) = serialized else {
            return;
        };
        let kwargs = &serialized.kwargs;
        let model = ["model_name", "model", "model_id"]
            .iter()
            .find_map(|key| kwargs.get(*key).and_then(Json::as_str))
            .or(serialized.name.as_deref());
        if let Some(model) = model {
            out.text(k::LLM_MODEL_NAME, model);
            out.text(k::GEN_AI_REQUEST_MODEL, model);
        }
        if let Some(provider) = crate::provider::of(serialized) {
            out.text(k::LLM_PROVIDER, provider.llm_provider);
            if let Some(system) = provider.llm_system {
                out.text(k::LLM_SYSTEM, system);
            }
            out.text(k::GEN_AI_PROVIDER_NAME, provider.gen_ai);
        }
        if self.captures(Part::Other) {
            if !kwargs.is_empty() {
                out.serialized_redacted(k::LLM_INVOCATION_PARAMETERS, kwargs, self.redactor());
            }
        } else if kwargs.keys().any(|key| is_safe_parameter(key)) {
            out.serialized(k::LLM_INVOCATION_PARAMETERS, &SafeParameters(kwargs));
        }
        if let Some(temperature) = kwargs.get("temperature").and_then(Json::as_f64) {
            out.f64(k::GEN_AI_REQUEST_TEMPERATURE, temperature);
        }
    }

    /// A text model's prompt.
    pub(crate) fn prompt(&self, out: &mut Values, prompt: &str) {
        if !self.captures(Part::Input) {
            return;
        }
        self.io_text(out, true, prompt);
        self.message(
            out,
            k::LLM_INPUT_MESSAGES,
            0,
            RoleName::Known("user"),
            prompt,
        );
    }

    /// A chat model's conversation.
    pub(crate) fn messages(&self, out: &mut Values, messages: &[ChatMessage]) {
        if !self.captures(Part::Input) {
            return;
        }
        out.serialized_redacted(k::INPUT_VALUE, messages, self.redactor());
        out.static_text(k::INPUT_MIME_TYPE, JSON);
        for (i, message_) in messages.iter().enumerate() {
            let role = role_name(message_);
            self.message(out, k::LLM_INPUT_MESSAGES, i, role, &message_.content);
        }
    }

    /// What a model run produced: its text, messages, model and token usage (with the details
    /// the server reported). Its cost is added on the export thread.
    pub(crate) fn llm_end(&self, out: &mut Values, response: &LlmResult) {
        if self.captures(Part::Output) {
            if let Some(text) = response.first_text() {
                self.io_text(out, false, text);
            }
            let first = response.generations.first().into_iter().flatten();
            for (i, generation) in first.enumerate() {
                let (role, content) = match &generation.message {
                    Some(message) => (role_name(message), message.content.as_str()),
                    None => (RoleName::Known("assistant"), generation.text.as_str()),
                };
                self.message(out, k::LLM_OUTPUT_MESSAGES, i, role, content);
            }
        }
        if let Some(model) = &response.model_name {
            out.text(k::GEN_AI_RESPONSE_MODEL, model);
        }
        if let Some(usage) = response.token_usage {
            out.count(k::LLM_TOKEN_COUNT_PROMPT, usage.prompt_tokens);
            out.count(k::LLM_TOKEN_COUNT_COMPLETION, usage.completion_tokens);
            out.count(k::LLM_TOKEN_COUNT_TOTAL, usage.total_tokens);
            out.count(k::GEN_AI_USAGE_INPUT_TOKENS, usage.prompt_tokens);
            out.count(k::GEN_AI_USAGE_OUTPUT_TOKENS, usage.completion_tokens);
            let details = [
                (
                    usage.cache_read_tokens,
                    k::LLM_TOKEN_COUNT_PROMPT_CACHE_READ,
                    k::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                ),
                (
                    usage.cache_write_tokens,
                    k::LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE,
                    k::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
                ),
                (
                    usage.reasoning_tokens,
                    k::LLM_TOKEN_COUNT_COMPLETION_REASONING,
                    k::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
                ),
            ];
            for (tokens, openinference, gen_ai) in details {
                if let Some(tokens) = tokens {
                    out.count(openinference, tokens);
                    out.count(gen_ai, tokens);
                }
            }
        }
    }

    /// A tool's name, description, parameters and input.
    pub(crate) fn tool_start(
        &self,
        out: &mut Values,
        name: &str,
        serialized: Option<&Serialized>,
        input: &str,
        inputs: Option<&Json>,
    ) {
        out.static_text(k::GEN_AI_OPERATION_NAME, "execute_tool");
        out.text(k::TOOL_NAME, name);
        out.text(k::GEN_AI_TOOL_NAME, name);
        if let Some(description) = serialized
            .and_then(|s| s.kwargs.get("description"))
            .and_then(Json::as_str)
        {
            out.text(k::TOOL_DESCRIPTION, description);
        }
        match inputs {
            Some(inputs) => {
                self.content_json(out, Part::Input, k::TOOL_PARAMETERS, inputs);
                self.io(out, true, inputs);
            }
            None => self.io_text(out, true, input),
        }
    }

    /// The attributes of an agent action event; its input and reasoning are inputs.
    pub(crate) fn agent_action(&self, tool: &str, input: &Json, log: &str) -> Values {
        let mut out = self.event_values();
        out.text(k::TOOL_NAME, tool);
        self.content_json(&mut out, Part::Input, k::TOOL_PARAMETERS, input);
        self.content(&mut out, Part::Input, "agent.log", log);
        out
    }

    /// The attributes of an agent finish event; its values and reasoning are outputs.
    pub(crate) fn agent_finish(&self, return_values: &Json, log: &str) -> Values {
        let mut out = self.event_values();
        self.content_json(&mut out, Part::Output, "agent.return_values", return_values);
        self.content(&mut out, Part::Output, "agent.log", log);
        out
    }

    /// A retriever's query.
    pub(crate) fn retriever_start(&self, out: &mut Values, query: &str) {
        self.io_text(out, true, query);
    }

    /// The documents a retriever found: ids and scores always, content and metadata when
    /// outputs are captured.
    pub(crate) fn documents(&self, out: &mut Values, documents: &[Document]) {
        let content = self.captures(Part::Output);
        for (i, document) in documents.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let key = |field| Key::Indexed(k::RETRIEVAL_DOCUMENTS, i, field);
            if content {
                out.text_redacted(
                    key("document.content"),
                    &document.page_content,
                    self.redactor(),
                );
            }
            if let Some(id) = &document.id {
                out.text(key("document.id"), id);
            }
            if let Some(score) = document.metadata.get("score").and_then(Json::as_f64) {
                out.f64(key("document.score"), score);
            }
            if content && !document.metadata.is_empty() {
                out.serialized_redacted(
                    key("document.metadata"),
                    &document.metadata,
                    self.redactor(),
                );
            }
        }
    }

    /// A failed run's status, and its `exception` event: the error's kind always, its message
    /// only when content is captured (a model's answer may be in it).
    pub(crate) fn failure(&self, error: &ErrorInfo) -> (Status, Values) {
        let message = self.content_string(Part::Other, &error.message);
        let status = match &message {
            Some(message) => Status::error(format!("{}: {message}", error.kind)),
            None => Status::error(error.kind.clone()),
        };
        let mut exception = self.event_values();
        exception.text("exception.type", &error.kind);
        if let Some(message) = &message {
            exception.text("exception.message", message);
        }
        (status, exception)
    }

    /// A retry event: the attempt, the time waited and the outcome's status always; the
    /// outcome itself (an error message, a response) only when content is captured.
    pub(crate) fn retry(&self, state: &RetryState) -> Values {
        let mut values = self.event_values();
        values.i64("retry.attempt", i64::from(state.attempt));
        values.f64("retry.idle_for_secs", state.idle_for_secs);
        let outcome = serde_json::to_value(&state.outcome).unwrap_or_default();
        if let Some(status) = outcome.get("status").and_then(Json::as_str) {
            values.text("retry.outcome.status", status);
        }
        self.content_json(&mut values, Part::Other, "retry.outcome", &outcome);
        values
    }

    /// A text event: what a run printed is output.
    pub(crate) fn text_event(&self, text: &str) -> Values {
        let mut values = self.event_values();
        self.content(&mut values, Part::Output, "text", text);
        values
    }

    /// A custom event: its name always, its data only when content is captured.
    pub(crate) fn custom_event(&self, name: &str, data: &Json) -> Values {
        let mut values = self.event_values();
        values.text("custom_event.name", name);
        self.content_json(&mut values, Part::Other, "custom_event.data", data);
        values
    }

    /// One message of a conversation: its role always, its content redacted, under
    /// `{prefix}.{i}.message.*` (callers check that the part is captured).
    fn message(
        &self,
        out: &mut Values,
        prefix: &'static str,
        i: usize,
        role: RoleName<'_>,
        text: &str,
    ) {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        let key = Key::Indexed(prefix, i, "message.role");
        match role {
            RoleName::Known(role) => out.static_text(key, role),
            RoleName::Other(role) => out.text(key, role),
        }
        out.text_redacted(
            Key::Indexed(prefix, i, "message.content"),
            text,
            self.redactor(),
        );
    }
}

/// A message's role: a constant for the known roles (no copy), else the role's own name.
#[derive(Clone, Copy)]
enum RoleName<'m> {
    Known(&'static str),
    Other(&'m str),
}

fn role_name(message: &ChatMessage) -> RoleName<'_> {
    use handler_core::payload::Role;
    RoleName::Known(match &message.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
        Role::Function => "function",
        Role::Other(name) => return RoleName::Other(name),
        _ => "unknown",
    })
}

#[cfg(test)]
mod tests;
