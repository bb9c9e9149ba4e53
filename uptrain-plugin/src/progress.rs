//! A progress line on stderr for long evaluations, drawn only when stderr is a terminal and
//! at most a few times a second; silent otherwise.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use crate::config::ProgressMode;

/// Redraw at most this often.
const REDRAW_MS: u64 = 150;

/// Counts finished units (judge calls or batches) out of a known total.
#[derive(Debug)]
pub(crate) struct Progress {
    enabled: bool,
    label: &'static str,
    total: usize,
    done: AtomicUsize,
    started: Instant,
    last_draw_ms: AtomicU64,
}

impl Progress {
    pub(crate) fn new(mode: ProgressMode, label: &'static str, total: usize) -> Self {
        let enabled = mode == ProgressMode::Auto && total > 0 && std::io::stderr().is_terminal();
        Self {
            enabled,
            label,
            total,
            done: AtomicUsize::new(0),
            started: Instant::now(),
            last_draw_ms: AtomicU64::new(0),
        }
    }

    /// Records `units` more finished units.
    pub(crate) fn advance(&self, units: usize) {
        let done = self.done.fetch_add(units, Ordering::Relaxed) + units;
        if !self.enabled {
            return;
        }
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_draw_ms.load(Ordering::Relaxed);
        let finished = done >= self.total;
        if !finished && now_ms.saturating_sub(last) < REDRAW_MS {
            return;
        }
        if self
            .last_draw_ms
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
            && !finished
        {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\ruptrain: {}/{} {} ({:.1}s)",
            done.min(self.total),
            self.total,
            self.label,
            self.started.elapsed().as_secs_f64()
        );
        if finished {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    }

    /// Units finished so far.
    #[cfg(test)]
    pub(crate) fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_even_when_silent() {
        let p = Progress::new(ProgressMode::Never, "calls", 10);
        p.advance(3);
        p.advance(2);
        assert_eq!(p.done(), 5);
        assert!(!p.enabled);
    }
}
