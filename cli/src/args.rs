//! The command line: `grade` and `compare`, and the options they share.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Grade LLM answers with UpTrain's checks: datasets, recordings, comparisons, a CI gate.
#[derive(Debug, Parser)]
#[command(name = "llm-callbacks", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Grade a JSONL or CSV dataset, or a recording, and apply the quality gate.
    Grade(Box<GradeArgs>),
    /// Compare two graded files: per-check means, rows that got worse, and a sign test.
    Compare(CompareArgs),
}

/// Which evaluator grades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum EvaluatorArg {
    /// As the plugin decides: offline unless `UPTRAIN_EVALUATOR` or a given key asks for more.
    Auto,
    /// Lexical estimates: no network, no key.
    Offline,
    /// An LLM judge on an OpenAI-compatible server (`OPENAI_API_KEY`, `OPENAI_BASE_URL`).
    Judge,
    /// The managed UpTrain API (`UPTRAIN_API_KEY`).
    UptrainApi,
}

/// `grade`'s options.
#[derive(Debug, Args)]
pub(crate) struct GradeArgs {
    /// The dataset: JSON lines or CSV (by extension; `--format` to say), one row per line,
    /// with UpTrain's columns (question, context, response, ...).
    #[arg(
        required_unless_present = "from_recording",
        conflicts_with = "from_recording"
    )]
    pub(crate) data: Option<PathBuf>,
    /// Grade what handler-core's JSONL recorder captured, its RAG flows recognised as the
    /// UpTrain handler recognises them live.
    #[arg(long, value_name = "RUNS.jsonl")]
    pub(crate) from_recording: Option<PathBuf>,
    /// The dataset's format, when its extension does not say.
    #[arg(long, value_enum)]
    pub(crate) format: Option<Format>,
    /// Checks, comma-separated (UpTrain's names). Default: context_relevance,
    /// factual_accuracy, response_completeness; for a recording, each flow's own checks.
    #[arg(long, value_delimiter = ',')]
    pub(crate) checks: Vec<String>,
    /// Where the graded rows go (JSON lines); default standard output.
    #[arg(long, short)]
    pub(crate) out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) evaluator: EvaluatorArgs,
    #[command(flatten)]
    pub(crate) gate: GateArgs,
    #[command(flatten)]
    pub(crate) summary: SummaryArgs,
    /// Write a self-contained HTML report (score charts, the worst rows).
    #[arg(long, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,
    /// Never draw a progress bar (it is drawn only on a terminal anyway).
    #[arg(long)]
    pub(crate) no_progress: bool,
}

/// Dataset formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One JSON object per line.
    Jsonl,
    /// A header line, then one row per line.
    Csv,
}

/// Which evaluator, and its settings.
#[derive(Debug, Args)]
pub(crate) struct EvaluatorArgs {
    /// Which evaluator grades. Sending rows to a judge or the API needs `judge` /
    /// `uptrain-api` here (or `UPTRAIN_EVALUATOR`): a key in the environment is not consent.
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) evaluator: EvaluatorArg,
    /// The judge model (default `UPTRAIN_MODEL`, else gpt-3.5-turbo).
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// The judge's base URL (default `OPENAI_BASE_URL`), or the UpTrain server's.
    #[arg(long)]
    pub(crate) base_url: Option<String>,
    /// Judge requests in flight at once (default 16).
    #[arg(long)]
    pub(crate) max_in_flight: Option<usize>,
    /// Judge requests per minute (0 = unlimited; default 100).
    #[arg(long)]
    pub(crate) requests_per_minute: Option<u32>,
    /// Estimated judge tokens per minute (0 = unlimited; default 90,000).
    #[arg(long)]
    pub(crate) tokens_per_minute: Option<u32>,
    /// Answer judge requests from this file and append new answers to it (commit it for
    /// deterministic, free CI runs).
    #[arg(long, value_name = "FILE")]
    pub(crate) cache: Option<PathBuf>,
    /// With `--cache`: never call the judge; list the requests the cache lacks and exit 2.
    #[arg(long, requires = "cache")]
    pub(crate) cache_strict: bool,
    /// A price table (JSON, as handler-core's `data/prices.json`) merged over the shipped one
    /// to price the judge's tokens.
    #[arg(long, value_name = "FILE")]
    pub(crate) prices: Option<PathBuf>,
}

/// The quality gate.
#[derive(Debug, Args, Default)]
pub(crate) struct GateArgs {
    /// Fail (exit 1) when a check's mean score is below a threshold: `check=0.7`;
    /// repeatable.
    #[arg(long, value_name = "CHECK=MIN")]
    pub(crate) fail_under: Vec<String>,
    /// A TOML file with `[fail_under]` thresholds and an optional `max_drop`.
    #[arg(long, value_name = "FILE")]
    pub(crate) gate: Option<PathBuf>,
    /// A graded file to compare with: a check whose mean dropped more than `--max-drop`
    /// fails the gate.
    #[arg(long, value_name = "FILE")]
    pub(crate) baseline: Option<PathBuf>,
    /// The largest drop of a check's mean allowed against the baseline (default 0.05).
    #[arg(long)]
    pub(crate) max_drop: Option<f64>,
}

/// Where summaries go (the table always goes to standard error).
#[derive(Debug, Args, Default)]
pub(crate) struct SummaryArgs {
    /// Write the summary as JSON.
    #[arg(long, value_name = "FILE")]
    pub(crate) summary_json: Option<PathBuf>,
    /// Write the summary as Markdown (e.g. `$GITHUB_STEP_SUMMARY`).
    #[arg(long, value_name = "FILE")]
    pub(crate) summary_md: Option<PathBuf>,
}

/// `compare`'s options.
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// The baseline's graded rows (JSON lines written by `grade`).
    pub(crate) base: PathBuf,
    /// The new graded rows.
    pub(crate) new: PathBuf,
    /// Fail (exit 1) when a check's mean dropped more than this.
    #[arg(long)]
    pub(crate) max_drop: Option<f64>,
    /// Rows that got worse shown per check.
    #[arg(long, default_value_t = 5)]
    pub(crate) show: usize,
    #[command(flatten)]
    pub(crate) summary: SummaryArgs,
}
