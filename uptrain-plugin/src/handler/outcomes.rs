//! What the handler keeps of finished evaluations: the rows for the next flush and the rows
//! by project, both bounded by the bytes they hold (and, when asked, by a count), and the
//! counters. Rows are shared between the two lists, so a row costs its memory once.
//!
//! A row dropped by a bound is counted (in the stats and in the next flush's report), never
//! dropped silently.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use super::record::EvaluatedRow;
use super::report::{FlushReport, HandlerStats};
use super::size::evaluated_bytes;

/// One kept row: its evaluation's number (rows stay in enqueue order), its estimated size.
struct Entry {
    seq: u64,
    bytes: usize,
    row: Arc<EvaluatedRow>,
}

/// Rows in enqueue order, and the bytes they hold.
#[derive(Default)]
struct List {
    rows: VecDeque<Entry>,
    bytes: usize,
}

impl List {
    /// Inserts a row of evaluation `seq` after those of every earlier evaluation.
    fn insert(&mut self, seq: u64, bytes: usize, row: &Arc<EvaluatedRow>) {
        let at = self.rows.partition_point(|e| e.seq <= seq);
        self.rows.insert(
            at,
            Entry {
                seq,
                bytes,
                row: row.clone(),
            },
        );
        self.bytes += bytes;
    }

    fn pop_front(&mut self) -> Option<Entry> {
        let entry = self.rows.pop_front()?;
        self.bytes -= entry.bytes;
        Some(entry)
    }
}

/// How much is kept: bytes, and rows when a count was asked for too.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeepBound {
    pub(super) bytes: usize,
    pub(super) rows: Option<usize>,
}

impl KeepBound {
    fn exceeded(&self, rows: usize, bytes: usize) -> bool {
        bytes > self.bytes || self.rows.is_some_and(|max| rows > max)
    }
}

#[derive(Default)]
pub(super) struct Outcomes {
    /// The number of the next enqueued evaluation: rows are kept in enqueue order, whatever
    /// order their evaluations finish in.
    pub(super) next_seq: u64,
    /// Evaluations enqueued (or refused and handed to the worker) and not settled yet.
    pub(super) unsettled: BTreeSet<u64>,
    /// Of those, refusals not recorded by the worker yet (already counted as refused).
    pub(super) refusals_in_flight: usize,
    /// Refusals the worker recorded as rows.
    pub(super) refusals_recorded: u64,
    unflushed: List,
    by_project: BTreeMap<String, List>,
    /// Rows and bytes in `by_project`.
    kept_rows: usize,
    kept_bytes: usize,
    /// Rows finished since the last flush that it will not return.
    not_kept_since_flush: u64,
    pub(super) stats: HandlerStats,
}

impl Outcomes {
    /// Takes the number of a new evaluation, counted as submitted and unsettled.
    pub(super) fn begin(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.unsettled.insert(seq);
        self.stats.submitted += 1;
        seq
    }

    /// Evaluations enqueued or running (refusals on their way to the worker are counted as
    /// refused already).
    pub(super) fn pending(&self) -> usize {
        self.unsettled.len().saturating_sub(self.refusals_in_flight)
    }

    /// Counts a refused evaluation whose row could not be handed to the worker: it is a
    /// count only.
    pub(super) fn refused_unrecorded(&mut self, seq: u64) {
        self.unsettled.remove(&seq);
        self.stats.refused_unrecorded += 1;
        self.not_kept_since_flush += 1;
    }

    /// Keeps `rows` of evaluation `seq` in order, then drops the oldest beyond `bound`.
    pub(super) fn keep(
        &mut self,
        project: &str,
        seq: u64,
        rows: &[EvaluatedRow],
        bound: KeepBound,
    ) {
        let list = self.by_project.entry(project.to_owned()).or_default();
        for row in rows {
            let bytes = evaluated_bytes(row);
            let row = Arc::new(row.clone());
            self.unflushed.insert(seq, bytes, &row);
            list.insert(seq, bytes, &row);
            self.kept_rows += 1;
            self.kept_bytes += bytes;
        }
        let mut dropped = 0u64;
        while bound.exceeded(self.unflushed.rows.len(), self.unflushed.bytes)
            && self.unflushed.pop_front().is_some()
        {
            dropped += 1;
        }
        self.not_kept_since_flush += dropped;
        while bound.exceeded(self.kept_rows, self.kept_bytes) {
            // The oldest row of all projects goes first.
            let oldest = self
                .by_project
                .iter()
                .filter_map(|(name, list)| list.rows.front().map(|e| (e.seq, name.clone())))
                .min();
            let Some((_, name)) = oldest else { break };
            if let Some(list) = self.by_project.get_mut(&name) {
                if let Some(entry) = list.pop_front() {
                    self.kept_rows -= 1;
                    self.kept_bytes -= entry.bytes;
                    dropped += 1;
                }
                if list.rows.is_empty() {
                    self.by_project.remove(&name);
                }
            }
        }
        self.stats.rows_not_kept += dropped;
    }

    /// The oldest evaluation not settled yet, or the next number when all are.
    pub(super) fn first_unsettled(&self) -> u64 {
        self.unsettled.first().copied().unwrap_or(self.next_seq)
    }

    /// Takes the kept rows of evaluations before `target`, counts those unfinished, and says
    /// how many rows finished since the last flush were not kept.
    pub(super) fn take_before(&mut self, target: u64) -> FlushReport {
        let end = self.unflushed.rows.partition_point(|e| e.seq < target);
        let rows = (0..end)
            .filter_map(|_| self.unflushed.pop_front())
            .map(|e| Arc::try_unwrap(e.row).unwrap_or_else(|shared| (*shared).clone()))
            .collect();
        let unfinished = self.unsettled.range(..target).count();
        let not_kept = std::mem::take(&mut self.not_kept_since_flush);
        FlushReport {
            rows,
            unfinished,
            not_kept,
        }
    }

    /// The kept rows by project, each project's in enqueue order.
    pub(super) fn results(&self) -> BTreeMap<String, Vec<EvaluatedRow>> {
        self.by_project
            .iter()
            .map(|(project, list)| {
                let rows = list.rows.iter().map(|e| (*e.row).clone()).collect();
                (project.clone(), rows)
            })
            .collect()
    }
}
