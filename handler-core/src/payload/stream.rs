//! What a model streamed: the number of tokens and the time to the first one, counted by the
//! run manager so that no handler has to look its run up on every token.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How a model run streamed, as its end event ([`LlmEnd`](crate::event::LlmEnd),
/// [`LlmError`](crate::event::LlmError)) carries it.
///
/// The run manager counts the tokens passed to `on_llm_new_token` while any handler of the run
/// wants LLM events, so a handler that only needs the count and the time to first token can
/// ignore the tokens themselves (`ignore_llm_new_token`) and pay nothing per token.
///
/// ```
/// use handler_core::{CallbackManager, HandlerResult, RunOptions};
/// use handler_core::event::LlmEnd;
/// use handler_core::payload::{LlmResult, Serialized};
/// use std::sync::{Arc, Mutex};
///
/// #[derive(Default)]
/// struct Ends(Mutex<Vec<u64>>);
/// impl handler_core::CallbackHandler for Ends {
///     fn on_llm_end(&self, event: &LlmEnd<'_>) -> HandlerResult {
///         self.0.lock().unwrap().push(event.stream.tokens);
///         assert!(event.stream.time_to_first_token.is_some());
///         Ok(())
///     }
/// }
///
/// let ends = Arc::new(Ends::default());
/// let manager = CallbackManager::new().with_handler(ends.clone());
/// let run = manager.on_llm_start(&Serialized::named("m"), "hi", RunOptions::new())?;
/// run.on_llm_new_token("Hel", None)?;
/// run.on_llm_new_token("lo", None)?;
/// run.on_llm_end(&LlmResult::from_text("Hello"))?;
/// assert_eq!(*ends.0.lock().unwrap(), [2]);
/// # Ok::<(), handler_core::CallbackError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StreamStats {
    /// Tokens streamed (calls of `on_llm_new_token`).
    pub tokens: u64,
    /// From the run's start to its first token; `None` when nothing was streamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_token: Option<Duration>,
}

impl StreamStats {
    /// Nothing streamed: what an unstreamed run, or one built by hand, carries.
    pub const NONE: StreamStats = StreamStats {
        tokens: 0,
        time_to_first_token: None,
    };

    /// Stats of `tokens` tokens, the first after `time_to_first_token`.
    pub const fn new(tokens: u64, time_to_first_token: Option<Duration>) -> Self {
        Self {
            tokens,
            time_to_first_token,
        }
    }
}

/// The counters behind [`StreamStats`], shared by the clones of one run manager.
///
/// Counting must be exact, whichever thread streams, yet cost no locked read-modify-write in
/// the common case of one thread streaming its run. So the thread that started the run (the
/// owner) counts in a counter only it writes, with a plain load and store; any other thread
/// (a clone sent elsewhere, a task moved by a work-stealing runtime) counts in a second counter
/// with an atomic add. The stats are the sum of both.
#[derive(Debug)]
pub(crate) struct StreamCounter {
    /// When the run started; `None` for runs that do not stream (no clock read for them).
    started: Option<Instant>,
    /// The owner's thread, as the address of a thread-local marker. Should the owner exit and a
    /// new thread reuse the address, the new thread becomes the single writer: the old one
    /// wrote its last count before its memory was released for reuse.
    owner: usize,
    /// Written by the owner's thread only.
    owner_tokens: AtomicU64,
    /// Written by every other thread, with atomic adds.
    other_tokens: AtomicU64,
    /// Nanoseconds from `started` to the first token, plus one; 0 while no token came.
    first_token: AtomicU64,
}

thread_local! {
    /// A byte whose address tells threads apart: no two live threads share it.
    static THREAD_MARK: u8 = const { 0 };
}

/// The calling thread's marker address; cheap (no lazy initialisation, no reference count).
#[inline]
fn this_thread() -> usize {
    THREAD_MARK.with(|mark| std::ptr::from_ref(mark) as usize)
}

impl StreamCounter {
    /// A counter for a run that streams (`streams`, model runs), or one that stays at zero.
    pub(crate) fn new(streams: bool) -> Self {
        Self {
            started: streams.then(Instant::now),
            owner: this_thread(),
            owner_tokens: AtomicU64::new(0),
            other_tokens: AtomicU64::new(0),
            first_token: AtomicU64::new(0),
        }
    }

    /// Counts a token. On the owner's thread a plain load and store (no other thread writes
    /// that counter); elsewhere one atomic add. The first token of each counter also offers
    /// the time to first token, kept by whichever comes first.
    #[inline]
    pub(crate) fn count(&self) {
        let before = if this_thread() == self.owner {
            let before = self.owner_tokens.load(Ordering::Relaxed);
            self.owner_tokens
                .store(before.wrapping_add(1), Ordering::Relaxed);
            before
        } else {
            self.other_tokens.fetch_add(1, Ordering::Relaxed)
        };
        if before == 0 {
            self.first();
        }
    }

    #[cold]
    fn first(&self) {
        let Some(started) = self.started else {
            return;
        };
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        // Only the first offer is kept: a later one is a later token.
        let _ = self.first_token.compare_exchange(
            0,
            nanos.saturating_add(1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// The stats so far.
    pub(crate) fn stats(&self) -> StreamStats {
        let first = self.first_token.load(Ordering::Relaxed);
        let tokens = self
            .owner_tokens
            .load(Ordering::Relaxed)
            .saturating_add(self.other_tokens.load(Ordering::Relaxed));
        StreamStats {
            tokens,
            time_to_first_token: (first > 0).then(|| Duration::from_nanos(first - 1)),
        }
    }
}
