//! One command's transfers (`cp`, `mv`, `mirror`): the progress display, the counters
//! of items, bytes and failures, and the summary that turns failures into the exit
//! status. Failed items are reported as they happen and the command goes on.

use super::cp::{Item, Place, copy_item, remove_copied};
use crate::Context;
use crate::error::{CliError, Result};
use crate::output::human_bytes;
use crate::progress::Progress;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The transfers of one command.
pub(crate) struct Batch<'a> {
    context: &'a Context,
    progress: Progress,
    started: Instant,
    /// Remove each source once it is copied (`mv`).
    remove_source: bool,
    items: AtomicU64,
    bytes: AtomicU64,
    failed: AtomicU64,
}

impl<'a> Batch<'a> {
    /// An empty batch; `remove_source` makes every copy a move.
    pub(crate) fn new(context: &'a Context, remove_source: bool) -> Self {
        Self {
            context,
            progress: Progress::new(context.out, None),
            started: Instant::now(),
            remove_source,
            items: AtomicU64::default(),
            bytes: AtomicU64::default(),
            failed: AtomicU64::default(),
        }
    }

    /// Reports a failed item (`what` names it) and counts it.
    pub(crate) fn fail(&self, what: &str, error: &CliError) {
        self.context.out.item_error(what, error);
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Copies (and for `mv` removes) one item; on success reports and counts it.
    pub(crate) async fn copy(&self, source: &Place, destination: &Place, item: &Item) -> Result<()> {
        let copied = copy_item(self.context, &self.progress, source, destination, item).await?;
        if self.remove_source {
            remove_copied(self.context, source, &copied.version).await?;
        }
        self.items.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(copied.bytes, Ordering::Relaxed);
        self.context.out.result(
            json!({"source": source.display(), "target": destination.display(), "size": copied.bytes,
                   "partsReused": copied.parts_reused}),
            String::new,
        );
        Ok(())
    }

    /// Like [`copy`](Self::copy), with a failure reported as a failed item.
    pub(crate) async fn copy_or_fail(&self, source: &Place, destination: &Place, item: &Item) {
        if let Err(error) = self.copy(source, destination, item).await {
            self.fail(&source.display(), &error);
        }
    }

    /// Ends the display, prints the summary (`command` names it), and turns failures
    /// into the exit status.
    pub(crate) fn finish(self, command: &str) -> Result<()> {
        self.progress.finish();
        let (items, bytes, failed) = (self.items.into_inner(), self.bytes.into_inner(), self.failed.into_inner());
        let elapsed = self.started.elapsed();
        let out = self.context.out;
        if out.json {
            out.result(
                json!({"type": "summary", "command": command, "items": items, "bytes": bytes, "failed": failed,
                       "elapsedMs": elapsed.as_millis() as u64}),
                String::new,
            );
        } else {
            let seconds = elapsed.as_secs_f64().max(1e-3);
            out.info(&format!(
                "{command}: {items} item(s), {} in {seconds:.1}s ({}/s){}",
                human_bytes(bytes),
                human_bytes((bytes as f64 / seconds) as u64),
                if failed > 0 { format!(", {failed} failed") } else { String::new() }
            ));
        }
        if failed > 0 { Err(CliError::Partial { failed, total: items + failed }) } else { Ok(()) }
    }
}
