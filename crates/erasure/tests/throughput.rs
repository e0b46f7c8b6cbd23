//! Rough single-core throughput of the PUT/GET hot path with 1 MiB blocks.
//! Ignored by default; run with
//! `cargo test -p cairn-erasure --release --test throughput -- --ignored --nocapture`.

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use cairn_erasure::Erasure;

/// Block size of the measurement, in bytes (Cairn's default block size).
const BLOCK_SIZE_BYTES: usize = 1 << 20;
/// Blocks encoded (and decoded) per layout.
const ROUNDS: usize = 200;

fn mib_per_s(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / (1 << 20) as f64 / secs
}

#[test]
#[ignore = "timing, run by hand in release mode"]
fn encode_decode_throughput_1mib() {
    let block: Vec<u8> = (0..BLOCK_SIZE_BYTES).map(|i| (i.wrapping_mul(31) >> 3) as u8).collect();
    for (data, parity) in [(2, 2), (2, 1), (4, 2), (1, 1)] {
        let erasure = Erasure::new(data, parity, BLOCK_SIZE_BYTES).expect("valid layout");

        let start = Instant::now();
        let mut frames = Vec::new();
        for _ in 0..ROUNDS {
            frames = black_box(erasure.encode_block(black_box(&block)).expect("encode"));
        }
        let encode = start.elapsed().as_secs_f64();

        let all: Vec<Option<Bytes>> = frames.iter().cloned().map(Some).collect();
        let start = Instant::now();
        for _ in 0..ROUNDS {
            black_box(erasure.decode_block(black_box(&all), BLOCK_SIZE_BYTES).expect("decode"));
        }
        let fast = start.elapsed().as_secs_f64();

        let mut degraded = all.clone();
        degraded[0] = None;
        let start = Instant::now();
        for _ in 0..ROUNDS {
            black_box(erasure.decode_block(black_box(&degraded), BLOCK_SIZE_BYTES).expect("decode"));
        }
        let slow = start.elapsed().as_secs_f64();

        println!(
            "{data}+{parity}: encode {:.0} MiB/s, decode (all shards) {:.0} MiB/s, \
             decode (shard 0 lost) {:.0} MiB/s",
            mib_per_s(ROUNDS * BLOCK_SIZE_BYTES, encode),
            mib_per_s(ROUNDS * BLOCK_SIZE_BYTES, fast),
            mib_per_s(ROUNDS * BLOCK_SIZE_BYTES, slow),
        );
    }
}
