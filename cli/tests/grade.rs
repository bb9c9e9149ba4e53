//! `grade` end to end with the offline evaluator: JSONL and CSV with bad lines (named, the
//! other rows graded, exit 2), a recording made by the examples, the gate's exit codes and
//! summaries, and `compare`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{cli, code, example_data, json_lines, run, stderr};
use serde_json::Value;

#[test]
fn jsonl_with_bad_lines_grades_the_rest_and_names_each_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.jsonl");
    std::fs::write(
        &data,
        concat!(
            r#"{"question": "Who wrote Hamlet?", "context": "Hamlet is by Shakespeare.", "response": "Shakespeare."}"#,
            "\n{not json\n",
            r#"{"question": "Where is Paris?", "response": "France."}"#,
            "\n\n",
            r#"{"question": "What is 2+2?", "context": "2+2 is 4.", "response": "4."}"#,
            "\n",
        ),
    )
    .unwrap();
    let out = dir.path().join("scores.jsonl");
    let output = run(cli()
        .args([
            "grade",
            "--checks",
            "context_relevance,factual_accuracy",
            "--out",
        ])
        .arg(&out)
        .arg(&data));
    assert_eq!(code(&output), 2, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("line 2: not JSON"), "{err}");
    assert!(err.contains("line 3: missing keys context"), "{err}");
    let rows = json_lines(&out);
    let lines: Vec<u64> = rows.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![1, 2, 3, 5], "every row, in input order");
    for graded in [&rows[0], &rows[3]] {
        assert!(graded["score_context_relevance"].is_number(), "{graded}");
        assert!(graded["score_factual_accuracy"].is_number(), "{graded}");
    }
    assert!(rows[1]["error"].as_str().unwrap().starts_with("not JSON"));
    assert_eq!(rows[2]["error"], "missing keys context");
}

#[test]
fn csv_with_a_short_line_grades_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.csv");
    std::fs::write(
        &data,
        "question,context,response\n\
         Who wrote Hamlet?,Hamlet is by Shakespeare.,Shakespeare.\n\
         Where is Paris?,Paris is in France.\n\
         \"What is 2+2?\nIn words.\",2+2 is 4.,Four.\n",
    )
    .unwrap();
    let out = dir.path().join("scores.jsonl");
    let output = run(cli()
        .args(["grade", "--checks", "context_relevance", "--out"])
        .arg(&out)
        .arg(&data));
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("line 3: 2 fields where the header has 3"),
        "{}",
        stderr(&output)
    );
    let rows = json_lines(&out);
    assert_eq!(rows.len(), 3);
    assert!(rows[0]["score_context_relevance"].is_number());
    assert_eq!(rows[1]["line"], 3);
    assert_eq!(rows[2]["line"], 4);
    assert!(rows[2]["score_context_relevance"].is_number());
}

#[test]
fn a_recording_made_by_the_examples_is_graded_flow_by_flow() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scores.jsonl");
    let output = run(cli()
        .args(["grade", "--from-recording"])
        .arg(example_data("runs.jsonl"))
        .arg("--out")
        .arg(&out));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let rows = json_lines(&out);
    let flows: Vec<&str> = rows.iter().map(|r| r["flow"].as_str().unwrap()).collect();
    // 13 keyword-retriever answers; the multi-query and compression runs are also RAG
    // answers, as the live handler sees them.
    assert_eq!(
        flows.iter().filter(|f| **f == "rag").count(),
        15,
        "{flows:?}"
    );
    let multi = flows.iter().position(|f| *f == "multi_query").unwrap();
    let rerank = flows
        .iter()
        .position(|f| *f == "context_reranking")
        .unwrap();
    assert_eq!(flows.len(), 17, "{flows:?}");
    // Each flow gets the handler's checks for it.
    assert!(rows[0]["score_factual_accuracy"].is_number());
    assert!(rows[multi]["score_multi_query_accuracy"].is_number());
    assert!(rows[multi].get("score_factual_accuracy").is_none());
    assert!(rows[rerank]["score_context_reranking"].is_number());
    let answers: Vec<u64> = rows.iter().map(|r| r["answer"].as_u64().unwrap()).collect();
    assert_eq!(
        answers,
        (1..=17).collect::<Vec<u64>>(),
        "in recording order"
    );
    assert!(rows.iter().all(|r| r["run_id"].is_string()));
}

#[test]
fn the_gate_exit_codes_and_summaries() {
    let dir = tempfile::tempdir().unwrap();
    let data = example_data("grade.jsonl");
    let grade = |extra: &[&str]| {
        let mut command = cli();
        command
            .arg("grade")
            .arg(&data)
            .arg("--out")
            .arg(dir.path().join("s.jsonl"));
        command.args(extra);
        run(&mut command)
    };
    // (arguments, exit code, text expected on stderr)
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &["--fail-under", "context_relevance=0.7"],
            0,
            "pass (≥ 0.7)",
        ),
        (
            &[
                "--fail-under",
                "context_relevance=0.7",
                "--fail-under",
                "factual_accuracy=0.95",
            ],
            1,
            "FAIL (≥ 0.95)",
        ),
        (
            &["--fail-under", "context_relevanse=0.7"],
            2,
            "`context_relevanse`, which was not graded",
        ),
        (
            &["--fail-under", "context_relevance"],
            2,
            "expected CHECK=MIN",
        ),
        (&["--checks", "no_such_check"], 2, "no_such_check"),
    ];
    for (args, expected, text) in cases {
        let output = grade(args);
        assert_eq!(code(&output), expected, "{args:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(text),
            "{args:?}: {}",
            stderr(&output)
        );
    }

    // A TOML gate, and the JSON and Markdown summaries.
    let gate = dir.path().join("gate.toml");
    std::fs::write(&gate, "[fail_under]\ncontext_relevance = 0.9\n").unwrap();
    let json = dir.path().join("summary.json");
    let md = dir.path().join("summary.md");
    let output = grade(&[
        "--gate",
        gate.to_str().unwrap(),
        "--summary-json",
        json.to_str().unwrap(),
        "--summary-md",
        md.to_str().unwrap(),
    ]);
    assert_eq!(code(&output), 1);
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(summary["outcome"], "gate_failed");
    assert_eq!(summary["rows"], 20);
    assert_eq!(summary["estimate"], true);
    assert_eq!(summary["gate"][0]["check"], "context_relevance");
    assert_eq!(summary["gate"][0]["passed"], false);
    let markdown = std::fs::read_to_string(&md).unwrap();
    assert!(
        markdown.starts_with("## Answer quality: gate failed"),
        "{markdown}"
    );
    assert!(markdown.contains("| context_relevance |"), "{markdown}");
}

#[test]
fn a_regression_against_the_baseline_fails_and_compare_says_it_is_beyond_noise() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.jsonl");
    let new = dir.path().join("new.jsonl");
    for (data, out) in [("grade.jsonl", &base), ("grade_v2.jsonl", &new)] {
        let output = run(cli()
            .arg("grade")
            .arg(example_data(data))
            .arg("--out")
            .arg(out));
        assert_eq!(code(&output), 0, "{}", stderr(&output));
    }
    // The same data against itself passes; the vaguer answers drop more than 0.05.
    let same = run(cli()
        .arg("grade")
        .arg(example_data("grade.jsonl"))
        .arg("--out")
        .arg(dir.path().join("again.jsonl"))
        .arg("--baseline")
        .arg(&base));
    assert_eq!(code(&same), 0, "{}", stderr(&same));
    let worse = run(cli()
        .arg("grade")
        .arg(example_data("grade_v2.jsonl"))
        .arg("--out")
        .arg(dir.path().join("again.jsonl"))
        .arg("--baseline")
        .arg(&base)
        .args(["--max-drop", "0.05"]));
    assert_eq!(code(&worse), 1, "{}", stderr(&worse));
    assert!(
        stderr(&worse).contains("FAIL (drop 0.250 ≤ 0.05)"),
        "{}",
        stderr(&worse)
    );

    let compare = run(cli().arg("compare").arg(&base).arg(&new));
    assert_eq!(code(&compare), 0);
    let text = String::from_utf8_lossy(&compare.stdout);
    assert!(
        text.contains("factual_accuracy: 0.875 → 0.625 (-0.250)"),
        "{text}"
    );
    assert!(
        text.contains("6 worse") && text.contains("beyond the judge's noise"),
        "{text}"
    );
    assert!(text.contains("context_relevance") && text.contains("within the judge's noise"));
    assert!(text.contains("worse: id q07: 1.000 → 0.000"), "{text}");
    let gated = run(cli()
        .arg("compare")
        .arg(&base)
        .arg(&new)
        .args(["--max-drop", "0.3"]));
    assert_eq!(code(&gated), 0);
    let gated = run(cli()
        .arg("compare")
        .arg(&base)
        .arg(&new)
        .args(["--max-drop", "0.1"]));
    assert_eq!(code(&gated), 1);
    let missing = run(cli()
        .arg("compare")
        .arg(&base)
        .arg(dir.path().join("nope.jsonl")));
    assert_eq!(code(&missing), 2);
}

#[test]
fn a_broken_recording_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("runs.jsonl");
    let mut text = std::fs::read_to_string(example_data("runs.jsonl")).unwrap();
    text.push_str("{\"event\": \"no_such_event\"}\n");
    let line = text.lines().count();
    std::fs::write(&recording, text).unwrap();
    let output = run(cli().arg("grade").arg("--from-recording").arg(&recording));
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains(&format!("line {line}")),
        "{}",
        stderr(&output)
    );
}
