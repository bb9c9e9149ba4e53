//! `llm-callbacks`: grade datasets and recordings with UpTrain's checks, compare two graded
//! runs, and fail a CI build when quality drops.
//!
//! Exit codes: 0 = passed, 1 = the quality gate failed, 2 = a usage or input error (a bad
//! line, an unreadable file, strict-cache misses); with both, 2 wins.

mod args;
mod compare;
mod evaluator;
mod gate;
mod grading;
mod input;
mod progress;
mod report;
mod stats;
mod summary;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

/// The gate failed.
const EXIT_GATE: u8 = 1;
/// A usage or input error.
const EXIT_INPUT: u8 = 2;

/// What a command ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Everything was graded and the gate (if any) passed.
    Passed,
    /// The gate failed.
    GateFailed,
    /// Some input could not be used (the rest was still processed).
    InputError,
}

impl Outcome {
    /// The more serious of two outcomes.
    pub(crate) fn and(self, other: Outcome) -> Outcome {
        match (self, other) {
            (Outcome::InputError, _) | (_, Outcome::InputError) => Outcome::InputError,
            (Outcome::GateFailed, _) | (_, Outcome::GateFailed) => Outcome::GateFailed,
            _ => Outcome::Passed,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Grade(args) => grading::run(&args),
        Command::Compare(args) => compare::run(&args),
    };
    match result {
        Ok(Outcome::Passed) => ExitCode::SUCCESS,
        Ok(Outcome::GateFailed) => ExitCode::from(EXIT_GATE),
        Ok(Outcome::InputError) => ExitCode::from(EXIT_INPUT),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_INPUT)
        }
    }
}
