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
    map: Mutex<RunMap<Record>>,
}

impl OpenRuns {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            map: Mutex::new(RunMap::default()),
        }
    }

    fn map(&self) -> MutexGuard<'_, RunMap<Record>> {
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a run; false (and nothing added) when the table is full.
    pub(crate) fn insert(&self, run_id: Uuid, record: Record) -> bool {
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

    pub(crate) fn remove(&self, run_id: Uuid) -> Option<Record> {
        self.map().remove(&run_id)
    }

    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }
}

/// The trace ids of recently ended non-root runs, so that a late evaluation naming only a run
/// id still lands in the right trace. Bounded: the oldest are forgotten first.
#[derive(Debug)]
pub(crate) struct RecentTraces {
    limit: usize,
    inner: Mutex<(RunMap<TraceId>, VecDeque<Uuid>)>,
}

impl RecentTraces {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            inner: Mutex::new((RunMap::default(), VecDeque::new())),
        }
    }

    pub(crate) fn remember(&self, run_id: Uuid, trace_id: TraceId) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        if map.insert(run_id, trace_id).is_none() {
            order.push_back(run_id);
        }
        while order.len() > self.limit {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    pub(crate) fn get(&self, run_id: Uuid) -> Option<TraceId> {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        guard.0.get(&run_id).copied()
    }
}
