//! `cairn encrypt set|info|clear` (a bucket's default encryption), `cairn stat` telling
//! how an object is encrypted, and `cairn admin kms status|rotate`, against a real
//! server with a master key.

use super::Cli;
use crate::harness::Server;

const MASTER_KEY: &str = "cli-key:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

#[tokio::test]
async fn cli_sets_default_encryption_and_reports_keys() {
    let server = Server::start_in(tempfile::tempdir().expect("temp dir"), 4, &[("CAIRN_KMS_SECRET_KEY", MASTER_KEY)]);
    let cli = Cli::with_alias("local", &server);
    cli.run(&["mb", "local/crm-quotes"]).ok();
    assert_eq!(cli.run(&["encrypt", "info", "local/crm-quotes"]).ok()[0]["encryption"], serde_json::Value::Null);
    cli.run(&["encrypt", "set", "sse-s3", "local/crm-quotes"]).ok();
    assert_eq!(cli.run(&["encrypt", "info", "local/crm-quotes"]).ok()[0]["encryption"], "sse-s3");
    assert_eq!(cli.run(&["encrypt", "set", "sse-kms", "local/crm-quotes"]).code, 1, "no KMS: refused");
    assert_eq!(cli.run(&["encrypt", "set", "rot13", "local/crm-quotes"]).code, 2, "unknown kind");

    let client = server.client();
    crate::harness::put(&client, "crm-quotes", "q.pdf", b"%PDF quote").await;
    assert_eq!(cli.run(&["stat", "local/crm-quotes/q.pdf"]).ok()[0]["encryption"], "SSE-S3");
    cli.run(&["encrypt", "clear", "local/crm-quotes"]).ok();
    crate::harness::put(&client, "crm-quotes", "later.pdf", b"%PDF later").await;
    assert_eq!(cli.run(&["stat", "local/crm-quotes/later.pdf"]).ok()[0]["encryption"], serde_json::Value::Null);

    let info = cli.run(&["admin", "info", "local"]).ok();
    assert_eq!(info[0]["kms"]["defaultKeyID"], "cli-key", "{info:?}");
    let status = cli.run(&["admin", "kms", "status", "local"]).ok();
    assert_eq!(status[0]["defaultKeyID"], "cli-key");
    let rotated = cli.run(&["admin", "kms", "rotate", "local"]).ok();
    assert_eq!((rotated[0]["resealed"].as_u64(), rotated[0]["versions"].as_u64()), (Some(0), Some(2)));
}
