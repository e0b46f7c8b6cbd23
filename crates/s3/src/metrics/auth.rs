//! Who may scrape: a bearer JWT as `mc admin prometheus generate` makes it (HS512,
//! signed with the secret key of the access key in `sub`, with an `exp`), from an
//! identity allowed `admin:Prometheus`; or anyone when the deployment says `public`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_iam::Iam;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha512;
use std::time::{SystemTime, UNIX_EPOCH};

/// Largest token accepted.
const TOKEN_BYTES_MAX: usize = 4096;

#[derive(serde::Deserialize)]
struct Claims {
    exp: i64,
    sub: String,
}

#[derive(serde::Deserialize)]
struct Header {
    alg: String,
}

/// True when `authorization` carries a valid, unexpired token of an identity allowed to scrape.
pub(crate) fn allowed(iam: &Iam, authorization: Option<&str>) -> bool {
    let Some(token) = authorization.and_then(|v| v.strip_prefix("Bearer ")).map(str::trim) else { return false };
    if token.len() > TOKEN_BYTES_MAX {
        return false;
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
    let Some(header) = decode(header).and_then(|h| serde_json::from_slice::<Header>(&h).ok()) else { return false };
    let Some(claims) = decode(payload).and_then(|p| serde_json::from_slice::<Claims>(&p).ok()) else { return false };
    let Some(signature) = decode(signature) else { return false };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(i64::MAX);
    if header.alg != "HS512" || claims.exp <= now {
        return false;
    }
    let Ok((secret, identity)) = iam.secret_for(&claims.sub) else { return false };
    let Ok(mut mac) = <Hmac<Sha512> as KeyInit>::new_from_slice(secret.as_bytes()) else { return false };
    let signed_len = token.len() - token.rsplit('.').next().map_or(0, str::len) - 1;
    mac.update(&token.as_bytes()[..signed_len]);
    mac.verify_slice(&signature).is_ok()
        && iam.is_allowed(Some(&identity), "admin:Prometheus", None, None, &Default::default())
}
