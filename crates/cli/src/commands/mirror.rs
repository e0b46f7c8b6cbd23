//! `cairn mirror`: makes a target a copy of a source, between any two targets
//! (S3 prefixes on any endpoints, local folders). Both sides are listed in key order
//! and merged, so memory stays bounded however many objects there are. An object is
//! copied when the target lacks it or it changed: sizes differ, comparable ETags
//! differ, or the source is newer. A target object that is newer than a differing
//! source is kept unless `--overwrite`. Every copy is atomic, so an interrupted
//! mirror is safe to rerun.

use crate::Context;
use crate::commands::batch::Batch;
use crate::commands::cp::{Place, TRANSFERS_IN_FLIGHT, check_relative, is_folder_marker, remove_place, tree_lister};
use crate::error::{CliError, Result};
use crate::s3;
use crate::target::Target;
use crate::walk::{Entry, Lister};
use aws_sdk_s3::error::ProvideErrorMetadata;
use futures::StreamExt;
use serde_json::json;
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

/// What the merge decided for one key.
enum Action {
    Copy(Entry),
    Remove(Entry),
    /// The target differs and is newer; kept without --overwrite.
    Keep(Entry),
    Failed(CliError),
}

pub(crate) async fn run(context: &Context, args: MirrorArgs) -> Result<()> {
    let source = context.target(&args.source)?;
    let target = context.target(&args.target)?;
    if args.watch && !matches!(source, Target::Local(_)) {
        return Err(CliError::Usage("mirror --watch: the source must be a local folder".into()));
    }
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
    let merge = Merge {
        source: source_lister,
        target: target_lister,
        source_next: None,
        target_next: None,
        overwrite: args.overwrite,
        remove: args.remove,
        target_missing_ok: matches!(target, Target::Local(_)),
    };
    let actions = futures::stream::unfold(merge, |mut merge| async move { merge.next().await.map(|a| (a, merge)) });
    let batch = Batch::new(context, false);
    let (removed, kept) = (AtomicU64::new(0), AtomicU64::new(0));
    actions
        .map(|action| {
            let (source_root, target_root, batch, removed, kept) =
                (&source_root, &target_root, &batch, &removed, &kept);
            async move {
                match action {
                    Action::Copy(entry) if is_folder_marker(&entry, target_root) => {}
                    Action::Copy(entry) => {
                        if matches!(target_root, Place::Local(_))
                            && let Err(error) = check_relative(&entry.key)
                        {
                            batch.fail(&entry.key, &error);
                            return;
                        }
                        let (from, to) = (source_root.join(&entry.key), target_root.join(&entry.key));
                        if args.dry_run {
                            report(context, "copy", &from, &to, entry.size);
                        } else {
                            batch.copy_or_fail(&from, &to, entry.size).await;
                        }
                    }
                    Action::Remove(entry) => {
                        let place = target_root.join(&entry.key);
                        let result = if args.dry_run { Ok(()) } else { remove_place(context, &place).await };
                        match result {
                            Ok(()) => {
                                report(context, "remove", &place, &place, entry.size);
                                removed.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(error) => batch.fail(&place.display(), &error),
                        }
                    }
                    Action::Keep(entry) => {
                        let place = target_root.join(&entry.key);
                        context.out.item_error(
                            &place.display(),
                            &CliError::Usage(
                                "newer on the target and different; kept (pass --overwrite to replace)".into(),
                            ),
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
    let (removed, kept) = (removed.into_inner(), kept.into_inner());
    if removed > 0 || kept > 0 {
        context.out.info(&format!("mirror: {removed} removed, {kept} kept (newer on the target)"));
    }
    let verb = if args.dry_run { "mirror (dry run)" } else { "mirror" };
    batch.finish(verb)
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
    remove: bool,
    /// A local target folder that does not exist yet lists as empty.
    target_missing_ok: bool,
}

impl Merge {
    async fn next(&mut self) -> Option<Action> {
        loop {
            if self.source_next.is_none() {
                match self.source.next().await {
                    Some(Ok(entry)) => self.source_next = Some(entry),
                    Some(Err(error)) => return Some(Action::Failed(error)),
                    None => {}
                }
            }
            if self.target_next.is_none() {
                match self.target.next().await {
                    Some(Ok(entry)) => self.target_next = Some(entry),
                    Some(Err(CliError::NotFound(_))) if self.target_missing_ok => {}
                    Some(Err(error)) => return Some(Action::Failed(error)),
                    None => {}
                }
            }
            match (self.source_next.take(), self.target_next.take()) {
                (None, None) => return None,
                (Some(source), None) => return Some(Action::Copy(source)),
                (None, Some(target)) if self.remove => return Some(Action::Remove(target)),
                (None, Some(_)) => continue,
                (Some(source), Some(target)) => match source.key.cmp(&target.key) {
                    std::cmp::Ordering::Less => {
                        self.target_next = Some(target);
                        return Some(Action::Copy(source));
                    }
                    std::cmp::Ordering::Greater => {
                        self.source_next = Some(source);
                        if self.remove {
                            return Some(Action::Remove(target));
                        }
                    }
                    std::cmp::Ordering::Equal => match compare(&source, &target) {
                        Difference::Same => {}
                        Difference::SourceNewer => return Some(Action::Copy(source)),
                        Difference::TargetNewer if self.overwrite => return Some(Action::Copy(source)),
                        Difference::TargetNewer => return Some(Action::Keep(target)),
                    },
                },
            }
        }
    }
}

enum Difference {
    Same,
    SourceNewer,
    TargetNewer,
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
        (true, false) => Difference::TargetNewer,
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
        assert!(matches!(compare(&entry(6, 10, None), &entry(5, 20, None)), Difference::TargetNewer));
        // Same size and age, other content.
        assert!(matches!(compare(&entry(5, 10, Some("a")), &entry(5, 20, Some("b"))), Difference::TargetNewer));
        assert!(matches!(compare(&entry(5, 10, Some("a-2")), &entry(5, 20, Some("b"))), Difference::Same));
    }
}
