//! Root credentials from the environment, with MinIO's variable names accepted so
//! existing deployments move over unchanged.

/// Shortest secret key accepted, as MinIO.
pub const SECRET_KEY_BYTES_MIN: usize = 8;
/// Shortest access key accepted, as MinIO.
pub const ACCESS_KEY_BYTES_MIN: usize = 3;
/// The well-known default, used (with a loud warning) when nothing is configured.
const DEFAULT_CREDENTIAL: &str = "minioadmin";

/// Root access key and secret.
#[derive(Clone)]
pub struct RootCredentials {
    /// Access key (user name).
    pub access_key: String,
    /// Secret key (password); never logged.
    pub secret_key: String,
    /// True when the well-known default is in use.
    pub is_default: bool,
    /// The credentials being replaced during a rolling change of the root credentials
    /// (`CAIRN_ROOT_USER_PREVIOUS` / `CAIRN_ROOT_PASSWORD_PREVIOUS`): nodes keep
    /// talking to peers that still run with them.
    pub previous: Option<(String, String)>,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials").field("access_key", &self.access_key).finish_non_exhaustive()
    }
}

/// Why the configured credentials cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    /// Only one of user and password is set.
    #[error(
        "set both CAIRN_ROOT_USER and CAIRN_ROOT_PASSWORD (or MINIO_ROOT_USER and MINIO_ROOT_PASSWORD), or neither"
    )]
    Incomplete,
    /// Only one of the previous user and password is set.
    #[error("set both CAIRN_ROOT_USER_PREVIOUS and CAIRN_ROOT_PASSWORD_PREVIOUS, or neither")]
    IncompletePrevious,
    /// The access key is too short.
    #[error("the root user must be at least {ACCESS_KEY_BYTES_MIN} characters")]
    AccessKeyTooShort,
    /// The secret is too short.
    #[error("the root password must be at least {SECRET_KEY_BYTES_MIN} characters")]
    SecretTooShort,
}

/// Reads credentials through `lookup` (the environment in production).
pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<RootCredentials, CredentialsError> {
    let pick = |ours: &str, theirs: &str| lookup(ours).or_else(|| lookup(theirs)).filter(|v| !v.is_empty());
    let user = pick("CAIRN_ROOT_USER", "MINIO_ROOT_USER");
    let password = pick("CAIRN_ROOT_PASSWORD", "MINIO_ROOT_PASSWORD");
    let (access_key, secret_key, is_default) = match (user, password) {
        (None, None) => (DEFAULT_CREDENTIAL.to_owned(), DEFAULT_CREDENTIAL.to_owned(), true),
        (Some(user), Some(password)) => (user, password, false),
        _ => return Err(CredentialsError::Incomplete),
    };
    if access_key.len() < ACCESS_KEY_BYTES_MIN {
        return Err(CredentialsError::AccessKeyTooShort);
    }
    if secret_key.len() < SECRET_KEY_BYTES_MIN {
        return Err(CredentialsError::SecretTooShort);
    }
    let set = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let previous = match (set("CAIRN_ROOT_USER_PREVIOUS"), set("CAIRN_ROOT_PASSWORD_PREVIOUS")) {
        (Some(user), Some(password)) => Some((user, password)),
        (None, None) => None,
        _ => return Err(CredentialsError::IncompletePrevious),
    };
    Ok(RootCredentials { access_key, secret_key, is_default, previous })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn reads_ours_then_minio() {
        let ours =
            from_lookup(env(&[("CAIRN_ROOT_USER", "admin"), ("CAIRN_ROOT_PASSWORD", "s3cr3t-pass")])).expect("valid");
        assert_eq!((ours.access_key.as_str(), ours.is_default), ("admin", false));
        let minio =
            from_lookup(env(&[("MINIO_ROOT_USER", "mini"), ("MINIO_ROOT_PASSWORD", "password1")])).expect("valid");
        assert_eq!(minio.access_key, "mini");
        assert!(from_lookup(env(&[])).expect("default").is_default);
    }

    #[test]
    fn refuses_weak_or_partial() {
        assert_eq!(
            from_lookup(env(&[("CAIRN_ROOT_USER", "admin"), ("CAIRN_ROOT_PASSWORD", "short")])).expect_err("refused"),
            CredentialsError::SecretTooShort
        );
        assert_eq!(
            from_lookup(env(&[("CAIRN_ROOT_USER", "admin")])).expect_err("refused"),
            CredentialsError::Incomplete
        );
        assert_eq!(
            from_lookup(env(&[("CAIRN_ROOT_USER", "ab"), ("CAIRN_ROOT_PASSWORD", "longenough")])).expect_err("refused"),
            CredentialsError::AccessKeyTooShort
        );
    }
}
