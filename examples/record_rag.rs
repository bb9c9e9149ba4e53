//! Record now, grade later: the in-memory RAG pipeline answers every question of the shipped
//! set with only handler-core's JSONL recorder attached (cheap enough for a service under
//! load), and the recording is graded afterwards by the command-line tool:
//!
//! ```text
//! cargo run --example record_rag -- runs.jsonl
//! llm-callbacks grade --from-recording runs.jsonl
//! ```
//!
//! The recorded runs are the ones the UpTrain handler watches live: a keyword-retriever RAG
//! chain per question, and one multi-query and one contextual-compression flow.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use examples::{Pipeline, QUESTIONS, Retrieval};
use llm_callbacks::CallbackManager;
use llm_callbacks::handlers::JsonlRecorder;

fn main() -> ExitCode {
    match run() {
        Ok(path) => {
            println!("recorded to {}", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<PathBuf, Box<dyn Error>> {
    let path = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .unwrap_or_else(|| "runs.jsonl".into()),
    );
    let recorder = Arc::new(JsonlRecorder::create(&path)?);
    let manager = CallbackManager::new().with_handler(recorder.clone());
    let pipeline = Pipeline::shipped()?;
    for question in QUESTIONS {
        pipeline.answer(&manager, question, Retrieval::Keyword)?;
    }
    pipeline.answer(&manager, QUESTIONS[0], Retrieval::MultiQuery)?;
    pipeline.answer(&manager, QUESTIONS[1], Retrieval::Compression)?;
    recorder.flush()?;
    Ok(path)
}
