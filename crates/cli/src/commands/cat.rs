//! `cairn cat`: an object's (or file's) bytes to stdout, streamed.

use crate::Context;
use crate::error::{CliError, Result};
use crate::s3;
use crate::target::Target;
use tokio::io::AsyncWriteExt;

/// Arguments of `cairn cat`.
#[derive(Debug, clap::Args)]
pub struct CatArgs {
    /// ALIAS/BUCKET/KEY or local files, printed in order.
    #[arg(required = true)]
    targets: Vec<String>,
}

pub(crate) async fn run(context: &Context, args: CatArgs) -> Result<()> {
    let mut stdout = tokio::io::stdout();
    let broken = |e: std::io::Error| CliError::io("stdout", e);
    for text in &args.targets {
        match context.target(text)? {
            Target::Local(path) => {
                let mut file = tokio::fs::File::open(&path).await.map_err(|e| CliError::io(&path, e))?;
                tokio::io::copy(&mut file, &mut stdout).await.map_err(broken)?;
            }
            Target::Remote(remote) => {
                let client = context.client(&remote);
                let object = client
                    .get_object()
                    .bucket(remote.bucket()?)
                    .key(&remote.key)
                    .send()
                    .await
                    .map_err(|e| s3::error(text, e))?;
                let mut body = object.body;
                while let Some(bytes) = body
                    .try_next()
                    .await
                    .map_err(|e| CliError::Remote(format!("{text}: the download broke off: {e}")))?
                {
                    stdout.write_all(&bytes).await.map_err(broken)?;
                }
            }
        }
    }
    stdout.flush().await.map_err(broken)
}
