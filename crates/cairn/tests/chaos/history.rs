//! The history of every operation and the checker that judges each read against it.
//!
//! Model: each key is a register. A mutation (write or delete) takes effect at one moment
//! between its start and its end; a read returns the value at one moment between its own
//! start and end. A read may therefore return the value of any mutation `m` that started
//! before the read ended, unless an acknowledged mutation started after `m` had ended and
//! itself ended before the read started (then `m` was certainly replaced). The initial
//! value is "absent". Only acknowledged mutations replace anything; a failed one may or
//! may not have happened: if the server answered, before its answer; if not (timeout,
//! dropped connection, killed node), at any moment until its round settled (every
//! process restarted or resumed, every request returned, healing done).
//!
//! Verdicts: a read that finds nothing where an acknowledged write must be visible is
//! *lost*; a read of bytes that are not a candidate's (garbage, a mix of two writes, a
//! write that an acknowledged write or delete had replaced, a wrong length) is *wrong*;
//! a listed key without a candidate write of the listed size is *wrong* (a listing must
//! never show what cannot be read); a key left out of a listing although every
//! candidate is a write is an *omission* (reported, not a failure: see the docs).

use crate::body::{Attribution, matches};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// What a mutation does to its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Write `id` stores a body of `len` bytes.
    Write {
        id: u64,
        len: u64,
    },
    Delete,
}

/// How a mutation ended, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged at this moment: it happened.
    Acked(Instant),
    /// Refused with an answer at this moment: it may have happened, before then.
    Refused(Instant),
    /// No answer: it may have happened at any moment until its round settled.
    Unknown,
}

#[derive(Debug, Clone)]
pub struct Mutation {
    pub key: String,
    pub effect: Effect,
    pub start: Instant,
    pub outcome: Outcome,
    /// The round it ran in, whose settling bounds an [`Outcome::Unknown`].
    pub round: usize,
    /// What the client did, for messages (e.g. `PUT 3 MiB via node 2`).
    pub label: String,
}

/// What a GET returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// 404.
    Absent,
    /// Bytes from `offset` of an object of `total` bytes.
    Bytes { offset: u64, total: u64, attribution: Attribution },
    /// 416: the object exists and is at most `start` bytes long.
    RangeBeyond { start: u64 },
}

#[derive(Debug, Clone)]
pub struct Read {
    pub key: String,
    pub start: Instant,
    pub end: Instant,
    pub observed: Observed,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct Listing {
    pub start: Instant,
    pub end: Instant,
    /// Key and size of every listed object.
    pub entries: Vec<(String, u64)>,
    /// Whether this lists the whole bucket (then a missing key is an omission) or
    /// names some objects only (a HEAD that found one).
    pub complete: bool,
    pub label: String,
}

/// Violations found by one check.
#[derive(Debug, Default)]
pub struct Verdicts {
    pub lost: Vec<String>,
    pub wrong: Vec<String>,
    pub omissions: Vec<String>,
    pub reads_checked: usize,
    pub listings_checked: usize,
}

/// A value a read may legitimately return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Candidate {
    Absent,
    Write { id: u64, len: u64 },
}

#[derive(Default)]
pub struct History {
    /// Every mutation, per key, in the order they were recorded.
    mutations: HashMap<String, Vec<Mutation>>,
    /// Write id -> (key, length), for attributing bytes.
    writes: HashMap<u64, (String, u64)>,
    /// When each round settled; a round absent here has not.
    settled: BTreeMap<usize, Instant>,
    /// Reads and listings not yet checked.
    reads: Vec<Read>,
    listings: Vec<Listing>,
}

impl History {
    pub fn record_mutation(&mut self, mutation: Mutation) {
        if let Effect::Write { id, len } = mutation.effect {
            self.writes.insert(id, (mutation.key.clone(), len));
        }
        self.mutations.entry(mutation.key.clone()).or_default().push(mutation);
    }

    pub fn record_read(&mut self, read: Read) {
        self.reads.push(read);
    }

    pub fn record_listing(&mut self, listing: Listing) {
        self.listings.push(listing);
    }

    /// Marks `round` settled: its unanswered mutations can no longer take effect after `at`.
    pub fn settle(&mut self, round: usize, at: Instant) {
        self.settled.insert(round, at);
    }

    /// Every key any mutation touched.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.mutations.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// Acknowledged mutations so far: (writes, deletes).
    pub fn acked(&self) -> (usize, usize) {
        let acked = self.mutations.values().flatten().filter(|m| matches!(m.outcome, Outcome::Acked(_)));
        acked.fold((0, 0), |(w, d), m| match m.effect {
            Effect::Write { .. } => (w + 1, d),
            Effect::Delete => (w, d + 1),
        })
    }

    /// The latest moment `mutation` may take effect; `None` while that is unbounded.
    fn latest_effect(&self, mutation: &Mutation) -> Option<Instant> {
        match mutation.outcome {
            Outcome::Acked(end) | Outcome::Refused(end) => Some(end),
            Outcome::Unknown => self.settled.get(&mutation.round).copied(),
        }
    }

    /// The values a read of `key` running from `start` to `end` may return.
    fn candidates(&self, key: &str, start: Instant, end: Instant) -> Vec<Candidate> {
        let mutations = self.mutations.get(key).map(Vec::as_slice).unwrap_or_default();
        // The latest start of an acknowledged mutation that ended before the read began:
        // everything that certainly ended before that start is replaced.
        let replaced_before = mutations
            .iter()
            .filter_map(|m| match m.outcome {
                Outcome::Acked(acked) if acked < start => Some(m.start),
                _ => None,
            })
            .max();
        let mut out = Vec::new();
        if replaced_before.is_none() {
            out.push(Candidate::Absent);
        }
        for mutation in mutations.iter().filter(|m| m.start < end) {
            let replaced = match (replaced_before, self.latest_effect(mutation)) {
                (Some(replacement), Some(latest)) => latest < replacement,
                _ => false,
            };
            if !replaced {
                out.push(match mutation.effect {
                    Effect::Write { id, len } => Candidate::Write { id, len },
                    Effect::Delete => Candidate::Absent,
                });
            }
        }
        out
    }

    /// Why a read of `key` that started at `start` must have seen a write (for messages).
    fn required(&self, key: &str, start: Instant) -> String {
        let latest = self
            .mutations
            .get(key)
            .into_iter()
            .flatten()
            .filter(|m| matches!(m.outcome, Outcome::Acked(acked) if acked < start))
            .max_by_key(|m| m.start);
        match latest {
            Some(m) => format!("last acknowledged before the read: {:?} ({})", m.effect, m.label),
            None => "nothing was acknowledged before the read".to_owned(),
        }
    }

    /// Judges every read and listing recorded since the last check.
    pub fn check(&mut self) -> Verdicts {
        let mut verdicts = Verdicts::default();
        for read in std::mem::take(&mut self.reads) {
            self.check_read(&read, &mut verdicts);
            verdicts.reads_checked += 1;
        }
        for listing in std::mem::take(&mut self.listings) {
            self.check_listing(&listing, &mut verdicts);
            verdicts.listings_checked += 1;
        }
        verdicts
    }

    fn check_read(&self, read: &Read, verdicts: &mut Verdicts) {
        let candidates = self.candidates(&read.key, read.start, read.end);
        let writes = || {
            candidates
                .iter()
                .filter_map(|c| if let Candidate::Write { id, len } = c { Some((*id, *len)) } else { None })
        };
        let problem = match &read.observed {
            Observed::Absent if candidates.contains(&Candidate::Absent) => return,
            Observed::Absent => {
                let why = self.required(&read.key, read.start);
                verdicts.lost.push(format!("{}: {} is missing; {why}", read.label, read.key));
                return;
            }
            Observed::RangeBeyond { start } if writes().any(|(_, len)| len <= *start) => return,
            Observed::RangeBeyond { start } => format!("416 for a range from {start}, no candidate is that short"),
            Observed::Bytes { attribution: Attribution::Foreign(what), .. } => format!("bytes nobody wrote: {what}"),
            Observed::Bytes { offset, total, attribution: Attribution::Short(bytes) } => {
                if writes().any(|(id, len)| len == *total && matches(id, *offset, bytes)) {
                    return;
                }
                format!("{} bytes at {offset} of {total} match no candidate write", bytes.len())
            }
            Observed::Bytes { total, attribution: Attribution::Write(id), .. } => match self.writes.get(id) {
                None => format!("bytes of write {id}, which was never made"),
                Some((key, _)) if *key != read.key => format!("bytes of write {id}, which wrote key {key}"),
                Some((_, len)) if len != total => format!("write {id} wrote {len} bytes, the object has {total}"),
                Some(_) if writes().any(|(candidate, _)| candidate == *id) => return,
                Some(_) => format!("write {id} had been replaced; {}", self.required(&read.key, read.start)),
            },
        };
        verdicts.wrong.push(format!("{}: {}: {problem}; candidates {candidates:?}", read.label, read.key));
    }

    fn check_listing(&self, listing: &Listing, verdicts: &mut Verdicts) {
        let listed: HashMap<&str, u64> = listing.entries.iter().map(|(key, size)| (key.as_str(), *size)).collect();
        for (key, size) in &listing.entries {
            let candidates = self.candidates(key, listing.start, listing.end);
            let readable = candidates.iter().any(|c| matches!(c, Candidate::Write { len, .. } if len == size));
            if !readable {
                verdicts.wrong.push(format!(
                    "{}: lists {key} ({size} bytes) but no write of that size may be there; candidates {candidates:?}",
                    listing.label
                ));
            }
        }
        if !listing.complete {
            return;
        }
        for key in self.mutations.keys().filter(|key| !listed.contains_key(key.as_str())) {
            let candidates = self.candidates(key, listing.start, listing.end);
            if !candidates.contains(&Candidate::Absent) {
                verdicts.omissions.push(format!("{}: {key} not listed; candidates {candidates:?}", listing.label));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{attribute, body};
    use std::time::Duration;

    /// `n` milliseconds after a fixed origin.
    fn at(origin: Instant, n: u64) -> Instant {
        origin + Duration::from_millis(n)
    }

    fn write(origin: Instant, id: u64, span: (u64, u64), outcome: Option<bool>) -> Mutation {
        let end = at(origin, span.1);
        Mutation {
            key: "k".into(),
            effect: Effect::Write { id, len: 64 },
            start: at(origin, span.0),
            outcome: match outcome {
                Some(true) => Outcome::Acked(end),
                Some(false) => Outcome::Refused(end),
                None => Outcome::Unknown,
            },
            round: 0,
            label: format!("write {id}"),
        }
    }

    fn read_of(origin: Instant, id: Option<u64>, span: (u64, u64)) -> Read {
        let observed = match id {
            Some(id) => Observed::Bytes { offset: 0, total: 64, attribution: attribute(&body(id, 64), 0) },
            None => Observed::Absent,
        };
        Read { key: "k".into(), start: at(origin, span.0), end: at(origin, span.1), observed, label: "read".into() }
    }

    fn verdict(history: &mut History, read: Read) -> (usize, usize) {
        history.record_read(read);
        let verdicts = history.check();
        (verdicts.lost.len(), verdicts.wrong.len())
    }

    #[test]
    fn reads_see_the_last_acknowledged_write_or_an_overlapping_one() {
        let origin = Instant::now();
        let mut history = History::default();
        history.record_mutation(write(origin, 1, (0, 10), Some(true)));
        history.record_mutation(write(origin, 2, (20, 40), Some(true)));
        history.record_mutation(write(origin, 3, (30, 50), Some(true)));
        assert_eq!(verdict(&mut history, read_of(origin, Some(1), (11, 15))), (0, 0));
        assert_eq!(verdict(&mut history, read_of(origin, None, (11, 15))), (1, 0), "write 1 was acknowledged");
        assert_eq!(verdict(&mut history, read_of(origin, Some(1), (25, 26))), (0, 0), "write 2 is in flight");
        assert_eq!(verdict(&mut history, read_of(origin, Some(2), (60, 61))), (0, 0), "2 and 3 overlapped");
        assert_eq!(verdict(&mut history, read_of(origin, Some(3), (60, 61))), (0, 0));
        assert_eq!(verdict(&mut history, read_of(origin, Some(1), (60, 61))), (0, 1), "1 was replaced");
        assert_eq!(verdict(&mut history, read_of(origin, Some(9), (60, 61))), (0, 1), "9 was never written");
    }

    #[test]
    fn deletes_and_failed_writes() {
        let origin = Instant::now();
        let mut history = History::default();
        history.record_mutation(write(origin, 1, (0, 10), Some(true)));
        history.record_mutation(Mutation {
            effect: Effect::Delete,
            start: at(origin, 20),
            outcome: Outcome::Acked(at(origin, 30)),
            label: "delete".into(),
            ..write(origin, 0, (0, 0), None)
        });
        assert_eq!(verdict(&mut history, read_of(origin, Some(1), (40, 41))), (0, 1), "resurrected after a delete");
        assert_eq!(verdict(&mut history, read_of(origin, None, (40, 41))), (0, 0));
        // A refused write may have happened before its answer; an unanswered one until settling.
        history.record_mutation(write(origin, 2, (50, 60), Some(false)));
        history.record_mutation(write(origin, 3, (70, 80), None));
        assert_eq!(verdict(&mut history, read_of(origin, Some(2), (65, 66))), (0, 0));
        assert_eq!(verdict(&mut history, read_of(origin, None, (65, 66))), (0, 0));
        history.record_mutation(write(origin, 4, (100, 110), Some(true)));
        assert_eq!(verdict(&mut history, read_of(origin, Some(2), (120, 121))), (0, 1), "2 was replaced by 4");
        assert_eq!(verdict(&mut history, read_of(origin, Some(3), (120, 121))), (0, 0), "3 may land any time");
        history.settle(0, at(origin, 90));
        assert_eq!(verdict(&mut history, read_of(origin, Some(3), (120, 121))), (0, 1), "3 settled before 4");
    }

    #[test]
    fn listings_show_only_readable_objects() {
        let origin = Instant::now();
        let mut history = History::default();
        history.record_mutation(write(origin, 1, (0, 10), Some(true)));
        let listing = |entries: Vec<(String, u64)>| Listing {
            start: at(origin, 20),
            end: at(origin, 21),
            entries,
            complete: true,
            label: "list".into(),
        };
        history.record_listing(listing(vec![("k".into(), 64)]));
        history.record_listing(listing(vec![("k".into(), 63)]));
        history.record_listing(listing(vec![("other".into(), 64)]));
        history.record_listing(listing(vec![]));
        let verdicts = history.check();
        assert_eq!((verdicts.wrong.len(), verdicts.omissions.len()), (2, 2), "{verdicts:?}");
    }
}
