//! The runs whose spans are open, keyed by run id, and the trace ids of recently ended ones.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use handler_core::Uuid;
use opentelemetry::trace::TraceId;

use crate::record::Record;

/// Hashes a run id by folding its (already random) bytes: no SipHash on the event thread.
#[derive(Debug, Default)]
pub(crate) struct RunIdHasher(u64);

impl Hasher for RunIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }

    fn write_usize(&mut self, _length_prefix: usize) {}
}

type RunMap<V> = HashMap<Uuid, V, BuildHasherDefault<RunIdHasher>>;

/// Why an open run was closed without its end event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closed {
    /// It stayed open longer than the time-to-live.
    Expired,
    /// It was the oldest when the table was full.
    Evicted,
}

/// The open runs of one handler, each with the record of its span and when it started;
/// bounded by count and by age. Runs over either bound are handed back to be closed.
#[derive(Debug)]
pub(crate) struct OpenRuns {
    limit: usize,
    ttl: Duration,
    inner: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    map: RunMap<(Box<Record>, Instant)>,
    /// Runs in the order they started; entries of runs already ended are skipped (and
    /// compacted away when they outnumber the open runs).
    order: VecDeque<(Uuid, Instant)>,
}

impl Open {
    fn is_live(&self, (id, started): (Uuid, Instant)) -> bool {
        self.map.get(&id).is_some_and(|(_, s)| *s == started)
    }

    /// Removes the oldest open run if `pick` says so (given its start), skipping ended ones.
    fn pop_oldest(&mut self, pick: impl Fn(Instant) -> bool) -> Option<(Uuid, Box<Record>)> {
        while let Some(&(id, started)) = self.order.front() {
            if !self.is_live((id, started)) {
                self.order.pop_front();
                continue;
            }
            if !pick(started) {
                return None;
            }
            self.order.pop_front();
            return self.map.remove(&id).map(|(record, _)| (id, record));
        }
        None
    }
}

/// Runs closed without their end: their ids, records, and why.
pub(crate) type ClosedRuns = Vec<(Uuid, Box<Record>, Closed)>;

impl OpenRuns {
    pub(crate) fn new(limit: usize, ttl: Duration) -> Self {
        let mut open = Open::default();
        open.order.reserve(limit.min(16 * 1024));
        Self {
            limit,
            ttl,
            inner: Mutex::new(open),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Open> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Removes the runs open longer than the time-to-live, into `closed`.
    fn expire_into(&self, open: &mut Open, now: Instant, closed: &mut ClosedRuns) {
        let ttl = self.ttl;
        while let Some((id, record)) = open.pop_oldest(|started| now.duration_since(started) >= ttl)
        {
            closed.push((id, record, Closed::Expired));
        }
    }

    /// Adds a run. Returns the runs closed to make room or because they expired, or the
    /// record back when no run may be open at all (a limit of 0).
    pub(crate) fn insert(
        &self,
        run_id: Uuid,
        record: Box<Record>,
    ) -> Result<ClosedRuns, Box<Record>> {
        let mut open = self.inner();
        let now = Instant::now();
        let mut closed = ClosedRuns::new();
        self.expire_into(&mut open, now, &mut closed);
        if open.map.len() >= self.limit && !open.map.contains_key(&run_id) {
            match open.pop_oldest(|_| true) {
                Some((id, oldest)) => closed.push((id, oldest, Closed::Evicted)),
                None => return Err(record),
            }
        }
        open.map.insert(run_id, (record, now));
        open.order.push_back((run_id, now));
        if open.order.len() > 2 * open.map.len() + 1024 {
            let Open { map, order } = &mut *open;
            order.retain(|&(id, started)| map.get(&id).is_some_and(|(_, s)| *s == started));
        }
        Ok(closed)
    }

    /// Removes the runs open longer than the time-to-live.
    pub(crate) fn expire(&self) -> ClosedRuns {
        let mut closed = ClosedRuns::new();
        let mut open = self.inner();
        self.expire_into(&mut open, Instant::now(), &mut closed);
        closed
    }

    /// Edits the record of `run_id`; false when the run is not open here.
    pub(crate) fn edit(&self, run_id: Uuid, edit: impl FnOnce(&mut Record)) -> bool {
        match self.inner().map.get_mut(&run_id) {
            Some((record, _)) => {
                edit(record);
                true
            }
            None => false,
        }
    }

    pub(crate) fn remove(&self, run_id: Uuid) -> Option<Box<Record>> {
        self.inner().map.remove(&run_id).map(|(record, _)| record)
    }

    pub(crate) fn len(&self) -> usize {
        self.inner().map.len()
    }
}

/// The trace ids of this handler's recently ended runs: an evaluation arriving after its run
/// ended is recorded only for a run found here (or open), so a handler never exports another
/// handler's scores.
///
/// A fixed table of small buckets, each keeping its last [`WAYS`] runs: a run ending costs one
/// store into one bucket (no allocation, no eviction walk). A run is forgotten once [`WAYS`]
/// newer runs landed in its bucket: after about the table's size in runs on average, far
/// later than a grader's answer arrives. A forgotten run's late score is counted as
/// unattached.
#[derive(Debug)]
pub(crate) struct RecentRuns {
    buckets: Mutex<Box<[Bucket]>>,
}

/// Runs per bucket.
const WAYS: usize = 4;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    runs: [(Uuid, TraceId); WAYS],
    /// The slot the next run takes: the oldest.
    next: u8,
}

impl RecentRuns {
    /// A memory of about the last `limit` ended runs (rounded up to whole buckets, a power
    /// of two of them); none with a limit of 0.
    pub(crate) fn new(limit: usize) -> Self {
        let buckets = match limit {
            0 => 0,
            n => n.div_ceil(WAYS).next_power_of_two(),
        };
        let empty = Bucket {
            runs: [(Uuid::nil(), TraceId::INVALID); WAYS],
            next: 0,
        };
        Self {
            buckets: Mutex::new(vec![empty; buckets].into_boxed_slice()),
        }
    }

    fn bucket(run_id: Uuid, len: usize) -> usize {
        // The low half of a v4 or v7 id is random; fold in the high half for other versions.
        let (high, low) = run_id.as_u64_pair();
        ((low ^ high.rotate_left(32)) as usize) & (len - 1)
    }

    /// Remembers that `run_id`, of trace `trace_id`, ended here.
    pub(crate) fn remember(&self, run_id: Uuid, trace_id: TraceId) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let len = buckets.len();
        if len == 0 || run_id.is_nil() {
            return;
        }
        let bucket = &mut buckets[Self::bucket(run_id, len)];
        if let Some(slot) = bucket.runs.iter_mut().find(|(id, _)| *id == run_id) {
            slot.1 = trace_id;
            return;
        }
        let next = usize::from(bucket.next) % WAYS;
        bucket.runs[next] = (run_id, trace_id);
        bucket.next = ((next + 1) % WAYS) as u8;
    }

    /// The trace of `run_id` if it ended here recently.
    pub(crate) fn get(&self, run_id: Uuid) -> Option<TraceId> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.is_empty() || run_id.is_nil() {
            return None;
        }
        let bucket = &buckets[Self::bucket(run_id, buckets.len())];
        bucket
            .runs
            .iter()
            .find(|(id, _)| *id == run_id)
            .map(|(_, trace)| *trace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::SpanId;

    fn record() -> Box<Record> {
        let ids = (TraceId::from(1), SpanId::from(1), SpanId::INVALID);
        let values = crate::record::Values::with_limits(16, 16);
        Box::new(Record::new(ids, crate::SpanKind::Chain, "r", values))
    }

    #[test]
    fn the_start_order_stays_bounded_while_one_run_stays_open() {
        let runs = OpenRuns::new(100, Duration::MAX);
        let open = Uuid::new_v4();
        assert!(runs.insert(open, record()).is_ok());
        for _ in 0..10_000 {
            let id = Uuid::new_v4();
            assert!(
                runs.insert(id, record())
                    .is_ok_and(|closed| closed.is_empty())
            );
            assert!(runs.remove(id).is_some());
        }
        let order = runs.inner().order.len();
        assert!(order <= 2 + 1024 + 1, "{order}");
        assert_eq!(runs.len(), 1);
    }

    #[test]
    fn recent_runs_remember_the_last_ones_only() {
        // One bucket: exactly the last four.
        let recent = RecentRuns::new(4);
        let ids: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
        for (i, id) in ids.iter().enumerate() {
            recent.remember(*id, TraceId::from(i as u128 + 1));
        }
        let known: Vec<bool> = ids.iter().map(|id| recent.get(*id).is_some()).collect();
        assert_eq!(
            known,
            [
                false, false, false, false, false, false, true, true, true, true
            ]
        );
        assert_eq!(recent.get(ids[9]), Some(TraceId::from(10)));
        assert_eq!(recent.get(Uuid::new_v4()), None);
        assert_eq!(recent.get(Uuid::nil()), None);

        // A large table remembers a run long after it ended.
        let recent = RecentRuns::new(16 * 1024);
        let first = Uuid::new_v4();
        recent.remember(first, TraceId::from(1));
        for _ in 0..100 {
            recent.remember(Uuid::new_v4(), TraceId::from(2));
        }
        assert_eq!(recent.get(first), Some(TraceId::from(1)));
        let none = RecentRuns::new(0);
        none.remember(first, TraceId::from(1));
        assert_eq!(none.get(first), None);
    }
}
