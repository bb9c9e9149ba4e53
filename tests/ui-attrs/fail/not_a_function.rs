use llm_callbacks::chain;

#[chain]
struct Answer {
    text: String,
}

fn main() {}
