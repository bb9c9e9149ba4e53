//! The handler's event methods: each only updates the run tracker and, when a flow is
//! complete, submits its row (see `UptrainHandler::submit`), so they return at once (or, in
//! wait mode with a full queue, after the wait the user chose).

use handler_core::event::{
    Category, ChainEnd, ChainError, ChainStart, ChatModelStart, LlmEnd, LlmError, LlmStart,
    RetrieverEnd, RetrieverError, RetrieverStart, ToolEnd, ToolError, ToolStart,
};
use handler_core::{CallbackHandler, HandlerOptions, HandlerResult};

use super::{UptrainHandler, lock};

impl CallbackHandler for UptrainHandler {
    fn name(&self) -> &str {
        "uptrain"
    }

    fn options(&self) -> HandlerOptions {
        // Agent events stay on for the tool runs: a chain under a tool is found through them.
        // Tokens are not graded: the answer is read from the model run's end.
        HandlerOptions::new()
            .ignore(Category::LlmNewToken)
            .ignore(Category::Retry)
            .ignore(Category::CustomEvent)
    }

    fn on_chain_start(&self, event: &ChainStart<'_>) -> HandlerResult {
        lock(&self.inner.tracker).chain_started(event.run, event.inputs);
        Ok(())
    }

    fn on_chain_end(&self, event: &ChainEnd<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_ended(event.run.run_id);
        Ok(())
    }

    fn on_chain_error(&self, event: &ChainError<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_ended(event.run.run_id);
        Ok(())
    }

    fn on_llm_start(&self, event: &LlmStart<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_started(event.run);
        Ok(())
    }

    fn on_chat_model_start(&self, event: &ChatModelStart<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_started(event.run);
        Ok(())
    }

    fn on_llm_end(&self, event: &LlmEnd<'_>) -> HandlerResult {
        let job = lock(&self.inner.tracker).llm_ended(event.run, event.response.first_text());
        if let Some(job) = job {
            self.submit(job);
        }
        Ok(())
    }

    fn on_llm_error(&self, event: &LlmError<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_ended(event.run.run_id);
        Ok(())
    }

    fn on_retriever_start(&self, event: &RetrieverStart<'_>) -> HandlerResult {
        lock(&self.inner.tracker).retriever_started(event.run, event.serialized, event.query);
        Ok(())
    }

    fn on_retriever_end(&self, event: &RetrieverEnd<'_>) -> HandlerResult {
        let job = lock(&self.inner.tracker).retriever_ended(event.run, event.documents);
        if let Some(job) = job {
            self.submit(job);
        }
        Ok(())
    }

    fn on_retriever_error(&self, event: &RetrieverError<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_ended(event.run.run_id);
        Ok(())
    }

    fn on_tool_start(&self, event: &ToolStart<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_started(event.run);
        Ok(())
    }

    fn on_tool_end(&self, event: &ToolEnd<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_ended(event.run.run_id);
        Ok(())
    }

    fn on_tool_error(&self, event: &ToolError<'_>) -> HandlerResult {
        lock(&self.inner.tracker).run_ended(event.run.run_id);
        Ok(())
    }
}
