//! The RAG service of the `openai_rag` example (feature `openai`), shared with its end-to-end
//! test: an in-memory corpus, a retriever function, a chain that asks an OpenAI-compatible
//! server through the instrumented async-openai client, and the callbacks attached once.
//!
//! The service code emits no event by hand: the retriever and chain runs come from the
//! `#[retriever]` and `#[chain]` attributes, the model run from the instrumented client.
//! Whoever calls [`RagService::answer`] inside `manager.instrument(..)` gets the whole tree:
//! `rag` → `search` (retriever) and `generate` (chain) → `ChatOpenAI` (chat model, streamed).

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use futures_util::StreamExt;
use llm_callbacks::handlers::ConsoleHandler;
use llm_callbacks::openai::async_openai::config::OpenAIConfig;
use llm_callbacks::openai::async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequestArgs,
};
use llm_callbacks::openai::{InstrumentedClient, RetryPolicy};
use llm_callbacks::payload::Document;
use llm_callbacks::registry::{PluginConfig, PluginError};
use llm_callbacks::uptrain::UptrainHandler;
use llm_callbacks::{AsyncCallbackManager, chain, retriever};

use crate::{Corpus, KeywordRetriever};

/// Where the model is served, read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `OPENAI_BASE_URL`, e.g. `http://localhost:11434/v1`; OpenAI's API when unset.
    pub base_url: String,
    /// `OPENAI_API_KEY`; local servers accept any.
    pub api_key: String,
    /// `OPENAI_MODEL`, else [`DEFAULT_MODEL`].
    pub model: String,
}

/// The model asked for when `OPENAI_MODEL` is unset.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";

/// What the example prints when no server is configured.
pub const NO_SERVER_HELP: &str = "\
No model server configured: set OPENAI_BASE_URL and/or OPENAI_API_KEY (and OPENAI_MODEL).

Any OpenAI-compatible server works. Two local ones:

  Ollama:     ollama serve   (then: ollama pull llama3.2)
              OPENAI_BASE_URL=http://localhost:11434/v1 OPENAI_MODEL=llama3.2 \\
                cargo run -p examples --features openai --example openai_rag

  llama.cpp:  llama-server -m model.gguf --port 8080
              OPENAI_BASE_URL=http://localhost:8080/v1 OPENAI_MODEL=local \\
                cargo run -p examples --features openai --example openai_rag

OpenAI itself: OPENAI_API_KEY=sk-... cargo run -p examples --features openai --example openai_rag
";

impl Settings {
    /// The settings from `OPENAI_BASE_URL`, `OPENAI_API_KEY` and `OPENAI_MODEL`; `None` when
    /// neither of the first two is set.
    pub fn from_env() -> Option<Self> {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|v: &String| !v.trim().is_empty())
        };
        Self::from_values(
            var("OPENAI_BASE_URL"),
            var("OPENAI_API_KEY"),
            var("OPENAI_MODEL"),
        )
    }

    /// The settings from these values; `None` when there is neither a base URL nor a key.
    ///
    /// ```
    /// use examples::openai_rag::Settings;
    ///
    /// assert_eq!(Settings::from_values(None, None, None), None);
    /// let local = Settings::from_values(Some("http://localhost:11434/v1".into()), None, None);
    /// assert_eq!(local.map(|s| s.api_key), Some("unused".to_owned()));
    /// ```
    pub fn from_values(
        base_url: Option<String>,
        api_key: Option<String>,
        model: Option<String>,
    ) -> Option<Self> {
        if base_url.is_none() && api_key.is_none() {
            return None;
        }
        Some(Self {
            base_url: base_url.unwrap_or_else(|| "https://api.openai.com/v1".into()),
            api_key: api_key.unwrap_or_else(|| "unused".into()),
            model: model.unwrap_or_else(|| DEFAULT_MODEL.into()),
        })
    }

    /// The instrumented client for these settings, retrying by `policy`.
    pub fn client(
        &self,
        policy: RetryPolicy,
    ) -> Result<InstrumentedClient, llm_callbacks::openai::reqwest::Error> {
        let config = OpenAIConfig::new()
            .with_api_base(&self.base_url)
            .with_api_key(&self.api_key);
        InstrumentedClient::with_config(config, policy)
    }
}

/// The callbacks, attached once: the console handler and the plugins `plugins` turns on (the
/// UpTrain plugin by default; configure it with `UPTRAIN_*`). Returns the manager and the
/// UpTrain handler, when the plugin is on.
pub fn callbacks(
    console: ConsoleHandler,
    plugins: &PluginConfig,
) -> Result<(AsyncCallbackManager, Option<Arc<UptrainHandler>>), PluginError> {
    let mut manager = AsyncCallbackManager::new().with_handler(Arc::new(console));
    manager.add_plugins(plugins)?;
    let uptrain = manager.find_handler::<UptrainHandler>();
    Ok((manager, uptrain))
}

/// The service: a corpus to search and a model to answer with.
#[derive(Debug, Clone)]
pub struct RagService {
    client: InstrumentedClient,
    retriever: KeywordRetriever,
    model: String,
    documents: usize,
}

/// The name of the service's outer chain.
pub const RAG_CHAIN: &str = "rag";

/// Why an answer failed.
#[derive(Debug)]
pub enum RagError {
    /// The model call failed.
    Model(llm_callbacks::openai::CallError),
    /// The model answered with nothing.
    EmptyAnswer,
}

impl fmt::Display for RagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RagError::Model(error) => write!(f, "the model call failed: {error}"),
            RagError::EmptyAnswer => f.write_str("the model answered with nothing"),
        }
    }
}

impl Error for RagError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            RagError::Model(error) => Some(error),
            RagError::EmptyAnswer => None,
        }
    }
}

impl From<llm_callbacks::openai::CallError> for RagError {
    fn from(error: llm_callbacks::openai::CallError) -> Self {
        RagError::Model(error)
    }
}

impl RagService {
    /// A service answering from `corpus` with `model`, through `client`.
    pub fn new(client: InstrumentedClient, corpus: Corpus, model: impl Into<String>) -> Self {
        Self {
            client,
            retriever: KeywordRetriever::new(corpus),
            model: model.into(),
            documents: 3,
        }
    }

    /// Answers `question`: searches the corpus, then asks the model with what it found.
    #[chain(name = "rag")]
    pub async fn answer(&self, question: &str) -> Result<String, RagError> {
        let documents = self.search(question).await;
        let context = context_of(&documents);
        self.generate(question, &context).await
    }

    /// The documents that share the most words with `query`.
    #[retriever]
    pub async fn search(&self, query: &str) -> Vec<Document> {
        self.retriever.search(query, self.documents)
    }

    /// Asks the model to answer `question` from `context`, streaming its answer.
    #[chain]
    pub async fn generate(&self, question: &str, context: &str) -> Result<String, RagError> {
        let request = CreateChatCompletionRequestArgs::default()
            .model(&self.model)
            .temperature(0.0)
            .max_completion_tokens(256u32)
            .messages([
                ChatCompletionRequestSystemMessage::from(
                    "Answer the question in one or two sentences, using only the context.",
                )
                .into(),
                ChatCompletionRequestUserMessage::from(format!(
                    "Context:\n{context}\n\nQuestion: {question}"
                ))
                .into(),
            ])
            .build()
            .map_err(llm_callbacks::openai::CallError::from)?;
        let mut stream = self.client.chat().create_stream(request).await?;
        let mut answer = String::new();
        while let Some(chunk) = stream.next().await {
            for choice in chunk?.choices {
                answer.push_str(choice.delta.content.as_deref().unwrap_or_default());
            }
        }
        let answer = answer.trim().to_owned();
        if answer.is_empty() {
            return Err(RagError::EmptyAnswer);
        }
        Ok(answer)
    }
}

/// The context the model gets: the documents' texts, one per line.
pub fn context_of(documents: &[Document]) -> String {
    let texts: Vec<&str> = documents.iter().map(|d| d.page_content.as_str()).collect();
    texts.join("\n")
}
