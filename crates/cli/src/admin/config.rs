//! `cairn admin config get|set|export|import`, as `mc admin config`: the server's
//! run-time configuration in MinIO's text form, one line per subsystem
//! (`scanner speed=slow cycle=1h`). Every body is sealed with the alias's secret key.

use super::connect;
use crate::Context;
use crate::error::{CliError, Result};
use http::Method;
use serde_json::json;
use std::io::Write;
use tokio::io::AsyncReadExt;

/// Largest configuration read from stdin by `import` (real ones are a few hundred bytes).
const IMPORT_BYTES_MAX: u64 = 1 << 20;

/// Configuration subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Show one subsystem's settings (e.g. `scanner`).
    Get {
        /// ALIAS of the deployment.
        alias: String,
        /// The subsystem: `region`, `scanner`, `api` or `compression` on Cairn.
        subsystem: String,
    },
    /// Change settings of one subsystem: `set ALIAS scanner speed=slow`.
    Set {
        /// ALIAS of the deployment.
        alias: String,
        /// The subsystem: `region`, `scanner`, `api` or `compression` on Cairn.
        subsystem: String,
        /// Settings as KEY=VALUE.
        #[arg(required = true)]
        settings: Vec<String>,
    },
    /// Print the whole configuration (`cairn admin config export ALIAS > file`).
    Export {
        /// ALIAS of the deployment.
        alias: String,
    },
    /// Replace the whole configuration with the one on stdin (`... import ALIAS < file`).
    Import {
        /// ALIAS of the deployment.
        alias: String,
    },
}

pub(crate) async fn run(context: &Context, command: ConfigCommand) -> Result<()> {
    let out = context.out;
    match command {
        ConfigCommand::Get { alias, subsystem } => {
            let client = connect(context, &alias)?;
            let plain = client.call_sealed(Method::GET, "get-config-kv", &[("key", &subsystem)], Vec::new()).await?;
            let text = String::from_utf8_lossy(&plain).trim_end().to_owned();
            for line in text.lines().filter(|line| !line.trim().is_empty()) {
                let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
                let settings: serde_json::Map<String, serde_json::Value> =
                    pairs(rest).into_iter().map(|(key, value)| (key, value.into())).collect();
                out.result(json!({"subsystem": name, "settings": settings, "config": line}), || line.to_owned());
            }
        }
        ConfigCommand::Set { alias, subsystem, settings } => {
            let line = set_line(&subsystem, &settings)?;
            let client = connect(context, &alias)?;
            client.call(Method::PUT, "set-config-kv", &[], client.seal(line.as_bytes())?).await?;
            out.result(json!({"subsystem": subsystem, "config": line}), || {
                format!("Set `{line}` on `{alias}` successfully.")
            });
        }
        ConfigCommand::Export { alias } => {
            let client = connect(context, &alias)?;
            let plain = client.call_sealed(Method::GET, "get-config", &[], Vec::new()).await?;
            let text = String::from_utf8(plain)
                .map_err(|_| CliError::Remote(format!("{alias} get-config: the configuration is not UTF-8")))?;
            if out.json {
                out.result(json!({"config": text}), String::new);
            } else {
                // Exactly the server's text, so that `import` takes it back unchanged.
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
                    .map_err(|e| CliError::io("stdout", e))?;
            }
        }
        ConfigCommand::Import { alias } => {
            let text = read_stdin().await?;
            let client = connect(context, &alias)?;
            client.call(Method::PUT, "set-config", &[], client.seal(&text)?).await?;
            out.result(json!({"alias": alias, "bytes": text.len()}), || {
                format!("Imported the configuration to `{alias}`.")
            });
        }
    }
    Ok(())
}

/// The line `subsystem key=value ...`, values with spaces quoted.
fn set_line(subsystem: &str, settings: &[String]) -> Result<String> {
    if subsystem.is_empty() || subsystem.contains(char::is_whitespace) {
        return Err(CliError::Usage(format!("subsystem {subsystem:?}: give one word, e.g. scanner")));
    }
    let mut line = subsystem.to_owned();
    for setting in settings {
        let Some((key, value)) = setting.split_once('=').filter(|(key, _)| !key.is_empty()) else {
            return Err(CliError::Usage(format!("{setting:?}: give settings as KEY=VALUE")));
        };
        if value.contains('"') || key.contains(char::is_whitespace) {
            return Err(CliError::Usage(format!("{setting:?}: keys have no spaces and values no '\"'")));
        }
        let value = if value.contains(char::is_whitespace) { format!("\"{value}\"") } else { value.to_owned() };
        line.push_str(&format!(" {key}={value}"));
    }
    Ok(line)
}

/// `key=value key2="a b"` as pairs (lenient: this only displays what the server sent).
fn pairs(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => quoted.split_once('"').unwrap_or((quoted, "")),
            None => after.split_once(' ').unwrap_or((after, "")),
        };
        out.push((key.trim().to_owned(), value.to_owned()));
        rest = after.trim_start();
    }
    out
}

/// All of stdin, refused when larger than [`IMPORT_BYTES_MAX`].
async fn read_stdin() -> Result<Vec<u8>> {
    let mut text = Vec::new();
    tokio::io::stdin().take(IMPORT_BYTES_MAX + 1).read_to_end(&mut text).await.map_err(|e| CliError::io("stdin", e))?;
    if text.len() as u64 > IMPORT_BYTES_MAX {
        return Err(CliError::Usage(format!("the configuration on stdin is larger than {IMPORT_BYTES_MAX} bytes")));
    }
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err(CliError::Usage("no configuration on stdin; use `cairn admin config import ALIAS < FILE`".into()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_lines_quote_values_and_pairs_read_them_back() {
        let line = set_line("scanner", &["speed=slow".into(), "cycle=1h".into()]).expect("valid");
        assert_eq!(line, "scanner speed=slow cycle=1h");
        assert_eq!(set_line("region", &["name=a b".into()]).expect("valid"), "region name=\"a b\"");
        assert!(set_line("scanner", &["speed".into()]).is_err());
        assert!(set_line("scanner", &["=x".into()]).is_err());
        let read = pairs("name=\"a b\" speed=slow");
        assert_eq!(read, [("name".to_owned(), "a b".to_owned()), ("speed".to_owned(), "slow".to_owned())]);
    }
}
