//! `cairn rm`: objects one by one, or a folder with `-r --force` (DeleteObjects in
//! batches), or local files. `rm -r --force alias/b/dir` removes the folder `dir/` and
//! the object `dir` if there is one, never `dir2/...` or `directory.txt`: a name is a
//! folder, not a string prefix (mc and s3cmd match the raw prefix and remove those too).

use crate::Context;
use crate::commands::cp::folder_key;
use crate::error::{CliError, Result};
use crate::s3;
use crate::target::{Remote, Target};
use crate::walk::Lister;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use serde_json::json;

/// Keys per DeleteObjects call (S3's limit).
const DELETE_BATCH_KEYS: usize = 1_000;

/// Arguments of `cairn rm`.
#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// ALIAS/BUCKET/KEY (or prefix with -r), or local paths.
    #[arg(required = true)]
    targets: Vec<String>,
    /// Remove everything under the prefix (needs --force).
    #[arg(long, short = 'r')]
    recursive: bool,
    /// Confirm a recursive removal.
    #[arg(long)]
    force: bool,
    /// Remove this version of the object (`null` for the null version) for good.
    #[arg(long = "version-id", visible_alias = "vid", conflicts_with_all = ["recursive", "versions"])]
    version_id: Option<String>,
    /// Remove every version and delete marker of the object (with -r --force, of
    /// everything below the folder) for good.
    #[arg(long)]
    versions: bool,
}

pub(crate) async fn run(context: &Context, args: RmArgs) -> Result<()> {
    if args.recursive && !args.force {
        return Err(CliError::Usage("rm -r removes everything under the prefix: add --force to confirm".into()));
    }
    let (mut failed, mut total) = (0, 0);
    for text in &args.targets {
        let result = match context.target(text)? {
            Target::Local(_) if args.versions || args.version_id.is_some() => {
                Err(CliError::Usage(format!("rm {text}: versions are for objects, not local files")))
            }
            Target::Local(path) => remove_local(context, &path, args.recursive).map(|()| (1, 0)),
            Target::Remote(remote) if args.versions => remove_versions(context, &remote, args.recursive).await,
            Target::Remote(remote) if args.version_id.is_some() => {
                remove_version(context, &remote, args.version_id.as_deref().unwrap_or_default()).await.map(|()| (1, 0))
            }
            Target::Remote(remote) if args.recursive => remove_folder(context, &remote).await,
            Target::Remote(remote) => remove_one(context, &remote).await.map(|()| (1, 0)),
        };
        match result {
            Ok((done, bad)) => {
                total += done + bad;
                failed += bad;
            }
            Err(error) if args.targets.len() > 1 => {
                context.out.item_error(text, &error);
                total += 1;
                failed += 1;
            }
            Err(error) => return Err(error),
        }
    }
    if failed > 0 { Err(CliError::Partial { failed, total }) } else { Ok(()) }
}

async fn remove_one(context: &Context, remote: &Remote) -> Result<()> {
    let client = context.client(remote);
    let bucket = remote.bucket()?;
    if remote.key.is_empty() {
        return Err(CliError::Usage(format!("rm {}: name an object, or use -r --force for all", remote.display())));
    }
    // DeleteObject succeeds for a missing key; say so instead of pretending.
    client.head_object().bucket(bucket).key(&remote.key).send().await.map_err(|e| s3::error(&remote.display(), e))?;
    client.delete_object().bucket(bucket).key(&remote.key).send().await.map_err(|e| s3::error(&remote.display(), e))?;
    print_removed(context, &remote.display());
    Ok(())
}

/// Removes one version of an object for good.
async fn remove_version(context: &Context, remote: &Remote, version_id: &str) -> Result<()> {
    if remote.key.is_empty() {
        return Err(CliError::Usage(format!("rm {}: name an object with --version-id", remote.display())));
    }
    let request = context.client(remote).delete_object().bucket(remote.bucket()?).key(&remote.key);
    request.version_id(version_id).send().await.map_err(|e| s3::error(&remote.display(), e))?;
    let what = format!("{} (version {version_id})", remote.display());
    print_removed(context, &what);
    Ok(())
}

/// Removes every version and delete marker of the object `remote` names (with
/// `recursive`, of every object below it as a folder too); returns (removed, failed).
/// Nothing to remove is not found.
async fn remove_versions(context: &Context, remote: &Remote, recursive: bool) -> Result<(u64, u64)> {
    let client = context.client(remote);
    let bucket = remote.bucket()?.to_owned();
    let folder = folder_key(&remote.key);
    let wanted = |key: &str| key == remote.key || (recursive && key.starts_with(&folder));
    let mut found: Vec<(String, Option<String>)> = Vec::new();
    let (mut removed, mut failed) = (0, 0);
    let mut batches = Vec::new();
    super::version::each_version(context, remote, &remote.key, None, |versions, _| {
        found.extend(versions.into_iter().filter(|v| wanted(&v.key)).map(|v| (v.key, Some(v.version_id))));
        while found.len() >= DELETE_BATCH_KEYS {
            batches.push(found.drain(..DELETE_BATCH_KEYS).collect::<Vec<_>>());
        }
        Ok(())
    })
    .await?;
    if !found.is_empty() {
        batches.push(found);
    }
    if batches.is_empty() {
        return Err(CliError::NotFound(format!("{}: no versions; nothing removed", remote.display())));
    }
    for batch in batches {
        let (ok, bad) = delete_batch(context, &client, remote, &bucket, batch).await?;
        removed += ok;
        failed += bad;
    }
    Ok((removed, failed))
}

fn print_removed(context: &Context, what: &str) {
    context.out.result(json!({"key": what}), || format!("Removed `{what}`."));
}

/// Removes the folder `remote` names (its key as a folder, `dir` -> `dir/`) and the
/// object of that exact name; returns (removed, failed). Nothing there is not found,
/// unless the target is a whole bucket.
async fn remove_folder(context: &Context, remote: &Remote) -> Result<(u64, u64)> {
    let bucket = remote.bucket()?;
    let mut also = None;
    if !remote.key.is_empty() && !remote.key.ends_with('/') {
        let head = context.client(remote).head_object().bucket(bucket).key(&remote.key).send().await;
        match head.map_err(|e| s3::error(&remote.display(), e)) {
            Ok(_) => also = Some(remote.key.clone()),
            Err(CliError::NotFound(_)) => {}
            Err(error) => return Err(error),
        }
    }
    let (removed, failed) = remove_prefix(context, &remote.with_key(folder_key(&remote.key)), also).await?;
    if removed + failed == 0 && !remote.key.is_empty() {
        return Err(CliError::NotFound(format!("{}: no such object or folder; nothing removed", remote.display())));
    }
    Ok((removed, failed))
}

/// Removes every object whose key starts with `remote`'s key, and the key `also`;
/// returns (removed, failed).
pub(crate) async fn remove_prefix(context: &Context, remote: &Remote, also: Option<String>) -> Result<(u64, u64)> {
    let client = context.client(remote);
    let bucket = remote.bucket()?.to_owned();
    let mut lister = Lister::remote(client.clone(), remote, remote.key.clone(), String::new(), true)?;
    let (mut removed, mut failed) = (0, 0);
    let mut batch = Vec::with_capacity(DELETE_BATCH_KEYS);
    batch.extend(also.map(|key| (key, None)));
    loop {
        let next = lister.next().await.transpose()?;
        if let Some(entry) = &next {
            batch.push((entry.key.clone(), None));
        }
        if batch.len() == DELETE_BATCH_KEYS || (next.is_none() && !batch.is_empty()) {
            let (ok, bad) = delete_batch(context, &client, remote, &bucket, std::mem::take(&mut batch)).await?;
            removed += ok;
            failed += bad;
        }
        if next.is_none() {
            return Ok((removed, failed));
        }
    }
}

async fn delete_batch(
    context: &Context,
    client: &aws_sdk_s3::Client,
    remote: &Remote,
    bucket: &str,
    keys: Vec<(String, Option<String>)>,
) -> Result<(u64, u64)> {
    let objects = keys
        .iter()
        .map(|(key, version)| ObjectIdentifier::builder().key(key).set_version_id(version.clone()).build())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| CliError::Usage(format!("{e}")))?;
    let delete = Delete::builder()
        .set_objects(Some(objects))
        .quiet(false)
        .build()
        .map_err(|e| CliError::Usage(format!("{e}")))?;
    let answer = client
        .delete_objects()
        .bucket(bucket)
        .delete(delete)
        .send()
        .await
        .map_err(|e| s3::error(&remote.display(), e))?;
    for deleted in answer.deleted() {
        let mut what = remote.with_key(deleted.key().unwrap_or_default().to_owned()).display();
        if let Some(version) =
            keys.iter().find(|(key, _)| Some(key.as_str()) == deleted.key()).and(deleted.version_id())
        {
            what.push_str(&format!(" (version {version})"));
        }
        print_removed(context, &what);
    }
    for error in answer.errors() {
        let what = remote.with_key(error.key().unwrap_or_default().to_owned()).display();
        let message = format!("{}: {}", error.code().unwrap_or("error"), error.message().unwrap_or_default());
        context.out.item_error(&what, &CliError::Remote(message));
    }
    Ok((answer.deleted().len() as u64, answer.errors().len() as u64))
}

fn remove_local(context: &Context, path: &std::path::Path, recursive: bool) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| CliError::io(path, e))?;
    if meta.is_dir() {
        if !recursive {
            return Err(CliError::Usage(format!("rm {}: a folder; use -r --force", path.display())));
        }
        std::fs::remove_dir_all(path).map_err(|e| CliError::io(path, e))?;
    } else {
        std::fs::remove_file(path).map_err(|e| CliError::io(path, e))?;
    }
    print_removed(context, &path.display().to_string());
    Ok(())
}
