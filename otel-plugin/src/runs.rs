//! The runs whose spans are open, keyed by run id, and the trace ids of recently ended ones.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard};

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

/// The open runs of one handler, each with the record of its span; bounded.
#[derive(Debug)]
pub(crate) struct OpenRuns {
    limit: usize,
    map: Mutex<RunMap<Box<Record>>>,
}

impl OpenRuns {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            map: Mutex::new(RunMap::default()),
        }
    }

    fn map(&self) -> MutexGuard<'_, RunMap<Box<Record>>> {
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a run; false (and nothing added) when the table is full.
    pub(crate) fn insert(&self, run_id: Uuid, record: Box<Record>) -> bool {
        let mut map = self.map();
        if map.len() >= self.limit && !map.contains_key(&run_id) {
            return false;
        }
        map.insert(run_id, record);
        true
    }

    /// Edits the record of `run_id`; false when the run is not open here.
    pub(crate) fn edit(&self, run_id: Uuid, edit: impl FnOnce(&mut Record)) -> bool {
        match self.map().get_mut(&run_id) {
            Some(record) => {
                edit(record);
                true
            }
            None => false,
        }
    }

    pub(crate) fn remove(&self, run_id: Uuid) -> Option<Box<Record>> {
        self.map().remove(&run_id)
    }

    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }
}

/// The trace ids of this handler's recently ended runs: an evaluation arriving after its run
/// ended is recorded only for a run found here (or open), so a handler never exports another
/// handler's scores. Bounded: the oldest run is forgotten first. A run ending costs one map
/// insert and one queue push, in storage reserved up front.
#[derive(Debug)]
pub(crate) struct RecentRuns {
    limit: usize,
    inner: Mutex<Recent>,
}

#[derive(Debug, Default)]
struct Recent {
    traces: RunMap<TraceId>,
    order: VecDeque<Uuid>,
}

impl RecentRuns {
    /// A memory of the last `limit` ended runs.
    pub(crate) fn new(limit: usize) -> Self {
        let mut recent = Recent::default();
        // Reserved up front, so that remembering never allocates (capped: a huge limit
        // grows on demand instead).
        let reserve = limit.min(64 * 1024);
        recent.traces.reserve(reserve);
        recent.order.reserve(reserve);
        Self {
            limit,
            inner: Mutex::new(recent),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Recent> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers that `run_id`, of trace `trace_id`, ended here.
    pub(crate) fn remember(&self, run_id: Uuid, trace_id: TraceId) {
        if self.limit == 0 {
            return;
        }
        let mut recent = self.inner();
        if recent.traces.insert(run_id, trace_id).is_some() {
            return;
        }
        recent.order.push_back(run_id);
        while recent.order.len() > self.limit {
            if let Some(oldest) = recent.order.pop_front() {
                recent.traces.remove(&oldest);
            }
        }
    }

    /// The trace of `run_id` if it ended here recently.
    pub(crate) fn get(&self, run_id: Uuid) -> Option<TraceId> {
        self.inner().traces.get(&run_id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_runs_remember_the_last_ones_only() {
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
    }
}
