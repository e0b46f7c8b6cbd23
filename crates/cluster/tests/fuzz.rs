//! Fuzz targets for what the cluster parses from outside: drive arguments (ellipses
//! and URLs, from the command line of every node) and RPC tokens (from any caller).
//! The MessagePack calls themselves are fuzzed inside the crate (`src/fuzz_tests.rs`)
//! and through a real server (`crates/cairn/tests/fuzz`). Case counts: `CAIRN_FUZZ_CASES`.

use cairn_cluster::TokenKey;
use cairn_cluster::ellipsis::expand;
use cairn_cluster::topology::{check_spread, parse};
use cairn_fuzz::memory::within;
use cairn_fuzz::mutate::mutated_text;
use proptest::prelude::*;

/// Cases per target in a normal test run.
const CASES: u32 = 4096;
/// Most drives one argument may expand to (`ellipsis.rs`).
const EXPANSION_COUNT_MAX: usize = 4096;
/// Memory an expansion may hold: its drives, each at most the argument plus 20
/// digits per range, and the working copies.
const EXPANSION_BYTES_MAX: usize = 64 << 20;

fn drive_arguments() -> Vec<String> {
    [
        "/data{1...4}",
        "/mnt/d{01...16}",
        "http://node{1...3}:9000/data{1...2}",
        "http://[::1]:9000/d{1...4}",
        "http://cairn-{0...2}.svc.cluster.local/export{1...2}",
        "http://127.0.0.1:9000/a",
        "./d{8...10}",
        "{0...18446744073709551615}",
        "{18446744073709551614...18446744073709551615}",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[test]
fn fuzz_ellipsis_expansion() {
    let arguments = prop_oneof![mutated_text(drive_arguments()), any::<String>(), "[{}.0-9a/]{0,24}"];
    cairn_fuzz::run("cluster_ellipsis", CASES, arguments, |argument| {
        let expanded = within(0, EXPANSION_BYTES_MAX, || expand(&argument))?;
        if let Ok(drives) = expanded {
            prop_assert!(!drives.is_empty() && drives.len() <= EXPANSION_COUNT_MAX, "{argument:?}: {}", drives.len());
            if !argument.contains('{') {
                prop_assert_eq!(drives, vec![argument]);
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_topology() {
    let arguments = proptest::collection::vec(prop_oneof![mutated_text(drive_arguments()), "\\PC{0,16}"], 1..4);
    let strategy = (arguments, any::<u16>(), 0usize..8, 1usize..17, 0usize..9);
    cairn_fuzz::run("cluster_topology", CASES, strategy, |(arguments, port, local, set_size, parity)| {
        let is_local = |host: &str, _port: u16| host.len() % 8 == local;
        let parsed = within(0, EXPANSION_BYTES_MAX * arguments.len(), || parse(&arguments, port, is_local))?;
        let Ok(topology) = parsed else { return Ok(()) };
        for (index, pool) in topology.pools.iter().enumerate() {
            let _ = check_spread(index, pool, set_size, parity);
            for endpoint in pool {
                // A URL names a folder on another node: it must not climb out of its path.
                let climbs = endpoint.path.split('/').any(|segment| segment == "..");
                prop_assert!(!(topology.distributed && climbs), "{endpoint:?}");
                prop_assert_eq!(endpoint.authority.is_some(), topology.distributed);
            }
        }
        let _ = topology.peers();
        Ok(())
    });
}

#[test]
fn fuzz_rpc_tokens() {
    const SCOPE: &str = "POST\n/cairn/rpc/v1/drive\n/data/d1\n";
    let key = TokenKey::new("admin", "secret-key").with_previous("old-admin", "old-secret");
    let issued = key.issue(SCOPE);
    let (time, nonce, token) = (issued.time.clone(), issued.nonce.clone(), issued.tokens.clone());
    let strategy = (
        mutated_text(vec![time.clone(), "0".into(), u64::MAX.to_string()]),
        mutated_text(vec![nonce.clone()]),
        mutated_text(vec![token.clone()]),
    );
    cairn_fuzz::run("cluster_tokens", CASES, strategy, |(sent_time, sent_nonce, sent_token)| {
        let size = sent_token.len() + sent_time.len() + sent_nonce.len();
        let accepted = within(size, 0, || key.verify(&sent_time, &sent_nonce, &sent_token, SCOPE).is_ok())?;
        if accepted {
            // Only the genuine triple, or one whose decoding ignores what the edits changed
            // (hex tokens are case-insensitive, the time may gain leading zeros), may pass.
            let time_value: u64 = sent_time.parse().map_err(|_| TestCaseError::fail("unparsable time accepted"))?;
            prop_assert_eq!(time_value.to_string(), time.clone(), "a token for another time was accepted");
            prop_assert_eq!(&sent_nonce, &nonce, "a token for another nonce was accepted");
            let genuine: Vec<Vec<u8>> = token.split(',').filter_map(|t| hex::decode(t).ok()).collect();
            let sent: Vec<Vec<u8>> = sent_token.split(',').take(2).filter_map(|t| hex::decode(t).ok()).collect();
            prop_assert!(sent.iter().any(|t| genuine.contains(t)), "a forged token was accepted: {sent_token:?}");
        }
        Ok(())
    });
}
