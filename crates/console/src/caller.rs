//! The identity behind a console request, and its clients of the node's own APIs.

use crate::Console;
use crate::error::{ConsoleError, Result};
use crate::session::{COOKIE_NAME, Session};
use cairn_cli::admin::client::AdminClient;
use cairn_cli::config::{Alias, REGION_DEFAULT};
use cairn_iam::policy::ConditionValues;
use cairn_iam::{Iam, Identity};
use cairn_s3::Ready;
use std::sync::Arc;

/// Who is calling, with the keys the console signs their API calls with.
pub(crate) struct Caller {
    pub(crate) session: Session,
    pub(crate) identity: Identity,
    /// This session's CSRF token (put in every form).
    pub(crate) csrf: String,
    alias: Alias,
    iam: Arc<Iam>,
    http: aws_sdk_s3::config::SharedHttpClient,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller").field("access_key", &self.session.access_key).finish_non_exhaustive()
    }
}

impl Console {
    /// The store and identities, or an error while the node is still starting.
    pub(crate) fn ready(&self) -> Result<Ready> {
        self.store
            .get()
            .cloned()
            .ok_or_else(|| ConsoleError::Backend("the server is still starting; try again in a moment".into()))
    }

    /// The caller of a request with `headers`: a current session whose identity still
    /// exists, is enabled and has the secret it logged in with.
    pub(crate) fn caller(&self, headers: &http::HeaderMap) -> Result<Caller> {
        let cookie = crate::web::cookie(headers, COOKIE_NAME)
            .ok_or_else(|| ConsoleError::LoggedOut("log in to use the console".into()))?;
        let session = self.config.keys.open(cookie).map_err(|e| ConsoleError::LoggedOut(e.to_string()))?;
        let ready = self.ready()?;
        let ended = || ConsoleError::LoggedOut("your access key was changed, disabled or removed; log in again".into());
        let (secret, identity) = ready.iam.secret_for(&session.access_key).map_err(|_| ended())?;
        if self.config.keys.fingerprint(&secret) != session.fingerprint {
            return Err(ended());
        }
        let csrf = self.config.keys.csrf_token(&session);
        let alias = Alias {
            url: self.config.api_url.clone(),
            access_key: session.access_key.clone(),
            secret_key: secret,
            region: ready.settings.configured_region().unwrap_or_else(|| REGION_DEFAULT.to_owned()),
        };
        Ok(Caller { session, identity, csrf, alias, iam: ready.iam, http: self.sdk_http.clone() })
    }
}

impl Caller {
    /// An S3 client signing as the caller.
    pub(crate) fn s3(&self) -> aws_sdk_s3::Client {
        cairn_cli::s3_client(&self.alias, self.http.clone())
    }

    /// An admin API client signing as the caller.
    pub(crate) fn admin(&self) -> Result<AdminClient> {
        Ok(AdminClient::new("console", self.alias.clone(), Some(&cairn_tls::ClientTrust::Insecure))?)
    }

    /// Whether the caller's policies allow `action` (on `bucket`/`key`): what the pages
    /// show. The API decides again on every call.
    pub(crate) fn may(&self, action: &str, bucket: Option<&str>, key: Option<&str>) -> bool {
        self.iam.is_allowed(Some(&self.identity), action, bucket, key, &ConditionValues::new())
    }

    /// An S3 client signing as the caller against `endpoint` (share links are presigned
    /// for the public S3 address), over the console's shared HTTP client.
    pub(crate) fn s3_at(&self, endpoint: &str) -> aws_sdk_s3::Client {
        let alias = Alias { url: endpoint.to_owned(), ..self.alias.clone() };
        cairn_cli::s3_client(&alias, self.http.clone())
    }

    /// The access key shown in the page header.
    pub(crate) fn name(&self) -> &str {
        &self.session.access_key
    }

    /// What the navigation shows.
    pub(crate) fn menu(&self) -> Menu {
        Menu {
            dashboard: self.may("admin:ServerInfo", None, None),
            identity: self.may("admin:ListUsers", None, None),
            keys: self.may("admin:ListServiceAccounts", None, None),
            policies: self.may("admin:ListUserPolicies", None, None) || self.may("admin:GetPolicy", None, None),
            operations: self.may("admin:Heal", None, None) || self.may("admin:ConfigUpdate", None, None),
        }
    }
}

/// Which sections the caller's policies open (the navigation shows only those).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Menu {
    pub(crate) dashboard: bool,
    pub(crate) identity: bool,
    pub(crate) keys: bool,
    pub(crate) policies: bool,
    pub(crate) operations: bool,
}
