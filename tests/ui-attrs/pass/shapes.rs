//! Function shapes the run attributes accept: generics, references, `impl Trait`, `?`, `mut`
//! and pattern arguments, methods with every receiver, inner attributes, raw identifiers.

use std::fmt::Display;

use llm_callbacks::{chain, retriever, tool};

#[chain]
fn generic<T: Clone, U>(value: T, _opaque: U) -> T {
    value.clone()
}

#[tool]
fn borrowed<'a>(text: &'a str, _other: &str) -> &'a str {
    text.trim()
}

#[chain]
fn opaque(n: u32) -> impl Display {
    n * 2
}

#[tool]
fn parse(text: &str) -> Result<i32, std::num::ParseIntError> {
    let n: i32 = text.parse()?;
    Ok(n + 1)
}

#[chain(err)]
fn aliased(text: &str) -> std::io::Result<usize> {
    Ok(text.len())
}

#[chain]
fn patterns(mut total: u32, (a, b): (u32, u32), _: u8) -> u32 {
    #![allow(clippy::needless_late_init)]
    total += a + b;
    total
}

#[retriever(crate = "llm_callbacks")]
fn r#type(r#match: &str) -> Vec<String> {
    vec![r#match.to_owned()]
}

#[chain]
async fn asynchronous(text: String) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let n: i32 = text.parse()?;
    Ok(n.to_string())
}

#[tool]
async fn async_borrowed(text: &str) -> &str {
    text
}

#[chain]
fn unit(_: &str) {}

struct Agent {
    name: String,
}

impl Agent {
    #[chain]
    fn new(name: &str) -> Self {
        Self { name: name.to_owned() }
    }

    #[tool]
    fn by_ref(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.name)
    }

    #[tool]
    fn by_mut(&mut self, suffix: &str) -> usize {
        self.name.push_str(suffix);
        self.name.len()
    }

    #[chain]
    fn by_value(self) -> String {
        self.name
    }

    #[chain]
    async fn by_ref_async(&self) -> &str {
        &self.name
    }
}

fn assert_send<F: Send>(future: F) -> F {
    future
}

fn main() {
    assert_eq!(generic(1, ()), 1);
    assert_eq!(borrowed(" a ", ""), "a");
    assert_eq!(opaque(2).to_string(), "4");
    assert_eq!(parse("1").ok(), Some(2));
    assert_eq!(aliased("ab").ok(), Some(2));
    assert_eq!(patterns(1, (2, 3), 0), 6);
    assert_eq!(r#type("x"), ["x"]);
    unit("");
    let mut agent = Agent::new("a");
    assert_eq!(agent.by_ref("b"), "ab");
    assert_eq!(agent.by_mut("c"), 2);
    let _ = assert_send(asynchronous(String::new()));
    let _ = assert_send(async_borrowed(""));
    let _ = agent.by_ref_async();
    assert_eq!(agent.by_value(), "ac");
}
