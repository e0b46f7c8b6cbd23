//! A bucket's event notification rules (PutBucketNotificationConfiguration), as its
//! record stores them: already checked by the S3 front.

use serde::{Deserialize, Serialize};

/// The rules of one bucket. An event that several rules match is still sent once to
/// each target they name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub rules: Vec<NotificationRule>,
}

/// One queue configuration: which events of which keys go to which target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRule {
    /// The configuration's id (S3's `Id`; one is made up when the client gives none).
    pub id: String,
    /// The target's ARN as the client gave it (`arn:minio:sqs::<target id>:webhook`).
    pub arn: String,
    /// Event names as given, such as `s3:ObjectCreated:*` or `s3:ObjectRemoved:Delete`.
    pub events: Vec<String>,
    /// Keys must start with this (empty: any).
    pub prefix: String,
    /// Keys must end with this (empty: any).
    pub suffix: String,
}
