//! The progress bar: rows graded out of all rows, with the rate and the time left, drawn on
//! standard error only when it is a terminal.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use uptrain_plugin::GradeProgress;

/// A bar for `total` rows; hidden when standard error is not a terminal or `off`.
pub(crate) fn bar(total: usize, off: bool) -> ProgressBar {
    let target = if off || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr_with_hz(4)
    };
    let bar = ProgressBar::with_draw_target(Some(total as u64), target);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// The callback that moves `bar`. Rows rejected before grading arrive in the first call;
/// the rate (and so the time left) is measured from there, over graded rows only.
/// `offset` rows were finished by earlier calls.
pub(crate) fn callback(
    bar: &ProgressBar,
    offset: usize,
) -> impl Fn(GradeProgress) + Send + Sync + 'static {
    let bar = bar.clone();
    let started = Arc::new(AtomicBool::new(false));
    move |p: GradeProgress| {
        bar.set_position((offset + p.done) as u64);
        if !started.swap(true, Ordering::Relaxed) {
            bar.reset_eta();
        }
    }
}
