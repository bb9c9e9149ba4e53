//! The pipeline's steps through a [`CallbackManager`].

use llm_callbacks::CallbackManager;
use llm_callbacks::{CallbackError, RunOptions, Uuid};
use serde_json::json;

use super::{Answer, Pipeline, RAG_CHAIN, Retrieval, Retrieved, RunIds, components};
use crate::llm::{StandInLlm, rag_prompt};
use crate::retriever::{compress, unique_union};

impl Pipeline {
    /// Answers `question` through `manager`: the outer `rag` chain, the retriever step, the
    /// prompt step and the streamed model run (see the [module docs](crate::pipeline)).
    pub fn answer(
        &self,
        manager: &CallbackManager,
        question: &str,
        retrieval: Retrieval,
    ) -> Result<Answer, CallbackError> {
        let chain = manager.on_chain_start(
            Some(&components::sequence()),
            &json!({ "question": question }),
            RunOptions::named(RAG_CHAIN),
        )?;
        let steps = chain.child();
        let retrieved = self.retrieve(&steps, question, retrieval)?;

        let prompt_run = steps.on_chain_start(
            Some(&components::prompt()),
            &Self::prompt_inputs(question, &retrieved.documents),
            RunOptions::named("prompt"),
        )?;
        let prompt = rag_prompt(question, &retrieved.documents);
        let prompt_id = prompt_run.run_id();
        prompt_run.on_chain_end(&json!({ "prompt": prompt }))?;

        let (llm, response, tokens) = self.generate(&steps, &prompt, true)?;
        let chain_id = chain.run_id();
        chain.on_chain_end(&json!({ "answer": response }))?;
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

    /// Runs only the retriever step for `question` through `manager` (at the top level when
    /// `manager` has no parent run, as `retriever.invoke(question)` does in LangChain).
    pub fn retrieve(
        &self,
        manager: &CallbackManager,
        question: &str,
        retrieval: Retrieval,
    ) -> Result<Retrieved, CallbackError> {
        let run = manager.on_retriever_start(
            Some(&retrieval.serialized()),
            question,
            RunOptions::named(retrieval.run_name()),
        )?;
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
                let (_, completion, _) = self.generate(&inner, &prompt, false)?;
                retrieved.variants = Self::variants_of(&completion);
                let mut lists = Vec::with_capacity(retrieved.variants.len());
                for variant in &retrieved.variants {
                    lists.push(
                        self.retrieve(&inner, variant, Retrieval::Keyword)?
                            .documents,
                    );
                }
                retrieved.documents = unique_union(lists.iter().map(Vec::as_slice));
            }
            Retrieval::Compression => {
                let base = run.child().on_retriever_start(
                    Some(&components::keyword_retriever()),
                    question,
                    RunOptions::named("KeywordRetriever"),
                )?;
                retrieved.candidates = self.search(question, self.candidates_k);
                base.on_retriever_end(&retrieved.candidates)?;
                retrieved.documents = compress(question, &retrieved.candidates);
            }
        }
        run.on_retriever_end(&retrieved.documents)?;
        Ok(retrieved)
    }

    /// One model run on `prompt`; streams its tokens when `stream`. Returns the run id, the
    /// text and the number of tokens streamed.
    fn generate(
        &self,
        manager: &CallbackManager,
        prompt: &str,
        stream: bool,
    ) -> Result<(Uuid, String, usize), CallbackError> {
        let run = manager.on_llm_start(
            &components::llm(),
            prompt,
            RunOptions::named(StandInLlm::MODEL_NAME),
        )?;
        let text = self.llm.complete(prompt);
        {
            let mut streamed = 0;
            if stream {
                for token in StandInLlm::tokens(&text) {
                    if !self.llm.token_delay.is_zero() {
                        std::thread::sleep(self.llm.token_delay);
                    }
                    run.on_llm_new_token(token, None)?;
                    streamed += 1;
                }
            }
            let run_id = run.run_id();
            run.on_llm_end(&StandInLlm::result(prompt, &text))?;
            Ok((run_id, text, streamed))
        }
    }
}
