//! The instrumented client: async-openai's client, whose chat completions become chat model
//! runs of the current run.

use std::time::Duration;

use async_openai::Client;
use async_openai::config::{Config, OpenAIConfig};
use async_openai::types::chat::{
    ChatCompletionStreamOptions, CreateChatCompletionRequest, CreateChatCompletionResponse,
};
use handler_core::{AsyncCallbackManager, AsyncLlmRunManager, RunOptions};

use crate::call;
use crate::error::{Error, error_info};
use crate::request::{RUN_NAME, chat_messages, invocation_component};
use crate::response::llm_result;
use crate::retry::{RetryPolicy, RetryService};
use crate::stream::{self, ChatStream};

/// An async-openai [`Client`] whose chat completions report themselves to the current run
/// ([`AsyncCallbackManager::current`]): each call is a chat model run, a child of the current
/// run (or a root run of the current manager). With nothing current, a call is the plain
/// client call; the only cost is one thread-local read.
///
/// The client's HTTP layer is left as it is. async-openai retries by itself without telling
/// anyone, so retry events need [`RetryService`]: [`InstrumentedClient::with_config`] installs
/// it, or install it yourself with `Client::with_http_service`.
///
/// ```no_run
/// use async_openai::config::OpenAIConfig;
/// use async_openai::types::chat::{
///     ChatCompletionRequestUserMessage, CreateChatCompletionRequestArgs,
/// };
/// use llm_callbacks_openai::{AsyncCallbackManager, InstrumentedClient, RetryPolicy};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = OpenAIConfig::new().with_api_base("http://localhost:11434/v1");
/// let client = InstrumentedClient::with_config(config, RetryPolicy::default())?;
/// let request = CreateChatCompletionRequestArgs::default()
///     .model("llama3.2")
///     .messages([ChatCompletionRequestUserMessage::from("Where is Paris?").into()])
///     .build()?;
///
/// let manager = AsyncCallbackManager::new(); // with your handlers
/// // A root chat model run of `manager`: start, a retry event per retry, then the end.
/// let response = manager.instrument(client.chat().create(request)).await?;
/// # let _ = response;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct InstrumentedClient<C: Config = OpenAIConfig> {
    client: Client<C>,
}

impl<C: Config> InstrumentedClient<C> {
    /// Instruments `client` as it is (its HTTP client, its own silent retries).
    pub fn new(client: Client<C>) -> Self {
        Self { client }
    }

    /// A client for `config` whose retries follow `policy` and are reported: a
    /// [`RetryService`] over a reqwest client that gives up connecting after 10 s and waiting
    /// for the next bytes of a response after 120 s (streams may run as long as they keep
    /// sending). Fails only when the TLS backend cannot start.
    pub fn with_config(config: C, policy: RetryPolicy) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(120))
            .build()?;
        let client = Client::with_config(config).with_http_service(RetryService::new(http, policy));
        Ok(Self::new(client))
    }

    /// The async-openai client, for the APIs this crate does not instrument.
    pub fn client(&self) -> &Client<C> {
        &self.client
    }

    /// The async-openai client back.
    pub fn into_inner(self) -> Client<C> {
        self.client
    }

    /// Chat completions, plain and streamed.
    pub fn chat(&self) -> InstrumentedChat<'_, C> {
        InstrumentedChat { client: self }
    }
}

/// Instruments an async-openai [`Client`]: `client.instrumented()`.
pub trait ClientExt<C: Config> {
    /// The client, instrumented as it is; see [`InstrumentedClient::new`].
    fn instrumented(self) -> InstrumentedClient<C>;
}

impl<C: Config> ClientExt<C> for Client<C> {
    fn instrumented(self) -> InstrumentedClient<C> {
        InstrumentedClient::new(self)
    }
}

/// The chat completions of an [`InstrumentedClient`]; the calls take and return async-openai's
/// types.
#[derive(Debug)]
pub struct InstrumentedChat<'c, C: Config> {
    client: &'c InstrumentedClient<C>,
}

impl<C: Config> InstrumentedChat<'_, C> {
    /// Creates a chat completion, as [`async_openai::Chat::create`] does.
    ///
    /// Under a current run: a chat model start with the request's messages and invocation
    /// parameters, an `on_retry` per retry of a [`RetryService`], then an LLM end with the
    /// choices (text and tool calls) and the token usage, or an LLM error
    /// (`HTTP <status>: <body>` for API errors).
    pub async fn create(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<CreateChatCompletionResponse, Error> {
        let chat = self.client.client.chat();
        let Some(manager) = AsyncCallbackManager::current() else {
            return Ok(chat.create(request).await?);
        };
        let run = start(&manager, &request).await?;
        match call::with_run(&run, chat.create(request))
            .await
            .map_err(Error::from_call)
        {
            Ok(response) => {
                run.on_llm_end(&llm_result(&response)).await?;
                Ok(response)
            }
            Err(error) => Err(fail(run, error).await),
        }
    }

    /// Creates a streamed chat completion, as [`async_openai::Chat::create_stream`] does.
    ///
    /// Under a current run: a chat model start, an `on_retry` per retry of the opening request
    /// (with a [`RetryService`]), one `on_llm_new_token` per choice delta (with the delta as the
    /// chunk), then, when the stream ends, an LLM end with the assembled choices, tool calls and usage. The client asks
    /// for the usage (`stream_options.include_usage`) unless the request says otherwise, and then
    /// keeps the usage chunk to itself. A stream that fails, or ends before the model finished
    /// (no `finish_reason`), ends the run with an LLM error carrying what arrived; a stream
    /// dropped before its end leaves the run abandoned.
    pub async fn create_stream(
        &self,
        mut request: CreateChatCompletionRequest,
    ) -> Result<ChatStream, Error> {
        let chat = self.client.client.chat();
        let Some(manager) = AsyncCallbackManager::current() else {
            return Ok(stream::plain(chat.create_stream(request).await?));
        };
        request.stream = Some(true);
        let hide_usage = ask_for_usage(&mut request);
        let run = start(&manager, &request).await?;
        match call::with_run(&run, chat.create_stream(request))
            .await
            .map_err(Error::from_call)
        {
            Ok(inner) => Ok(stream::instrumented(inner, run, hide_usage)),
            Err(error) => Err(fail(run, error).await),
        }
    }
}

/// Starts the chat model run of `request`.
async fn start(
    manager: &AsyncCallbackManager,
    request: &CreateChatCompletionRequest,
) -> Result<AsyncLlmRunManager, Error> {
    let messages = chat_messages(&request.messages);
    let component = invocation_component(request);
    let run = manager
        .on_chat_model_start(&component, &messages, RunOptions::named(RUN_NAME))
        .await?;
    Ok(run)
}

/// Ends `run` with the call's error. A handler's raised error replaces the call's, as it would
/// anywhere else; a callback error (from a retry event) leaves the run abandoned.
async fn fail(run: AsyncLlmRunManager, error: Error) -> Error {
    let Error::OpenAi(failure) = &error else {
        return error;
    };
    match run.on_llm_error(error_info(failure)).await {
        Ok(()) => error,
        Err(callback) => callback.into(),
    }
}

/// Asks for the usage chunk unless the request already says whether it wants it; true when
/// the client asked.
fn ask_for_usage(request: &mut CreateChatCompletionRequest) -> bool {
    let options = request
        .stream_options
        .get_or_insert_with(ChatCompletionStreamOptions::default);
    if options.include_usage.is_some() {
        return false;
    }
    options.include_usage = Some(true);
    true
}
