//! Property tests: for random layouts, block sizes and contents, any loss or
//! rot of up to `parity` shards is survived exactly, one more is reported as
//! `TooFewShards`, and healing reproduces the original frames byte for byte.

use bytes::Bytes;
use cairn_erasure::{BITROT_HASH_BYTES, Erasure, ErasureError};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, subsequence};

/// Largest block size tried; big enough for multi-chunk shards (the codec
/// works in 64-byte chunks), small enough to keep the suite at a few seconds.
const MAX_BLOCK_SIZE_BYTES: usize = 4096;

/// One random layout and block.
#[derive(Debug, Clone)]
struct Case {
    erasure: Erasure,
    block: Vec<u8>,
}

/// Layouts with 1..=8 data and 0..=4 parity shards, and a block of 1 byte,
/// exactly a full block, or anything in between.
fn case() -> impl Strategy<Value = Case> {
    (1usize..=8, 0usize..=4, 1usize..=MAX_BLOCK_SIZE_BYTES).prop_flat_map(|(data, parity, block_size)| {
        let erasure = Erasure::new(data, parity, block_size).expect("strategy yields valid layouts");
        prop_oneof![Just(1), Just(block_size), 1..=block_size]
            .prop_flat_map(|len| vec(any::<u8>(), len))
            .prop_map(move |block| Case { erasure, block })
    })
}

/// How one shard is damaged.
#[derive(Debug, Clone)]
enum Damage {
    /// The frame could not be read at all.
    Drop,
    /// One byte (hash or shard) is XORed with a non-zero mask.
    Flip(Index, u8),
    /// The frame is cut short (possibly to nothing).
    Truncate(Index),
}

fn rot() -> BoxedStrategy<Damage> {
    prop_oneof![
        3 => (any::<Index>(), 1u8..=255).prop_map(|(at, mask)| Damage::Flip(at, mask)),
        1 => any::<Index>().prop_map(Damage::Truncate),
    ]
    .boxed()
}

fn loss_or_rot() -> BoxedStrategy<Damage> {
    prop_oneof![Just(Damage::Drop), rot()].boxed()
}

fn damage(frame: &Bytes, how: &Damage) -> Option<Bytes> {
    match how {
        Damage::Drop => None,
        Damage::Flip(at, mask) => {
            let mut bad = frame.to_vec();
            bad[at.index(frame.len())] ^= mask;
            Some(bad.into())
        }
        Damage::Truncate(at) => Some(frame.slice(..at.index(frame.len()))),
    }
}

/// A case plus `damaged`: the shard indices to damage and how, ascending.
fn damaged_case(
    count: impl Fn(&Erasure) -> std::ops::RangeInclusive<usize> + Clone + 'static,
    how: BoxedStrategy<Damage>,
) -> impl Strategy<Value = (Case, Vec<(usize, Damage)>)> {
    case().prop_flat_map(move |case| {
        let total = case.erasure.total_shards();
        let picked = subsequence((0..total).collect::<Vec<_>>(), count(&case.erasure));
        let hows = vec(how.clone(), total);
        (Just(case), picked, hows).prop_map(|(case, picked, hows)| {
            let damaged = picked.into_iter().zip(hows).collect();
            (case, damaged)
        })
    })
}

fn apply(frames: &[Bytes], damaged: &[(usize, Damage)]) -> Vec<Option<Bytes>> {
    let mut framed: Vec<Option<Bytes>> = frames.iter().cloned().map(Some).collect();
    for (index, how) in damaged {
        framed[*index] = damage(&frames[*index], how);
    }
    framed
}

fn indices(damaged: &[(usize, Damage)], dropped: bool) -> Vec<usize> {
    damaged.iter().filter(|(_, how)| matches!(how, Damage::Drop) == dropped).map(|(index, _)| *index).collect()
}

/// Decodes and heals `case` after `damaged` and checks everything comes back.
fn assert_survives(case: &Case, damaged: &[(usize, Damage)]) -> Result<(), TestCaseError> {
    let Case { erasure, block } = case;
    let frames = erasure.encode_block(block).expect("encode");
    prop_assert_eq!(frames.len(), erasure.total_shards());
    let framed = apply(&frames, damaged);

    let decoded = erasure.decode_block(&framed, block.len()).expect("decode within parity");
    prop_assert_eq!(&decoded.data[..], &block[..]);
    prop_assert_eq!(decoded.missing, indices(damaged, true));
    prop_assert_eq!(decoded.corrupt, indices(damaged, false));
    let data_hit = damaged.iter().any(|(index, _)| *index < erasure.data_shards());
    prop_assert_eq!(decoded.reconstructed, data_hit);

    let healed = erasure.reconstruct_all(&framed, block.len()).expect("heal within parity");
    prop_assert_eq!(healed, frames);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn survives_dropping_up_to_parity_shards(
        (case, damaged) in damaged_case(|e| 0..=e.parity_shards(), Just(Damage::Drop).boxed())
    ) {
        assert_survives(&case, &damaged)?;
    }

    #[test]
    fn survives_rotting_up_to_parity_shards(
        (case, damaged) in damaged_case(|e| 0..=e.parity_shards(), rot())
    ) {
        assert_survives(&case, &damaged)?;
    }

    #[test]
    fn survives_mixed_loss_and_rot_up_to_parity(
        (case, damaged) in damaged_case(
            |e| 0..=e.parity_shards(),
            loss_or_rot(),
        )
    ) {
        assert_survives(&case, &damaged)?;
    }

    #[test]
    fn one_more_than_parity_is_too_few(
        (case, damaged) in damaged_case(
            |e| e.parity_shards() + 1..=e.parity_shards() + 1,
            loss_or_rot(),
        )
    ) {
        let Case { erasure, block } = &case;
        let frames = erasure.encode_block(block).expect("encode");
        let framed = apply(&frames, &damaged);
        let expected = ErasureError::TooFewShards {
            needed: erasure.data_shards(),
            available: erasure.data_shards() - 1,
        };
        prop_assert_eq!(erasure.decode_block(&framed, block.len()), Err(expected.clone()));
        prop_assert_eq!(erasure.reconstruct_all(&framed, block.len()), Err(expected));
    }

    #[test]
    fn frames_are_sized_and_data_shards_are_the_block(case in case()) {
        let Case { erasure, block } = &case;
        let frames = erasure.encode_block(block).expect("encode");
        let shard_len = erasure.shard_len(block.len());
        prop_assert_eq!(shard_len % 2, 0);
        prop_assert!(shard_len * erasure.data_shards() >= block.len());
        for frame in &frames {
            prop_assert_eq!(frame.len(), erasure.frame_len(block.len()));
        }
        // Data shards are the block itself, zero-padded: no transform on the
        // fast read path.
        let mut joined = Vec::new();
        for frame in &frames[..erasure.data_shards()] {
            joined.extend_from_slice(&frame[BITROT_HASH_BYTES..]);
        }
        prop_assert_eq!(&joined[..block.len()], &block[..]);
        prop_assert!(joined[block.len()..].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_block_in_pieces_encodes_like_the_whole_block(
        case in case(),
        cuts in vec(any::<Index>(), 0..8),
    ) {
        let Case { erasure, block } = &case;
        let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut.index(block.len() + 1)).collect();
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain([block.len()]) {
            pieces.push(&block[start..cut]);
            start = cut;
        }
        prop_assert_eq!(erasure.encode_pieces(&pieces).expect("encode"), erasure.encode_block(block).expect("encode"));
    }

    #[test]
    fn shard_file_size_is_sum_of_frame_lens(
        (data, parity, block_size) in (1usize..=8, 0usize..=4, 1usize..=1 << 20),
        part_size in 0u64..=64 << 20,
    ) {
        let erasure = Erasure::new(data, parity, block_size).expect("valid layout");
        let block = block_size as u64;
        let full = part_size / block;
        let tail = (part_size % block) as usize;
        let mut expected = full * erasure.frame_len(block_size) as u64;
        if tail > 0 {
            expected += erasure.frame_len(tail) as u64;
            prop_assert_eq!(erasure.frame_offset(full) + erasure.frame_len(tail) as u64, expected);
        }
        prop_assert_eq!(erasure.shard_file_size(part_size), expected);
    }
}
