//! Targets as written on the command line: `ALIAS/bucket/prefix` as in mc, or a
//! local path. A first component that names a known alias makes a remote target;
//! anything else (`./x`, `/x`, `x/y` without such an alias) is a local path.

use crate::config::{Alias, Config};
use crate::error::{CliError, Result};
use std::path::PathBuf;

/// Longest object key S3 accepts, in bytes.
pub const KEY_BYTES_MAX: usize = 1024;

/// A place on an S3 endpoint: an alias, maybe a bucket, maybe a key or prefix.
#[derive(Debug, Clone)]
pub struct Remote {
    /// The alias name as written.
    pub alias_name: String,
    /// The alias's endpoint and credentials.
    pub alias: Alias,
    /// The bucket, if the target names one.
    pub bucket: Option<String>,
    /// The key or prefix inside the bucket; empty for the whole bucket. Ends with '/'
    /// when written so (a folder).
    pub key: String,
    /// One version of the key (`--version-id`); None for the newest.
    pub version_id: Option<String>,
}

impl Remote {
    /// The bucket, or a usage error saying the command needs one.
    pub fn bucket(&self) -> Result<&str> {
        self.bucket.as_deref().ok_or_else(|| {
            CliError::Usage(format!("{}: name a bucket, as in {}/BUCKET[/KEY]", self.alias_name, self.alias_name))
        })
    }

    /// `alias/bucket/key` for messages and JSON output.
    pub fn display(&self) -> String {
        let mut text = self.alias_name.clone();
        if let Some(bucket) = &self.bucket {
            text.push('/');
            text.push_str(bucket);
            if !self.key.is_empty() {
                text.push('/');
                text.push_str(&self.key);
            }
        }
        text
    }

    /// The same alias and bucket with another key.
    pub fn with_key(&self, key: String) -> Remote {
        // A version id names a version of one key only.
        Remote { key, version_id: None, ..self.clone() }
    }
}

/// A parsed target.
#[derive(Debug, Clone)]
pub enum Target {
    /// A file or folder on this machine.
    Local(PathBuf),
    /// A place on an S3 endpoint.
    Remote(Remote),
}

impl Target {
    /// Parses `text` against the known aliases.
    pub fn parse(config: &Config, text: &str) -> Result<Target> {
        if text.is_empty() {
            return Err(CliError::Usage("an empty target; write ALIAS/BUCKET/KEY or a local path".into()));
        }
        if text.contains('\0') {
            return Err(CliError::Usage("a target contains a NUL byte".into()));
        }
        let (first, rest) = text.split_once('/').unwrap_or((text, ""));
        if looks_local(text) {
            return Ok(Target::Local(PathBuf::from(text)));
        }
        let alias = match config.alias(first) {
            Ok(alias) => alias,
            Err(CliError::NotFound(_)) => return Ok(Target::Local(PathBuf::from(text))),
            Err(error) => return Err(error),
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() && !key.is_empty() {
            return Err(CliError::Usage(format!("{text}: the bucket name is empty; write {first}/BUCKET/KEY")));
        }
        if key.len() > KEY_BYTES_MAX {
            return Err(CliError::Usage(format!("{text}: keys are at most {KEY_BYTES_MAX} bytes")));
        }
        let bucket = (!bucket.is_empty()).then(|| bucket.to_owned());
        Ok(Target::Remote(Remote {
            alias_name: first.to_owned(),
            alias,
            bucket,
            key: key.to_owned(),
            version_id: None,
        }))
    }

    /// The target as written, for messages.
    pub fn display(&self) -> String {
        match self {
            Target::Local(path) => path.display().to_string(),
            Target::Remote(remote) => remote.display(),
        }
    }

    /// The remote target, or an error naming the command that needs one: not found
    /// when the first component could be an alias but is none, bad usage for a path
    /// that is plainly local (`./x`, `/x`).
    pub fn remote(self, command: &str) -> Result<Remote> {
        match self {
            Target::Remote(remote) => Ok(remote),
            Target::Local(path) => {
                let text = path.display().to_string();
                if looks_local(&text) {
                    return Err(CliError::Usage(format!("{command}: {text} is a local path; give ALIAS/BUCKET[/KEY]")));
                }
                let alias = text.split('/').next().unwrap_or_default();
                Err(CliError::NotFound(format!(
                    "{command}: no alias {alias:?} (see `cairn alias ls`), so {text} is not ALIAS/BUCKET[/KEY]"
                )))
            }
        }
    }
}

/// A target that is a local path whatever the aliases are.
fn looks_local(text: &str) -> bool {
    text.starts_with('/') || text.starts_with("./") || text.starts_with("../") || text == "." || text == ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::load(dir.path()).expect("load");
        let alias = Alias {
            url: "http://127.0.0.1:1".into(),
            access_key: "a".into(),
            secret_key: "s".into(),
            region: "r".into(),
        };
        config.set("here", alias).expect("set");
        (dir, config)
    }

    #[test]
    fn alias_targets_split_into_bucket_and_key() {
        let (_dir, config) = config();
        let Target::Remote(remote) = Target::parse(&config, "here/b/dir/file.txt").expect("parse") else {
            panic!("remote expected")
        };
        assert_eq!((remote.bucket.as_deref(), remote.key.as_str()), (Some("b"), "dir/file.txt"));
        let Target::Remote(remote) = Target::parse(&config, "here").expect("parse") else { panic!("remote") };
        assert_eq!(remote.bucket, None);
        assert!(matches!(Target::parse(&config, "elsewhere/b").expect("parse"), Target::Local(_)));
        assert!(matches!(Target::parse(&config, "./here/b").expect("parse"), Target::Local(_)));
        assert!(Target::parse(&config, &format!("here/b/{}", "k".repeat(KEY_BYTES_MAX + 1))).is_err());
    }

    /// Found by `fuzz_cli_targets`: `here//key` parsed as a target with a key but no
    /// bucket, which commands then treated as the alias alone (listing every bucket).
    #[test]
    fn a_key_without_a_bucket_is_refused() {
        let (_dir, config) = config();
        assert!(matches!(Target::parse(&config, "here//dir/file.txt"), Err(CliError::Usage(_))));
        let Target::Remote(remote) = Target::parse(&config, "here/").expect("parse") else { panic!("remote") };
        assert_eq!((remote.bucket, remote.key.as_str()), (None, ""));
    }
}
