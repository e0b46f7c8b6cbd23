//! What commands print: a line of text per result on a terminal, or one JSON object
//! per line with `--json` (for scripts). Messages about progress go to stderr so that
//! stdout stays clean for `cat` and JSON.

use crate::error::CliError;
use serde_json::{Value, json};

/// How results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// One JSON object per line instead of text.
    pub json: bool,
    /// No progress bars or informational messages.
    pub quiet: bool,
}

impl Output {
    /// Prints one result: `value` (with `"status":"success"` added) as JSON, or `text`.
    pub fn result(&self, value: Value, text: impl FnOnce() -> String) {
        if self.json {
            let mut value = value;
            if let Value::Object(map) = &mut value {
                map.insert("status".into(), "success".into());
            }
            println!("{value}");
        } else {
            let text = text();
            if !text.is_empty() {
                println!("{text}");
            }
        }
    }

    /// Reports one failed item of a bulk command (the command goes on).
    pub fn item_error(&self, target: &str, error: &CliError) {
        if self.json {
            println!("{}", error_json(error, Some(target)));
        } else {
            eprintln!("cairn: {target}: {error}");
        }
    }

    /// An informational message (stderr; silent with `--quiet` or `--json`).
    pub fn info(&self, text: &str) {
        if !self.quiet && !self.json {
            eprintln!("{text}");
        }
    }

    /// Reports the error that ends the command.
    pub fn fatal(&self, error: &CliError) {
        if self.json {
            println!("{}", error_json(error, None));
        } else {
            eprintln!("cairn: {error}");
        }
    }
}

fn error_json(error: &CliError, target: Option<&str>) -> Value {
    let mut value = json!({
        "status": "error",
        "error": { "kind": error.kind(), "message": error.to_string(), "exitCode": error.code() },
    });
    if let Some(target) = target {
        value["target"] = target.into();
    }
    value
}

/// Bytes in a human unit (KiB, MiB, ...), as mc prints sizes.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes}B") } else { format!("{value:.1}{}", UNITS[unit]) }
}

/// A time as RFC 3339 (UTC), for JSON and listings.
pub fn rfc3339(time: std::time::SystemTime) -> String {
    let time = time::OffsetDateTime::from(time);
    time.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_like_mc() {
        assert_eq!(super::human_bytes(12), "12B");
        assert_eq!(super::human_bytes(1536), "1.5KiB");
        assert_eq!(super::human_bytes(200 << 20), "200.0MiB");
    }
}
