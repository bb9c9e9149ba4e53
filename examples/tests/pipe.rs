//! The main example behaves in a pipe: a reader that goes away (`| head -1`) ends it quietly
//! with success, not a panic, and its log carries no colour codes when stderr is not a
//! terminal. Runs the compiled `rag_pipeline` example (cargo builds the examples for tests)
//! without any variable the plugins read; when the example is missing, each test fails under
//! CI (`CI=true`) and elsewhere says on stderr that it did not run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The prefixes of every variable the core and the plugins read: a developer's own settings
/// must not turn on a judge or an exporter in these runs.
const PLUGIN_VARIABLES: [&str; 6] = [
    "UPTRAIN_",
    "OPENAI_",
    "OTEL_",
    "PHOENIX_",
    "OPENINFERENCE_",
    "LLM_CALLBACKS_",
];

/// `target/<profile>/examples/rag_pipeline`, next to this test's `deps` directory.
fn built_example() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let profile = exe.parent()?.parent()?;
    let path = profile
        .join("examples")
        .join(format!("rag_pipeline{}", std::env::consts::EXE_SUFFIX));
    path.exists().then_some(path)
}

/// The example, or `None` outside CI when it was not built (said plainly on stderr). Under CI
/// (`CI=true`) a missing example fails the test: it must run there.
fn example(test: &str) -> Option<PathBuf> {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    example_or_skip(built_example(), in_ci, test)
}

fn example_or_skip(built: Option<PathBuf>, in_ci: bool, test: &str) -> Option<PathBuf> {
    match built {
        Some(path) => Some(path),
        None if in_ci => panic!(
            "CI=true but the rag_pipeline example is not built: {test} must run in CI \
             (`cargo test -p examples` builds the examples)"
        ),
        None => {
            eprintln!(
                "{test} DID NOT RUN: the rag_pipeline example is not built \
                 (`cargo test -p examples` builds it)"
            );
            None
        }
    }
}

fn command(path: &PathBuf) -> Command {
    let developers = std::env::vars_os().map(|(key, _)| key);
    let mut command = without_plugin_variables(Command::new(path), developers);
    command.stdin(Stdio::null());
    command
}

/// `command` with each of `variables` that the plugins read removed from its environment.
fn without_plugin_variables(
    mut command: Command,
    variables: impl IntoIterator<Item = OsString>,
) -> Command {
    for key in variables {
        let read = key
            .to_str()
            .is_some_and(|key| PLUGIN_VARIABLES.iter().any(|p| key.starts_with(p)));
        if read {
            command.env_remove(key);
        }
    }
    command
}

#[test]
fn a_missing_example_fails_under_ci_and_is_reported_elsewhere() {
    let under_ci = std::panic::catch_unwind(|| example_or_skip(None, true, "this test"));
    let message = under_ci
        .err()
        .and_then(|panic| panic.downcast::<String>().ok());
    assert!(
        message.is_some_and(|m| m.contains("CI=true") && m.contains("not built")),
        "a missing example must fail under CI"
    );
    assert_eq!(example_or_skip(None, false, "this test"), None);
    let path = PathBuf::from("rag_pipeline");
    assert_eq!(example_or_skip(Some(path.clone()), true, "t"), Some(path));
}

#[test]
fn the_runs_see_none_of_the_plugins_variables() {
    // Variables the plugins read, each of which would send data somewhere or change the run.
    let read = [
        "UPTRAIN_EVALUATOR",
        "UPTRAIN_API_KEY",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "PHOENIX_COLLECTOR_ENDPOINT",
        "PHOENIX_API_KEY",
        "OPENINFERENCE_HIDE_INPUTS",
        "LLM_CALLBACKS_PLUGINS",
    ];
    let others = ["PATH", "CARGO_HOME"];
    let developers = read.iter().chain(&others).map(OsString::from);
    let command = without_plugin_variables(Command::new("rag_pipeline"), developers);
    let removed: Vec<_> = command
        .get_envs()
        .filter(|(_, value)| value.is_none())
        .filter_map(|(key, _)| key.to_str())
        .collect();
    let mut expected = read.to_vec();
    expected.sort_unstable();
    // `get_envs` lists in key order.
    assert_eq!(removed, expected);
}

#[test]
fn a_closed_stdout_ends_the_example_quietly() {
    let Some(path) = example("a_closed_stdout_ends_the_example_quietly") else {
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
    let Some(path) = example("offline_output_says_estimates_and_how_to_turn_a_judge_on") else {
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
