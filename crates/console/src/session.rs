//! Console sessions: a signed cookie that names the identity that logged in, and the
//! CSRF token bound to it.
//!
//! The cookie holds no secret. It carries the access key, an expiry, a random session
//! id and a fingerprint of the identity's secret key at login, all under an HMAC whose
//! key derives from the root credentials. Every node of a deployment shares those, so
//! a session opened on one node is valid on all of them (the console Service spreads
//! requests across pods). Changing an identity's secret, disabling it or deleting it
//! ends its sessions at once: each request looks the identity up again and compares
//! the fingerprint. Rotating the root credentials ends every session.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "cairn_session";
/// Default lifetime of a session (MinIO's console uses 12 hours too).
pub const SESSION_TTL_DEFAULT: Duration = Duration::from_secs(12 * 3600);
/// Longest cookie accepted; a real one is about 200 bytes.
const COOKIE_BYTES_MAX: usize = 4096;
/// Bytes of the random session id.
const SESSION_ID_BYTES: usize = 16;
/// Bytes of the secret-key fingerprint kept in the cookie.
const FINGERPRINT_BYTES: usize = 16;

/// The keys that sign sessions and CSRF tokens.
#[derive(Clone)]
pub struct SessionKeys {
    key: [u8; 32],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

/// What a valid cookie says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The access key that logged in.
    #[serde(rename = "k")]
    pub access_key: String,
    /// Seconds since the Unix epoch after which the session is over.
    #[serde(rename = "e")]
    pub expires: u64,
    /// Random id (hex): what the CSRF token is bound to.
    #[serde(rename = "i")]
    pub id: String,
    /// Fingerprint (hex) of the identity's secret key when it logged in.
    #[serde(rename = "f")]
    pub fingerprint: String,
}

/// Why a cookie opens no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Not a cookie this deployment signed (tampered, or from before a root rotation).
    #[error("the session is not valid; log in again")]
    Invalid,
    /// Past its expiry.
    #[error("the session has expired; log in again")]
    Expired,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

impl SessionKeys {
    /// Keys derived from the root credentials (the same on every node).
    pub fn from_root(access_key: &str, secret_key: &str) -> Self {
        let mut mac = HmacSha256::new_from_slice(secret_key.as_bytes()).expect("HMAC takes any key length");
        mac.update(b"cairn console session v1\0");
        mac.update(access_key.as_bytes());
        Self { key: mac.finalize().into_bytes().into() }
    }

    fn mac(&self, label: &[u8], parts: &[&[u8]]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(label);
        for part in parts {
            // Length-prefixed, so ("ab","c") and ("a","bc") differ.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// A fingerprint of `secret_key`: equal fingerprints mean the secret did not change.
    pub fn fingerprint(&self, secret_key: &str) -> String {
        let full = self.mac(b"fingerprint", &[secret_key.as_bytes()]).finalize().into_bytes();
        hex::encode(&full[..FINGERPRINT_BYTES])
    }

    /// True when `given` equals `actual`, compared in constant time (through their MACs).
    pub fn secrets_match(&self, given: &str, actual: &str) -> bool {
        let expected = self.mac(b"compare", &[actual.as_bytes()]).finalize().into_bytes();
        self.mac(b"compare", &[given.as_bytes()]).verify_slice(&expected).is_ok()
    }

    /// A new session for `access_key` (whose secret is `secret_key`) lasting `ttl`.
    pub fn issue(&self, access_key: &str, secret_key: &str, ttl: Duration) -> Session {
        let id: [u8; SESSION_ID_BYTES] = rand::random();
        Session {
            access_key: access_key.to_owned(),
            expires: now_secs().saturating_add(ttl.as_secs()),
            id: hex::encode(id),
            fingerprint: self.fingerprint(secret_key),
        }
    }

    /// The cookie value of `session`: payload and MAC, both base64url.
    pub fn seal(&self, session: &Session) -> String {
        let payload = serde_json::to_vec(session).expect("a session always serialises");
        let tag = self.mac(b"session", &[&payload]).finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(tag))
    }

    /// The session a cookie value carries, if this deployment signed it and it is current.
    pub fn open(&self, cookie: &str) -> Result<Session, SessionError> {
        if cookie.len() > COOKIE_BYTES_MAX {
            return Err(SessionError::Invalid);
        }
        let (payload, tag) = cookie.split_once('.').ok_or(SessionError::Invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| SessionError::Invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| SessionError::Invalid)?;
        self.mac(b"session", &[&payload]).verify_slice(&tag).map_err(|_| SessionError::Invalid)?;
        let session: Session = serde_json::from_slice(&payload).map_err(|_| SessionError::Invalid)?;
        if session.expires <= now_secs() {
            return Err(SessionError::Expired);
        }
        Ok(session)
    }

    /// The CSRF token of `session`: every state-changing request must carry it.
    pub fn csrf_token(&self, session: &Session) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(b"csrf", &[session.id.as_bytes()]).finalize().into_bytes())
    }

    /// True when `token` is `session`'s CSRF token (constant time).
    pub fn csrf_valid(&self, session: &Session, token: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(token) {
            Ok(tag) => self.mac(b"csrf", &[session.id.as_bytes()]).verify_slice(&tag).is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> SessionKeys {
        SessionKeys::from_root("admin", "admin-secret")
    }

    #[test]
    fn a_sealed_session_opens_and_names_its_identity() {
        let keys = keys();
        let session = keys.issue("alice", "alice-secret", Duration::from_secs(60));
        let opened = keys.open(&keys.seal(&session)).expect("opens");
        assert_eq!(opened, session);
        assert_eq!(opened.fingerprint, keys.fingerprint("alice-secret"));
        assert_ne!(opened.fingerprint, keys.fingerprint("alice-secret2"));
    }

    #[test]
    fn a_tampered_or_foreign_cookie_is_refused() {
        let keys = keys();
        let cookie = keys.seal(&keys.issue("alice", "s", Duration::from_secs(60)));
        let (payload, tag) = cookie.split_once('.').expect("two parts");
        let forged =
            Session { access_key: "admin".into(), expires: u64::MAX, id: "00".into(), fingerprint: "00".into() };
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).expect("serialises"));
        assert_eq!(keys.open(&format!("{forged_payload}.{tag}")), Err(SessionError::Invalid));
        assert_eq!(keys.open(payload), Err(SessionError::Invalid));
        assert_eq!(keys.open(&format!("{payload}.AAAA")), Err(SessionError::Invalid));
        let other = SessionKeys::from_root("admin", "another-root-secret");
        assert_eq!(other.open(&cookie), Err(SessionError::Invalid));
        assert_eq!(keys.open(&"a".repeat(COOKIE_BYTES_MAX + 1)), Err(SessionError::Invalid));
    }

    #[test]
    fn an_expired_session_is_refused() {
        let keys = keys();
        let mut session = keys.issue("alice", "s", Duration::from_secs(60));
        session.expires = now_secs() - 1;
        assert_eq!(keys.open(&keys.seal(&session)), Err(SessionError::Expired));
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_session() {
        let keys = keys();
        let one = keys.issue("alice", "s", Duration::from_secs(60));
        let two = keys.issue("alice", "s", Duration::from_secs(60));
        let token = keys.csrf_token(&one);
        assert!(keys.csrf_valid(&one, &token));
        assert!(!keys.csrf_valid(&two, &token));
        assert!(!keys.csrf_valid(&one, ""));
        assert!(!keys.csrf_valid(&one, "not base64 !"));
    }

    #[test]
    fn secrets_compare_exactly() {
        let keys = keys();
        assert!(keys.secrets_match("abc", "abc"));
        assert!(!keys.secrets_match("abc", "abd"));
        assert!(!keys.secrets_match("ab", "abc"));
    }
}
