//! `cairn du`: total size and object count under a prefix (or a local folder).

use crate::Context;
use crate::commands::cp::tree_lister;
use crate::error::Result;
use crate::output::human_bytes;
use serde_json::json;

/// Arguments of `cairn du`.
#[derive(Debug, clap::Args)]
pub struct DuArgs {
    /// ALIAS/BUCKET[/PREFIX] or a local folder.
    target: String,
}

pub(crate) async fn run(context: &Context, args: DuArgs) -> Result<()> {
    let target = context.target(&args.target)?;
    let (mut lister, _) = tree_lister(context, &target)?;
    let (mut bytes, mut objects) = (0u64, 0u64);
    while let Some(entry) = lister.next().await {
        let entry = entry?;
        bytes += entry.size;
        objects += 1;
    }
    context.out.result(json!({"prefix": args.target, "size": bytes, "objects": objects}), || {
        format!("{}\t{objects} object(s)\t{}", human_bytes(bytes), args.target)
    });
    Ok(())
}
