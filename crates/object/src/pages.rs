//! Listings read page by page, so that a pass over a whole bucket (the scanner, a heal,
//! the configuration) holds one page at a time, never the whole listing.

use crate::list::{Dangling, Findings, ListMode, ListPage, ListRequest, list_page_with};
use crate::store::ObjectStore;
use crate::{ObjectError, Result};
use std::collections::HashSet;

/// A listing read page by page, so that a pass over a whole bucket (the scanner, a
/// heal, the configuration) holds one page at a time, never the whole listing.
pub(crate) struct Pages {
    /// The next page's request: `start_after` moves on with every page.
    request: ListRequest,
    /// The last page was read.
    done: bool,
    /// What the pages read so far showed about keys not every drive holds, when collected.
    findings: Option<Findings>,
}

impl Pages {
    /// Pages of at most `page_keys` entries of `bucket` under `prefix`, grouped by `delimiter`.
    pub(crate) fn new(bucket: &str, prefix: &str, delimiter: Option<&str>, page_keys: usize) -> Self {
        let request = ListRequest {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            delimiter: delimiter.map(str::to_owned),
            start_after: None,
            max_keys: page_keys,
            // A pass over the keys sees those whose newest version is a delete marker too.
            mode: ListMode::AnyVersion,
        };
        Self { request, done: false, findings: None }
    }

    /// Also collects the keys that too few drives hold to be listed (see [`Dangling`]),
    /// and the listed keys that some drive lacks.
    pub(crate) fn collecting_findings(mut self) -> Self {
        self.findings = Some(Findings::default());
        self
    }

    /// The keys left out by the pages read since the last call.
    pub(crate) fn take_dangling(&mut self) -> Vec<Dangling> {
        self.findings.as_mut().map(|f| std::mem::take(&mut f.dangling)).unwrap_or_default()
    }

    /// The keys listed by the pages read since the last call that some drive did not
    /// report in the listed version: a scan checks these and no others.
    pub(crate) fn take_partial(&mut self) -> HashSet<String> {
        self.findings.as_mut().map(|f| std::mem::take(&mut f.partial)).unwrap_or_default()
    }

    /// The next page, or None after the last one.
    pub(crate) async fn next(&mut self, store: &ObjectStore) -> Result<Option<ListPage>> {
        if self.done {
            return Ok(None);
        }
        let page = match self.findings.as_mut() {
            None => store.list_objects(&self.request).await?,
            Some(findings) => {
                store.sets[0].require_bucket(&self.request.bucket).await?;
                list_page_with(&store.sets, &self.request, Some(findings)).await?
            }
        };
        self.done = !page.truncated;
        self.request.start_after.clone_from(&page.next_marker);
        Ok(Some(page))
    }

    /// The next page, or None after the last one or once the bucket is gone: a pass
    /// over every bucket passes over one deleted meanwhile.
    pub(crate) async fn next_while_exists(&mut self, store: &ObjectStore) -> Result<Option<ListPage>> {
        match self.next(store).await {
            Err(ObjectError::BucketNotFound) => Ok(None),
            other => other,
        }
    }
}
