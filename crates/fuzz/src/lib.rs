//! `cairn-fuzz`: what every fuzz target of the workspace shares. Test-only: crates
//! list it under `[dev-dependencies]`, never as a dependency of the server.
//!
//! A fuzz target is a property test that feeds a parser arbitrary bytes and
//! structure-aware inputs (valid inputs with bytes flipped, cut, repeated or spliced,
//! see [`mutate`]) and checks that nothing panics, that memory stays bounded (see
//! [`memory`]) and whatever the target adds (round trips, paths inside their folder).
//!
//! Targets run with [`run`], which takes its case count from `CAIRN_FUZZ_CASES`
//! (default: each target's own, small enough for CI; targets whose cases are costly
//! divide it, see [`cases_costing`]) and its seed from `CAIRN_FUZZ_SEED` (default:
//! random, printed), and prints how many cases ran.
//! `scripts/fuzz.sh` runs every target in the long mode.
//!
//! Linking this crate installs a counting global allocator in the test binary.

pub mod memory;
pub mod mutate;
mod runner;

pub use runner::{CASES_ENV, SEED_ENV, cases, cases_costing, run, run_costing, runner};
