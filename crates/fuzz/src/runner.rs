//! Running a fuzz target: case count and seed from the environment, a line saying
//! how much ran, and the smallest failing input when something breaks.

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseResult, TestError, TestRng, TestRunner};
use std::fmt::Debug;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Environment variable overriding every target's case count (the long mode).
pub const CASES_ENV: &str = "CAIRN_FUZZ_CASES";
/// Environment variable fixing the random seed, to replay a run.
pub const SEED_ENV: &str = "CAIRN_FUZZ_SEED";
/// Shrinking a failure stops after this many steps: enough to make a hostile input
/// readable, bounded so that a slow target still reports within minutes.
const SHRINK_ITERATIONS_MAX: u32 = 2_000;

/// The number of cases to run: `CAIRN_FUZZ_CASES` when set, else `default_cases`.
pub fn cases(default_cases: u32) -> u32 {
    match std::env::var(CASES_ENV) {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("{CASES_ENV}={text:?} is not a case count")),
        Err(_) => default_cases,
    }
}

/// The number of cases for a target whose case costs about `cost` cases of a pure
/// parser (a key derivation, a filesystem call, a request to a server):
/// `default_cases` normally, `CAIRN_FUZZ_CASES / cost` (at least one) in the long mode.
pub fn cases_costing(default_cases: u32, cost: u32) -> u32 {
    match std::env::var(CASES_ENV) {
        Ok(_) => (cases(default_cases) / cost.max(1)).max(1),
        Err(_) => default_cases,
    }
}

fn seed() -> u64 {
    match std::env::var(SEED_ENV) {
        Ok(text) => text.trim().parse().unwrap_or_else(|_| panic!("{SEED_ENV}={text:?} is not a u64")),
        Err(_) => {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            (nanos as u64) ^ ((nanos >> 64) as u64)
        }
    }
}

/// Spreads a 64-bit seed over the 32 bytes ChaCha wants (splitmix64).
fn seed_bytes(mut state: u64) -> [u8; 32] {
    let mut out = [0u8; 32];
    for chunk in out.chunks_exact_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

/// A runner seeded as [`run`] seeds its own, for targets that draw their inputs
/// themselves (to send several to a server at once), with the seed to print.
pub fn runner() -> (TestRunner, u64) {
    let seed = seed();
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed));
    (TestRunner::new_with_rng(Config { failure_persistence: None, ..Config::default() }, rng), seed)
}

/// Runs fuzz target `name`: `cases(default_cases)` inputs drawn from `strategy`, each
/// checked by `test` (which fails a case with `prop_assert!` or by panicking). Prints
/// `fuzz <name>: <n> cases in <s> s, seed <seed>`; on a failure, panics with the
/// smallest failing input found and the seed that replays the run.
pub fn run<S>(name: &str, default_cases: u32, strategy: S, test: impl Fn(S::Value) -> TestCaseResult)
where
    S: Strategy,
    S::Value: Debug,
{
    run_costing(name, default_cases, 1, strategy, test);
}

/// [`run`] for a target whose case costs about `cost` pure cases: the long mode runs
/// [`cases_costing`] of them.
pub fn run_costing<S>(name: &str, default_cases: u32, cost: u32, strategy: S, test: impl Fn(S::Value) -> TestCaseResult)
where
    S: Strategy,
    S::Value: Debug,
{
    let cases = cases_costing(default_cases, cost);
    let seed = seed();
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: SHRINK_ITERATIONS_MAX,
        // Hostile inputs are meant to be rejected; rejections count as cases.
        max_global_rejects: cases.saturating_mul(4),
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed)));
    let started = Instant::now();
    let result = runner.run(&strategy, test);
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(()) => eprintln!("fuzz {name}: {cases} cases in {seconds:.1} s, seed {seed}"),
        Err(TestError::Fail(reason, input)) => {
            panic!("fuzz {name} failed ({reason}); replay with {SEED_ENV}={seed}; smallest input: {input:?}")
        }
        Err(TestError::Abort(reason)) => panic!("fuzz {name} aborted: {reason} ({SEED_ENV}={seed})"),
    }
}
