//! The callback side of the handler: each event of a run, mapped onto its span.

use handler_core::event::{
    AgentAction, AgentFinish, Category, ChainEnd, ChainError, ChainStart, ChatModelStart,
    CustomEvent, LlmEnd, LlmError, LlmStart, RetrieverEnd, RetrieverError, RetrieverStart, Retry,
    Text, ToolEnd, ToolError, ToolStart,
};
use handler_core::{CallbackHandler, HandlerOptions, HandlerResult};
use opentelemetry::trace::Status;

use crate::attributes::SpanKind;
use crate::handler::OtelHandler;

fn serialized_name(serialized: Option<&handler_core::payload::Serialized>) -> Option<&str> {
    serialized.and_then(|s| s.name.as_deref())
}

impl CallbackHandler for OtelHandler {
    fn name(&self) -> &str {
        crate::PLUGIN_NAME
    }

    /// Tokens are not dispatched here: the core counts them, and the end of the run carries
    /// the count and the time to first token.
    fn options(&self) -> HandlerOptions {
        HandlerOptions::new().ignore(Category::LlmNewToken)
    }

    fn on_llm_start(&self, event: &LlmStart<'_>) -> HandlerResult {
        let serialized = event.serialized;
        self.inner.start(
            event.run,
            SpanKind::Llm,
            serialized_name(serialized),
            |m, out| {
                m.model(out, serialized, false);
                if let Some(prompt) = event.prompts.first() {
                    m.prompt(out, prompt);
                }
            },
        );
        Ok(())
    }

    fn on_chat_model_start(&self, event: &ChatModelStart<'_>) -> HandlerResult {
        let serialized = event.serialized;
        self.inner.start(
            event.run,
            SpanKind::Llm,
            serialized_name(serialized),
            |m, out| {
                m.model(out, serialized, true);
                if let Some(messages) = event.messages.first() {
                    m.messages(out, messages);
                }
            },
        );
        Ok(())
    }

    fn on_llm_end(&self, event: &LlmEnd<'_>) -> HandlerResult {
        self.inner.end(event.run, Status::Unset, |m, record| {
            record.stream = *event.stream;
            record.usage = event.response.token_usage;
            m.llm_end(&mut record.values, event.response);
        });
        Ok(())
    }

    fn on_llm_error(&self, event: &LlmError<'_>) -> HandlerResult {
        self.inner.fail(event.run, event.error, |m, record| {
            record.stream = *event.stream;
            if let Some(response) = event.response {
                record.usage = response.token_usage;
                m.llm_end(&mut record.values, response);
            }
        });
        Ok(())
    }

    fn on_chain_start(&self, event: &ChainStart<'_>) -> HandlerResult {
        let kind = match event.run.run_type.as_deref() {
            Some("agent") => SpanKind::Agent,
            _ => SpanKind::Chain,
        };
        self.inner.start(
            event.run,
            kind,
            serialized_name(event.serialized),
            |m, out| m.chain_start(out, event.inputs),
        );
        Ok(())
    }

    fn on_chain_end(&self, event: &ChainEnd<'_>) -> HandlerResult {
        self.inner.end_with_outputs(event.run, event.outputs);
        Ok(())
    }

    fn on_chain_error(&self, event: &ChainError<'_>) -> HandlerResult {
        self.inner.fail(event.run, event.error, |_, _| {});
        Ok(())
    }

    fn on_tool_start(&self, event: &ToolStart<'_>) -> HandlerResult {
        let name = event
            .run
            .name
            .as_deref()
            .or(serialized_name(event.serialized))
            .unwrap_or("tool");
        self.inner
            .start(event.run, SpanKind::Tool, Some(name), |m, out| {
                m.tool_start(out, name, event.serialized, event.input, event.inputs);
            });
        Ok(())
    }

    fn on_tool_end(&self, event: &ToolEnd<'_>) -> HandlerResult {
        self.inner.end_with_outputs(event.run, event.output);
        Ok(())
    }

    fn on_tool_error(&self, event: &ToolError<'_>) -> HandlerResult {
        self.inner.fail(event.run, event.error, |_, _| {});
        Ok(())
    }

    fn on_retriever_start(&self, event: &RetrieverStart<'_>) -> HandlerResult {
        let name = serialized_name(event.serialized);
        self.inner
            .start(event.run, SpanKind::Retriever, name, |m, out| {
                m.retriever_start(out, event.query);
            });
        Ok(())
    }

    fn on_retriever_end(&self, event: &RetrieverEnd<'_>) -> HandlerResult {
        self.inner.end(event.run, Status::Unset, |m, record| {
            m.documents(&mut record.values, event.documents);
        });
        Ok(())
    }

    fn on_retriever_error(&self, event: &RetrieverError<'_>) -> HandlerResult {
        self.inner.fail(event.run, event.error, |_, _| {});
        Ok(())
    }

    fn on_agent_action(&self, event: &AgentAction<'_>) -> HandlerResult {
        let values = self
            .inner
            .mapper()
            .agent_action(event.tool, event.tool_input, event.log);
        self.inner
            .agent_step(event.run.run_id, "agent_action", values);
        Ok(())
    }

    fn on_agent_finish(&self, event: &AgentFinish<'_>) -> HandlerResult {
        let values = self
            .inner
            .mapper()
            .agent_finish(event.return_values, event.log);
        self.inner
            .agent_step(event.run.run_id, "agent_finish", values);
        Ok(())
    }

    fn on_retry(&self, event: &Retry<'_>) -> HandlerResult {
        let values = self.inner.mapper().retry(event.state);
        self.inner.event(event.run.run_id, "retry", values);
        Ok(())
    }

    fn on_text(&self, event: &Text<'_>) -> HandlerResult {
        let values = self.inner.mapper().text_event(event.text);
        self.inner.event(event.run.run_id, "text", values);
        Ok(())
    }

    fn on_custom_event(&self, event: &CustomEvent<'_>) -> HandlerResult {
        let values = self.inner.mapper().custom_event(event.name, event.data);
        self.inner.event(event.run.run_id, "custom_event", values);
        Ok(())
    }
}
