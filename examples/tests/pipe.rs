//! The main example behaves in a pipe: a reader that goes away (`| head -1`) ends it quietly
//! with success, not a panic, and its log carries no colour codes when stderr is not a
//! terminal. Runs the compiled `rag_pipeline` example (cargo builds the examples for tests).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `target/<profile>/examples/rag_pipeline`, next to this test's `deps` directory.
fn example() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile = exe.parent()?.parent()?;
    let path = profile
        .join("examples")
        .join(format!("rag_pipeline{}", std::env::consts::EXE_SUFFIX));
    path.exists().then_some(path)
}

fn command(path: &PathBuf) -> Command {
    let mut command = Command::new(path);
    for (key, _) in std::env::vars() {
        if key.starts_with("UPTRAIN_")
            || key.starts_with("OPENAI_")
            || key == "LLM_CALLBACKS_PLUGINS"
        {
            command.env_remove(key);
        }
    }
    command.stdin(Stdio::null());
    command
}

#[test]
fn a_closed_stdout_ends_the_example_quietly() {
    let Some(path) = example() else {
        eprintln!("rag_pipeline example not built; skipped");
        return;
    };
    // `| head -1`: read one line, then close the pipe.
    let mut child = command(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(first.starts_with("handlers:"), "{first}");
    assert!(output.status.success(), "{:?}\n{stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "colour codes in a piped log: {stderr}"
    );

    // A stdout closed before the first line.
    let mut child = command(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}\n{stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn offline_output_says_estimates_and_how_to_turn_a_judge_on() {
    let Some(path) = example() else {
        eprintln!("rag_pipeline example not built; skipped");
        return;
    };
    let output = command(&path)
        .env("OPENAI_API_KEY", "sk-present-but-not-consent")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("UpTrain evaluator: offline"), "{stdout}");
    assert!(stdout.contains("UPTRAIN_EVALUATOR=judge"), "{stdout}");
    assert!(stdout.contains("OPENAI_BASE_URL"), "{stdout}");
    // Discovered handlers log their rows to `tracing`; the example's table marks estimates.
    assert!(
        stdout.contains("(estimate) = offline lexical estimate"),
        "{stdout}"
    );
    assert!(stdout.contains("(estimate)"), "{stdout}");
    assert!(
        stderr.contains("OPENAI_API_KEY is set but not used"),
        "{stderr}"
    );
}
