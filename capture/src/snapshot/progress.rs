//! The snapshot's progress bar on stderr: tables done of total, rows, rows per second.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Shows snapshot progress; draws nothing unless enabled and stderr is a terminal.
pub(crate) struct Progress {
    bar: ProgressBar,
    started: Instant,
    rows: u64,
}

impl Progress {
    /// A bar over `tables` tables, `done` of them already read.
    pub(crate) fn new(enabled: bool, tables: u64, done: u64) -> Self {
        let bar = if enabled && std::io::stderr().is_terminal() {
            ProgressBar::with_draw_target(Some(tables), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) = ProgressStyle::with_template(
            "snapshot [{bar:30}] {pos}/{len} tables, {msg} ({elapsed})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_length(tables);
        bar.set_position(done);
        Self {
            bar,
            started: Instant::now(),
            rows: 0,
        }
    }

    /// One more row read from `table`.
    pub(crate) fn row(&mut self, table: &str) {
        self.rows += 1;
        if self.rows % 256 == 1 {
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            self.bar.set_message(format!(
                "{} rows, {:.0} rows/s, reading {table}",
                self.rows,
                self.rows as f64 / secs
            ));
        }
    }

    /// A table is done.
    pub(crate) fn table_done(&self) {
        self.bar.inc(1);
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
