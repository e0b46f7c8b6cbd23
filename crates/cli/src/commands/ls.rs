//! `cairn ls`: buckets of an alias, objects under a prefix, or local files.

use crate::Context;
use crate::error::{CliError, Result};
use crate::output::{human_bytes, rfc3339};
use crate::s3;
use crate::target::Target;
use crate::walk::{Entry, Lister, folder_of};
use serde_json::json;

/// Arguments of `cairn ls`.
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// ALIAS, ALIAS/BUCKET[/PREFIX] or a local folder.
    target: String,
    /// List everything below, not just one level.
    #[arg(long, short = 'r')]
    recursive: bool,
    /// List every version and delete marker of the objects, newest first.
    #[arg(long)]
    versions: bool,
}

pub(crate) async fn run(context: &Context, args: LsArgs) -> Result<()> {
    if args.versions {
        let remote = context.target(&args.target)?.remote("ls --versions")?;
        remote.bucket()?;
        let delimiter = (!args.recursive).then_some("/");
        return super::version::each_version(context, &remote, &remote.key, delimiter, |versions, prefixes| {
            for prefix in prefixes {
                let folder = Entry { key: prefix, size: 0, modified: None, etag: None, is_prefix: true };
                print_entry(context, &folder);
            }
            for version in &versions {
                super::version::print_version(context, version);
            }
            Ok(())
        })
        .await;
    }
    let mut lister = match context.target(&args.target)? {
        Target::Local(path) => Lister::local(path, args.recursive),
        Target::Remote(remote) if remote.bucket.is_none() => return list_buckets(context, &remote).await,
        Target::Remote(remote) => {
            let client = context.client(&remote);
            let root = folder_of(&remote.key);
            Lister::remote(client, &remote, remote.key.clone(), root, args.recursive)?
        }
    };
    while let Some(entry) = lister.next().await {
        print_entry(context, &entry?);
    }
    Ok(())
}

fn print_entry(context: &Context, entry: &Entry) {
    let kind = if entry.is_prefix { "folder" } else { "file" };
    let modified = entry.modified.map(rfc3339);
    context.out.result(
        json!({"type": kind, "key": entry.key, "size": entry.size, "lastModified": modified, "etag": entry.etag}),
        || {
            let when = modified.as_deref().map_or(String::new(), |m| format!("[{m}]"));
            format!("{when:<22} {:>10} {}", human_bytes(entry.size), entry.key)
        },
    );
}

async fn list_buckets(context: &Context, remote: &crate::target::Remote) -> Result<()> {
    let client = context.client(remote);
    let mut token: Option<String> = None;
    loop {
        let mut request = client.list_buckets();
        if let Some(token) = token.take() {
            request = request.continuation_token(token);
        }
        let page = request.send().await.map_err(|e| s3::error(&remote.alias_name, e))?;
        for bucket in page.buckets() {
            let name = bucket.name().ok_or_else(|| CliError::Remote("a bucket without a name".into()))?;
            let created = bucket.creation_date().and_then(|t| std::time::SystemTime::try_from(*t).ok()).map(rfc3339);
            context.out.result(json!({"type": "bucket", "key": name, "lastModified": created}), || {
                format!("[{}] {:>10} {name}/", created.as_deref().unwrap_or("-"), "0B")
            });
        }
        token = page.continuation_token().map(str::to_owned);
        if token.is_none() {
            return Ok(());
        }
    }
}
