//! `cairn find`: objects (or files) below a target whose name matches a glob and
//! whose age and size fall in the given bounds.

use crate::Context;
use crate::commands::cp::tree_lister;
use crate::error::{CliError, Result};
use crate::output::rfc3339;
use serde_json::json;
use std::time::{Duration, SystemTime};

/// Arguments of `cairn find`.
#[derive(Debug, clap::Args)]
pub struct FindArgs {
    /// ALIAS/BUCKET[/PREFIX] or a local folder.
    target: String,
    /// Glob the object's name (last part of its key) must match, e.g. '*.pdf'.
    #[arg(long)]
    name: Option<String>,
    /// Glob the whole key below the target must match, e.g. 'quotes/*/2026-*'.
    #[arg(long)]
    path: Option<String>,
    /// Only objects changed within this time (e.g. 30m, 12h, 7d, 1d12h).
    #[arg(long, visible_alias = "newer-than", value_name = "AGE", value_parser = parse_age)]
    newer: Option<Duration>,
    /// Only objects not changed for this long.
    #[arg(long, visible_alias = "older-than", value_name = "AGE", value_parser = parse_age)]
    older: Option<Duration>,
    /// Only objects larger than this many bytes.
    #[arg(long, value_name = "BYTES")]
    larger: Option<u64>,
    /// Only objects smaller than this many bytes.
    #[arg(long, value_name = "BYTES")]
    smaller: Option<u64>,
}

/// Parses an age such as `90s`, `30m`, `12h`, `7d`, `2w` or `1d12h`.
pub(crate) fn parse_age(text: &str) -> std::result::Result<Duration, String> {
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(format!("{text:?}: unknown unit {c:?}; use s, m, h, d or w")),
        };
        let value: u64 = number.parse().map_err(|_| format!("{text:?}: a number must come before {c:?}"))?;
        total = value.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or(format!("{text:?}: too long"))?;
        number.clear();
    }
    if !number.is_empty() || total == 0 {
        return Err(format!("{text:?}: give a positive age with units, e.g. 7d or 1h30m"));
    }
    Ok(Duration::from_secs(total))
}

fn pattern(text: Option<&String>) -> Result<Option<glob::Pattern>> {
    text.map(|t| glob::Pattern::new(t).map_err(|e| CliError::Usage(format!("{t:?}: {e}")))).transpose()
}

pub(crate) async fn run(context: &Context, args: FindArgs) -> Result<()> {
    let name = pattern(args.name.as_ref())?;
    let path = pattern(args.path.as_ref())?;
    let now = SystemTime::now();
    let target = context.target(&args.target)?;
    let (mut lister, root) = tree_lister(context, &target)?;
    while let Some(entry) = lister.next().await {
        let entry = entry?;
        let base = entry.key.rsplit('/').next().unwrap_or_default();
        let age = entry.modified.and_then(|m| now.duration_since(m).ok()).unwrap_or_default();
        let keep = name.as_ref().is_none_or(|p| p.matches(base))
            && path.as_ref().is_none_or(|p| p.matches(&entry.key))
            && args.newer.is_none_or(|limit| age <= limit)
            && args.older.is_none_or(|limit| age >= limit)
            && args.larger.is_none_or(|limit| entry.size > limit)
            && args.smaller.is_none_or(|limit| entry.size < limit);
        if keep {
            let full = root.join(&entry.key).display();
            context
                .out
                .result(json!({"key": full, "size": entry.size, "lastModified": entry.modified.map(rfc3339)}), || {
                    full.clone()
                });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_age;
    use std::time::Duration;

    #[test]
    fn ages_parse_with_units() {
        assert_eq!(parse_age("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("1d12h"), Ok(Duration::from_secs(129_600)));
        assert!(parse_age("12").is_err());
        assert!(parse_age("3x").is_err());
        assert!(parse_age("").is_err());
    }
}
