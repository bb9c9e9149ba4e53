//! Recording a settled evaluation: its rows are logged (console or `tracing`), written to the
//! output file, published to the evaluation listeners, kept for `flush` and `results`, and
//! counted. Runs on the worker's thread, except for answers that arrive after a shutdown.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

use super::config::ResultsLog;
use super::outcomes::KeepBound;
use super::record::EvaluatedRow;
use super::{Graded, Inner, Reply, lock};
use crate::error::EvaluationError;
use crate::evaluator::EvaluationRequest;

/// The rows of an evaluation: its results, or every input row carrying the evaluation's error.
fn rows_of(
    request: &EvaluationRequest,
    run: Option<Graded>,
    outcome: &Result<crate::Evaluation, EvaluationError>,
    evaluator: &str,
    estimate: bool,
) -> Vec<EvaluatedRow> {
    let (project, evaluation) = (&request.project, &request.evaluation);
    let run_id = run.map(|r| r.run_id);
    let rows: Vec<EvaluatedRow> = match outcome {
        Ok(done) => done
            .rows
            .iter()
            .cloned()
            .map(|r| EvaluatedRow::from_result(project, evaluation, run_id, r))
            .collect(),
        Err(error) => request
            .rows
            .iter()
            .map(|row| {
                EvaluatedRow::failed(
                    project,
                    evaluation,
                    run_id,
                    row.clone(),
                    &request.checks,
                    error,
                )
            })
            .collect(),
    };
    // Rows that were never graded carry no estimate.
    let estimate = estimate && outcome.is_ok();
    rows.into_iter()
        .map(|row| {
            row.graded_by(evaluator, estimate)
                .in_tree(run.and_then(|r| r.root_run_id))
        })
        .collect()
}

impl Inner {
    /// Records an evaluation's rows: console, file, per-project results, flush list,
    /// counters. The rows are always recorded and the evaluation always leaves the pending
    /// set, even when printing or logging panics (as a `tracing` subscriber does when its
    /// stderr is closed). A refusal was counted when it happened; here it only gets its row.
    pub(super) fn publish(
        &self,
        request: &EvaluationRequest,
        seq: u64,
        run: Option<Graded>,
        outcome: Result<crate::Evaluation, EvaluationError>,
        reply: Option<Reply>,
    ) {
        let rows = rows_of(
            request,
            run,
            &outcome,
            self.evaluator.name(),
            self.estimates,
        );
        let announced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.announce(request, &outcome, &rows)
        }));
        // One result per check per row, through the core, to whoever listens (listeners
        // return at once; the core catches a panicking one). Before the rows are settled, so
        // a flush that returns them returns after the listeners have them too.
        if handler_core::evaluation::has_listeners() {
            for row in &rows {
                for result in row.evaluation_results() {
                    handler_core::evaluation::publish(&result);
                }
            }
        }
        let bound = KeepBound {
            bytes: self.config.kept_bytes,
            rows: self.config.retention,
        };
        let refusals = {
            let mut outcomes = lock(&self.outcomes);
            outcomes.keep(&request.project, seq, &rows, bound);
            outcomes.unsettled.remove(&seq);
            let refusal = matches!(outcome, Err(EvaluationError::QueueFull { .. }));
            if refusal {
                outcomes.refusals_in_flight = outcomes.refusals_in_flight.saturating_sub(1);
            }
            let stats = &mut outcomes.stats;
            match &outcome {
                Ok(done) => {
                    stats.evaluated += 1;
                    stats.judge_usage += done.usage.clone();
                }
                Err(EvaluationError::QueueFull { .. }) => {}
                Err(EvaluationError::DeadlineExceeded { .. }) => stats.deadline_exceeded += 1,
                Err(EvaluationError::ShutDown) => stats.given_up += 1,
                Err(_) => stats.failed += 1,
            }
            refusal.then(|| {
                outcomes.refusals_recorded += 1;
                (
                    outcomes.refusals_recorded,
                    outcomes.stats.refused,
                    outcomes.stats.refused_unrecorded,
                )
            })
        };
        self.settled.notify_all();
        self.notify.notify_waiters();
        if let Some(reply) = reply {
            let _ = reply.send(outcome.map(|_| rows));
        }
        if let Some((recorded, refused, unrecorded)) = refusals
            && recorded.is_power_of_two()
        {
            // 1, 2, 4, 8, ...: a full queue is said, without a line per answer.
            let (budget, when_full) = (self.config.pending_bytes, self.config.when_full);
            let _ = std::panic::catch_unwind(|| {
                tracing::warn!(
                    refused,
                    unrecorded,
                    pending_bytes = budget,
                    ?when_full,
                    "UpTrain: evaluation queue full; answers recorded as not evaluated \
                     (raise the pending bytes, wait for room, or raise the evaluator's limits)"
                );
            });
        }
        if announced.is_err() {
            // Logging itself may be what failed: say it the one way that does not panic.
            let _ = writeln!(
                io::stderr(),
                "UpTrain: printing or logging results panicked; the results are kept"
            );
        }
    }

    /// Logs failures, logs the rows (console or `tracing`) and writes the output file.
    fn announce(
        &self,
        request: &EvaluationRequest,
        outcome: &Result<crate::Evaluation, EvaluationError>,
        rows: &[EvaluatedRow],
    ) {
        let (project, evaluation) = (&request.project, &request.evaluation);
        match outcome {
            // Counted and summarised elsewhere: no line per row.
            Err(EvaluationError::QueueFull { .. } | EvaluationError::ShutDown) => {}
            Err(error) => {
                tracing::warn!(%project, %evaluation, %error, "UpTrain evaluation failed");
            }
            Ok(_) => {
                for row in rows {
                    for (check, error) in &row.errors {
                        tracing::warn!(%project, run_id = ?row.run_id, %check, %error, "UpTrain check failed");
                    }
                }
            }
        }
        let traced = self.config.log_results && self.config.results_log == ResultsLog::Tracing;
        for row in rows {
            if traced {
                log_row(row);
            }
            self.print(row);
            self.write(row);
        }
    }

    fn print(&self, row: &EvaluatedRow) {
        let Some(console) = &self.console else { return };
        let mut out = lock(console);
        let written = writeln!(out, "\n{}", row.display_block()).and_then(|()| out.flush());
        if let Err(error) = written {
            tracing::warn!(%error, "UpTrain: cannot print results");
        }
    }

    /// Appends the row as one JSON line, whole or not at all: the line is built first and
    /// written with one call; if that fails part way (a full disk), the file is cut back to
    /// where it was, so the next line starts clean.
    fn write(&self, row: &EvaluatedRow) {
        let Some(file) = &self.file else { return };
        let mut line = match serde_json::to_vec(row) {
            Ok(line) => line,
            Err(error) => {
                tracing::warn!(%error, "UpTrain: cannot encode a result row");
                return;
            }
        };
        line.push(b'\n');
        let mut file = lock(file);
        if let Err(error) = append_whole(&mut file, &line) {
            tracing::warn!(%error, "UpTrain: cannot write results to the output file");
        }
    }
}

/// One `tracing` event for a row: who graded what, the scores and what grading cost; no
/// question, context or answer.
fn log_row(row: &EvaluatedRow) {
    let scores = row
        .check_names()
        .into_iter()
        .map(|name| match row.scores.get(name).copied().flatten() {
            Some(score) => format!("{name}={}", super::record::format_score(score)),
            None => format!("{name}=failed"),
        })
        .collect::<Vec<_>>()
        .join(" ");
    tracing::info!(
        target: "uptrain",
        project = %row.project,
        evaluation = %row.evaluation,
        run_id = ?row.run_id,
        evaluator = %row.evaluator,
        estimate = row.estimate,
        %scores,
        grading_cost = %row
            .judge_usage
            .as_ref()
            .map_or_else(|| "not graded".to_owned(), ToString::to_string),
        "UpTrain result"
    );
}

/// Appends `line` to `file` (opened in append mode), or leaves the file as it was.
fn append_whole(file: &mut File, line: &[u8]) -> io::Result<()> {
    let before = file.seek(SeekFrom::End(0))?;
    match file.write_all(line) {
        Ok(()) => Ok(()),
        Err(error) => {
            if let Err(undo) = file.set_len(before) {
                tracing::warn!(%undo, "UpTrain: cannot cut a partly written line from the output file");
            }
            Err(error)
        }
    }
}
