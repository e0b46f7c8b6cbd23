//! `cairn admin apply -f FILE ALIAS [--dry-run]`: makes a deployment hold what a
//! bootstrap file declares (policies, users, groups, service accounts, buckets and
//! their anonymous access). It prints a plan, one line per declared resource (create,
//! change with what differs, or unchanged), then applies it; `--dry-run` only prints.
//! Applying the same file again changes nothing. Nothing the file does not name is
//! touched: the file adds and corrects, it never removes.

mod plan;
mod spec;

use super::connect;
use crate::Context;
use crate::error::{CliError, Result};
use plan::{Change, Deployment, Step};
use serde_json::json;
use spec::Bootstrap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Arguments of `cairn admin apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The bootstrap file (YAML); `${NAME}` in it is replaced by the environment
    /// variable NAME (unset or empty is an error), `$$` by a dollar sign.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: PathBuf,
    /// ALIAS of the deployment; its keys need the admin permissions.
    alias: String,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Wait up to SECS for the deployment: while it cannot be reached or is not ready
    /// yet, try again (an init job started beside the servers). Applying twice is
    /// harmless, so a run cut short is simply run again.
    #[arg(long, value_name = "SECS")]
    wait: Option<u64>,
}

/// Pause between attempts while waiting for the deployment.
const WAIT_RETRY_MS: u64 = 2_000;

pub(crate) async fn run(context: &Context, args: ApplyArgs) -> Result<()> {
    let bootstrap = Bootstrap::load(&args.file, |name| std::env::var(name).ok())?;
    let deadline = Instant::now() + Duration::from_secs(args.wait.unwrap_or(0));
    loop {
        match apply_once(context, &args, &bootstrap).await {
            // Unreachable, not ready (503), or cut off: the only errors worth waiting out.
            Err(CliError::Remote(message)) if Instant::now() + Duration::from_millis(WAIT_RETRY_MS) < deadline => {
                context.out.info(&format!("the deployment is not ready ({message}); trying again"));
                tokio::time::sleep(Duration::from_millis(WAIT_RETRY_MS)).await;
            }
            result => return result,
        }
    }
}

async fn apply_once(context: &Context, args: &ApplyArgs, bootstrap: &Bootstrap) -> Result<()> {
    let admin = connect(context, &args.alias)?;
    let s3 = crate::s3::client(admin.alias(), context.sdk_http.clone());
    let deployment = Deployment { admin: &admin, s3, http: context.sdk_http.clone() };
    let steps = plan::plan(bootstrap, &deployment).await?;
    for step in &steps {
        report(context, step, args.dry_run);
    }
    let count = |wanted: fn(&Change) -> bool| steps.iter().filter(|s| wanted(&s.change)).count();
    let created = count(|c| *c == Change::Create);
    let changed = count(|c| matches!(c, Change::Update(_)));
    let unchanged = count(|c| *c == Change::Unchanged);
    if !args.dry_run {
        for step in steps.iter().filter(|s| s.change != Change::Unchanged) {
            step.apply(&deployment).await?;
        }
    }
    let applied = !args.dry_run;
    context.out.result(
        json!({"summary": {"create": created, "change": changed, "unchanged": unchanged, "applied": applied}}),
        || {
            let verb = if applied { "Applied" } else { "Plan (dry run, nothing changed)" };
            format!("{verb}: {created} to create, {changed} to change, {unchanged} unchanged.")
        },
    );
    Ok(())
}

/// One plan line: `create`, `change: what`, or `unchanged`, with any notes.
fn report(context: &Context, step: &Step, dry_run: bool) {
    let (word, details) = match &step.change {
        Change::Create => ("create", Vec::new()),
        Change::Update(what) => ("change", what.clone()),
        Change::Unchanged => ("unchanged", Vec::new()),
    };
    let value = json!({"kind": step.kind, "name": step.name, "change": word, "details": details,
                       "notes": step.notes, "dryRun": dry_run});
    context.out.result(value, || {
        let mut line = format!("{:<16} {:<32} {word}", step.kind, step.name);
        if !details.is_empty() {
            line.push_str(&format!(": {}", details.join("; ")));
        }
        for note in &step.notes {
            line.push_str(&format!(" ({note})"));
        }
        line
    });
}
