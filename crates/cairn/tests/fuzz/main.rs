//! Fuzzing through the real server: the parsers that live inside s3s (SigV4 headers
//! and presigned queries, aws-chunked framing and trailers, XML bodies) and Cairn's
//! own request handling, the admin and metrics endpoints, and node RPC, fed valid
//! requests with random edits over raw TCP. In-process fuzz targets of each parser
//! live in their crates (`tests/fuzz.rs`, `src/fuzz_tests.rs`); `scripts/fuzz.sh`
//! runs them all in the long mode (`CAIRN_FUZZ_CASES`).
//!
//! Run with `cargo test -p cairn --test fuzz`.

// The single-node harness is shared with `tests/it`; this target uses only part of it.
#[allow(dead_code)]
#[path = "../it/harness.rs"]
mod harness;

mod raw;
mod rpc;
mod s3;
mod server;
mod sign;
