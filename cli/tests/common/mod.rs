//! Running the built `llm-callbacks` binary with a clean environment, and the repository's
//! example data.
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The built binary, with none of the evaluator settings of the environment it runs in.
pub fn cli() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_llm-callbacks"));
    for var in [
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "UPTRAIN_API_KEY",
        "UPTRAIN_SERVER_URL",
        "UPTRAIN_EVALUATOR",
        "UPTRAIN_KEY_TYPE",
        "UPTRAIN_MODEL",
        "UPTRAIN_MAX_IN_FLIGHT",
        "UPTRAIN_REQUESTS_PER_MINUTE",
        "UPTRAIN_TOKENS_PER_MINUTE",
    ] {
        command.env_remove(var);
    }
    command
}

/// Runs `command` and returns its output.
pub fn run(command: &mut Command) -> Output {
    match command.output() {
        Ok(output) => output,
        Err(e) => panic!("cannot run {command:?}: {e}"),
    }
}

/// The exit code.
pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A file of the examples' data.
pub fn example_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/data")
        .join(name)
}

/// The JSON lines of a file.
pub fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or(serde_json::Value::Null))
        .collect()
}
