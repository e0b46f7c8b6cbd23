//! `cairn mirror`: makes a target a copy of a source, between any two targets
//! (S3 prefixes on any endpoints, local folders). Both sides are listed in key order
//! and merged, so memory stays bounded however many objects there are. An object is
//! copied when the target lacks it or it changed: sizes differ, comparable ETags
//! differ, or the source is newer. A target object that is newer than a differing
//! source is kept unless `--overwrite`. Every copy is atomic, so an interrupted
//! mirror is safe to rerun.
//!
//! `--remove` deletes only what a complete listing of both sides proved the source
//! lacks: the candidates are written to a temporary file during the merge and
//! removed after it, and not at all if either listing failed anywhere (a listing that
//! broke off, or skipped an unreadable folder, would make present objects look
//! absent). A source that does not exist, or a prefix with nothing below it, is an
//! error before anything is copied or removed.

use crate::Context;
use crate::commands::batch::Batch;
use crate::commands::cp::{
    Item, Place, TRANSFERS_IN_FLIGHT, check_local_key, is_folder_marker, remove_place, tree_lister,
};
use crate::commands::place::check_not_nested;
use crate::error::{CliError, Result};
use crate::s3;
use crate::target::Target;
use crate::walk::{Entry, Lister};
use aws_sdk_s3::error::ProvideErrorMetadata;
use futures::StreamExt;
use serde_json::json;
use std::io::{BufRead, Seek, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Time between two scans of a watched local source.
const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// Arguments of `cairn mirror`.
#[derive(Debug, clap::Args)]
pub struct MirrorArgs {
    /// Source: ALIAS/BUCKET[/PREFIX] or a local folder.
    source: String,
    /// Target: ALIAS/BUCKET[/PREFIX] or a local folder.
    target: String,
    /// Replace target objects that differ even when they are newer than the source.
    #[arg(long)]
    overwrite: bool,
    /// Remove target objects that the source does not have.
    #[arg(long)]
    remove: bool,
    /// Show what would be done, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Keep running: look at a local source every 2 s and mirror what changed.
    #[arg(long, short = 'w')]
    watch: bool,
}

/// What the merge decided for one key (removals go to the [`Removals`] file).
enum Action {
    Copy(Entry),
    /// The target differs and is not older; kept without --overwrite.
    Keep(Entry),
    Failed(CliError),
}

pub(crate) async fn run(context: &Context, args: MirrorArgs) -> Result<()> {
    let source = context.target(&args.source)?;
    let target = context.target(&args.target)?;
    if args.watch && !matches!(source, Target::Local(_)) {
        return Err(CliError::Usage("mirror --watch: the source must be a local folder".into()));
    }
    check_source(context, &source).await?;
    let (_, source_root) = tree_lister(context, &source)?;
    let (_, target_root) = tree_lister(context, &target)?;
    check_not_nested(&source_root, &target_root, true)?;
    prepare_target(context, &target, args.dry_run).await?;
    loop {
        let result = mirror_once(context, &args, &source, &target).await;
        if !args.watch {
            return result;
        }
        if let Err(error) = result {
            context.out.item_error(&args.source, &error);
        }
        tokio::time::sleep(WATCH_INTERVAL).await;
    }
}

/// Fails unless the source exists: a local folder, or a bucket (a missing prefix is
/// caught after listing, when it turns out empty).
async fn check_source(context: &Context, source: &Target) -> Result<()> {
    match source {
        Target::Local(path) => match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(CliError::Usage(format!("mirror: {} is a file; the source must be a folder", path.display()))),
            Err(error) => Err(CliError::io(path, error)),
        },
        Target::Remote(remote) => {
            let bucket = remote.bucket()?;
            match context.client(remote).head_bucket().bucket(bucket).send().await {
                Ok(_) => Ok(()),
                Err(error) if error.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
                    Err(CliError::NotFound(format!(
                        "mirror: the source bucket {}/{bucket} does not exist",
                        remote.alias_name
                    )))
                }
                Err(error) => Err(s3::error(&remote.display(), error)),
            }
        }
    }
}

/// Makes the target bucket or folder if it does not exist yet.
async fn prepare_target(context: &Context, target: &Target, dry_run: bool) -> Result<()> {
    if dry_run {
        return Ok(());
    }
    match target {
        Target::Local(path) => std::fs::create_dir_all(path).map_err(|e| CliError::io(path, e)),
        Target::Remote(remote) => {
            let bucket = remote.bucket()?;
            let client = context.client(remote);
            match client.head_bucket().bucket(bucket).send().await {
                Ok(_) => Ok(()),
                Err(error) if error.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
                    match client.create_bucket().bucket(bucket).send().await {
                        Ok(_) => Ok(()),
                        Err(error) if error.code() == Some("BucketAlreadyOwnedByYou") => Ok(()),
                        Err(error) => Err(s3::error(&remote.display(), error)),
                    }
                }
                Err(error) => Err(s3::error(&remote.display(), error)),
            }
        }
    }
}

async fn mirror_once(context: &Context, args: &MirrorArgs, source: &Target, target: &Target) -> Result<()> {
    let (source_lister, source_root) = tree_lister(context, source)?;
    let (target_lister, target_root) = tree_lister(context, target)?;
    let removals = if args.remove { Some(Removals::new()?) } else { None };
    let mut merge = Merge {
        source: source_lister,
        target: target_lister,
        source_next: None,
        target_next: None,
        overwrite: args.overwrite,
        removals,
        target_missing_ok: matches!(target, Target::Local(_)),
        source_entries: 0,
        stopped: false,
    };
    let actions = futures::stream::unfold(&mut merge, |merge| async move { merge.next().await.map(|a| (a, merge)) });
    let batch = Batch::new(context, false);
    let kept = AtomicU64::new(0);
    actions
        .map(|action| {
            let (source_root, target_root, batch, kept) = (&source_root, &target_root, &batch, &kept);
            async move {
                match action {
                    Action::Copy(entry) if is_folder_marker(&entry.key, entry.size, target_root) => {}
                    Action::Copy(entry) => {
                        if matches!(target_root, Place::Local(_))
                            && let Err(error) = check_local_key(&entry.key)
                        {
                            batch.fail(&entry.key, &error);
                            return;
                        }
                        let (from, to) = (source_root.join(&entry.key), target_root.join(&entry.key));
                        if args.dry_run {
                            report(context, "copy", &from, &to, entry.size);
                        } else {
                            batch.copy_or_fail(&from, &to, &Item::of(&entry)).await;
                        }
                    }
                    Action::Keep(entry) => {
                        let place = target_root.join(&entry.key);
                        context.out.result(
                            json!({"action": "keep", "target": place.display(), "size": entry.size}),
                            || {
                                format!(
                                    "kept: {} (differs and is not older than the source; pass --overwrite to replace)",
                                    place.display()
                                )
                            },
                        );
                        kept.fetch_add(1, Ordering::Relaxed);
                    }
                    Action::Failed(error) => batch.fail(&source_root.display(), &error),
                }
            }
        })
        .buffer_unordered(TRANSFERS_IN_FLIGHT)
        .collect::<()>()
        .await;
    if merge.source_entries == 0 {
        crate::commands::cp::nothing_below(source)?;
    }
    let complete = !merge.stopped && merge.source.complete_so_far() && merge.target.complete_so_far();
    let removed = AtomicU64::new(0);
    if let Some(removals) = merge.removals.take() {
        if complete {
            remove(context, args, &batch, &target_root, removals, &removed).await?;
        } else if removals.count > 0 {
            batch.fail(
                &target_root.display(),
                &CliError::Remote(format!(
                    "--remove: {} removal(s) skipped because a listing failed; nothing was removed",
                    removals.count
                )),
            );
        }
    }
    let (removed, kept) = (removed.into_inner(), kept.into_inner());
    if removed > 0 || kept > 0 {
        context.out.info(&format!("mirror: {removed} removed, {kept} kept (not older on the target)"));
    }
    let verb = if args.dry_run { "mirror (dry run)" } else { "mirror" };
    batch.finish(verb)
}

/// Removes (or with --dry-run reports) the target extras the merge found.
async fn remove(
    context: &Context,
    args: &MirrorArgs,
    batch: &Batch<'_>,
    target_root: &Place,
    removals: Removals,
    removed: &AtomicU64,
) -> Result<()> {
    futures::stream::iter(removals.read()?)
        .map(|candidate| async move {
            let (key, size) = match candidate {
                Ok(candidate) => candidate,
                Err(error) => return batch.fail(&target_root.display(), &error),
            };
            let place = target_root.join(&key);
            let result = if args.dry_run { Ok(()) } else { remove_place(context, &place).await };
            match result {
                Ok(()) => {
                    report(context, "remove", &place, &place, size);
                    removed.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => batch.fail(&place.display(), &error),
            }
        })
        .buffer_unordered(TRANSFERS_IN_FLIGHT)
        .collect::<()>()
        .await;
    Ok(())
}

/// Target keys the source lacks, kept in an unnamed temporary file until both
/// listings have completed (memory stays bounded however many there are).
struct Removals {
    file: std::io::BufWriter<std::fs::File>,
    count: u64,
}

impl Removals {
    fn new() -> Result<Removals> {
        let file = tempfile::tempfile().map_err(|e| CliError::io(std::env::temp_dir(), e))?;
        Ok(Removals { file: std::io::BufWriter::new(file), count: 0 })
    }

    fn push(&mut self, entry: &Entry) -> Result<()> {
        // One JSON array per line: keys may hold newlines, JSON escapes them.
        let line = json!([entry.key, entry.size]).to_string();
        writeln!(self.file, "{line}").map_err(|e| CliError::io(std::env::temp_dir(), e))?;
        self.count += 1;
        Ok(())
    }

    /// The keys and sizes, in the order they were found.
    fn read(self) -> Result<impl Iterator<Item = Result<(String, u64)>>> {
        let temp = std::env::temp_dir();
        let mut file = self.file.into_inner().map_err(|e| CliError::io(&temp, e.into_error()))?;
        file.rewind().map_err(|e| CliError::io(&temp, e))?;
        Ok(std::io::BufReader::new(file).lines().map(move |line| {
            let line = line.map_err(|e| CliError::io(&temp, e))?;
            serde_json::from_str::<(String, u64)>(&line)
                .map_err(|e| CliError::Remote(format!("the list of removals is damaged: {e}")))
        }))
    }
}

fn report(context: &Context, action: &str, from: &Place, to: &Place, size: u64) {
    context.out.result(
        json!({"action": action, "source": from.display(), "target": to.display(), "size": size, "dryRun": action == "copy"}),
        || format!("{action}: {}", if action == "remove" { to.display() } else { format!("{} -> {}", from.display(), to.display()) }),
    );
}

/// The merge of the two sorted listings.
struct Merge {
    source: Lister,
    target: Lister,
    source_next: Option<Entry>,
    target_next: Option<Entry>,
    overwrite: bool,
    /// With --remove: where target keys the source lacks are noted.
    removals: Option<Removals>,
    /// A local target folder that does not exist yet lists as empty.
    target_missing_ok: bool,
    /// Entries the source listed.
    source_entries: u64,
    /// The merge ended early: the target listing failed, so further keys could not
    /// be compared (a copy might replace a newer target object).
    stopped: bool,
}

impl Merge {
    async fn next(&mut self) -> Option<Action> {
        loop {
            if self.stopped {
                return None;
            }
            if self.source_next.is_none() {
                match self.source.next().await {
                    Some(Ok(entry)) => {
                        self.source_entries += 1;
                        self.source_next = Some(entry);
                    }
                    // The listing goes on where it can (another folder); removals are
                    // off, since the listing is no longer complete.
                    Some(Err(error)) => return Some(Action::Failed(error)),
                    None => {}
                }
            }
            if self.target_next.is_none() {
                match self.target.next().await {
                    Some(Ok(entry)) => self.target_next = Some(entry),
                    Some(Err(CliError::NotFound(_))) if self.target_missing_ok => {}
                    Some(Err(error)) => {
                        self.stopped = true;
                        return Some(Action::Failed(error));
                    }
                    None => {}
                }
            }
            match (self.source_next.take(), self.target_next.take()) {
                (None, None) => return None,
                (Some(source), None) => return Some(Action::Copy(source)),
                (None, Some(target)) => {
                    if let Err(error) = self.note_removal(&target) {
                        return Some(Action::Failed(error));
                    }
                }
                (Some(source), Some(target)) => match source.key.cmp(&target.key) {
                    std::cmp::Ordering::Less => {
                        self.target_next = Some(target);
                        return Some(Action::Copy(source));
                    }
                    std::cmp::Ordering::Greater => {
                        self.source_next = Some(source);
                        if let Err(error) = self.note_removal(&target) {
                            return Some(Action::Failed(error));
                        }
                    }
                    std::cmp::Ordering::Equal => match compare(&source, &target) {
                        Difference::Same => {}
                        Difference::SourceNewer => return Some(Action::Copy(source)),
                        Difference::TargetNotOlder if self.overwrite => return Some(Action::Copy(source)),
                        Difference::TargetNotOlder => return Some(Action::Keep(target)),
                    },
                },
            }
        }
    }

    /// Notes a target key the source lacks (with --remove).
    fn note_removal(&mut self, target: &Entry) -> Result<()> {
        match &mut self.removals {
            Some(removals) => removals.push(target),
            None => Ok(()),
        }
    }
}

enum Difference {
    Same,
    SourceNewer,
    /// Different, and the target is newer or as old (or an age is unknown): which one
    /// is right cannot be told, so the target is kept unless --overwrite.
    TargetNotOlder,
}

/// Whether two entries of one key hold the same object, and if not which is newer.
fn compare(source: &Entry, target: &Entry) -> Difference {
    let newer = source.modified.zip(target.modified).is_some_and(|(s, t)| s > t);
    // Multipart ETags ("...-N") depend on part sizes, so only plain ones compare.
    fn plain(etag: &Option<String>) -> Option<&str> {
        etag.as_deref().filter(|e| !e.contains('-'))
    }
    let etags_differ = plain(&source.etag).zip(plain(&target.etag)).is_some_and(|(s, t)| s != t);
    let differs = source.size != target.size || etags_differ || newer;
    match (differs, newer) {
        (false, _) => Difference::Same,
        (true, true) => Difference::SourceNewer,
        (true, false) => Difference::TargetNotOlder,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn entry(size: u64, seconds: u64, etag: Option<&str>) -> Entry {
        Entry {
            key: "k".into(),
            size,
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)),
            etag: etag.map(str::to_owned),
            is_prefix: false,
        }
    }

    #[test]
    fn copies_are_left_alone_and_changes_detected() {
        // A copy made after the source: same size, target newer: the same.
        assert!(matches!(compare(&entry(5, 10, None), &entry(5, 20, None)), Difference::Same));
        // The source changed after the copy.
        assert!(matches!(compare(&entry(5, 30, None), &entry(5, 20, None)), Difference::SourceNewer));
        // The target was changed after the copy: kept unless --overwrite.
        assert!(matches!(compare(&entry(6, 10, None), &entry(5, 20, None)), Difference::TargetNotOlder));
        // Same size and age, other content.
        assert!(matches!(compare(&entry(5, 10, Some("a")), &entry(5, 20, Some("b"))), Difference::TargetNotOlder));
        assert!(matches!(compare(&entry(5, 10, Some("a-2")), &entry(5, 20, Some("b"))), Difference::Same));
    }
}
