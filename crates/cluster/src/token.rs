//! Node RPC authentication. Every call carries an HMAC-SHA256 token, keyed by the root
//! secret, over the time, a random nonce and the call's scope: method, path, drive,
//! file, fence, and the SHA-256 of the request body (or, for a streamed shard file,
//! the marker `stream`: its body ends with a trailing MAC, see [`TokenKey::stream_macs`]).
//! So nodes started with other credentials cannot call each other, and a captured
//! token is good for nothing else: it expires after [`TOKEN_SKEW_SECS_MAX`], its nonce
//! is refused the second time ([`ReplayCache`]), and a body altered in flight no
//! longer matches it.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// How far a token's time may be from the receiver's clock, either way. The nodes'
/// clocks must agree to within this (NTP keeps them within milliseconds); a node whose
/// calls are refused for their time logs the difference.
pub const TOKEN_SKEW_SECS_MAX: u64 = 60;
/// Most nonces remembered at once: every call of the last 2 x [`TOKEN_SKEW_SECS_MAX`]
/// seconds, about 8,700 calls a second; 16 bytes each plus the set's overhead, about
/// 40 MiB when full. When full, calls are refused (503) until old nonces expire.
pub const REPLAY_CACHE_ENTRIES_MAX: usize = 1 << 20;
/// The scope's body field for a streamed shard file, whose body a trailing MAC covers.
pub const STREAM_BODY: &str = "stream";

/// Why a call's token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The time or nonce header is missing or malformed.
    #[error("malformed token headers")]
    Malformed,
    /// The token's time is too far from this node's clock.
    #[error(
        "token made {difference_secs} s away from this node's clock (at most {TOKEN_SKEW_SECS_MAX} s): are the nodes' clocks synchronised?"
    )]
    Skewed {
        /// How far apart the clocks are, in seconds.
        difference_secs: u64,
    },
    /// No token matches: other root credentials, or a call altered in flight.
    #[error("bad node token (other root credentials, or a call altered in flight)")]
    Mismatch,
    /// The token was seen before.
    #[error("replayed node token")]
    Replayed,
    /// Too many recent calls to remember another nonce.
    #[error("replay cache full ({REPLAY_CACHE_ENTRIES_MAX} recent calls)")]
    CacheFull,
}

/// A token that verified: which of the call's tokens, and made with which credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The position of the matching token in the call's token list.
    pub position: usize,
    /// The matching token, hex.
    pub token: String,
    /// 0 for this node's credentials, 1 for the previous ones during a change.
    key: usize,
}

/// The headers that authenticate one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// Unix seconds.
    pub time: String,
    /// 128 random bits, hex.
    pub nonce: String,
    /// One token per credential set this node knows, comma-separated.
    pub tokens: String,
}

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

/// The hex SHA-256 of a unary call's body, as its scope names it.
pub fn body_digest(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
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

    fn keyed(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length.
        <Hmac<Sha256> as KeyInit>::new_from_slice(self.secret_key.as_bytes()).expect("any key length")
    }

    fn mac(&self, time: u64, nonce: &str, scope: &str) -> Hmac<Sha256> {
        let mut mac = self.keyed();
        mac.update(format!("cairn-rpc-v2\n{}\n{time}\n{nonce}\n{scope}", self.access_key).as_bytes());
        mac
    }

    /// This key, then the previous one during a change.
    fn keys(&self) -> impl Iterator<Item = &TokenKey> {
        std::iter::once(self).chain(self.previous.as_deref())
    }

    /// The headers to send with a call of `scope` now, with a fresh nonce.
    pub fn issue(&self, scope: &str) -> Issued {
        let time = now_secs();
        let nonce = hex::encode(rand::random::<u128>().to_be_bytes());
        let tokens: Vec<String> =
            self.keys().map(|key| hex::encode(key.mac(time, &nonce, scope).finalize().into_bytes())).collect();
        Issued { time: time.to_string(), nonce, tokens: tokens.join(",") }
    }

    /// Checks a call's headers against its `scope`: one of `tokens` made at `time` with
    /// `nonce` by credentials this node knows, and `time` recent. The nonce is checked
    /// separately ([`ReplayCache::admit`]), once the token is known to be genuine.
    pub fn verify(&self, time: &str, nonce: &str, tokens: &str, scope: &str) -> Result<Verified, TokenError> {
        let time: u64 = time.parse().map_err(|_| TokenError::Malformed)?;
        if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TokenError::Malformed);
        }
        let difference_secs = now_secs().abs_diff(time);
        if difference_secs > TOKEN_SKEW_SECS_MAX {
            return Err(TokenError::Skewed { difference_secs });
        }
        for (position, token) in tokens.split(',').take(2).enumerate() {
            let Ok(bytes) = hex::decode(token) else { continue };
            for (key, credentials) in self.keys().enumerate() {
                if credentials.mac(time, nonce, scope).verify_slice(&bytes).is_ok() {
                    return Ok(Verified { position, token: token.to_owned(), key });
                }
            }
        }
        Err(TokenError::Mismatch)
    }

    fn stream_mac(&self, token: &str, digest: &[u8; 32], length: u64) -> Hmac<Sha256> {
        let mut mac = self.keyed();
        mac.update(format!("cairn-rpc-v2-stream\n{token}\n").as_bytes());
        mac.update(digest);
        mac.update(&length.to_le_bytes());
        mac
    }

    /// The trailing MACs of a streamed body: one per token of `issued` (same order),
    /// over that token, the body's SHA-256 and its length, so that the body cannot be
    /// altered, cut short or moved to another call.
    pub fn stream_macs(&self, issued: &Issued, digest: &[u8; 32], length: u64) -> Vec<[u8; 32]> {
        self.keys()
            .zip(issued.tokens.split(','))
            .map(|(key, token)| key.stream_mac(token, digest, length).finalize().into_bytes().into())
            .collect()
    }

    /// Checks the trailing MAC of a streamed body received with the `verified` token.
    pub fn verify_stream(&self, verified: &Verified, digest: &[u8; 32], length: u64, mac: &[u8]) -> bool {
        self.keys()
            .nth(verified.key)
            .is_some_and(|key| key.stream_mac(&verified.token, digest, length).verify_slice(mac).is_ok())
    }
}

/// Nonces of recently accepted tokens, grouped by token time; a group is dropped once
/// tokens of its time are refused as too old anyway.
#[derive(Debug, Default)]
pub struct ReplayCache {
    state: Mutex<ReplayState>,
}

#[derive(Debug, Default)]
struct ReplayState {
    by_time: BTreeMap<u64, HashSet<u128>>,
    entries: usize,
}

impl ReplayCache {
    /// Admits a verified token's nonce the first time, refuses it after that.
    pub fn admit(&self, time: &str, nonce: &str) -> Result<(), TokenError> {
        self.admit_at(time, nonce, now_secs(), REPLAY_CACHE_ENTRIES_MAX)
    }

    fn admit_at(&self, time: &str, nonce: &str, now: u64, max: usize) -> Result<(), TokenError> {
        let time: u64 = time.parse().map_err(|_| TokenError::Malformed)?;
        let nonce = u128::from_str_radix(nonce, 16).map_err(|_| TokenError::Malformed)?;
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let oldest_valid = now.saturating_sub(TOKEN_SKEW_SECS_MAX);
        let expired: Vec<u64> = state.by_time.range(..oldest_valid).map(|(time, _)| *time).collect();
        for time in expired {
            let removed = state.by_time.remove(&time).map_or(0, |set| set.len());
            state.entries -= removed;
        }
        if state.by_time.get(&time).is_some_and(|seen| seen.contains(&nonce)) {
            return Err(TokenError::Replayed);
        }
        if state.entries >= max {
            return Err(TokenError::CacheFull);
        }
        state.by_time.entry(time).or_default().insert(nonce);
        state.entries += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: &str = "POST\n/cairn/rpc/v1/drive\n/data\n\n\nabcd";

    fn verify(key: &TokenKey, issued: &Issued, scope: &str) -> Result<Verified, TokenError> {
        key.verify(&issued.time, &issued.nonce, &issued.tokens, scope)
    }

    #[test]
    fn tokens_verify_only_with_the_same_credentials_and_scope() {
        let key = TokenKey::new("admin", "secret-key");
        let issued = key.issue(SCOPE);
        assert!(verify(&key, &issued, SCOPE).is_ok());
        assert_eq!(verify(&TokenKey::new("admin", "other-secret"), &issued, SCOPE), Err(TokenError::Mismatch));
        assert_eq!(verify(&TokenKey::new("other", "secret-key"), &issued, SCOPE), Err(TokenError::Mismatch));
        let old = Issued { time: "0".into(), ..issued.clone() };
        assert!(matches!(verify(&key, &old, SCOPE), Err(TokenError::Skewed { .. })), "an old token is refused");
        let bad = Issued { tokens: "00".into(), ..issued.clone() };
        assert_eq!(verify(&key, &bad, SCOPE), Err(TokenError::Mismatch));
        let other_nonce = Issued { nonce: key.issue(SCOPE).nonce, ..issued.clone() };
        assert_eq!(verify(&key, &other_nonce, SCOPE), Err(TokenError::Mismatch), "the nonce is signed");
        let other_body = SCOPE.replace("abcd", "abce");
        assert_eq!(verify(&key, &issued, &other_body), Err(TokenError::Mismatch), "the body digest is signed");
    }

    #[test]
    fn tokens_within_the_skew_are_accepted() {
        let key = TokenKey::new("admin", "secret-key");
        for offset in [-(TOKEN_SKEW_SECS_MAX as i64), TOKEN_SKEW_SECS_MAX as i64] {
            let time = now_secs().saturating_add_signed(offset);
            let nonce = "0123456789abcdef0123456789abcdef";
            let token = hex::encode(key.mac(time, nonce, SCOPE).finalize().into_bytes());
            assert!(key.verify(&time.to_string(), nonce, &token, SCOPE).is_ok(), "offset {offset}");
        }
    }

    #[test]
    fn during_a_rolling_change_both_credentials_are_accepted_and_the_old_ones_issued() {
        let old = TokenKey::new("admin", "old-secret");
        let rolling = TokenKey::new("admin2", "new-secret").with_previous("admin", "old-secret");
        let new = TokenKey::new("admin2", "new-secret");
        assert!(verify(&old, &rolling.issue(SCOPE), SCOPE).is_ok(), "a node not restarted yet accepts the calls");
        assert!(verify(&rolling, &old.issue(SCOPE), SCOPE).is_ok());
        assert!(verify(&rolling, &new.issue(SCOPE), SCOPE).is_ok(), "a node restarted later is accepted");
        assert!(verify(&new, &rolling.issue(SCOPE), SCOPE).is_ok(), "and accepts the calls of nodes in the change");
    }

    #[test]
    fn stream_macs_bind_the_body_to_its_call_with_either_credentials() {
        let rolling = TokenKey::new("admin2", "new-secret").with_previous("admin", "old-secret");
        let digest = [7u8; 32];
        for receiver in [TokenKey::new("admin", "old-secret"), TokenKey::new("admin2", "new-secret")] {
            let issued = rolling.issue(STREAM_BODY);
            let macs = rolling.stream_macs(&issued, &digest, 10);
            let verified = verify(&receiver, &issued, STREAM_BODY).expect("genuine");
            let mac = &macs[verified.position];
            assert!(receiver.verify_stream(&verified, &digest, 10, mac));
            assert!(!receiver.verify_stream(&verified, &digest, 11, mac), "a cut body is refused");
            assert!(!receiver.verify_stream(&verified, &[8u8; 32], 10, mac), "an altered body is refused");
            let other = verify(&receiver, &rolling.issue(STREAM_BODY), STREAM_BODY).expect("genuine");
            assert!(!receiver.verify_stream(&other, &digest, 10, mac), "a body moved to another call is refused");
        }
    }

    #[test]
    fn a_nonce_is_admitted_once_and_forgotten_when_its_tokens_expire() {
        let cache = ReplayCache::default();
        let nonce = "0123456789abcdef0123456789abcdef";
        assert_eq!(cache.admit_at("1000", nonce, 1000, 10), Ok(()));
        assert_eq!(cache.admit_at("1000", nonce, 1001, 10), Err(TokenError::Replayed));
        assert_eq!(cache.admit_at("1001", "ff", 1001, 10), Ok(()), "another nonce");
        let later = 1000 + TOKEN_SKEW_SECS_MAX + 1;
        assert_eq!(cache.admit_at(&later.to_string(), "ee", later, 10), Ok(()));
        assert_eq!(cache.state.lock().expect("not poisoned").entries, 2, "the expired group was dropped");
    }

    #[test]
    fn a_full_cache_refuses_new_nonces() {
        let cache = ReplayCache::default();
        assert_eq!(cache.admit_at("1000", "1", 1000, 2), Ok(()));
        assert_eq!(cache.admit_at("1000", "2", 1000, 2), Ok(()));
        assert_eq!(cache.admit_at("1000", "3", 1000, 2), Err(TokenError::CacheFull));
    }
}
