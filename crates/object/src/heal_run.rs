//! On-demand healing (`admin heal`): heals now what an operator names (everything, one
//! bucket, or the objects under a prefix) at full speed, and reports as it goes.
//!
//! A run first formats the drives that were wiped or swapped while the servers run, on
//! every node (until then such a drive is down, and the scanner and read repair pass it by),
//! then recreates buckets on the drives that lack them, then heals every object named:
//! metadata compared across the drives and every shard file checked for presence and
//! length, or with `deep` every frame verified against its hash (bitrot). Unlike the
//! scanner it keeps to no rate (the operator asked for it now), but it still reads the
//! listing one page at a time.

use crate::format::heal_formats;
use crate::pages::Pages;
use crate::store::ObjectStore;
use crate::{ObjectError, Result};
use cairn_drive::{Drive, SYSTEM_VOLUME};
use futures::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Objects listed per page of a run.
const HEAL_PAGE_KEYS: usize = 1_000;
/// Objects healed at once: small objects are latency-bound, so a few in parallel keep the
/// drives busy; large ones stream block by block, so memory stays a few blocks per object.
const HEAL_OBJECTS_IN_FLIGHT: usize = 4;
/// Events a run may be ahead of its reader before it waits for the reader (a slow client).
const HEAL_EVENTS_BUFFERED: usize = 64;

/// What an on-demand heal covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealScope {
    /// One bucket; None for every bucket and Cairn's own configuration.
    pub bucket: Option<String>,
    /// Only objects whose key starts with this; empty for all. Needs a bucket.
    pub prefix: String,
    /// Every object under the prefix. When false, one level, as a listing without `-r`
    /// shows it: with a bucket, the objects directly under the prefix (delimiter `/`, so
    /// `photos/` heals `photos/a.jpg` but not `photos/2024/b.jpg`); without a bucket, the
    /// buckets themselves and no object.
    pub recursive: bool,
    /// Verify every shard frame of every object (bitrot), not only the metadata and the
    /// presence and length of each shard file.
    pub deep: bool,
}

/// What a run did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealCounts {
    /// Objects checked.
    pub scanned: u64,
    /// Objects rewritten on at least one drive.
    pub healed: u64,
    /// Objects that could not be healed.
    pub failed: u64,
    /// Size of the objects checked, in bytes.
    pub bytes: u64,
    /// Drives (of any node) that had lost their format and were formatted into their slot.
    pub drives_formatted: u64,
    /// Buckets checked (and recreated on the drives that lacked them).
    pub buckets: u64,
}

/// One step of a run.
#[derive(Debug)]
pub enum HealEvent {
    /// Work moved on: the counts so far, and what was handled last (`bucket` or `bucket/key`).
    Progress {
        /// The counts so far.
        counts: HealCounts,
        /// The bucket or `bucket/key` handled last; empty before the first.
        current: String,
    },
    /// An object could not be healed.
    Failure {
        /// Its bucket (`.cairn.sys` for Cairn's configuration).
        bucket: String,
        /// Its key.
        key: String,
        /// Why.
        error: ObjectError,
    },
    /// The run ended; always the last event.
    Finished {
        /// The final counts.
        counts: HealCounts,
        /// Time since the run was asked for, formatting included.
        elapsed: Duration,
        /// What stopped the run before it covered everything (a listing that lost its
        /// quorum); None when it went through.
        error: Option<ObjectError>,
    },
}

/// A run in progress: a stream of [`HealEvent`]s that starts with a `Progress` and ends
/// with `Finished`. Dropping it stops the run; objects being healed at that moment are
/// finished first (under their locks, in tasks of their own).
#[derive(Debug)]
pub struct HealRun {
    events: mpsc::Receiver<HealEvent>,
    task: JoinHandle<()>,
}

impl Stream for HealRun {
    type Item = HealEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<HealEvent>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for HealRun {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ObjectStore {
    /// Starts healing `scope` now. Formats wiped drives and checks the scope before it
    /// returns, so that a missing bucket (`BucketNotFound`) or a prefix without a bucket
    /// (`InvalidArgument`) is an error here, not an event.
    pub async fn heal(&self, scope: HealScope) -> Result<HealRun> {
        let started = Instant::now();
        match scope.bucket.as_deref() {
            None if !scope.prefix.is_empty() => {
                return Err(ObjectError::InvalidArgument("a heal of a prefix needs a bucket".into()));
            }
            Some(SYSTEM_VOLUME) => return Err(ObjectError::BucketNotFound),
            _ => {}
        }
        // Formats first: a bucket check needs a quorum, which the wiped drives may be part of.
        let counts = HealCounts { drives_formatted: self.heal_drive_formats().await, ..HealCounts::default() };
        let namespaces: Vec<(String, String)> = match &scope.bucket {
            Some(bucket) => {
                self.bucket_info(bucket).await?;
                vec![(bucket.clone(), scope.prefix.clone())]
            }
            None => self.namespaces().await?.into_iter().map(|(volume, prefix)| (volume, prefix.to_owned())).collect(),
        };
        let (sender, events) = mpsc::channel(HEAL_EVENTS_BUFFERED);
        sender
            .try_send(HealEvent::Progress { counts, current: String::new() })
            .expect("a new channel has room for its first event");
        let store = self.clone();
        let task = tokio::spawn(async move {
            let mut pass = Pass { store: &store, counts, events: &sender };
            let error = pass.run(&scope, namespaces).await.err();
            let finished = HealEvent::Finished { counts: pass.counts, elapsed: started.elapsed(), error };
            // The reader may be gone; then nobody is left to tell.
            let _ = sender.send(finished).await;
        });
        Ok(HealRun { events, task })
    }

    /// Formats the wiped drives of every node in every pool; returns how many.
    async fn heal_drive_formats(&self) -> u64 {
        let mut formatted = 0;
        for pool in self.pools.iter() {
            let sets = &self.sets[pool.first..pool.first + pool.count];
            let drives: Vec<Arc<dyn Drive>> = sets.iter().flat_map(|set| set.drives.iter().cloned()).collect();
            match heal_formats(&drives, &sets[0].layout, self.deployment_id()).await {
                Ok(count) => formatted += count,
                Err(error) => tracing::warn!(%error, "cannot heal the drive formats of a pool"),
            }
        }
        formatted
    }
}

/// One run's walk over its buckets and objects.
struct Pass<'a> {
    store: &'a ObjectStore,
    counts: HealCounts,
    events: &'a mpsc::Sender<HealEvent>,
}

impl Pass<'_> {
    /// Heals every bucket of `namespaces` (volume, prefix), then its objects as `scope` says.
    async fn run(&mut self, scope: &HealScope, namespaces: Vec<(String, String)>) -> Result<()> {
        // Without a bucket, one level down is the buckets themselves.
        let objects = scope.recursive || scope.bucket.is_some();
        let delimiter = (!scope.recursive).then_some("/");
        for (bucket, prefix) in namespaces {
            if bucket != SYSTEM_VOLUME {
                self.store.heal_bucket(&bucket).await;
                self.counts.buckets += 1;
                self.progress(bucket.clone()).await;
            }
            if objects {
                self.heal_objects(&bucket, &prefix, delimiter, scope.deep).await?;
            }
        }
        Ok(())
    }

    /// Heals the objects of `bucket` under `prefix`, a page at a time.
    async fn heal_objects(&mut self, bucket: &str, prefix: &str, delimiter: Option<&str>, deep: bool) -> Result<()> {
        let store = self.store;
        let mut pages = Pages::new(bucket, prefix, delimiter, HEAL_PAGE_KEYS).collecting_findings();
        while let Some(page) = pages.next_while_exists(store).await? {
            for dangling in pages.take_dangling() {
                store.remove_dangling(bucket, &dangling).await;
            }
            let mut healing = futures::stream::iter(page.objects)
                .map(|object| async move {
                    let healed = match store.locate(bucket, &object.key).await {
                        Ok(set) => set.heal_object_mode(bucket, &object.key, deep).await,
                        Err(error) => Err(error),
                    };
                    (object, healed)
                })
                .buffered(HEAL_OBJECTS_IN_FLIGHT);
            while let Some((object, healed)) = healing.next().await {
                self.counts.scanned += 1;
                self.counts.bytes += object.size;
                match healed {
                    // Deleted since it was listed: nothing left to heal.
                    Ok(0) | Err(ObjectError::ObjectNotFound) => {}
                    Ok(_) => self.counts.healed += 1,
                    Err(error) => {
                        self.counts.failed += 1;
                        tracing::warn!(bucket, key = object.key, %error, "heal could not heal an object");
                        let failure = HealEvent::Failure { bucket: bucket.to_owned(), key: object.key.clone(), error };
                        self.send(failure).await;
                    }
                }
                self.progress(format!("{bucket}/{}", object.key)).await;
            }
        }
        Ok(())
    }

    async fn progress(&self, current: String) {
        self.send(HealEvent::Progress { counts: self.counts, current }).await;
    }

    async fn send(&self, event: HealEvent) {
        // A closed channel means the reader dropped the run, which also aborts this task.
        let _ = self.events.send(event).await;
    }
}
