//! End-to-end tests of a three-node cluster: each test starts three real `cairn`
//! processes on 127.0.0.1, .2 and .3 (one drive each, EC 2+1), injects faults by
//! killing, pausing, restarting or wiping nodes, and checks through aws-sdk-s3 that
//! every acknowledged write reads back byte for byte from any node.
//!
//! Run with `cargo test -p cairn --test cluster`. The tests take turns (see
//! `nodes::SERIAL`), so running them with several test threads is safe.

// The single-node harness is shared with `tests/it`; this target uses only part of it.
#[allow(dead_code)]
#[path = "../it/certs.rs"]
mod certs;
#[allow(dead_code)]
#[path = "../it/harness.rs"]
mod harness;

#[allow(dead_code)]
#[path = "../it/webhook.rs"]
mod webhook;

mod nodes;
mod util;
mod workload;

mod compression;
mod credentials;
mod failover;
mod fencing;
mod heal_everywhere;
mod healing;
mod hung_peer;
mod identities;
mod ilm;
mod listing;
mod locks;
mod node_death;
mod notify;
mod operate;
mod quorum;
mod rotation;
mod rpc_auth;
mod slow_peer;
mod tags;
mod tls;
mod versions;
