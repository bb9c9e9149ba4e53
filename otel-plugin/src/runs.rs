//! The runs whose spans are open, keyed by run id, and the trace ids of recently ended ones.

use std::collections::HashMap;
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

/// The trace ids of recently ended non-root runs, so that a late evaluation naming only a run
/// id still lands in the right trace. A fixed table indexed by the run id's random bits: a run
/// ending costs one store, with no allocation and no eviction walk; a newer run whose id
/// lands in the same slot makes the table forget the older one (its late evaluation then
/// opens a trace of its own).
#[derive(Debug)]
pub(crate) struct RecentTraces {
    slots: Mutex<Box<[(Uuid, TraceId)]>>,
}

impl RecentTraces {
    /// A table of `slots` entries (rounded up to a power of two).
    pub(crate) fn new(slots: usize) -> Self {
        let slots = slots.max(1).next_power_of_two();
        Self {
            slots: Mutex::new(vec![(Uuid::nil(), TraceId::INVALID); slots].into_boxed_slice()),
        }
    }

    fn slot(run_id: Uuid, len: usize) -> usize {
        // The low half of a v4 or v7 id is random; fold in the high half for other versions.
        let (high, low) = run_id.as_u64_pair();
        ((low ^ high.rotate_left(32)) as usize) & (len - 1)
    }

    pub(crate) fn remember(&self, run_id: Uuid, trace_id: TraceId) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let i = Self::slot(run_id, slots.len());
        slots[i] = (run_id, trace_id);
    }

    pub(crate) fn get(&self, run_id: Uuid) -> Option<TraceId> {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let (id, trace) = slots[Self::slot(run_id, slots.len())];
        (id == run_id && !run_id.is_nil()).then_some(trace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_traces_remember_and_forget_on_collision() {
        let recent = RecentTraces::new(4);
        let ids: Vec<Uuid> = (0..64).map(|_| Uuid::new_v4()).collect();
        for (i, id) in ids.iter().enumerate() {
            recent.remember(*id, TraceId::from(i as u128 + 1));
        }
        // The last one is always there; at most 4 are remembered.
        assert_eq!(recent.get(ids[63]), Some(TraceId::from(64)));
        let known = ids.iter().filter(|id| recent.get(**id).is_some()).count();
        assert!((1..=4).contains(&known), "{known}");
        assert_eq!(recent.get(Uuid::nil()), None);
        assert_eq!(recent.get(Uuid::new_v4()), None);
    }
}
