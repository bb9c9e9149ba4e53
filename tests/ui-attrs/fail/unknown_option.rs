use llm_callbacks::{chain, tool};

#[chain(nmae = "answer")]
fn answer(question: &str) -> String {
    question.to_owned()
}

#[tool(ret)]
fn add(a: i32, b: i32) -> i32 {
    a + b
}

fn main() {}
