//! Structure-aware inputs: valid inputs (seeds) with a few mutations applied, the
//! way coverage-guided fuzzers mutate their corpus. A mutated record keeps most of
//! its structure, so it gets past the first checks of a parser and reaches the code
//! behind them, which purely random bytes rarely do.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};

/// Bytes worth writing over others: limits of signed and unsigned bytes, MessagePack
/// markers of 32-bit lengths (str, bin, array, map, ext), and delimiters of the text
/// formats (JSON, XML, HTTP, query strings, ellipses, paths).
const INTERESTING_BYTES: &[u8] = &[
    0x00, 0x01, 0x7f, 0x80, 0xff, 0xc0, 0xc1, 0xc6, 0xc9, 0xdb, 0xdd, 0xdf, b'{', b'}', b'[', b']', b'"', b'<', b'>',
    b'&', b'\\', b'\r', b'\n', b':', b';', b',', b'=', b'%', b'/', b'.', b'*', b'?', b'$', b'-', b'0', b'9',
];

/// Byte strings worth inserting: lengths that claim 4 GiB in MessagePack, escapes,
/// path traversal, huge numbers, nested openings, CRLFs.
const INTERESTING_CHUNKS: &[&[u8]] = &[
    &[0xdd, 0xff, 0xff, 0xff, 0xff],
    &[0xc6, 0xff, 0xff, 0xff, 0xff],
    &[0xdb, 0xff, 0xff, 0xff, 0xff],
    &[0xdf, 0xff, 0xff, 0xff, 0xff],
    &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    b"../",
    b"/..",
    b"//",
    b"\\u0000",
    b"%00",
    b"%2F..%2F",
    b"18446744073709551615",
    b"-9223372036854775809",
    b"1e999",
    b"ffffffff",
    b"[[[[[[[[[[[[[[[[",
    b"{\"a\":{\"a\":{\"a\":",
    b"<a><a><a><a>",
    b"<!DOCTYPE x [<!ENTITY a \"aaaa\">]>",
    b"&a;&amp;&#0;&#x110000;",
    b"\r\n\r\n",
    b"{0...4294967295}",
    b"{1...",
    b"\xf0\x9f\x92\xa9",
    b"\xc3\x28",
];

/// One edit of a byte string. Positions are [`Index`]es, scaled to the length of the
/// bytes at the time the edit is applied.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flips one bit.
    FlipBit(Index, u8),
    /// Overwrites one byte.
    SetByte(Index, u8),
    /// Inserts bytes.
    Insert(Index, Vec<u8>),
    /// Removes up to this many bytes.
    Delete(Index, usize),
    /// Cuts the input short.
    Truncate(Index),
    /// Copies a stretch of the input to another place (repeats structure).
    Duplicate { from: Index, len: usize, to: Index },
    /// Replaces the tail with the tail of another seed (mixes two valid inputs).
    Splice { seed: Index, from: Index, to: Index },
}

fn position(index: &Index, len: usize) -> usize {
    if len == 0 { 0 } else { index.index(len + 1).min(len) }
}

impl Mutation {
    /// Applies this edit to `bytes`; `seeds` supplies the other half of a splice.
    pub fn apply(&self, bytes: &mut Vec<u8>, seeds: &[Vec<u8>]) {
        let len = bytes.len();
        match self {
            Mutation::FlipBit(at, bit) if len > 0 => bytes[at.index(len)] ^= 1 << (bit % 8),
            Mutation::SetByte(at, value) if len > 0 => bytes[at.index(len)] = *value,
            Mutation::Insert(at, chunk) => {
                let at = position(at, len);
                bytes.splice(at..at, chunk.iter().copied());
            }
            Mutation::Delete(at, count) => {
                let at = position(at, len);
                let end = at.saturating_add(*count).min(len);
                bytes.drain(at..end);
            }
            Mutation::Truncate(at) => bytes.truncate(position(at, len)),
            Mutation::Duplicate { from, len: count, to } => {
                let from = position(from, len);
                let end = from.saturating_add(*count).min(len);
                let chunk = bytes[from..end].to_vec();
                let to = position(to, len);
                bytes.splice(to..to, chunk);
            }
            Mutation::Splice { seed, from, to } if !seeds.is_empty() => {
                let other = &seeds[seed.index(seeds.len())];
                bytes.truncate(position(to, len));
                bytes.extend_from_slice(&other[position(from, other.len())..]);
            }
            _ => {}
        }
    }
}

fn inserted_chunk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 1..16),
        select(INTERESTING_CHUNKS).prop_map(<[u8]>::to_vec),
        (select(INTERESTING_BYTES), 1usize..64).prop_map(|(byte, count)| vec![byte; count]),
    ]
}

/// One random edit.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), any::<u8>()).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        3 => (any::<Index>(), prop_oneof![select(INTERESTING_BYTES), any::<u8>()])
            .prop_map(|(at, value)| Mutation::SetByte(at, value)),
        3 => (any::<Index>(), inserted_chunk()).prop_map(|(at, chunk)| Mutation::Insert(at, chunk)),
        2 => (any::<Index>(), 1usize..32).prop_map(|(at, count)| Mutation::Delete(at, count)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 1usize..64, any::<Index>())
            .prop_map(|(from, len, to)| Mutation::Duplicate { from, len, to }),
        1 => (any::<Index>(), any::<Index>(), any::<Index>())
            .prop_map(|(seed, from, to)| Mutation::Splice { seed, from, to }),
    ]
}

/// One of `seeds` with 1 to 8 random edits (the seed itself, unedited, one time in 16).
pub fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    assert!(!seeds.is_empty(), "mutation needs at least one valid input");
    let choices = seeds.clone();
    (select(choices), prop_oneof![1 => Just(Vec::new()), 15 => vec(mutation(), 1..=8)]).prop_map(
        move |(seed, edits)| {
            let mut bytes = seed;
            for edit in &edits {
                edit.apply(&mut bytes, &seeds);
            }
            bytes
        },
    )
}

/// [`mutated`] for text: the edited bytes as a string (invalid UTF-8 replaced).
pub fn mutated_text(seeds: Vec<String>) -> impl Strategy<Value = String> {
    mutated(seeds.into_iter().map(String::into_bytes).collect())
        .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Arbitrary bytes or a mutated seed, half and half: the input of most targets.
pub fn hostile(seeds: Vec<Vec<u8>>, len_max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 0..len_max), mutated(seeds)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn edits_stay_within_the_input() {
        let seeds = vec![b"{\"Version\":\"2012-10-17\"}".to_vec(), Vec::new(), b"x".to_vec()];
        let mut runner = TestRunner::deterministic();
        let strategy = mutated(seeds);
        let mut changed = 0;
        for _ in 0..2_000 {
            let value = strategy.new_tree(&mut runner).expect("a value").current();
            if value != b"{\"Version\":\"2012-10-17\"}" {
                changed += 1;
            }
        }
        assert!(changed > 1_000, "most inputs are edited: {changed}");
    }
}
