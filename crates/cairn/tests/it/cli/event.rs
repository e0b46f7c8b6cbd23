//! `cairn event add|ls|rm` and a webhook target set with `cairn admin config set`:
//! the token is redacted in `get` and `export`, an export imports back with the token
//! kept, and events flow to the endpoint until the rule is removed.

use super::Cli;
use crate::harness::{Server, put};
use crate::webhook::Webhook;

const ARN: &str = "arn:minio:sqs::crm:webhook";

#[tokio::test(flavor = "multi_thread")]
async fn cli_manages_targets_and_rules() {
    let webhook = Webhook::start();
    let server = Server::start(4);
    let cli = Cli::with_alias("local", &server);
    let endpoint = format!("endpoint={}", webhook.url());
    cli.run(&["admin", "config", "set", "local", "notify_webhook:crm", &endpoint, "auth_token=cli-s3cret"]).ok();
    let got = cli.run(&["admin", "config", "get", "local", "notify_webhook"]).ok();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["subsystem"], "notify_webhook:crm");
    assert_eq!(got[0]["settings"]["auth_token"], "*redacted*");
    let exported =
        cli.run(&["admin", "config", "export", "local"]).ok()[0]["config"].as_str().expect("text").to_owned();
    assert!(!exported.contains("cli-s3cret") && exported.contains("auth_token=*redacted*"), "{exported}");
    // The export imports back, and the token it redacts is kept.
    assert_eq!(crate::admin_config::import(&server.endpoint, &exported), 200);

    cli.run(&["mb", "local/crm-quotes"]).ok();
    cli.run(&["event", "add", "local/crm-quotes", ARN, "--event", "put", "--suffix", ".pdf"]).ok();
    let listed = cli.run(&["event", "ls", "local/crm-quotes"]).ok();
    let rules = listed[0]["rules"].as_array().expect("rules").clone();
    assert_eq!(rules.len(), 1, "{listed:?}");
    assert_eq!((rules[0]["arn"].as_str(), rules[0]["suffix"].as_str()), (Some(ARN), Some(".pdf")));
    assert_eq!(rules[0]["events"][0], "s3:ObjectCreated:*");
    assert_eq!(cli.run(&["event", "add", "local/crm-quotes", "arn:minio:sqs::nope:webhook"]).code, 1, "unknown target");
    assert_eq!(cli.run(&["event", "add", "local/crm-quotes", ARN, "--event", "sideways"]).code, 2);

    let client = server.client();
    put(&client, "crm-quotes", "q-1.pdf", b"%PDF quote").await;
    put(&client, "crm-quotes", "q-1.txt", b"not a pdf").await;
    let received = webhook.wait_for(1).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].key(), "q-1.pdf");
    assert_eq!(received[0].authorization.as_deref(), Some("Bearer cli-s3cret"), "the imported token was kept");

    assert_eq!(cli.run(&["event", "rm", "local/crm-quotes"]).code, 2, "an ARN or --force");
    assert_eq!(cli.run(&["event", "rm", "local/crm-quotes", ARN]).ok()[0]["removed"], 1);
    assert!(cli.run(&["event", "ls", "local/crm-quotes"]).ok()[0]["rules"].as_array().expect("rules").is_empty());
    put(&client, "crm-quotes", "q-2.pdf", b"%PDF later").await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(webhook.received().len(), 1, "no rule, no event");
}
