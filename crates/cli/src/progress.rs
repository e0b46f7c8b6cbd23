//! Progress of transfers: on a terminal, one indicatif bar per transfer (bytes, rate,
//! ETA) plus a total; otherwise plain log lines on stderr, one when a transfer ends
//! and one every [`PLAIN_LOG_INTERVAL`] while a long one runs. Nothing with `--json`
//! or `--quiet`.

use crate::output::{Output, human_bytes};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Time between two plain progress lines of one long transfer.
const PLAIN_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// Longest name shown in a bar before it is shortened.
const BAR_NAME_CHARS_MAX: usize = 40;

/// How progress is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bars,
    Lines,
    Silent,
}

/// The progress display of one command.
pub struct Progress {
    mode: Mode,
    multi: MultiProgress,
    total: Option<ProgressBar>,
}

impl Progress {
    /// A display for a command; `total_bytes` sizes the total bar when known.
    pub fn new(out: Output, total_bytes: Option<u64>) -> Self {
        let mode = if out.json || out.quiet {
            Mode::Silent
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        };
        let multi = MultiProgress::with_draw_target(if mode == Mode::Bars {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let total = (mode == Mode::Bars).then(|| {
            let bar = match total_bytes {
                Some(bytes) => ProgressBar::new(bytes),
                None => ProgressBar::no_length(),
            };
            bar.set_style(style("{prefix:>10} {bytes:>10} {binary_bytes_per_sec:>12} {elapsed_precise}"));
            bar.set_prefix("total");
            multi.add(bar)
        });
        Self { mode, multi, total }
    }

    /// Starts showing one transfer of `size` bytes named `name`.
    pub fn transfer(&self, name: &str, size: u64) -> Transfer {
        let bar = (self.mode == Mode::Bars).then(|| {
            let bar = ProgressBar::new(size);
            bar.set_style(style(
                "{prefix:40} [{bar:25}] {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12} eta {eta}",
            ));
            bar.set_prefix(shorten(name));
            match &self.total {
                Some(total) => self.multi.insert_before(total, bar),
                None => self.multi.add(bar),
            }
        });
        let now = Instant::now();
        Transfer {
            bar,
            total: self.total.clone(),
            lines: self.mode == Mode::Lines,
            name: name.to_owned(),
            size,
            started: now,
            state: Mutex::new((0, now)),
        }
    }

    /// Removes the total bar.
    pub fn finish(&self) {
        if let Some(total) = &self.total {
            total.finish_and_clear();
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("the progress templates are valid").progress_chars("=> ")
}

fn shorten(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= BAR_NAME_CHARS_MAX {
        return name.to_owned();
    }
    let tail: String = chars[chars.len() - (BAR_NAME_CHARS_MAX - 3)..].iter().collect();
    format!("...{tail}")
}

/// One transfer's progress.
pub struct Transfer {
    bar: Option<ProgressBar>,
    total: Option<ProgressBar>,
    lines: bool,
    name: String,
    size: u64,
    started: Instant,
    /// Bytes done and when the last plain line was printed.
    state: Mutex<(u64, Instant)>,
}

impl Transfer {
    /// Records `bytes` more done.
    pub fn advance(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
        if let Some(total) = &self.total {
            total.inc(bytes);
        }
        if self.lines
            && let Ok(mut state) = self.state.lock()
        {
            state.0 += bytes;
            if state.1.elapsed() >= PLAIN_LOG_INTERVAL {
                state.1 = Instant::now();
                eprintln!("{}: {} of {}", self.name, human_bytes(state.0), human_bytes(self.size));
            }
        }
    }

    /// Ends the display of this transfer (it succeeded).
    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.lines {
            let seconds = self.started.elapsed().as_secs_f64().max(1e-6);
            let rate = self.size as f64 / seconds;
            eprintln!("{}: {} in {seconds:.1}s ({}/s)", self.name, human_bytes(self.size), human_bytes(rate as u64));
        }
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar
            && !bar.is_finished()
        {
            bar.abandon();
        }
    }
}
