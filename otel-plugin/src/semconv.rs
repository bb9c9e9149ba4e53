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
/// Prompt tokens read from the provider's prompt cache.
pub const LLM_TOKEN_COUNT_PROMPT_CACHE_READ: &str = "llm.token_count.prompt_details.cache_read";
/// Prompt tokens written to the provider's prompt cache.
pub const LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE: &str = "llm.token_count.prompt_details.cache_write";
/// Completion tokens spent reasoning.
pub const LLM_TOKEN_COUNT_COMPLETION_REASONING: &str =
    "llm.token_count.completion_details.reasoning";
/// The model's provider (`openai`, `anthropic`, `azure`, ...): with the model's name, what
/// Phoenix prices a run by.
pub const LLM_PROVIDER: &str = "llm.provider";
/// The AI product (`openai`, `anthropic`, `cohere`, `mistralai`, `vertexai`).
pub const LLM_SYSTEM: &str = "llm.system";
/// What the prompt cost, in USD (cache reads and writes included).
pub const LLM_COST_PROMPT: &str = "llm.cost.prompt";
/// What the completion cost, in USD (reasoning included).
pub const LLM_COST_COMPLETION: &str = "llm.cost.completion";
/// What the run cost, in USD.
pub const LLM_COST_TOTAL: &str = "llm.cost.total";
/// What the prompt tokens neither read from nor written to the cache cost, in USD.
pub const LLM_COST_PROMPT_INPUT: &str = "llm.cost.prompt_details.input";
/// What the prompt tokens read from the cache cost, in USD.
pub const LLM_COST_PROMPT_CACHE_READ: &str = "llm.cost.prompt_details.cache_read";
/// What the prompt tokens written to the cache cost, in USD.
pub const LLM_COST_PROMPT_CACHE_WRITE: &str = "llm.cost.prompt_details.cache_write";
/// What the completion tokens that are not reasoning cost, in USD.
pub const LLM_COST_COMPLETION_OUTPUT: &str = "llm.cost.completion_details.output";
/// What the reasoning tokens cost, in USD.
pub const LLM_COST_COMPLETION_REASONING: &str = "llm.cost.completion_details.reasoning";
/// Langfuse: the cost per kind of token and in total, as a JSON object of USD amounts
/// (`input`, `input_cache_read`, `input_cache_write`, `output`, `output_reasoning`, `total`).
pub const LANGFUSE_COST_DETAILS: &str = "langfuse.observation.cost_details";
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
/// GenAI: prompt tokens served from the provider's cache.
pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
/// GenAI: prompt tokens written to the provider's cache.
pub const GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: &str =
    "gen_ai.usage.cache_creation.input_tokens";
/// GenAI: completion tokens spent reasoning.
pub const GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: &str = "gen_ai.usage.reasoning.output_tokens";
/// GenAI: the model's provider (`openai`, `anthropic`, `azure.ai.openai`, ...).
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
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
/// The version of the price table a run's cost came from.
pub const COST_TABLE_VERSION: &str = "llm_callbacks.cost.table_version";
/// The price table entry that priced the run (the model, or the model it is an alias of).
pub const COST_PRICES_ENTRY: &str = "llm_callbacks.cost.prices_entry";
/// The day the entry's prices took effect (`YYYY-MM-DD`).
pub const COST_PRICES_DATE: &str = "llm_callbacks.cost.prices_date";
/// Where the entry's prices are published.
pub const COST_PRICES_SOURCE: &str = "llm_callbacks.cost.prices_source";
/// Why a model run has no cost (an unknown model, no usage reported, ...): set instead of
/// every cost attribute, never a zero.
pub const COST_UNKNOWN: &str = "llm_callbacks.cost.unknown";
/// The resource attribute naming Phoenix's project.
pub const PROJECT_NAME: &str = "openinference.project.name";
