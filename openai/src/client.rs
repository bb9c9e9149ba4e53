//! The instrumented client: async-openai's client, whose chat completions become chat model
//! runs of the current run.

use std::fmt;
use std::future::Future;

use async_openai::Client;
use async_openai::config::{Config, OpenAIConfig};
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionStreamOptions, CreateChatCompletionRequest, CreateChatCompletionResponse,
};
use handler_core::manager::AsyncLlmRunManager;
use handler_core::{AsyncCallbackManager, RunOptions};
use llm_callbacks_transport::{Deadline, RetryPolicy};

use crate::bounded::Bounded;
use crate::call;
use crate::error::CallError;
use crate::limits::{Limit, LimitExceeded, Limits, within};
use crate::request::{RUN_NAME, chat_messages, invocation_component};
use crate::response::llm_result;
use crate::retry::RetryService;
use crate::stream::{self, ChatStream};

/// An async-openai [`Client`] whose chat completions report themselves to the current run
/// ([`AsyncCallbackManager::current`]): each call is a chat model run, a child of the current
/// run (or a root run of the current manager). With nothing current, a call is the plain
/// client call within the client's [`Limits`].
///
/// Every call keeps the client's [`Limits`], whatever HTTP client sends it: by default 10
/// minutes for a plain call or the opening of a stream, and for a stream 2 minutes without a
/// chunk, 30 minutes in all and 16 MiB of content ([`InstrumentedClient::with_limits`]).
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
#[derive(Clone)]
pub struct InstrumentedClient<C: Config = OpenAIConfig> {
    client: Client<C>,
    limits: Limits,
}

/// The limits only: the async-openai client's `Debug` prints its config, whose custom headers
/// (an `api-key`, a proxy's auth) would show.
///
/// ```
/// use async_openai::Client;
/// use async_openai::config::OpenAIConfig;
/// use llm_callbacks_openai::ClientExt;
///
/// let config = OpenAIConfig::new()
///     .with_api_key("sk-live-123")
///     .with_header("api-key", "azure-secret")?;
/// let shown = format!("{:?}", Client::with_config(config).instrumented());
/// assert!(shown.starts_with("InstrumentedClient { limits: Limits {"), "{shown}");
/// assert!(!shown.contains("secret") && !shown.contains("sk-live"), "{shown}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<C: Config> fmt::Debug for InstrumentedClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentedClient")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The values the client uses when none is given.
pub mod defaults {
    use std::time::Duration;

    /// How long the HTTP client of [`InstrumentedClient::with_config`](crate::InstrumentedClient::with_config) waits to connect.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

    /// How long the HTTP client of [`InstrumentedClient::with_config`](crate::InstrumentedClient::with_config) waits for the next bytes of
    /// an answer.
    pub const READ_TIMEOUT: Duration = Duration::from_secs(120);
}

impl<C: Config> InstrumentedClient<C> {
    /// Instruments `client` as it is (its HTTP client, its own silent retries), within the
    /// default [`Limits`].
    ///
    /// async-openai 0.43's `Client::new()` and `Client::with_config` send with
    /// `reqwest::Client::new()`, which has no connect, read or total timeout, and retry 429,
    /// 5xx and connection errors 3 times by themselves (a 5xx after the server did the work is
    /// billed again). The [`Limits`] bound every call all the same; for a connect and a read
    /// timeout of your own, give the client its HTTP client with
    /// `Client::with_http_client(reqwest::Client::builder().connect_timeout(..).read_timeout(..).build()?)`,
    /// or use [`with_config`](Self::with_config).
    pub fn new(client: Client<C>) -> Self {
        Self {
            client,
            limits: Limits::default(),
        }
    }

    /// A client for `config` whose retries follow `policy` and are reported: a
    /// [`RetryService`] over a reqwest client that gives up connecting after
    /// [`defaults::CONNECT_TIMEOUT`] (10 s) and waiting for the next bytes of an answer after
    /// [`defaults::READ_TIMEOUT`] (120 s), within the default [`Limits`]. Fails only when the TLS backend
    /// cannot start.
    pub fn with_config(config: C, policy: RetryPolicy) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(defaults::CONNECT_TIMEOUT)
            .read_timeout(defaults::READ_TIMEOUT)
            .build()?;
        let client = Client::with_config(config)
            .with_http_client(http.clone())
            .with_http_service(RetryService::new(http, policy));
        Ok(Self::new(client))
    }

    /// The same client within `limits`.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits every call keeps.
    pub fn limits(&self) -> &Limits {
        &self.limits
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
    /// Creates a chat completion, as [`async_openai::Chat::create`] does, within the client's
    /// [`request_timeout`](Limits::request_timeout).
    ///
    /// Under a current run: a chat model start with the request's messages and invocation
    /// parameters, an `on_retry` per retry of a [`RetryService`], then an LLM end with the
    /// choices (text and tool calls) and the token usage, or an LLM error
    /// (`HTTP <status>: <body>` for API errors).
    pub async fn create(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<CreateChatCompletionResponse, CallError> {
        let chat = self.client.client.chat();
        let limits = self.client.limits;
        let Some(manager) = AsyncCallbackManager::current() else {
            return bounded_call(None, limits, chat.create(request)).await;
        };
        let run = start(&manager, &request).await?;
        match bounded_call(Some(&run), limits, chat.create(request)).await {
            Ok(response) => {
                run.on_llm_end(&llm_result(&response)).await?;
                Ok(response)
            }
            Err(error) => Err(fail(run, error).await),
        }
    }

    /// Creates a streamed chat completion, as [`async_openai::Chat::create_stream`] does,
    /// within the client's [`Limits`]: the stream must open within the request timeout, and
    /// ends with [`CallError::Limit`] when a chunk is slower than the idle timeout, the whole call
    /// takes longer than the stream timeout, or the content passes the byte cap.
    ///
    /// Under a current run: a chat model start, an `on_retry` per retry of the opening request
    /// (with a [`RetryService`]), one `on_llm_new_token` per choice delta (with the delta as the
    /// chunk), then, when the stream ends, an LLM end with the assembled choices, tool calls
    /// and usage. The client asks for the usage (`stream_options.include_usage`) unless the
    /// request says otherwise, and then keeps the usage chunk to itself. A stream that fails,
    /// hits a limit, or ends before the model finished (no `finish_reason`), ends the run with
    /// an LLM error carrying what arrived; a stream dropped before its end leaves the run
    /// abandoned.
    pub async fn create_stream(
        &self,
        mut request: CreateChatCompletionRequest,
    ) -> Result<ChatStream, CallError> {
        let chat = self.client.client.chat();
        let limits = self.client.limits;
        let deadline = Deadline::after(limits.stream_timeout);
        let Some(manager) = AsyncCallbackManager::current() else {
            let inner = bounded_call(None, limits, chat.create_stream(request)).await?;
            return Ok(stream::plain(Bounded::new(inner, limits, deadline)));
        };
        request.stream = Some(true);
        let hide_usage = ask_for_usage(&mut request);
        let run = start(&manager, &request).await?;
        match bounded_call(Some(&run), limits, chat.create_stream(request)).await {
            Ok(inner) => {
                let inner = Bounded::new(inner, limits, deadline);
                Ok(stream::instrumented(inner, run, hide_usage))
            }
            Err(error) => Err(fail(run, error).await),
        }
    }
}

/// Makes the client call `call` with its scope set (the call's run, its deadline) and within
/// the request timeout.
async fn bounded_call<T, F>(
    run: Option<&AsyncLlmRunManager>,
    limits: Limits,
    call: F,
) -> Result<T, CallError>
where
    F: Future<Output = Result<T, OpenAIError>>,
{
    let deadline = Deadline::after(limits.request_timeout);
    let scope = call::Scope {
        run: run.cloned(),
        deadline,
    };
    match within(deadline, call::with_scope(scope, call)).await {
        Some(result) => result.map_err(CallError::from_call),
        None => {
            let limit = Limit::RequestTimeout(limits.request_timeout);
            Err(LimitExceeded::new(limit, 0, 0).into())
        }
    }
}

/// Starts the chat model run of `request`.
async fn start(
    manager: &AsyncCallbackManager,
    request: &CreateChatCompletionRequest,
) -> Result<AsyncLlmRunManager, CallError> {
    let messages = chat_messages(&request.messages);
    let component = invocation_component(request);
    let run = manager
        .on_chat_model_start(&component, &messages, RunOptions::named(RUN_NAME))
        .await?;
    Ok(run)
}

/// Ends `run` with the call's error. A handler's raised error replaces the call's, as it would
/// anywhere else; a callback error (from a retry event) leaves the run abandoned.
async fn fail(run: AsyncLlmRunManager, error: CallError) -> CallError {
    let Some(info) = error.event() else {
        return error;
    };
    match run.on_llm_error(info).await {
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
