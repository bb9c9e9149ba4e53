//! What a chat model start carries: the request's messages as the core's chat messages, and
//! its invocation parameters.

use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, ChatCompletionRequestMessage, CreateChatCompletionRequest,
    FunctionCall,
};
use handler_core::payload::{ChatMessage, Metadata, Role, Serialized, ToolCall};
use serde::Serialize;
use serde_json::Value;

/// The id of the component that starts the client's chat model runs.
pub const COMPONENT_ID: [&str; 3] = ["llm_callbacks", "openai", "ChatOpenAI"];

/// The run name of the client's chat model runs.
pub const RUN_NAME: &str = "ChatOpenAI";

/// The request's messages as the core's chat messages: roles, text, names, tool calls and the
/// ids of the calls tool messages answer. Content given as parts keeps its text parts (joined
/// by newlines); images, audio and files are left out.
///
/// ```
/// use async_openai::types::chat::{
///     ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
/// };
/// use llm_callbacks_openai::chat_messages;
/// use llm_callbacks_openai::payload::ChatMessage;
///
/// let messages = [
///     ChatCompletionRequestSystemMessage::from("Be brief.").into(),
///     ChatCompletionRequestUserMessage::from("Where is Paris?").into(),
/// ];
/// assert_eq!(
///     chat_messages(&messages),
///     [ChatMessage::system("Be brief."), ChatMessage::user("Where is Paris?")]
/// );
/// ```
pub fn chat_messages(messages: &[ChatCompletionRequestMessage]) -> Vec<ChatMessage> {
    messages.iter().map(chat_message).collect()
}

// `function_call` is deprecated, but older servers and conversations still carry it.
#[allow(deprecated)]
fn chat_message(message: &ChatCompletionRequestMessage) -> ChatMessage {
    let (mut chat, name) = match message {
        ChatCompletionRequestMessage::Developer(m) => (
            ChatMessage::new(Role::Other("developer".into()), text_of(&m.content)),
            m.name.clone(),
        ),
        ChatCompletionRequestMessage::System(m) => {
            (ChatMessage::system(text_of(&m.content)), m.name.clone())
        }
        ChatCompletionRequestMessage::User(m) => {
            (ChatMessage::user(text_of(&m.content)), m.name.clone())
        }
        ChatCompletionRequestMessage::Assistant(m) => {
            let content = match (&m.content, &m.refusal) {
                (Some(content), _) => text_of(content),
                (None, Some(refusal)) => refusal.clone(),
                (None, None) => String::new(),
            };
            let mut chat = ChatMessage::assistant(content);
            chat.tool_calls = tool_calls(m.tool_calls.as_deref().unwrap_or_default());
            chat.tool_calls
                .extend(m.function_call.as_ref().map(function_call));
            (chat, m.name.clone())
        }
        ChatCompletionRequestMessage::Tool(m) => (
            ChatMessage::tool(text_of(&m.content), m.tool_call_id.clone()),
            None,
        ),
        ChatCompletionRequestMessage::Function(m) => (
            ChatMessage::new(Role::Function, m.content.clone().unwrap_or_default()),
            Some(m.name.clone()),
        ),
    };
    chat.name = name;
    chat
}

/// The text of a message content: the string itself, or the text (or refusal) of each part.
fn text_of(content: &impl Serialize) -> String {
    match serde_json::to_value(content) {
        Ok(Value::String(text)) => text,
        Ok(Value::Array(parts)) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|part| part.get("text").or_else(|| part.get("refusal")))
                .filter_map(Value::as_str)
                .collect();
            texts.join("\n")
        }
        _ => String::new(),
    }
}

/// Tool calls as the core carries them; arguments that are not JSON are kept as a string.
pub(crate) fn tool_calls(calls: &[ChatCompletionMessageToolCalls]) -> Vec<ToolCall> {
    calls
        .iter()
        .map(|call| match call {
            ChatCompletionMessageToolCalls::Function(call) => {
                function_call(&call.function).with_id(call.id.clone())
            }
            ChatCompletionMessageToolCalls::Custom(call) => ToolCall::new(
                call.custom_tool.name.clone(),
                Value::String(call.custom_tool.input.clone()),
            )
            .with_id(call.id.clone()),
        })
        .collect()
}

pub(crate) fn function_call(call: &FunctionCall) -> ToolCall {
    ToolCall::new(call.name.clone(), parse_arguments(&call.arguments))
}

/// A tool call's arguments as JSON, or as the string the model wrote when it is not JSON.
pub(crate) fn parse_arguments(arguments: &str) -> Value {
    serde_json::from_str(arguments).unwrap_or_else(|_| Value::String(arguments.to_owned()))
}

/// The invocation parameters a run carries, when the request sets them: none of them holds the
/// user's content or identity (`user`, `metadata`, `prediction`, the messages and the tools'
/// schemas stay out).
const SAFE_PARAMETERS: [&str; 12] = [
    "model",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "n",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "stream",
    "response_format",
];

/// The component that starts the run: [`COMPONENT_ID`], with a safe allow-list of the
/// request's invocation parameters as its `kwargs`, the way LangChain reports
/// `invocation_params`: `model`, `temperature`, `top_p`, `max_tokens`,
/// `max_completion_tokens`, `n`, `stop`, `seed`, `presence_penalty`, `frequency_penalty`,
/// `stream`, the tools' names (`tool_names`) and the response format's type
/// (`response_format: {"type": ...}`). Parameters left unset are absent; nothing else of the
/// request (`user`, `metadata`, `prediction`, the messages, the tools' schemas) is carried.
///
/// ```
/// use async_openai::types::chat::CreateChatCompletionRequestArgs;
/// use llm_callbacks_openai::invocation_component;
///
/// let request = CreateChatCompletionRequestArgs::default()
///     .model("gpt-4o-mini")
///     .temperature(0.0)
///     .user("alice@example.com")
///     .messages([])
///     .build()?;
/// let component = invocation_component(&request);
/// assert_eq!(component.name.as_deref(), Some("ChatOpenAI"));
/// assert_eq!(component.kwargs["model"], "gpt-4o-mini");
/// assert_eq!(component.kwargs["temperature"], 0.0);
/// assert!(component.kwargs.get("messages").is_none());
/// assert!(component.kwargs.get("user").is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn invocation_component(request: &CreateChatCompletionRequest) -> Serialized {
    let mut component = Serialized::new(COMPONENT_ID);
    component.kwargs = invocation_parameters(request);
    component
}

fn invocation_parameters(request: &CreateChatCompletionRequest) -> Metadata {
    let Ok(Value::Object(mut all)) = serde_json::to_value(request) else {
        return Metadata::new();
    };
    let mut parameters = Metadata::new();
    for key in SAFE_PARAMETERS {
        if let Some(value) = all.remove(key).filter(|value| !value.is_null()) {
            parameters.insert(key.into(), value);
        }
    }
    if let Some(format) = parameters.get_mut("response_format") {
        let kind = format.get("type").cloned().unwrap_or(Value::Null);
        *format = serde_json::json!({ "type": kind });
    }
    if let Some(Value::Array(tools)) = all.remove("tools") {
        let names = tools
            .iter()
            .filter_map(tool_name)
            .map(Value::from)
            .collect();
        parameters.insert("tool_names".into(), Value::Array(names));
    }
    parameters.insert("_type".into(), Value::String("openai-chat".into()));
    parameters
}

/// A tool's name: a function's (`{"type": "function", "function": {"name": ...}}`) or a custom
/// tool's (`{"type": "custom", "custom": {"name": ...}}`).
fn tool_name(tool: &Value) -> Option<&str> {
    let kind = tool.get("type")?.as_str()?;
    tool.get(kind)?.get("name")?.as_str()
}
