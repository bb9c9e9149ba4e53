use llm_callbacks::{chain, tool};

#[chain]
const fn constant(n: u32) -> u32 {
    n
}

#[tool(err)]
fn nothing(text: &str) {
    let _ = text;
}

#[chain(skip(a), inputs(b))]
fn both(a: u32, b: u32) -> u32 {
    a + b
}

#[chain(name = "a", name = "b")]
fn twice() {}

#[tool(err(Pretty))]
fn pretty() -> Result<(), String> {
    Ok(())
}

fn main() {}
