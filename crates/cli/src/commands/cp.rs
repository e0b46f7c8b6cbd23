//! `cairn cp` and `cairn mv`: files to objects, objects to files, objects to objects
//! (server-side on one endpoint), one item or whole folders/prefixes with `-r`, with
//! several transfers in parallel. Recursive copies copy a folder's contents:
//! `cp -r ./docs a/b/backup/` makes `a/b/backup/<each file under docs>`.

use super::batch::Batch;
pub(crate) use super::place::{Item, Place, check_local_key, folder_key, is_folder_marker};
use super::place::{check_not_nested, check_not_same};
use crate::Context;
use crate::error::{CliError, Result};
use crate::progress::Progress;
use crate::s3;
use crate::target::{Remote, Target};
use crate::transfer::{self, LocalFile, ObjectSource, Snapshot, Source};
use crate::walk::{Entry, Lister};
use futures::StreamExt;

/// Transfers run at once by a recursive copy.
pub(crate) const TRANSFERS_IN_FLIGHT: usize = 4;

/// Arguments of `cairn cp` and `cairn mv`.
#[derive(Debug, clap::Args)]
pub struct CpArgs {
    /// Sources, then the destination (ALIAS/BUCKET/KEY or local paths).
    #[arg(required = true, num_args = 2..)]
    paths: Vec<String>,
    /// Copy folders and prefixes with everything below them.
    #[arg(long, short = 'r')]
    recursive: bool,
    /// Copy this version of the source object (`null` for the null version).
    #[arg(long = "version-id", visible_alias = "vid", conflicts_with = "recursive")]
    version_id: Option<String>,
}

pub(crate) async fn run(context: &Context, args: CpArgs, remove_source: bool) -> Result<()> {
    let command = if remove_source { "mv" } else { "cp" };
    let (destination_text, sources) = args.paths.split_last().expect("clap requires two paths");
    let destination = context.target(destination_text)?;
    if args.version_id.is_some() && (remove_source || sources.len() != 1) {
        return Err(CliError::Usage(format!("{command} --version-id: give one source object, to copy (not move)")));
    }
    let batch = Batch::new(context, remove_source);
    let into_folder = sources.len() > 1 || args.recursive || is_folder(&destination);
    for text in sources {
        let source = match (context.target(text)?, &args.version_id) {
            (Target::Remote(remote), Some(version)) => {
                Target::Remote(Remote { version_id: Some(version.clone()), ..remote })
            }
            (Target::Local(_), Some(_)) => {
                return Err(CliError::Usage(format!("{command} {text}: --version-id is for a source object")));
            }
            (source, None) => source,
        };
        let result = if args.recursive {
            copy_tree(context, &batch, &source, &destination).await
        } else {
            copy_one(context, &batch, &source, &destination, into_folder).await
        };
        match result {
            Ok(()) => {}
            // One source that failed as a whole: its own error (and exit code) is the
            // command's.
            Err(error) if sources.len() == 1 => return Err(error),
            Err(error) => batch.fail(text, &error),
        }
    }
    batch.finish(command)
}

/// Copies one file or object to `destination`, or below it with `into_folder`.
async fn copy_one(
    context: &Context,
    batch: &Batch<'_>,
    source: &Target,
    destination: &Target,
    into_folder: bool,
) -> Result<()> {
    let (source, item) = single(context, source).await?;
    let target = if into_folder {
        let name = base_name(&source);
        check_local_key(&name)?;
        folder_place(destination).join(&name)
    } else {
        place(destination)
    };
    batch.copy(&source, &target, &item).await
}

fn is_folder(target: &Target) -> bool {
    match target {
        Target::Local(path) => path.is_dir() || path.to_string_lossy().ends_with('/'),
        Target::Remote(remote) => remote.key.is_empty() || remote.key.ends_with('/'),
    }
}

fn place(target: &Target) -> Place {
    match target {
        Target::Local(path) => Place::Local(path.clone()),
        Target::Remote(remote) => Place::Remote(remote.clone()),
    }
}

fn folder_place(target: &Target) -> Place {
    match target {
        Target::Local(path) => Place::Local(path.clone()),
        Target::Remote(remote) => Place::Remote(remote.with_key(folder_key(&remote.key))),
    }
}

fn base_name(place: &Place) -> String {
    match place {
        Place::Local(path) => path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        Place::Remote(remote) => remote.key.rsplit('/').next().unwrap_or_default().to_owned(),
    }
}

/// A single source item and what is known of it.
async fn single(context: &Context, source: &Target) -> Result<(Place, Item)> {
    match source {
        Target::Local(path) => {
            let meta = tokio::fs::metadata(path).await.map_err(|e| CliError::io(path, e))?;
            if meta.is_dir() {
                return Err(CliError::Usage(format!("{}: a folder; use -r to copy it", path.display())));
            }
            Ok((Place::Local(path.clone()), Item { size: meta.len(), etag: None }))
        }
        Target::Remote(remote) => {
            if remote.key.is_empty() || remote.key.ends_with('/') {
                return Err(CliError::Usage(format!("{}: a bucket or prefix; use -r to copy it", remote.display())));
            }
            let item = head(context, remote).await?;
            Ok((Place::Remote(remote.clone()), item))
        }
    }
}

/// An object's size and ETag.
async fn head(context: &Context, remote: &Remote) -> Result<Item> {
    let head = context
        .client(remote)
        .head_object()
        .bucket(remote.bucket()?)
        .key(&remote.key)
        .set_version_id(remote.version_id.clone())
        .send()
        .await
        .map_err(|e| s3::error(&remote.display(), e))?;
    let etag = head.e_tag().map(|e| e.trim_matches('"').to_owned());
    Ok(Item { size: head.content_length().unwrap_or_default().max(0) as u64, etag })
}

/// A lister of everything below `source`, keys relative to it.
pub(crate) fn tree_lister(context: &Context, source: &Target) -> Result<(Lister, Place)> {
    Ok(match source {
        Target::Local(path) => (Lister::local(path.clone(), true), Place::Local(path.clone())),
        Target::Remote(remote) => {
            remote.bucket()?;
            let prefix = folder_key(&remote.key);
            let lister = Lister::remote(context.client(remote), remote, prefix.clone(), prefix.clone(), true)?;
            (lister, Place::Remote(remote.with_key(prefix)))
        }
    })
}

/// Copies everything below `source` to below `destination`; a source that is one
/// file or object is copied into `destination`, as mc does. A source that cannot be
/// listed at all, or a prefix with nothing below it, is the error of the whole copy;
/// later failures are failed items.
async fn copy_tree(context: &Context, batch: &Batch<'_>, source: &Target, destination: &Target) -> Result<()> {
    if let Target::Local(path) = source
        && std::fs::metadata(path).is_ok_and(|meta| meta.is_file())
    {
        return copy_one(context, batch, source, destination, true).await;
    }
    let (mut lister, root) = tree_lister(context, source)?;
    let folder = folder_place(destination);
    check_not_nested(&root, &folder, false)?;
    let first = match lister.next().await {
        Some(Ok(entry)) => entry,
        Some(Err(error)) => return Err(error),
        None => {
            return match source {
                Target::Remote(remote) if !remote.key.is_empty() && !remote.key.ends_with('/') => {
                    copy_one(context, batch, source, destination, true).await
                }
                _ => nothing_below(source),
            };
        }
    };
    let destination = folder;
    let rest = futures::stream::unfold(lister, |mut lister| async move { lister.next().await.map(|e| (e, lister)) });
    futures::stream::once(async { Ok(first) })
        .chain(rest)
        .map(|entry: Result<Entry>| {
            let (root, destination) = (&root, &destination);
            async move {
                match entry {
                    Ok(entry) if is_folder_marker(&entry.key, entry.size, destination) => {}
                    Ok(entry) => {
                        if matches!(destination, Place::Local(_))
                            && let Err(error) = check_local_key(&entry.key)
                        {
                            batch.fail(&root.join(&entry.key).display(), &error);
                            return;
                        }
                        batch
                            .copy_or_fail(&root.join(&entry.key), &destination.join(&entry.key), &Item::of(&entry))
                            .await;
                    }
                    Err(error) => batch.fail(&root.display(), &error),
                }
            }
        })
        .buffer_unordered(TRANSFERS_IN_FLIGHT)
        .collect::<()>()
        .await;
    Ok(())
}

/// The result of listing nothing below `source`: fine for a folder or bucket that
/// exists and is empty; for a prefix it most likely means a typo.
pub(crate) fn nothing_below(source: &Target) -> Result<()> {
    match source {
        Target::Remote(remote) if !remote.key.is_empty() => {
            Err(CliError::NotFound(format!("{}: no objects below this prefix", remote.display())))
        }
        _ => Ok(()),
    }
}

/// What a copy read, so that a move removes the source only if it is still that.
pub(crate) enum Version {
    /// The file as it was opened.
    File(Snapshot),
    /// The object's ETag (empty if the endpoint gives none).
    Object(String),
}

/// A finished copy of one item.
pub(crate) struct Copied {
    /// Bytes copied.
    pub bytes: u64,
    /// Parts an interrupted earlier upload had already sent.
    pub parts_reused: u64,
    /// What was copied.
    pub version: Version,
}

/// Copies one file or object.
pub(crate) async fn copy_item(
    context: &Context,
    progress: &Progress,
    source: &Place,
    destination: &Place,
    item: &Item,
) -> Result<Copied> {
    check_not_same(source, destination)?;
    let name = source.display();
    match source {
        Place::Local(from) => {
            let file = LocalFile::open(from).await?;
            let size = file.snapshot().len();
            let transfer = progress.transfer(&name, size);
            let parts_reused = match destination {
                Place::Local(to) => transfer::copy_file(&file, to, &transfer).await.map(|_| 0)?,
                Place::Remote(to) => {
                    transfer::upload(&context.client(to), to, Source::File(&file), size, &transfer).await?
                }
            };
            transfer.finish();
            Ok(Copied { bytes: size, parts_reused, version: Version::File(file.snapshot().clone()) })
        }
        Place::Remote(from) => {
            let item = match item.etag {
                Some(_) => item.clone(),
                None => head(context, from).await?,
            };
            let etag = item.etag.unwrap_or_default();
            let client = context.client(from);
            let object = ObjectSource { client: &client, remote: from, etag: &etag };
            let transfer = progress.transfer(&name, item.size);
            let parts_reused = match destination {
                Place::Local(to) => transfer::download(object, item.size, to, &transfer).await.map(|_| 0)?,
                Place::Remote(to) => {
                    transfer::copy_object(object, &context.client(to), to, item.size, &transfer).await?
                }
            };
            transfer.finish();
            Ok(Copied { bytes: item.size, parts_reused, version: Version::Object(etag) })
        }
    }
}

/// Removes one file or object.
pub(crate) async fn remove_place(context: &Context, place: &Place) -> Result<()> {
    match place {
        Place::Local(path) => tokio::fs::remove_file(path).await.map_err(|e| CliError::io(path, e)),
        Place::Remote(remote) => context
            .client(remote)
            .delete_object()
            .bucket(remote.bucket()?)
            .key(&remote.key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| s3::error(&remote.display(), e)),
    }
}

/// Removes the source of a move, if it is still what was copied: a file changed or an
/// object replaced after the copy would otherwise be lost.
pub(crate) async fn remove_copied(context: &Context, place: &Place, version: &Version) -> Result<()> {
    let changed =
        || CliError::Changed(format!("{}: changed after it was copied; the source was not removed", place.display()));
    match (place, version) {
        (Place::Local(path), Version::File(snapshot)) if !snapshot.matches(path).await => return Err(changed()),
        (Place::Remote(remote), Version::Object(etag)) if !etag.is_empty() => {
            let now = head(context, remote).await?;
            if now.etag.as_deref() != Some(etag.as_str()) {
                return Err(changed());
            }
        }
        _ => {}
    }
    remove_place(context, place).await
}
