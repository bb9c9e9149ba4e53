//! Cost of a marked function call: with nothing current (against the same function unmarked,
//! and against the current-run lookup alone), and under a current run with one counting handler.
//!
//! `cargo bench -p llm-callbacks --bench run_attributes`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use llm_callbacks::{
    CallbackHandler, CallbackManager, ChainEnd, ChainStart, HandlerResult, ToolEnd, ToolStart,
    chain, tool,
};

/// Counts the chain and tool events it receives.
#[derive(Default)]
struct Counting(AtomicU64);

impl Counting {
    fn count(&self) -> HandlerResult {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl CallbackHandler for Counting {
    fn on_chain_start(&self, _: &ChainStart<'_>) -> HandlerResult {
        self.count()
    }
    fn on_chain_end(&self, _: &ChainEnd<'_>) -> HandlerResult {
        self.count()
    }
    fn on_tool_start(&self, _: &ToolStart<'_>) -> HandlerResult {
        self.count()
    }
    fn on_tool_end(&self, _: &ToolEnd<'_>) -> HandlerResult {
        self.count()
    }
}

#[inline(never)]
fn unmarked(a: u64, b: u64) -> u64 {
    a.wrapping_mul(31).wrapping_add(b)
}

#[tool]
#[inline(never)]
fn marked(a: u64, b: u64) -> u64 {
    a.wrapping_mul(31).wrapping_add(b)
}

#[chain]
#[inline(never)]
fn marked_chain(a: u64, b: u64) -> u64 {
    a.wrapping_mul(31).wrapping_add(b)
}

fn nothing_current(c: &mut Criterion) {
    let mut group = c.benchmark_group("nothing_current");
    group.bench_function("unmarked", |b| {
        b.iter(|| unmarked(black_box(3), black_box(4)))
    });
    group.bench_function("marked_tool", |b| {
        b.iter(|| marked(black_box(3), black_box(4)))
    });
    // The lookup a marked function makes, alone: the whole difference should be this.
    group.bench_function("current_lookup", |b| {
        b.iter(|| black_box(CallbackManager::current()).is_none())
    });
    group.finish();
}

fn under_a_run(c: &mut Criterion) {
    let counting = Arc::new(Counting::default());
    let manager = CallbackManager::new().with_handler(counting.clone());
    let mut group = c.benchmark_group("under_a_current_run");
    group.bench_function("marked_tool", |b| {
        manager.in_scope(|| b.iter(|| marked(black_box(3), black_box(4))))
    });
    group.bench_function("marked_chain", |b| {
        manager.in_scope(|| b.iter(|| marked_chain(black_box(3), black_box(4))))
    });
    group.finish();
    assert!(
        counting.0.load(Ordering::Relaxed) > 0,
        "the handler saw the runs"
    );
}

criterion_group!(benches, nothing_current, under_a_run);
criterion_main!(benches);
