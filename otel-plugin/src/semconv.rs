//! The attribute names the exporter writes: OpenInference (read by Phoenix and Arize) and
//! OpenTelemetry GenAI (read by most other backends), plus a few of the project's own.

/// `openinference.span.kind`: `CHAIN`, `LLM`, `TOOL`, `RETRIEVER`, `AGENT`, `EVALUATOR`.
pub const SPAN_KIND: &str = "openinference.span.kind";
/// The run's input (JSON or text).
pub const INPUT_VALUE: &str = "input.value";
/// `application/json` or `text/plain`.
pub const INPUT_MIME_TYPE: &str = "input.mime_type";
/// The run's output (JSON or text).
pub const OUTPUT_VALUE: &str = "output.value";
/// `application/json` or `text/plain`.
pub const OUTPUT_MIME_TYPE: &str = "output.mime_type";
/// The model's name.
pub const LLM_MODEL_NAME: &str = "llm.model_name";
/// The model's parameters, as JSON.
pub const LLM_INVOCATION_PARAMETERS: &str = "llm.invocation_parameters";
/// Prefix of `llm.input_messages.{i}.message.role` / `.content`.
pub const LLM_INPUT_MESSAGES: &str = "llm.input_messages";
/// Prefix of `llm.output_messages.{i}.message.role` / `.content`.
pub const LLM_OUTPUT_MESSAGES: &str = "llm.output_messages";
/// Prompt tokens.
pub const LLM_TOKEN_COUNT_PROMPT: &str = "llm.token_count.prompt";
/// Completion tokens.
pub const LLM_TOKEN_COUNT_COMPLETION: &str = "llm.token_count.completion";
/// All tokens.
pub const LLM_TOKEN_COUNT_TOTAL: &str = "llm.token_count.total";
/// Prefix of `retrieval.documents.{i}.document.content` / `.id` / `.score` / `.metadata`.
pub const RETRIEVAL_DOCUMENTS: &str = "retrieval.documents";
/// The tool's name.
pub const TOOL_NAME: &str = "tool.name";
/// The tool's description.
pub const TOOL_DESCRIPTION: &str = "tool.description";
/// The tool's parameters, as JSON.
pub const TOOL_PARAMETERS: &str = "tool.parameters";
/// The run's tags.
pub const TAG_TAGS: &str = "tag.tags";
/// The run's metadata, as JSON.
pub const METADATA: &str = "metadata";
/// A session id, when the run's metadata has `session_id`.
pub const SESSION_ID: &str = "session.id";
/// A user id, when the run's metadata has `user_id`.
pub const USER_ID: &str = "user.id";

/// GenAI: `chat`, `text_completion`, `execute_tool`, `invoke_agent`.
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// GenAI: the requested model.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// GenAI: the model that answered.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// GenAI: the temperature asked for.
pub const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
/// GenAI: prompt tokens.
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// GenAI: completion tokens.
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// GenAI: the tool's name.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// GenAI: the evaluation event's name.
pub const GEN_AI_EVALUATION_RESULT: &str = "gen_ai.evaluation.result";
/// GenAI: the check that graded.
pub const GEN_AI_EVALUATION_NAME: &str = "gen_ai.evaluation.name";
/// GenAI: the score.
pub const GEN_AI_EVALUATION_SCORE_VALUE: &str = "gen_ai.evaluation.score.value";
/// GenAI: the score's label.
pub const GEN_AI_EVALUATION_SCORE_LABEL: &str = "gen_ai.evaluation.score.label";
/// GenAI: why that score.
pub const GEN_AI_EVALUATION_EXPLANATION: &str = "gen_ai.evaluation.explanation";
/// The error's kind (also on failed spans).
pub const ERROR_TYPE: &str = "error.type";

/// The run's id.
pub const RUN_ID: &str = "llm_callbacks.run_id";
/// The run's type, when the caller gave one.
pub const RUN_TYPE: &str = "llm_callbacks.run_type";
/// Tokens the model streamed.
pub const STREAMED_TOKENS: &str = "llm_callbacks.streamed_tokens";
/// Milliseconds from the model run's start to its first streamed token.
pub const TIME_TO_FIRST_TOKEN_MS: &str = "llm_callbacks.time_to_first_token_ms";
/// The span event at the first streamed token.
pub const FIRST_TOKEN_EVENT: &str = "first_token";
/// Who graded (`uptrain`), on evaluation events.
pub const EVALUATION_EVALUATOR: &str = "llm_callbacks.evaluation.evaluator";
/// An evaluation's error message (when content is captured).
pub const EVALUATION_ERROR_MESSAGE: &str = "llm_callbacks.evaluation.error";
/// The resource attribute naming Phoenix's project.
pub const PROJECT_NAME: &str = "openinference.project.name";
