use llm_callbacks::{chain, retriever};

#[chain(skip(questoin))]
fn answer(question: &str, context: &str) -> String {
    format!("{question}{context}")
}

#[retriever(inputs(limit))]
fn search(query: &str) -> Vec<String> {
    vec![query.to_owned()]
}

fn main() {}
