//! Chat messages.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Who wrote a chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// Instructions to the model.
    System,
    /// The person talking to the model (LangChain's "human").
    User,
    /// The model (LangChain's "ai").
    Assistant,
    /// The result of a tool call.
    Tool,
    /// The result of a function call (the older form of tool calls).
    Function,
    /// Any other role, by name.
    Other(String),
}

impl Role {
    /// The name LangChain uses when it renders a message as text: `Human`, `AI`, `System`,
    /// `Tool`, `Function`, or the generic role's own name.
    pub fn display_name(&self) -> &str {
        match self {
            Role::System => "System",
            Role::User => "Human",
            Role::Assistant => "AI",
            Role::Tool => "Tool",
            Role::Function => "Function",
            Role::Other(name) => name,
        }
    }
}

/// A tool call requested by the model in an assistant message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolCall {
    /// The tool's name.
    pub name: String,
    /// The arguments, as JSON.
    pub args: serde_json::Value,
    /// The call's id, used to match the tool's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl ToolCall {
    /// A call of the tool `name` with these arguments, without an id.
    ///
    /// ```
    /// use handler_core::payload::ToolCall;
    ///
    /// let call = ToolCall::new("search", serde_json::json!({"q": "Paris"})).with_id("c1");
    /// assert_eq!(call.id.as_deref(), Some("c1"));
    /// ```
    pub fn new(name: impl Into<String>, args: serde_json::Value) -> Self {
        Self {
            name: name.into(),
            args,
            id: None,
        }
    }

    /// Sets the call's id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

/// One message of a chat conversation.
///
/// ```
/// use handler_core::payload::ChatMessage;
///
/// let m = ChatMessage::user("What is RAG?");
/// assert_eq!(m.to_string(), "Human: What is RAG?");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// Its text.
    pub content: String,
    /// The author's name, for multi-party chats or the function that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tool calls the assistant asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a tool message, the id of the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A message with this role and text.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            name: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// Sets the author's name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a tool call the assistant asks for.
    #[must_use]
    pub fn with_tool_call(mut self, call: ToolCall) -> Self {
        self.tool_calls.push(call);
        self
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user (human) message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant (AI) message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// A tool message answering the call `tool_call_id`.
    pub fn tool(content: impl Into<String>, tool_call_id: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::new(Role::Tool, content)
        }
    }

    /// Renders a conversation as LangChain does for its LLM-start fallback: one `Role: text`
    /// line per message, joined by newlines.
    ///
    /// ```
    /// use handler_core::payload::ChatMessage;
    ///
    /// let chat = [ChatMessage::system("s"), ChatMessage::user("hi"), ChatMessage::assistant("yo")];
    /// assert_eq!(ChatMessage::render(&chat), "System: s\nHuman: hi\nAI: yo");
    /// ```
    pub fn render(messages: &[ChatMessage]) -> String {
        let mut out = String::new();
        for (i, message) in messages.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&message.to_string());
        }
        out
    }
}

impl fmt::Display for ChatMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.role.display_name(), self.content)?;
        if !self.tool_calls.is_empty() {
            let calls = serde_json::to_string(&self.tool_calls).map_err(|_| fmt::Error)?;
            write!(f, "{calls}")?;
        }
        Ok(())
    }
}
