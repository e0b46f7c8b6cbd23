//! End-to-end tests: each starts the real `cairn` binary on 127.0.0.1 with an
//! ephemeral port and temporary drives, and talks to it with aws-sdk-s3.

mod abuse;
mod admin_config;
mod auth;
mod bitrot;
// Shared with `tests/cluster`, which uses all of it.
#[allow(dead_code)]
mod certs;
mod cli;
mod complete_retry;
mod compression;
mod conditional;
mod copy_source;
mod crash_commit;
mod dangling;
mod degraded;
mod durability;
mod encryption;
mod front_input;
mod harness;
mod heal;
mod hostile;
mod hung_drive;
mod listing;
mod listing_concurrent;
mod metrics;
mod multipart;
mod notify;
mod objects;
mod pools;
mod raw_client;
mod regions;
mod shutdown;
mod tls;
mod upgrade;
mod uploads;
mod webhook;
