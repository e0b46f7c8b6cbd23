//! `cairn cp` and `cairn mv`: files to objects, objects to files, objects to objects
//! (server-side on one endpoint), one item or whole folders/prefixes with `-r`, with
//! several transfers in parallel. Recursive copies copy a folder's contents:
//! `cp -r ./docs a/b/backup/` makes `a/b/backup/<each file under docs>`.

use super::batch::Batch;
use crate::Context;
use crate::error::{CliError, Result};
use crate::progress::Progress;
use crate::s3;
use crate::target::{Remote, Target};
use crate::transfer;
use crate::walk::{Entry, Lister};
use futures::StreamExt;
use std::path::PathBuf;

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
}

/// One end of a single copy.
#[derive(Debug, Clone)]
pub(crate) enum Place {
    Local(PathBuf),
    Remote(Remote),
}

impl Place {
    pub(crate) fn display(&self) -> String {
        match self {
            Place::Local(path) => path.display().to_string(),
            Place::Remote(remote) => remote.display(),
        }
    }

    /// The place of `relative` below this folder or prefix.
    pub(crate) fn join(&self, relative: &str) -> Place {
        match self {
            Place::Local(path) => Place::Local(path.join(relative)),
            Place::Remote(remote) => Place::Remote(remote.with_key(format!("{}{relative}", folder_key(&remote.key)))),
        }
    }
}

/// A key as a folder: empty, or ending with '/'.
pub(crate) fn folder_key(key: &str) -> String {
    if key.is_empty() || key.ends_with('/') { key.to_owned() } else { format!("{key}/") }
}

pub(crate) async fn run(context: &Context, args: CpArgs, remove_source: bool) -> Result<()> {
    let command = if remove_source { "mv" } else { "cp" };
    let (destination_text, sources) = args.paths.split_last().expect("clap requires two paths");
    let destination = context.target(destination_text)?;
    let batch = Batch::new(context, remove_source);
    let into_folder = sources.len() > 1 || args.recursive || is_folder(&destination);
    for text in sources {
        let source = context.target(text)?;
        let result = if args.recursive {
            copy_tree(context, &batch, &source, &destination).await
        } else {
            async {
                let (source, size) = single(context, &source).await?;
                let target = if into_folder {
                    let name = base_name(&source);
                    check_relative(&name)?;
                    folder_place(&destination).join(&name)
                } else {
                    place(&destination)
                };
                batch.copy(&source, &target, size).await
            }
            .await
        };
        match result {
            Ok(()) => {}
            // One item: its own error (and exit code) is the command's.
            Err(error) if sources.len() == 1 && !args.recursive => return Err(error),
            Err(error) => batch.fail(text, &error),
        }
    }
    batch.finish(command)
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

/// A single source item and its size.
async fn single(context: &Context, source: &Target) -> Result<(Place, u64)> {
    match source {
        Target::Local(path) => {
            let meta = tokio::fs::metadata(path).await.map_err(|e| CliError::io(path, e))?;
            if meta.is_dir() {
                return Err(CliError::Usage(format!("{}: a folder; use -r to copy it", path.display())));
            }
            Ok((Place::Local(path.clone()), meta.len()))
        }
        Target::Remote(remote) => {
            if remote.key.is_empty() || remote.key.ends_with('/') {
                return Err(CliError::Usage(format!("{}: a bucket or prefix; use -r to copy it", remote.display())));
            }
            let head = context
                .client(remote)
                .head_object()
                .bucket(remote.bucket()?)
                .key(&remote.key)
                .send()
                .await
                .map_err(|e| s3::error(&remote.display(), e))?;
            Ok((Place::Remote(remote.clone()), head.content_length().unwrap_or_default().max(0) as u64))
        }
    }
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

async fn copy_tree(context: &Context, batch: &Batch<'_>, source: &Target, destination: &Target) -> Result<()> {
    let (lister, root) = tree_lister(context, source)?;
    let destination = folder_place(destination);
    let entries = futures::stream::unfold(lister, |mut lister| async move { lister.next().await.map(|e| (e, lister)) });
    entries
        .map(|entry: Result<Entry>| {
            let (root, destination) = (&root, &destination);
            async move {
                match entry {
                    Ok(entry) if is_folder_marker(&entry, destination) => {}
                    Ok(entry) => {
                        if let Err(error) = check_relative(&entry.key) {
                            batch.fail(&root.join(&entry.key).display(), &error);
                            return;
                        }
                        batch.copy_or_fail(&root.join(&entry.key), &destination.join(&entry.key), entry.size).await;
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

/// Copies one file or object of `size` bytes; returns the parts an interrupted
/// earlier upload had already sent.
pub(crate) async fn copy_item(
    context: &Context,
    progress: &Progress,
    source: &Place,
    destination: &Place,
    size: u64,
) -> Result<u64> {
    let name = source.display();
    let transfer = progress.transfer(&name, size);
    let reused = match (source, destination) {
        (Place::Local(from), Place::Local(to)) => transfer::copy_file(from, to, &transfer).await.map(|_| 0)?,
        (Place::Local(from), Place::Remote(to)) => {
            let file = tokio::fs::File::open(from).await.map_err(|e| CliError::io(from, e))?;
            let client = context.client(to);
            transfer::upload(&client, to, transfer::Source::File(file, from.clone()), size, &transfer).await?
        }
        (Place::Remote(from), Place::Local(to)) => {
            transfer::download(&context.client(from), from, to, &transfer).await.map(|_| 0)?
        }
        (Place::Remote(from), Place::Remote(to)) => {
            transfer::copy_object(&context.client(from), from, &context.client(to), to, size, &transfer).await?
        }
    };
    transfer.finish();
    Ok(reused)
}

/// An empty "folder" object (`key/`, as consoles make) bound for a local folder: the
/// folder appears with its files, and a file cannot be named `key/`.
pub(crate) fn is_folder_marker(entry: &Entry, destination: &Place) -> bool {
    entry.key.ends_with('/') && matches!(destination, Place::Local(_))
}

/// Refuses a key that would leave the destination folder once made a local path
/// (`..` or `.` components, or an absolute key).
pub(crate) fn check_relative(key: &str) -> Result<()> {
    if key.starts_with('/') || key.split('/').any(|part| part == ".." || part == ".") {
        return Err(CliError::Usage(format!("{key:?}: has '.' or '..' components; not copied to a local folder")));
    }
    Ok(())
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
