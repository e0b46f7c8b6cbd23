//! Aliases: named endpoints with their credentials, kept in `config.json` in the
//! configuration folder (`~/.cairn`, or `--config-dir` / `CAIRN_CONFIG_DIR`), written
//! with mode 0600 because it holds secret keys. `CAIRN_HOST_<alias>=http(s)://ACCESS:SECRET@host:port`
//! defines an alias for one process without touching the file, as `MC_HOST_<alias>` does for mc.

use crate::error::{CliError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the file inside the configuration folder.
const CONFIG_FILE: &str = "config.json";
/// Version written into the file, so that a later layout can migrate it.
const CONFIG_VERSION: u32 = 1;
/// Largest configuration file read (a sanity bound; real files are a few KiB).
const CONFIG_BYTES_MAX: u64 = 1 << 20;
/// Prefix of the environment variables that define aliases.
const HOST_ENV_PREFIX: &str = "CAIRN_HOST_";
/// Region used for signing when an alias names none.
pub const REGION_DEFAULT: &str = "us-east-1";

/// One named endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Alias {
    /// Base URL, `http(s)://host[:port]`, without a path.
    pub url: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Signing region.
    #[serde(default = "default_region")]
    pub region: String,
}

fn default_region() -> String {
    REGION_DEFAULT.to_owned()
}

/// The configuration file's contents.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ConfigFile {
    version: u32,
    aliases: BTreeMap<String, Alias>,
}

/// The aliases, loaded from the configuration folder and the environment.
#[derive(Debug)]
pub struct Config {
    dir: PathBuf,
    file: ConfigFile,
}

impl Config {
    /// Loads the configuration from `dir` (a missing file is an empty configuration).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(CONFIG_FILE);
        let file = match std::fs::metadata(&path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => ConfigFile::default(),
            Err(error) => return Err(CliError::io(&path, error)),
            Ok(meta) if meta.len() > CONFIG_BYTES_MAX => {
                return Err(CliError::Usage(format!("{}: larger than {CONFIG_BYTES_MAX} bytes", path.display())));
            }
            Ok(_) => {
                let bytes = std::fs::read(&path).map_err(|e| CliError::io(&path, e))?;
                serde_json::from_slice(&bytes).map_err(|e| {
                    CliError::Usage(format!("{}: not a valid configuration ({e}); fix or remove it", path.display()))
                })?
            }
        };
        Ok(Self { dir: dir.to_owned(), file })
    }

    /// The alias `name`: from `CAIRN_HOST_<name>` if set, else from the file.
    pub fn alias(&self, name: &str) -> Result<Alias> {
        if let Ok(value) = std::env::var(format!("{HOST_ENV_PREFIX}{name}")) {
            return alias_from_url(&value).map_err(|e| CliError::Usage(format!("{HOST_ENV_PREFIX}{name}: {e}")));
        }
        self.file.aliases.get(name).cloned().ok_or_else(|| {
            CliError::NotFound(format!(
                "no alias {name:?}; add one with `cairn alias set {name} URL ACCESS_KEY SECRET_KEY`"
            ))
        })
    }

    /// Every alias in the file, by name.
    pub fn aliases(&self) -> &BTreeMap<String, Alias> {
        &self.file.aliases
    }

    /// Adds or replaces an alias and saves the file.
    pub fn set(&mut self, name: &str, alias: Alias) -> Result<()> {
        check_alias_name(name)?;
        self.file.aliases.insert(name.to_owned(), alias);
        self.save()
    }

    /// Removes an alias and saves the file.
    pub fn remove(&mut self, name: &str) -> Result<()> {
        if self.file.aliases.remove(name).is_none() {
            return Err(CliError::NotFound(format!("no alias {name:?}")));
        }
        self.save()
    }

    /// Writes the file atomically (temporary file, fsync, rename) with mode 0600.
    fn save(&mut self) -> Result<()> {
        self.file.version = CONFIG_VERSION;
        std::fs::create_dir_all(&self.dir).map_err(|e| CliError::io(&self.dir, e))?;
        let path = self.dir.join(CONFIG_FILE);
        let staging = self.dir.join(format!(".{CONFIG_FILE}.tmp"));
        let text = serde_json::to_vec_pretty(&self.file).expect("the configuration serialises");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&staging).map_err(|e| CliError::io(&staging, e))?;
        file.write_all(&text).and_then(|()| file.sync_all()).map_err(|e| CliError::io(&staging, e))?;
        std::fs::rename(&staging, &path).map_err(|e| CliError::io(&path, e))
    }
}

/// Alias names are path-like targets' first component: keep them simple.
pub fn check_alias_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !name.starts_with('.');
    if valid {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "alias name {name:?}: use letters, digits, '-', '_' and '.', at most 64 characters"
        )))
    }
}

/// Checks an endpoint URL: `http(s)://host[:port]`, nothing after.
pub fn check_url(url: &str) -> Result<String> {
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed.strip_prefix("http://").or_else(|| trimmed.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains('/') && !host.contains('@') => Ok(trimmed.to_owned()),
        _ => Err(CliError::Usage(format!("{url:?}: give the endpoint as http(s)://host[:port], without a path"))),
    }
}

/// Parses `http(s)://ACCESS:SECRET@host[:port]` (the `CAIRN_HOST_<alias>` form).
fn alias_from_url(value: &str) -> std::result::Result<Alias, String> {
    let (scheme, rest) = value.split_once("://").ok_or("expected http(s)://ACCESS:SECRET@host[:port]")?;
    let (userinfo, host) = rest.rsplit_once('@').ok_or("expected ACCESS:SECRET@ before the host")?;
    let (access, secret) = userinfo.split_once(':').ok_or("expected ACCESS:SECRET")?;
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let url = check_url(&format!("{scheme}://{host}")).map_err(|e| e.to_string())?;
    Ok(Alias { url, access_key: decode(access), secret_key: decode(secret), region: default_region() })
}

/// The configuration folder: the flag, else `CAIRN_CONFIG_DIR`, else `~/.cairn`.
pub fn default_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CAIRN_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    std::env::home_dir()
        .map(|home| home.join(".cairn"))
        .ok_or_else(|| CliError::Usage("no home folder; set CAIRN_CONFIG_DIR or pass --config-dir".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_aliases_load_back_with_private_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::load(dir.path()).expect("load empty");
        let alias = Alias {
            url: "http://127.0.0.1:9000".into(),
            access_key: "a".into(),
            secret_key: "s".into(),
            region: REGION_DEFAULT.into(),
        };
        config.set("local", alias.clone()).expect("set");
        let loaded = Config::load(dir.path()).expect("load");
        assert_eq!(loaded.alias("local").expect("alias"), alias);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(CONFIG_FILE)).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(loaded.alias("other"), Err(CliError::NotFound(_))));
    }

    #[test]
    fn host_urls_and_names_are_checked() {
        let alias = alias_from_url("https://ak:s%2Fk@example.com:9000").expect("parse");
        assert_eq!((alias.url.as_str(), alias.secret_key.as_str()), ("https://example.com:9000", "s/k"));
        assert!(alias_from_url("example.com").is_err());
        assert!(check_url("http://h:1/path").is_err());
        assert!(check_alias_name("../x").is_err());
        assert!(check_alias_name("my-alias_1").is_ok());
    }
}
