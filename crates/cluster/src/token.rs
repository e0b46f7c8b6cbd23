//! Node RPC authentication: every call carries an HMAC-SHA256 token over the current
//! time, keyed by the root credentials. Nodes started with other credentials cannot
//! call each other, and a captured token expires.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::time::{SystemTime, UNIX_EPOCH};

/// How far a token's time may be from the receiver's clock.
const TOKEN_SKEW_SECS_MAX: u64 = 900;

/// Makes and checks RPC tokens.
#[derive(Clone)]
pub struct TokenKey {
    access_key: String,
    secret_key: String,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey").field("access_key", &self.access_key).finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl TokenKey {
    /// A key derived from the root credentials.
    pub fn new(access_key: &str, secret_key: &str) -> Self {
        Self { access_key: access_key.to_owned(), secret_key: secret_key.to_owned() }
    }

    fn mac(&self, time: u64) -> Hmac<Sha256> {
        // HMAC accepts keys of any length.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.secret_key.as_bytes()).expect("any key length");
        mac.update(format!("cairn-rpc-v1\n{}\n{time}", self.access_key).as_bytes());
        mac
    }

    /// (time, token) to send with a call now.
    pub fn issue(&self) -> (String, String) {
        let time = now_secs();
        (time.to_string(), hex::encode(self.mac(time).finalize().into_bytes()))
    }

    /// True when `token` was made with this key at `time`, and `time` is recent.
    pub fn verify(&self, time: &str, token: &str) -> bool {
        let Ok(time) = time.parse::<u64>() else { return false };
        if now_secs().abs_diff(time) > TOKEN_SKEW_SECS_MAX {
            return false;
        }
        let Ok(token) = hex::decode(token) else { return false };
        self.mac(time).verify_slice(&token).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_the_same_credentials() {
        let key = TokenKey::new("admin", "secret-key");
        let (time, token) = key.issue();
        assert!(key.verify(&time, &token));
        assert!(!TokenKey::new("admin", "other-secret").verify(&time, &token));
        assert!(!TokenKey::new("other", "secret-key").verify(&time, &token));
        assert!(!key.verify("0", &token), "an old token is refused");
        assert!(!key.verify(&time, "00"));
    }
}
