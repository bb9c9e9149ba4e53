//! The pipeline's steps through an [`AsyncCallbackManager`].

use llm_callbacks::AsyncCallbackManager;
use llm_callbacks::{CallbackError, RunOptions, Uuid};
use serde_json::json;

use super::{Answer, Pipeline, RAG_CHAIN, Retrieval, Retrieved, RunIds, components};
use crate::llm::{StandInLlm, rag_prompt};
use crate::retriever::{compress, unique_union};

impl Pipeline {
    /// [`answer`](Self::answer) through an [`AsyncCallbackManager`].
    pub async fn answer_async(
        &self,
        manager: &AsyncCallbackManager,
        question: &str,
        retrieval: Retrieval,
    ) -> Result<Answer, CallbackError> {
        let chain = manager
            .on_chain_start(
                Some(&components::sequence()),
                &json!({ "question": question }),
                RunOptions::named(RAG_CHAIN),
            )
            .await?;
        let steps = chain.child();
        let retrieved = self.retrieve_async(&steps, question, retrieval).await?;

        let prompt_run = steps
            .on_chain_start(
                Some(&components::prompt()),
                &Self::prompt_inputs(question, &retrieved.documents),
                RunOptions::named("prompt"),
            )
            .await?;
        let prompt = rag_prompt(question, &retrieved.documents);
        let prompt_id = prompt_run.run_id();
        prompt_run
            .on_chain_end(&json!({ "prompt": prompt }))
            .await?;

        let (llm, response, tokens) = self.generate_async(&steps, &prompt, true).await?;
        let chain_id = chain.run_id();
        chain.on_chain_end(&json!({ "answer": response })).await?;
        Ok(Answer {
            question: question.to_owned(),
            retrieval,
            runs: RunIds {
                chain: chain_id,
                retriever: retrieved.run_id,
                prompt: prompt_id,
                llm,
            },
            retrieved,
            prompt,
            response,
            tokens,
        })
    }

    /// [`retrieve`](Self::retrieve) through an [`AsyncCallbackManager`].
    pub async fn retrieve_async(
        &self,
        manager: &AsyncCallbackManager,
        question: &str,
        retrieval: Retrieval,
    ) -> Result<Retrieved, CallbackError> {
        let run = manager
            .on_retriever_start(
                Some(&retrieval.serialized()),
                question,
                RunOptions::named(retrieval.run_name()),
            )
            .await?;
        let mut retrieved = Retrieved {
            run_id: run.run_id(),
            documents: Vec::new(),
            variants: Vec::new(),
            candidates: Vec::new(),
        };
        match retrieval {
            Retrieval::Keyword => retrieved.documents = self.search(question, self.top_k),
            Retrieval::MultiQuery => {
                let inner = run.child();
                let prompt = self.rephrasing_prompt(question);
                let (_, completion, _) = self.generate_async(&inner, &prompt, false).await?;
                retrieved.variants = Self::variants_of(&completion);
                let mut lists = Vec::with_capacity(retrieved.variants.len());
                for variant in &retrieved.variants {
                    // Boxed: the keyword step is the same function, one level down.
                    let step = Box::pin(self.retrieve_async(&inner, variant, Retrieval::Keyword));
                    lists.push(step.await?.documents);
                }
                retrieved.documents = unique_union(lists.iter().map(Vec::as_slice));
            }
            Retrieval::Compression => {
                let base = run
                    .child()
                    .on_retriever_start(
                        Some(&components::keyword_retriever()),
                        question,
                        RunOptions::named("KeywordRetriever"),
                    )
                    .await?;
                retrieved.candidates = self.search(question, self.candidates_k);
                base.on_retriever_end(&retrieved.candidates).await?;
                retrieved.documents = compress(question, &retrieved.candidates);
            }
        }
        run.on_retriever_end(&retrieved.documents).await?;
        Ok(retrieved)
    }

    async fn generate_async(
        &self,
        manager: &AsyncCallbackManager,
        prompt: &str,
        stream: bool,
    ) -> Result<(Uuid, String, usize), CallbackError> {
        let run = manager
            .on_llm_start(
                &components::llm(),
                prompt,
                RunOptions::named(StandInLlm::MODEL_NAME),
            )
            .await?;
        let text = self.llm.complete(prompt);
        {
            let mut streamed = 0;
            if stream {
                for token in StandInLlm::tokens(&text) {
                    if !self.llm.token_delay.is_zero() {
                        tokio::time::sleep(self.llm.token_delay).await;
                    }
                    run.on_llm_new_token(token, None).await?;
                    streamed += 1;
                }
            }
            let run_id = run.run_id();
            run.on_llm_end(&StandInLlm::result(prompt, &text)).await?;
            Ok((run_id, text, streamed))
        }
    }
}
