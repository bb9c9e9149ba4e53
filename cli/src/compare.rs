//! `compare`: two graded files, per-check means, the rows that got worse, and whether each
//! difference is beyond the judge's noise (a two-sided sign test at 0.05).

use crate::Outcome;
use crate::args::CompareArgs;
use crate::gate::Gate;
use crate::input::read_graded;
use crate::stats::{check_stats, compare};
use crate::summary::{Summary, comparison_line, num};

pub(crate) fn run(args: &CompareArgs) -> Result<Outcome, String> {
    let base = read_graded(&args.base).map_err(|e| e.to_string())?;
    let new = read_graded(&args.new).map_err(|e| e.to_string())?;
    let comparison = compare(&base, &new);
    if comparison.is_empty() {
        return Err(format!(
            "{} and {} share no scored check",
            args.base.display(),
            args.new.display()
        ));
    }
    for c in &comparison {
        println!("{}", comparison_line(c));
        for w in c.worst.iter().take(args.show) {
            println!(
                "    worse: {}: {} → {}",
                w.key,
                num(Some(w.base)),
                num(Some(w.new))
            );
        }
        if c.worst.len() > args.show {
            println!("    ... and {} more", c.worst.len() - args.show);
        }
    }
    let gate = Gate {
        max_drop: args.max_drop,
        ..Gate::default()
    };
    let verdicts = if args.max_drop.is_some() {
        gate.regressions(&comparison)
    } else {
        Vec::new()
    };
    let outcome = if verdicts.iter().all(|v| v.passed) {
        Outcome::Passed
    } else {
        Outcome::GateFailed
    };
    let summary = Summary {
        outcome: outcome_name(outcome),
        evaluator: "compare".into(),
        rows: new.len(),
        graded: new.len(),
        checks: check_stats(&new),
        gate: verdicts,
        comparison,
        ..Summary::default()
    };
    summary.write(&args.summary)?;
    Ok(outcome)
}

pub(crate) fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::GateFailed => "gate_failed",
        Outcome::InputError => "input_error",
    }
}
