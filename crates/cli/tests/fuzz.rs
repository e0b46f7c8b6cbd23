//! Fuzz targets for what the client parses from its command line and configuration:
//! targets (`ALIAS/bucket/key` or a local path), alias names, endpoint URLs and the
//! configuration file. Nothing panics; a remote target names a known alias, a key
//! within S3's limit, and reads back as the same target from its display form.
//! Case counts: `CAIRN_FUZZ_CASES`.

use cairn_cli::config::{Alias, Config, check_alias_name, check_url};
use cairn_cli::target::{KEY_BYTES_MAX, Target};
use cairn_fuzz::mutate::{hostile, mutated_text};
use proptest::prelude::*;

/// Cases per target in a normal test run.
const CASES: u32 = 4096;
/// Aliases the targets may name.
const ALIASES: [&str; 3] = ["local", "play.min-io", "a_b"];

fn config(dir: &std::path::Path) -> Config {
    let mut config = Config::load(dir).expect("empty configuration");
    for name in ALIASES {
        let alias = Alias {
            url: "http://127.0.0.1:1".into(),
            access_key: "access".into(),
            secret_key: "secret".into(),
            region: "us-east-1".into(),
        };
        config.set(name, alias).expect("save alias");
    }
    config
}

fn target_texts() -> impl Strategy<Value = String> {
    let seeds = vec![
        "local/photos/2024/ü.jpg".to_owned(),
        "local".into(),
        "local/".into(),
        "play.min-io/b/dir/".into(),
        "a_b/bucket//double".into(),
        "./local/b".into(),
        "../x".into(),
        "/abs/path".into(),
        ".".into(),
        format!("local/b/{}", "k".repeat(KEY_BYTES_MAX)),
    ];
    prop_oneof![mutated_text(seeds), any::<String>()]
}

#[test]
fn fuzz_cli_targets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = config(dir.path());
    cairn_fuzz::run("cli_targets", CASES, target_texts(), |text| {
        match Target::parse(&config, &text) {
            Ok(Target::Remote(remote)) => {
                prop_assert!(ALIASES.contains(&remote.alias_name.as_str()), "{text:?}: {remote:?}");
                prop_assert!(remote.key.len() <= KEY_BYTES_MAX, "{text:?}");
                prop_assert!(remote.bucket.is_some() || remote.key.is_empty(), "{text:?}: a key without a bucket");
                let shown = remote.display();
                let Ok(Target::Remote(again)) = Target::parse(&config, &shown) else {
                    return Err(TestCaseError::fail(format!("{text:?} displays as {shown:?}, not a remote target")));
                };
                prop_assert_eq!(
                    (&again.alias_name, &again.bucket, &again.key),
                    (&remote.alias_name, &remote.bucket, &remote.key)
                );
            }
            Ok(Target::Local(path)) => prop_assert!(!path.as_os_str().is_empty(), "{text:?}"),
            Err(_) => {}
        }
        Ok(())
    });
}

#[test]
fn fuzz_cli_configuration() {
    let file = br#"{"version":1,"aliases":{"local":{"url":"http://127.0.0.1:9000","access_key":"a","secret_key":"s","region":"us-east-1"}}}"#;
    let strategy =
        (hostile(vec![file.to_vec()], 512), mutated_text(vec!["https://h:9000/".into(), "my-alias_1".into()]));
    // Each case writes and loads a configuration file: it costs about ten pure cases.
    cairn_fuzz::run_costing("cli_configuration", CASES / 4, 10, strategy, |(bytes, text)| {
        let _ = check_alias_name(&text);
        let _ = check_url(&text);
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("config.json"), &bytes).expect("write configuration");
        if let Ok(config) = Config::load(dir.path()) {
            for name in config.aliases().keys() {
                let _ = Target::parse(&config, &format!("{name}/b/k"));
            }
        }
        Ok(())
    });
}
