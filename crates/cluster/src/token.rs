//! Node RPC authentication: every call carries an HMAC-SHA256 token over the current
//! time and the call's scope (method, path, drive, file), keyed by the root
//! credentials. Nodes started with other credentials cannot call each other; a captured
//! token expires, and cannot be replayed for another call or drive.

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
    /// Root credentials being replaced node by node: calls carry a token made with them
    /// too (the peers not restarted yet know only them), and tokens made with them are
    /// accepted.
    previous: Option<Box<TokenKey>>,
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
        Self { access_key: access_key.to_owned(), secret_key: secret_key.to_owned(), previous: None }
    }

    /// A key during a rolling change of the root credentials from `previous`.
    pub fn with_previous(mut self, access_key: &str, secret_key: &str) -> Self {
        self.previous = Some(Box::new(TokenKey::new(access_key, secret_key)));
        self
    }

    fn mac(&self, time: u64, scope: &str) -> Hmac<Sha256> {
        // HMAC accepts keys of any length.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.secret_key.as_bytes()).expect("any key length");
        mac.update(format!("cairn-rpc-v1\n{}\n{time}\n{scope}", self.access_key).as_bytes());
        mac
    }

    fn sign(&self, time: u64, scope: &str) -> String {
        hex::encode(self.mac(time, scope).finalize().into_bytes())
    }

    /// (time, tokens) to send with a call now: one token per credential set this node
    /// knows, comma-separated, so peers on either side of a credential change accept it.
    pub fn issue(&self, scope: &str) -> (String, String) {
        let time = now_secs();
        let mut tokens = self.sign(time, scope);
        if let Some(previous) = &self.previous {
            tokens = format!("{tokens},{}", previous.sign(time, scope));
        }
        (time.to_string(), tokens)
    }

    /// True when one of `tokens` was made at `time` with credentials this node knows,
    /// and `time` is recent.
    pub fn verify(&self, time: &str, tokens: &str, scope: &str) -> bool {
        let Ok(time) = time.parse::<u64>() else { return false };
        if now_secs().abs_diff(time) > TOKEN_SKEW_SECS_MAX {
            return false;
        }
        let keys = std::iter::once(self).chain(self.previous.as_deref());
        let candidates: Vec<Vec<u8>> = tokens.split(',').take(2).filter_map(|t| hex::decode(t).ok()).collect();
        keys.into_iter().any(|key| candidates.iter().any(|token| key.mac(time, scope).verify_slice(token).is_ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: &str = "POST\n/cairn/rpc/v1/drive\n/data\n";

    #[test]
    fn tokens_verify_only_with_the_same_credentials() {
        let key = TokenKey::new("admin", "secret-key");
        let (time, token) = key.issue(SCOPE);
        assert!(key.verify(&time, &token, SCOPE));
        assert!(!TokenKey::new("admin", "other-secret").verify(&time, &token, SCOPE));
        assert!(!TokenKey::new("other", "secret-key").verify(&time, &token, SCOPE));
        assert!(!key.verify("0", &token, SCOPE), "an old token is refused");
        assert!(!key.verify(&time, "00", SCOPE));
        assert!(!key.verify(&time, &token, "POST\n/cairn/rpc/v1/drive\n/other-drive\n"), "a token is for one call");
    }

    #[test]
    fn during_a_rolling_change_both_credentials_are_accepted_and_the_old_ones_issued() {
        let old = TokenKey::new("admin", "old-secret");
        let rolling = TokenKey::new("admin2", "new-secret").with_previous("admin", "old-secret");
        let new = TokenKey::new("admin2", "new-secret");
        let (time, token) = rolling.issue(SCOPE);
        assert!(old.verify(&time, &token, SCOPE), "a node not restarted yet accepts a restarted node's calls");
        let (time, token) = old.issue(SCOPE);
        assert!(rolling.verify(&time, &token, SCOPE));
        let (time, token) = new.issue(SCOPE);
        assert!(rolling.verify(&time, &token, SCOPE), "a node restarted later without the old credentials is accepted");
        let (time, token) = rolling.issue(SCOPE);
        assert!(new.verify(&time, &token, SCOPE), "and it accepts the calls of nodes still in the change");
    }
}
