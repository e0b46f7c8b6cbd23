//! Authentication and authorisation of S3 requests against the identity store.
//!
//! `IamAuth` gives s3s the secret of any enabled identity (root, users, service
//! accounts) so it can check signatures. `IamAccess` runs before a request's body is
//! read: it names the request's IAM action and resource, gathers the condition values
//! (prefix, delimiter and max-keys of listings, source address, transport) and asks the
//! identity store. Anonymous requests are judged by the bucket's policy alone.

use crate::metrics::ApiSlot;
use cairn_admin::ServerSettings;
use cairn_iam::policy::ConditionValues;
use cairn_iam::{AuthFailure, Iam, Identity};
use cairn_object::ObjectStore;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::dto::{CopySource, DeleteObjectsInput, PutObjectTaggingInput};
use s3s::path::S3Path;
use s3s::{S3ErrorCode, S3Request, S3Result, s3_error};
use std::net::SocketAddr;
use std::sync::Arc;

/// The client's address, put into request extensions by the server for `aws:SourceIp`.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Marks a ListBuckets whose caller may not list every bucket: it gets those it may list.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListOnlyAllowed;

/// Looks up secrets in the identity store.
pub(crate) struct IamAuth {
    pub(crate) iam: Arc<Iam>,
}

#[async_trait::async_trait]
impl S3Auth for IamAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        secret_of(&self.iam, access_key).map(|(secret, _)| SecretKey::from(secret))
    }
}

/// The secret and identity of an access key, or the S3 error for a key that may not sign.
pub(crate) fn secret_of(iam: &Iam, access_key: &str) -> S3Result<(String, Identity)> {
    match iam.secret_for(access_key) {
        Ok(found) => Ok(found),
        Err(AuthFailure::Disabled) => Err(s3s::S3Error::with_message(
            S3ErrorCode::InvalidAccessKeyId,
            "Your account is disabled; please contact your administrator.",
        )),
        Err(AuthFailure::Expired) => {
            Err(s3s::S3Error::with_message(S3ErrorCode::InvalidAccessKeyId, "The access key has expired."))
        }
        Err(AuthFailure::Unknown) => Err(s3s::S3Error::with_message(
            S3ErrorCode::InvalidAccessKeyId,
            "The Access Key Id you provided does not exist in our records.",
        )),
    }
}

/// The IAM action of an S3 operation (as s3s names operations), if it needs one.
pub(crate) fn action_of(operation: &str) -> String {
    let mapped = match operation {
        "ListBuckets" => "s3:ListAllMyBuckets",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "s3:ListBucket",
        "ListObjectVersions" => "s3:ListBucketVersions",
        "ListMultipartUploads" => "s3:ListBucketMultipartUploads",
        "ListParts" => "s3:ListMultipartUploadParts",
        "GetObject" | "HeadObject" | "GetObjectAttributes" => "s3:GetObject",
        "PutObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "CompleteMultipartUpload"
        | "CopyObject"
        | "UploadPartCopy" => "s3:PutObject",
        "DeleteObjects" => "s3:DeleteObject",
        "GetBucketPolicyStatus" => "s3:GetBucketPolicyStatus",
        "PutObjectLockConfiguration" => "s3:PutBucketObjectLockConfiguration",
        "GetObjectLockConfiguration" => "s3:GetBucketObjectLockConfiguration",
        // As on S3, removing a bucket's tags is putting an empty set.
        "DeleteBucketTagging" => "s3:PutBucketTagging",
        // S3's names for the lifecycle permissions; a delete needs the put one.
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => "s3:PutLifecycleConfiguration",
        "GetBucketLifecycleConfiguration" => "s3:GetLifecycleConfiguration",
        "PutBucketCors" | "DeleteBucketCors" => "s3:PutBucketCORS",
        "GetBucketCors" => "s3:GetBucketCORS",
        "PutBucketEncryption" | "DeleteBucketEncryption" => "s3:PutEncryptionConfiguration",
        "GetBucketEncryption" => "s3:GetEncryptionConfiguration",
        "PutBucketNotificationConfiguration" => "s3:PutBucketNotification",
        "GetBucketNotificationConfiguration" => "s3:GetBucketNotification",
        other => return format!("s3:{other}"),
    };
    mapped.to_owned()
}

/// Operations whose policies may test the object's current tags
/// (`s3:ExistingObjectTag/<key>`), as on S3.
const EXISTING_TAG_OPERATIONS: &[&str] =
    &["GetObject", "HeadObject", "GetObjectAttributes", "GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging"];

/// The IAM action of an operation on a version named by id (`versionId`), as on S3: a
/// read or delete of a given version needs the `...Version...` permission.
pub(crate) fn version_action_of(operation: &str) -> Option<&'static str> {
    Some(match operation {
        "GetObject" | "HeadObject" | "GetObjectAttributes" => "s3:GetObjectVersion",
        "DeleteObject" | "DeleteObjects" => "s3:DeleteObjectVersion",
        "GetObjectTagging" => "s3:GetObjectVersionTagging",
        "PutObjectTagging" => "s3:PutObjectVersionTagging",
        "DeleteObjectTagging" => "s3:DeleteObjectVersionTagging",
        _ => return None,
    })
}

/// Decides every S3 request.
pub(crate) struct IamAccess {
    pub(crate) iam: Arc<Iam>,
    /// Where an object's existing tags are read, for policies that test them.
    pub(crate) store: ObjectStore,
    /// Run-time settings: the configured region.
    pub(crate) settings: Arc<ServerSettings>,
}

impl IamAccess {
    fn identity(&self, access_key: Option<&str>) -> S3Result<Option<Identity>> {
        match access_key {
            None => Ok(None),
            Some(key) => match self.iam.secret_for(key) {
                Ok((_, identity)) => Ok(Some(identity)),
                Err(_) => Err(s3_error!(AccessDenied, "Access Denied.")),
            },
        }
    }

    fn decide(
        &self,
        identity: Option<&Identity>,
        action: &str,
        bucket: Option<&str>,
        key: Option<&str>,
        conditions: &ConditionValues,
    ) -> S3Result<()> {
        if self.iam.is_allowed(identity, action, bucket, key, conditions) {
            Ok(())
        } else {
            Err(s3_error!(AccessDenied, "Access Denied."))
        }
    }

    /// Adds the object's current tags as `s3:ExistingObjectTag/<key>` values, when a
    /// policy that applies tests them (reading the object's metadata costs a quorum
    /// read, which no other request pays). An object that cannot be read has none.
    async fn add_existing_tags(
        &self,
        identity: Option<&Identity>,
        (bucket, key): (&str, &str),
        conditions: &mut ConditionValues,
    ) {
        if !self.iam.policies_mention(identity, Some(bucket), "s3:ExistingObjectTag/") {
            return;
        }
        if let Ok(info) = self.store.object_info(bucket, key).await {
            crate::tagging::existing_conditions(conditions, &info.headers);
        }
    }
}

/// What a write sets besides the object itself; each needs its own permission, as on S3.
#[derive(Debug, Clone, Copy)]
struct WriteExtras {
    tags: bool,
    retention: bool,
    legal_hold: bool,
}

impl IamAccess {
    /// Tags, a retention and a legal hold given with a write need the tagging,
    /// retention and legal-hold permissions too.
    fn decide_extras(
        &self,
        identity: Option<&Identity>,
        (bucket, key): (Option<&str>, Option<&str>),
        conditions: &ConditionValues,
        extras: WriteExtras,
    ) -> S3Result<()> {
        let needed = [
            (extras.tags, "s3:PutObjectTagging"),
            (extras.retention, "s3:PutObjectRetention"),
            (extras.legal_hold, "s3:PutObjectLegalHold"),
        ];
        for (_, action) in needed.into_iter().filter(|(given, _)| *given) {
            self.decide(identity, action, bucket, key, conditions)?;
        }
        Ok(())
    }

    /// Judges a browser form upload (POST object) as the PutObject it stands for, whose
    /// headers are the form's fields: the same permissions and conditions, and the
    /// same refusal of features Cairn lacks.
    pub(crate) fn check_form_upload(
        &self,
        identity: Option<&Identity>,
        (bucket, key): (&str, &str),
        headers: &http::HeaderMap,
        (peer, signed_for): (Option<SocketAddr>, Option<&str>),
    ) -> S3Result<()> {
        crate::region::check("PostObject", signed_for, self.settings.configured_region().as_deref())?;
        let mut conditions = connection_conditions(peer);
        let tags = headers.get(crate::tagging::STORED_NAME).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if let Some(tags) = tags.as_deref().and_then(|value| crate::tagging::parse(value).ok()) {
            crate::tagging::request_conditions(&mut conditions, &tags);
        }
        self.decide(identity, "s3:PutObject", Some(bucket), Some(key), &conditions)?;
        let extras = WriteExtras {
            tags: tags.is_some(),
            retention: headers.contains_key("x-amz-object-lock-mode")
                || headers.contains_key("x-amz-object-lock-retain-until-date"),
            legal_hold: headers.contains_key("x-amz-object-lock-legal-hold"),
        };
        self.decide_extras(identity, (Some(bucket), Some(key)), &conditions, extras)?;
        crate::unsupported::check(headers, Vec::new(), true)
    }
}

/// Condition values every request has: source address and transport.
pub(crate) fn connection_conditions(peer: Option<SocketAddr>) -> ConditionValues {
    let mut values = ConditionValues::new();
    if let Some(peer) = peer {
        values.insert("aws:SourceIp", vec![peer.ip().to_string()]);
    }
    // Plain HTTP here; TLS is terminated in front of Cairn (ingress), which is not trusted to say so.
    values.insert("aws:SecureTransport", vec!["false".into()]);
    values
}

/// Condition values of a request: the connection's, and listing parameters.
fn conditions_of(uri: &http::Uri, peer: Option<SocketAddr>) -> ConditionValues {
    let mut values = connection_conditions(peer);
    if let Some(query) = uri.query() {
        for (name, value) in url_pairs(query) {
            let key = match name.as_str() {
                "prefix" => "s3:prefix",
                "delimiter" => "s3:delimiter",
                "max-keys" => "s3:max-keys",
                _ => continue,
            };
            values.insert(key, vec![value]);
        }
    }
    values
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode =
                |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (decode(name), decode(value))
        })
        .collect()
}

/// `bucket/key` of an `x-amz-copy-source` header, parsed exactly as s3s parses it for
/// the operation itself, so the check judges the object that will be read, and whether
/// it names a version.
fn copy_source(cx: &S3AccessContext<'_>) -> Option<(String, String, bool)> {
    let raw = cx.headers().get("x-amz-copy-source")?.to_str().ok()?;
    match CopySource::parse(raw).ok()? {
        CopySource::Bucket { bucket, key, version_id } => Some((bucket.into(), key.into(), version_id.is_some())),
        _ => None,
    }
}

#[async_trait::async_trait]
impl S3Access for IamAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let peer = cx.extensions_mut().get::<PeerAddr>().map(|p| p.0);
        let identity = self.identity(cx.credentials().map(|c| c.access_key.as_str()))?;
        let operation = cx.s3_op().name().to_owned();
        if let Some(slot) = cx.extensions_mut().get::<ApiSlot>() {
            slot.set(&operation);
        }
        let mut conditions = conditions_of(cx.uri(), peer);
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
            S3Path::Object { bucket, key } => (Some(bucket.to_string()), Some(key.to_string())),
        };
        let query = cx.uri().query().map(url_pairs).unwrap_or_default();
        let signed_for = crate::region::signed_region(cx.headers(), &query);
        crate::region::check(&operation, signed_for.as_deref(), self.settings.configured_region().as_deref())?;
        let given_tags = match cx.headers().get(crate::tagging::STORED_NAME) {
            Some(value) => Some(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            None => query
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(crate::tagging::STORED_NAME))
                .map(|p| p.1.clone()),
        };
        let tags_given = given_tags.is_some();
        let names_version = query.iter().any(|(name, _)| name == "versionId");
        // Invalid tags give no values: the operation refuses them with InvalidTag.
        if let Some(tags) = given_tags.as_deref().and_then(|value| crate::tagging::parse(value).ok()) {
            crate::tagging::request_conditions(&mut conditions, &tags);
        }
        let asked =
            |name: &str| cx.headers().contains_key(name) || query.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        let retention_given = asked("x-amz-object-lock-mode") || asked("x-amz-object-lock-retain-until-date");
        let legal_hold_given = asked("x-amz-object-lock-legal-hold");
        // Bypassing GOVERNANCE retention is a permission of its own; a caller without it
        // is judged as if it had not asked (the delete then meets the retention).
        let bypass = "s3:BypassGovernanceRetention";
        if asked("x-amz-bypass-governance-retention")
            && self.iam.is_allowed(identity.as_ref(), bypass, bucket.as_deref(), key.as_deref(), &conditions)
        {
            cx.extensions_mut().insert(crate::object_lock::BypassGovernance);
        }
        let refused = crate::query::check(&operation, &query)
            .and_then(|()| crate::unsupported::check(cx.headers(), query, key.is_some()));
        if operation == "ListBuckets"
            && identity.is_some()
            && !self.iam.is_allowed(identity.as_ref(), "s3:ListAllMyBuckets", None, None, &conditions)
        {
            // As MinIO: an identity that may not list every bucket is shown the buckets
            // it may list (`ListBuckets` filters them, and refuses when none is left).
            cx.extensions_mut().insert(ListOnlyAllowed);
            return refused;
        }
        if matches!(operation.as_str(), "DeleteObjects" | "PutObjectTagging") {
            // Judged once the body is read: key by key, or with the tags it sets.
            return refused;
        }
        if let (Some(bucket), Some(key)) = (&bucket, &key)
            && EXISTING_TAG_OPERATIONS.contains(&operation.as_str())
        {
            self.add_existing_tags(identity.as_ref(), (bucket, key), &mut conditions).await;
        }
        if matches!(operation.as_str(), "CopyObject" | "UploadPartCopy") {
            let (source_bucket, source_key, versioned) = copy_source(cx)
                .ok_or_else(|| s3_error!(InvalidArgument, "Copy Source must mention the source bucket and key"))?;
            let read = if versioned { "s3:GetObjectVersion" } else { "s3:GetObject" };
            self.decide(identity.as_ref(), read, Some(&source_bucket), Some(&source_key), &conditions)?;
        }
        let action = match version_action_of(&operation) {
            Some(action) if names_version => action.to_owned(),
            _ => action_of(&operation),
        };
        self.decide(identity.as_ref(), &action, bucket.as_deref(), key.as_deref(), &conditions)?;
        let extras = WriteExtras { tags: tags_given, retention: retention_given, legal_hold: legal_hold_given };
        self.decide_extras(identity.as_ref(), (bucket.as_deref(), key.as_deref()), &conditions, extras)?;
        // Only a caller allowed to make the request learns that Cairn cannot honour it.
        refused
    }

    async fn put_object_tagging(&self, req: &mut S3Request<PutObjectTaggingInput>) -> S3Result<()> {
        let peer = req.extensions.get::<PeerAddr>().map(|p| p.0);
        let identity = self.identity(req.credentials.as_ref().map(|c| c.access_key.as_str()))?;
        let mut conditions = conditions_of(&req.uri, peer);
        let tags: Vec<(String, String)> = (req.input.tagging.tag_set.iter())
            .map(|tag| (tag.key.clone().unwrap_or_default(), tag.value.clone().unwrap_or_default()))
            .collect();
        crate::tagging::request_conditions(&mut conditions, &tags);
        let (bucket, key) = (req.input.bucket.as_str(), req.input.key.as_str());
        self.add_existing_tags(identity.as_ref(), (bucket, key), &mut conditions).await;
        let action = if req.input.version_id.is_some() { "s3:PutObjectVersionTagging" } else { "s3:PutObjectTagging" };
        self.decide(identity.as_ref(), action, Some(bucket), Some(key), &conditions)
    }

    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        let peer = req.extensions.get::<PeerAddr>().map(|p| p.0);
        let identity = self.identity(req.credentials.as_ref().map(|c| c.access_key.as_str()))?;
        let conditions = connection_conditions(peer);
        let bucket = req.input.bucket.clone();
        for object in &req.input.delete.objects {
            let action = if object.version_id.is_some() { "s3:DeleteObjectVersion" } else { "s3:DeleteObject" };
            self.decide(identity.as_ref(), action, Some(&bucket), Some(&object.key), &conditions)?;
        }
        Ok(())
    }
}
