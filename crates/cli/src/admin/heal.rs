//! `cairn admin heal ALIAS[/BUCKET[/PREFIX]] [-r]`: heals drives, buckets and objects
//! now through Cairn's `cairn-heal` admin call, which streams JSON lines (progress,
//! failures, a summary last). A terminal shows a live line; elsewhere a plain line
//! goes to stderr every [`PLAIN_LOG_INTERVAL`]; `--json` and `--quiet` show only
//! failures and the summary. Failed objects make the exit code 5 (partly done).

use super::connect;
use crate::Context;
use crate::error::{CliError, Result};
use crate::output::{Output, human_bytes};
use http::Method;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use serde_json::json;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Longest line accepted from the heal stream (a line names one key of at most 1 KiB
/// and an error message).
const LINE_BYTES_MAX: usize = 64 << 10;
/// Time without any line before the heal is given up: the server sends progress at
/// least every second while it heals.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Time between two plain progress lines when stderr is not a terminal.
const PLAIN_LOG_INTERVAL: Duration = Duration::from_secs(5);
/// Redraw interval of the spinner on a terminal.
const SPINNER_TICK: Duration = Duration::from_millis(120);
/// Longest object name shown on the live line before it is shortened.
const CURRENT_CHARS_MAX: usize = 50;

/// Arguments of `cairn admin heal`.
#[derive(Debug, clap::Args)]
pub struct HealArgs {
    /// What to heal: ALIAS (drives, buckets, objects), ALIAS/BUCKET or ALIAS/BUCKET/PREFIX.
    target: String,
    /// Heal everything below the target, not only its first level.
    #[arg(long, short = 'r')]
    recursive: bool,
    /// `deep` also reads every shard and checks it against its hash (bitrot); `normal`
    /// compares metadata and checks that shard files are there.
    #[arg(long, value_parser = ["normal", "deep"], default_value = "normal")]
    scan: String,
}

/// The counters of progress and summary lines.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(default)]
struct Counts {
    scanned: u64,
    healed: u64,
    failed: u64,
    bytes: u64,
    drives_formatted: u64,
    buckets: u64,
}

/// One line of the stream.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line {
    Progress {
        #[serde(flatten)]
        counts: Counts,
        #[serde(default)]
        current: String,
    },
    Failure {
        bucket: String,
        key: String,
        error: String,
    },
    Summary {
        #[serde(flatten)]
        counts: Counts,
        #[serde(default)]
        elapsed_ms: u64,
        /// Set when the heal stopped before it covered everything.
        #[serde(default)]
        error: Option<String>,
    },
    /// A kind of line this client does not know yet: skipped.
    #[serde(other)]
    Other,
}

pub(crate) async fn run(context: &Context, args: HealArgs) -> Result<()> {
    let (alias, rest) = args.target.split_once('/').unwrap_or((&args.target, ""));
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let client = connect(context, alias)?;
    let mut query = vec![("recursive", if args.recursive { "true" } else { "false" }), ("scan", args.scan.as_str())];
    if !bucket.is_empty() {
        query.push(("bucket", bucket));
    }
    if !prefix.is_empty() {
        query.push(("prefix", prefix));
    }
    let body = client.stream(Method::POST, "cairn-heal", &query, Vec::new()).await?;
    let display = Display::new(context.out);
    let mut lines = LineReader { body, buffer: Vec::new(), ended: false };
    while let Some(text) = lines.next().await.map_err(|e| CliError::Remote(format!("{}: {e}", args.target)))? {
        let line: Line = serde_json::from_slice(&text).map_err(|e| {
            CliError::Remote(format!("{}: the server sent a line this client cannot read ({e})", args.target))
        })?;
        match line {
            Line::Progress { counts, current } => display.progress(&counts, &current),
            Line::Failure { bucket, key, error } => {
                display.suspend(|| context.out.item_error(&format!("{bucket}/{key}"), &CliError::Remote(error)));
            }
            Line::Summary { counts, elapsed_ms, error } => {
                drop(display);
                return report(context, &args.target, &counts, elapsed_ms, error);
            }
            Line::Other => {}
        }
    }
    Err(CliError::Remote(format!(
        "{}: the heal stream ended without a summary (the server stopped or the connection broke); run it again",
        args.target
    )))
}

/// Prints the summary; failures make the command partly done.
fn report(context: &Context, target: &str, counts: &Counts, elapsed_ms: u64, error: Option<String>) -> Result<()> {
    let mut summary = json!({
        "type": "summary", "target": target, "scanned": counts.scanned, "healed": counts.healed,
        "failed": counts.failed, "bytes": counts.bytes, "drivesFormatted": counts.drives_formatted,
        "buckets": counts.buckets, "elapsedMs": elapsed_ms,
    });
    if let Some(error) = &error {
        summary["error"] = json!(error);
    }
    context.out.result(summary, || {
        format!(
            "Healed `{target}`: {} bucket(s), {} object(s) scanned, {} healed ({}), {} failed, \
             {} drive(s) formatted, in {:.1}s.",
            counts.buckets,
            counts.scanned,
            counts.healed,
            human_bytes(counts.bytes),
            counts.failed,
            counts.drives_formatted,
            Duration::from_millis(elapsed_ms).as_secs_f64()
        )
    });
    if let Some(error) = error {
        return Err(CliError::Remote(format!("{target}: the heal stopped before it covered everything: {error}")));
    }
    if counts.failed > 0 {
        return Err(CliError::Partial { failed: counts.failed, total: counts.scanned.max(counts.failed) });
    }
    Ok(())
}

/// Splits the response body into lines, each at most [`LINE_BYTES_MAX`] long.
struct LineReader {
    body: Incoming,
    /// Bytes received and not yet returned as a line.
    buffer: Vec<u8>,
    /// The body has no more frames.
    ended: bool,
}

impl LineReader {
    /// The next non-empty line, or None at the end of the body.
    async fn next(&mut self) -> std::result::Result<Option<Vec<u8>>, String> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Ok(Some(line));
            }
            if self.buffer.len() > LINE_BYTES_MAX {
                return Err(format!("the server sent a line longer than {LINE_BYTES_MAX} bytes"));
            }
            if self.ended {
                let rest = std::mem::take(&mut self.buffer);
                return Ok((!rest.iter().all(u8::is_ascii_whitespace)).then_some(rest));
            }
            match tokio::time::timeout(IDLE_TIMEOUT, self.body.frame()).await {
                Err(_) => return Err(format!("no word from the server for {IDLE_TIMEOUT:?}")),
                Ok(None) => self.ended = true,
                Ok(Some(Err(error))) => return Err(format!("the heal stream broke: {error}")),
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}

/// The live display: a spinner line on a terminal, plain lines otherwise, nothing with
/// `--json` or `--quiet`.
struct Display {
    spinner: Option<ProgressBar>,
    /// Plain lines go to stderr (not a terminal, not silent).
    plain: bool,
    /// When the last plain line was printed.
    last_line: std::cell::Cell<Instant>,
}

impl Display {
    fn new(out: Output) -> Self {
        let silent = out.json || out.quiet;
        let terminal = std::io::stderr().is_terminal();
        let spinner = (!silent && terminal).then(|| {
            let spinner = ProgressBar::new_spinner();
            let style = ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .expect("the spinner template is valid");
            spinner.set_style(style);
            spinner.set_message("healing...");
            spinner.enable_steady_tick(SPINNER_TICK);
            spinner
        });
        Self { spinner, plain: !silent && !terminal, last_line: std::cell::Cell::new(Instant::now()) }
    }

    fn progress(&self, counts: &Counts, current: &str) {
        let text = format!(
            "scanned {}, healed {} ({}), failed {}, drives formatted {}",
            counts.scanned,
            counts.healed,
            human_bytes(counts.bytes),
            counts.failed,
            counts.drives_formatted
        );
        if let Some(spinner) = &self.spinner {
            spinner.set_message(format!("{text}  {}", shorten(current)));
        } else if self.plain && self.last_line.get().elapsed() >= PLAIN_LOG_INTERVAL {
            self.last_line.set(Instant::now());
            eprintln!("heal: {text}");
        }
    }

    /// Runs `print` with the spinner out of the way.
    fn suspend(&self, print: impl FnOnce()) {
        match &self.spinner {
            Some(spinner) => spinner.suspend(print),
            None => print(),
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        if let Some(spinner) = &self.spinner {
            spinner.finish_and_clear();
        }
    }
}

/// `name` cut to its last [`CURRENT_CHARS_MAX`] characters.
fn shorten(name: &str) -> String {
    let count = name.chars().count();
    if count <= CURRENT_CHARS_MAX {
        return name.to_owned();
    }
    let tail: String = name.chars().skip(count - (CURRENT_CHARS_MAX - 3)).collect();
    format!("...{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_lines_parse_and_unknown_kinds_are_skipped() {
        let progress = r#"{"type":"progress","scanned":3,"healed":1,"failed":0,"bytes":9,"drives_formatted":1,"buckets":1,"current":"b/k"}"#;
        let Line::Progress { counts, current } = serde_json::from_str(progress).expect("progress") else {
            panic!("not progress")
        };
        assert_eq!((counts.scanned, counts.drives_formatted, current.as_str()), (3, 1, "b/k"));
        let summary = r#"{"type":"summary","scanned":3,"healed":1,"failed":2,"bytes":9,"drives_formatted":0,"buckets":1,"elapsed_ms":12}"#;
        let Line::Summary { counts, elapsed_ms, error } = serde_json::from_str(summary).expect("summary") else {
            panic!("not a summary")
        };
        assert_eq!((counts.failed, elapsed_ms, error), (2, 12, None));
        assert!(matches!(serde_json::from_str(r#"{"type":"later","x":1}"#).expect("other"), Line::Other));
        assert_eq!(shorten(&"k".repeat(80)).chars().count(), CURRENT_CHARS_MAX);
    }
}
