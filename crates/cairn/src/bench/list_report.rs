//! The report of `cairn bench list`: one Markdown table, one column per target, so
//! the local server and the `--compare` endpoint read side by side.

use super::list_phases::{
    Listing, MIXED_GET_PERCENT, MIXED_OBJECT_BYTES, MIXED_OBJECTS, MIXED_PUT_PERCENT, PAGE_KEYS, Plan, TargetResult,
};
use super::load::Stats;
use std::fmt::Write;

/// Rows of one target: (measurement, result), in the order the phases ran.
type Rows = Vec<(String, String)>;

fn listing_rows(rows: &mut Rows, what: &str, listing: &Listing) {
    let rate = listing.keys.max(listing.prefixes) as f64 / listing.seconds;
    let unit = if listing.keys >= listing.prefixes { "keys" } else { "prefixes" };
    rows.push((
        format!("{what}: rate"),
        format!(
            "{rate:.0} {unit}/s ({} keys, {} prefixes, {} pages, {:.2} s)",
            listing.keys, listing.prefixes, listing.pages, listing.seconds
        ),
    ));
    rows.push((
        format!("{what}: page time"),
        format!(
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            listing.page_p50_ms, listing.page_p99_ms, listing.page_max_ms
        ),
    ));
    rows.push((format!("{what}: first page"), format!("{:.1} ms", listing.first_page_ms)));
    let rss = listing.rss_mib.map_or_else(
        || "not sampled".to_owned(),
        |(before, peak)| format!("{before:.0} MiB before, {peak:.0} MiB peak"),
    );
    rows.push((format!("{what}: server RSS"), rss));
}

fn stats_cell(stats: &Stats) -> String {
    format!("{:.0} ops/s, p50 {:.2} ms, p99 {:.2} ms ({} ops)", stats.ops_per_s, stats.p50_ms, stats.p99_ms, stats.ops)
}

fn rows(plan: &Plan, result: &TargetResult) -> Rows {
    let mut rows = Rows::new();
    let mut previous = 0;
    for checkpoint in &result.checkpoints {
        rows.push((
            format!(
                "PUT {}-byte keys {previous}..{}, {} in flight",
                plan.body_bytes, checkpoint.keys, plan.concurrency
            ),
            format!("{:.0} PUT/s", checkpoint.puts_per_s),
        ));
        previous = checkpoint.keys;
        let what = format!("flat listing of {} keys under one prefix", checkpoint.keys);
        listing_rows(&mut rows, &what, &checkpoint.listing);
    }
    if let Some(tree) = &result.tree {
        rows.push((
            format!(
                "PUT tree of {} keys over {} prefixes, {} in flight",
                tree.keys, plan.tree_prefixes, plan.concurrency
            ),
            format!("{:.0} PUT/s", tree.puts_per_s),
        ));
        listing_rows(&mut rows, &format!("delimiter `/` listing of the tree of {} keys", tree.keys), &tree.delimiter);
        listing_rows(&mut rows, &format!("listing inside one prefix `{}`", tree.one_prefix), &tree.one_prefix_listing);
    }
    if let Some(mixed) = &result.mixed {
        let list_percent = 100 - MIXED_GET_PERCENT - MIXED_PUT_PERCENT;
        let what =
            format!("mixed {} KiB, {} clients, {} s", MIXED_OBJECT_BYTES >> 10, plan.mixed_clients, plan.mixed_seconds);
        rows.push((format!("{what}: GET ({MIXED_GET_PERCENT} %)"), stats_cell(&mixed.get)));
        rows.push((format!("{what}: PUT ({MIXED_PUT_PERCENT} %)"), stats_cell(&mixed.put)));
        rows.push((
            format!("{what}: list page of {PAGE_KEYS} after a random one of {MIXED_OBJECTS} keys ({list_percent} %)"),
            stats_cell(&mixed.list),
        ));
    }
    rows
}

pub fn render(plan: &Plan, results: &[TargetResult]) -> String {
    let mut out = String::new();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let listing = if plan.versioned { "versioned buckets, ListObjectVersions" } else { "ListObjectsV2" };
    let _ = writeln!(out, "## cairn bench list ({cores} cores; {listing} pages of {PAGE_KEYS} keys)\n");
    let per_target: Vec<Rows> = results.iter().map(|result| rows(plan, result)).collect();
    let _ = write!(out, "| measurement |");
    for result in results {
        let _ = write!(out, " {} |", result.name);
    }
    let _ = write!(out, "\n| --- |");
    for _ in results {
        let _ = write!(out, " --- |");
    }
    let _ = writeln!(out);
    // Every target ran the same plan, so the rows match by name; a target that
    // stopped early has fewer. The longest list gives the order.
    let Some(longest) = per_target.iter().max_by_key(|rows| rows.len()) else { return out };
    for (measurement, _) in longest {
        let _ = write!(out, "| {measurement} |");
        for rows in &per_target {
            let cell = rows.iter().find(|(name, _)| name == measurement).map_or("-", |(_, value)| value.as_str());
            let _ = write!(out, " {cell} |");
        }
        let _ = writeln!(out);
    }
    for result in results {
        if let Some(error) = &result.error {
            let _ = writeln!(out, "\n**Error on {}** (the phases after it did not run): {error}", result.name);
        }
    }
    out
}
