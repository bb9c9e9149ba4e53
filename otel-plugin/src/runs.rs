//! The runs whose spans are open, keyed by run id, and the per-thread cache that lets a token
//! event find its run without a lock or an allocation.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use handler_core::Uuid;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Event, SpanId, TraceId};

use crate::attributes::SpanKind;

/// A span being built: everything but its end.
#[derive(Debug)]
pub(crate) struct Draft {
    pub name: Cow<'static, str>,
    pub kind: SpanKind,
    pub parent: SpanId,
    pub start_time: SystemTime,
    pub attributes: Vec<KeyValue>,
    pub events: Vec<Event>,
}

/// An open run: its ids, its token counters, and its draft span (`None` once ended).
#[derive(Debug)]
pub(crate) struct OpenRun {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub started: Instant,
    tokens: AtomicU64,
    /// Nanoseconds from `started` to the first token, plus one (0: no token yet).
    first_token: AtomicU64,
    draft: Mutex<Option<Draft>>,
}

impl OpenRun {
    pub(crate) fn new(trace_id: TraceId, span_id: SpanId, draft: Draft) -> Self {
        Self {
            trace_id,
            span_id,
            started: Instant::now(),
            tokens: AtomicU64::new(0),
            first_token: AtomicU64::new(0),
            draft: Mutex::new(Some(draft)),
        }
    }

    /// Counts a streamed token; the first one also records the time to first token.
    #[inline]
    pub(crate) fn count_token(&self) {
        if self.tokens.fetch_add(1, Ordering::Relaxed) == 0 {
            let nanos = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.first_token
                .store(nanos.saturating_add(1), Ordering::Relaxed);
        }
    }

    /// Tokens streamed so far, and the time to the first one.
    pub(crate) fn tokens(&self) -> (u64, Option<std::time::Duration>) {
        let first = self.first_token.load(Ordering::Relaxed);
        let ttft = (first > 0).then(|| std::time::Duration::from_nanos(first - 1));
        (self.tokens.load(Ordering::Relaxed), ttft)
    }

    /// The draft, locked; `None` inside once the run has ended.
    pub(crate) fn draft(&self) -> MutexGuard<'_, Option<Draft>> {
        self.draft
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Hashes a run id by folding its (already random) bytes: no SipHash on the hot path.
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

struct Cached {
    owner: u64,
    run_id: Uuid,
    run: Arc<OpenRun>,
}

thread_local! {
    /// The last run this thread counted a token for.
    static LAST: RefCell<Option<Cached>> = const { RefCell::new(None) };
}

static NEXT_TABLE: AtomicU64 = AtomicU64::new(1);

/// The open runs of one handler, bounded.
#[derive(Debug)]
pub(crate) struct OpenRuns {
    id: u64,
    limit: usize,
    map: Mutex<RunMap<Arc<OpenRun>>>,
}

impl OpenRuns {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            id: NEXT_TABLE.fetch_add(1, Ordering::Relaxed),
            limit,
            map: Mutex::new(RunMap::default()),
        }
    }

    fn map(&self) -> MutexGuard<'_, RunMap<Arc<OpenRun>>> {
        self.map
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a run; false (and nothing added) when the table is full.
    pub(crate) fn insert(&self, run_id: Uuid, run: Arc<OpenRun>) -> bool {
        let mut map = self.map();
        if map.len() >= self.limit && !map.contains_key(&run_id) {
            return false;
        }
        map.insert(run_id, run);
        true
    }

    pub(crate) fn get(&self, run_id: Uuid) -> Option<Arc<OpenRun>> {
        self.map().get(&run_id).cloned()
    }

    pub(crate) fn remove(&self, run_id: Uuid) -> Option<Arc<OpenRun>> {
        self.map().remove(&run_id)
    }

    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }

    /// Counts a token of `run_id`; false when the run is not open here. Allocates nothing,
    /// and takes no lock when the thread's last token was for the same run.
    #[inline]
    pub(crate) fn count_token(&self, run_id: Uuid) -> bool {
        let hit = LAST.with(|last| match &*last.borrow() {
            Some(cached) if cached.owner == self.id && cached.run_id == run_id => {
                cached.run.count_token();
                true
            }
            _ => false,
        });
        hit || self.count_token_slow(run_id)
    }

    #[cold]
    fn count_token_slow(&self, run_id: Uuid) -> bool {
        let Some(run) = self.get(run_id) else {
            return false;
        };
        run.count_token();
        LAST.with(|last| {
            if let Ok(mut last) = last.try_borrow_mut() {
                *last = Some(Cached {
                    owner: self.id,
                    run_id,
                    run,
                });
            }
        });
        true
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
