//! `grade`: read a dataset or a recording, grade it at the evaluator's full concurrency, write
//! every row (scored, or with the reason it was not), then the summary, the gate's verdict and
//! the report.

use std::fs::File;
use std::io::{BufWriter, Write};

use serde_json::Value;
use uptrain_plugin::{Check, EvaluatorKind, GradeOptions, GradedRow, JudgeUsage, Row, grade};

use crate::Outcome;
use crate::args::GradeArgs;
use crate::compare::outcome_name;
use crate::evaluator::{Chosen, choose};
use crate::gate::Gate;
use crate::input::{read_dataset, read_graded};
use crate::stats::{check_stats, compare};
use crate::summary::{CacheSummary, Summary};
use crate::{progress, report};

/// Misses of a strict cache listed on standard error, at most.
const MISSES_SHOWN: usize = 50;

/// Rows graded with the same checks, each with where it came from.
struct Group {
    checks: Vec<Check>,
    rows: Vec<Source>,
}

/// One input row: its origin (for messages) and the fields added to its output.
struct Source {
    origin: String,
    extra: Row,
    row: Row,
}

pub(crate) fn run(args: &GradeArgs) -> Result<Outcome, String> {
    let gate = Gate::from_args(&args.gate)?;
    let baseline = match &args.gate.baseline {
        Some(path) => Some(read_graded(path).map_err(|e| e.to_string())?),
        None => None,
    };
    let checks = parse_checks(&args.checks)?;
    let (groups, mut input_errors, mut out_rows) = read_input(args, checks)?;
    let chosen = choose(&args.evaluator)?;
    let total: usize = groups.iter().map(|g| g.rows.len()).sum();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let bar = progress::bar(total, args.no_progress);
    let mut usage = JudgeUsage::default();
    let mut offset = 0;
    for group in groups {
        let (origins, extras, rows): (Vec<_>, Vec<_>, Vec<_>) = group
            .rows
            .into_iter()
            .map(|s| (s.origin, s.extra, s.row))
            .fold(
                (Vec::new(), Vec::new(), Vec::new()),
                |mut acc, (o, e, r)| {
                    acc.0.push(o);
                    acc.1.push(e);
                    acc.2.push(r);
                    acc
                },
            );
        let n = rows.len();
        let options = GradeOptions::default().on_progress(progress::callback(&bar, offset));
        let graded = runtime
            .block_on(grade(
                chosen.evaluator.as_ref(),
                rows,
                &group.checks,
                &options,
            ))
            .map_err(|e| e.to_string())?;
        offset += n;
        usage += graded.usage;
        for ((row, origin), extra) in graded.rows.into_iter().zip(origins).zip(extras) {
            let mut out = match row {
                GradedRow::Scored(r) => r.to_json(),
                GradedRow::Rejected { input, reason, .. } => {
                    input_errors.push(format!("{origin}: {reason}"));
                    let mut out = input;
                    out.insert("error".into(), Value::String(reason));
                    out
                }
            };
            for (k, v) in extra {
                out.entry(k).or_insert(v);
            }
            out_rows.push(out);
        }
    }
    bar.finish_and_clear();
    // Input order: dataset rows by line, recorded answers by their order in the recording.
    out_rows.sort_by_key(|r| {
        r.get("line")
            .or_else(|| r.get("answer"))
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX)
    });
    write_rows(args, &out_rows)?;

    let stats = check_stats(&out_rows);
    let mut verdicts = gate.thresholds(&stats)?;
    let comparison = match &baseline {
        Some(base) => compare(base, &out_rows),
        None => Vec::new(),
    };
    if baseline.is_some() {
        verdicts.extend(gate.regressions(&comparison));
    }
    let mut outcome = if verdicts.iter().all(|v| v.passed) {
        Outcome::Passed
    } else {
        Outcome::GateFailed
    };
    if !input_errors.is_empty() {
        outcome = outcome.and(Outcome::InputError);
    }
    outcome = outcome.and(strict_misses(&chosen, &out_rows));
    let summary = Summary {
        outcome: outcome_name(outcome),
        evaluator: chosen.evaluator.name().to_owned(),
        estimate: chosen.kind == EvaluatorKind::Offline,
        rows: out_rows.len(),
        graded: out_rows.len() - input_errors.len(),
        input_errors,
        checks: stats,
        gate: verdicts,
        comparison,
        cache: chosen.cache.as_ref().map(|c| CacheSummary {
            hits: c.hits(),
            misses: c.miss_count(),
            stored: c.stored(),
            write_errors: c.write_errors(),
        }),
        judge_usage: usage,
    };
    for e in summary.input_errors.iter().take(MISSES_SHOWN) {
        eprintln!("error: {e}");
    }
    eprint!("{}", summary.table());
    summary.write(&args.summary)?;
    if let Some(path) = &args.report {
        std::fs::write(path, report::html(&summary, &out_rows))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(outcome)
}

/// `--checks` as checks; none means the RAG checks (or, for a recording, each flow's).
fn parse_checks(names: &[String]) -> Result<Vec<Check>, String> {
    names
        .iter()
        .filter(|n| !n.trim().is_empty())
        .map(|n| n.trim().parse::<Check>().map_err(|e| e.to_string()))
        .collect()
}

type Input = (Vec<Group>, Vec<String>, Vec<Row>);

/// The rows to grade, the input errors, and the output rows of the bad lines.
fn read_input(args: &GradeArgs, checks: Vec<Check>) -> Result<Input, String> {
    if let Some(path) = &args.from_recording {
        let recording = uptrain_plugin::read_recording(path).map_err(|e| e.to_string())?;
        let mut groups: Vec<Group> = Vec::new();
        for (i, r) in recording.rows.into_iter().enumerate() {
            let group_checks = if checks.is_empty() {
                r.checks
            } else {
                checks.clone()
            };
            let mut extra = Row::new();
            extra.insert("flow".into(), Value::String(r.flow.clone()));
            if let Some(id) = r.run_id {
                extra.insert("run_id".into(), Value::String(id.to_string()));
            }
            extra.insert("answer".into(), Value::from(i + 1));
            let source = Source {
                origin: format!("answer {} ({} flow)", i + 1, r.flow),
                extra,
                row: r.row,
            };
            match groups.iter_mut().find(|g| g.checks == group_checks) {
                Some(g) => g.rows.push(source),
                None => groups.push(Group {
                    checks: group_checks,
                    rows: vec![source],
                }),
            }
        }
        if groups.is_empty() {
            eprintln!(
                "note: {} holds {} events but no answer the UpTrain handler recognises",
                path.display(),
                recording.events
            );
        }
        return Ok((groups, Vec::new(), Vec::new()));
    }
    let Some(path) = &args.data else {
        return Err("name a dataset, or --from-recording".into());
    };
    let (rows, bad) = read_dataset(path, args.format).map_err(|e| e.to_string())?;
    let errors = bad
        .iter()
        .map(|b| format!("{}: {b}", path.display()))
        .collect();
    let bad_rows = bad
        .into_iter()
        .map(|b| {
            let mut row = Row::new();
            row.insert("line".into(), Value::from(b.line));
            row.insert("error".into(), Value::String(b.reason));
            row
        })
        .collect();
    let checks = if checks.is_empty() {
        Check::RAG.to_vec()
    } else {
        checks
    };
    let rows = rows
        .into_iter()
        .map(|l| {
            let mut extra = Row::new();
            extra.insert("line".into(), Value::from(l.line));
            Source {
                origin: format!("{}: line {}", path.display(), l.line),
                extra,
                row: l.row,
            }
        })
        .collect();
    Ok((vec![Group { checks, rows }], errors, bad_rows))
}

fn write_rows(args: &GradeArgs, rows: &[Row]) -> Result<(), String> {
    let sink: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(File::create(path).map_err(|e| format!("{}: {e}", path.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = BufWriter::new(sink);
    for row in rows {
        let line = serde_json::to_string(row).map_err(|e| e.to_string())?;
        writeln!(sink, "{line}").map_err(|e| format!("writing the graded rows: {e}"))?;
    }
    sink.flush()
        .map_err(|e| format!("writing the graded rows: {e}"))
}

/// A strict cache's misses, listed by row and check; an input error when there are any.
fn strict_misses(chosen: &Chosen, rows: &[Row]) -> Outcome {
    let Some(cache) = chosen.cache.as_ref().filter(|c| c.is_strict()) else {
        return Outcome::Passed;
    };
    let count = cache.miss_count();
    if count == 0 {
        return Outcome::Passed;
    }
    eprintln!(
        "error: {count} judge requests are not in the cache {} (strict: not sent):",
        cache.path().display()
    );
    let mut shown = 0;
    for row in rows {
        for (key, value) in row {
            let (Some(check), Some(error)) = (key.strip_prefix("error_"), value.as_str()) else {
                continue;
            };
            if !error.contains("not in the judge cache") || shown >= MISSES_SHOWN {
                continue;
            }
            shown += 1;
            let at = row
                .get("line")
                .map(|l| format!("line {l}"))
                .or_else(|| row.get("answer").map(|a| format!("answer {a}")))
                .unwrap_or_default();
            let question = row
                .get("question")
                .and_then(Value::as_str)
                .unwrap_or_default();
            eprintln!("  {at}, {check}: question {question:?} ({error})");
        }
    }
    Outcome::InputError
}
