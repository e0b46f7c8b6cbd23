//! The cluster's shape from the command line: which drives exist, on which nodes,
//! grouped into pools, and which of them are this node's.
//!
//! Every node gets the same arguments. Each is a local folder or an `http://` or
//! `https://` URL (never a mix, and every URL with the same scheme); ellipses expand (`http://cairn-{0...2}.svc:9000/data{1...2}`). When
//! every argument has an ellipsis, each argument is one server pool; otherwise all
//! of them together are one pool. Inside a pool, drives are ordered round-robin over
//! nodes (first drive of each node, then the second...) so that the consecutive
//! drives that form an erasure set come from as many nodes as possible.

use crate::ellipsis::{self, EllipsisError};

/// Why the drive arguments do not describe a usable cluster.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TopologyError {
    #[error(transparent)]
    Ellipsis(#[from] EllipsisError),
    #[error(
        "{0:?}: mixing local folders and URLs; give every drive as a URL (http://host:port/path) or every drive as a folder"
    )]
    Mixed(String),
    #[error("{0:?}: not a drive URL; write http://host:port/absolute/path (or https://)")]
    BadUrl(String),
    #[error("{0:?}: mixing http:// and https:// drive URLs; every node serves TLS or none does")]
    MixedSchemes(String),
    #[error("{0:?} is given twice")]
    Duplicate(String),
    #[error(
        "give each server pool as one argument with ellipses (like http://node{{1...4}}:9000/data{{1...4}}), or list every drive of a single pool; {0:?} has none"
    )]
    PoolWithoutEllipsis(String),
    #[error("pool {pool}: nodes have different numbers of drives ({counts}); give every node the same number")]
    UnevenNodes { pool: usize, counts: String },
    #[error("none of the drives is on this node (address {0}); start it with --address matching one of the URLs")]
    NotInCluster(String),
    #[error(
        "pool {pool}: a set of {set_size} drives at EC:{parity} would hold {worst} drives of one node, so losing that node loses data; use more nodes, fewer drives per node, or a parity of at least {worst}"
    )]
    Unspread { pool: usize, set_size: usize, parity: usize, worst: usize },
}

/// One drive as the command line names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// As written (after ellipsis expansion), for messages.
    pub url: String,
    /// `host:port` of the node holding the drive; None for local folders.
    pub authority: Option<String>,
    /// The folder on that node.
    pub path: String,
    /// True when the drive is on this node.
    pub local: bool,
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Drives of each pool, in erasure-set order.
    pub pools: Vec<Vec<Endpoint>>,
    /// True when the drives are URLs (more than one node may be involved).
    pub distributed: bool,
    /// True when the drive URLs are `https://`: nodes talk to each other over TLS.
    pub tls: bool,
}

impl Topology {
    /// Distinct nodes (`host:port`) other than this one, in order of appearance.
    pub fn peers(&self) -> Vec<String> {
        let mut peers: Vec<String> = Vec::new();
        for endpoint in self.pools.iter().flatten().filter(|e| !e.local) {
            if let Some(authority) = &endpoint.authority
                && !peers.contains(authority)
            {
                peers.push(authority.clone());
            }
        }
        peers
    }
}

/// Splits `http(s)://host:port/path` into (`host:port`, host, port, `/path`).
fn parse_url(url: &str, default_port: u16) -> Result<(String, String, u16, String), TopologyError> {
    let bad = || TopologyError::BadUrl(url.to_owned());
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")).ok_or_else(bad)?;
    let slash = rest.find('/').ok_or_else(bad)?;
    let (authority, path) = rest.split_at(slash);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            (host.to_owned(), port.parse::<u16>().map_err(|_| bad())?)
        }
        _ => (authority.to_owned(), default_port),
    };
    if host.is_empty() || path.len() < 2 || path.split('/').any(|s| s == "..") {
        return Err(bad());
    }
    Ok((format!("{host}:{port}"), host, port, path.trim_end_matches('/').to_owned()))
}

/// Parses the drive arguments. `default_port` fills URLs without a port; `is_local`
/// says whether `(host, port)` is this node.
pub fn parse(
    args: &[String],
    default_port: u16,
    is_local: impl Fn(&str, u16) -> bool,
) -> Result<Topology, TopologyError> {
    let urls = args.iter().filter(|a| a.contains("://")).count();
    if urls != 0 && urls != args.len() {
        let odd = args.iter().find(|a| !a.contains("://")).cloned().unwrap_or_default();
        return Err(TopologyError::Mixed(odd));
    }
    let distributed = urls != 0;
    let tls = args.first().is_some_and(|a| a.starts_with("https://"));
    if distributed && let Some(odd) = args.iter().find(|a| a.starts_with("https://") != tls) {
        return Err(TopologyError::MixedSchemes(odd.clone()));
    }
    let with_ellipses = args.iter().filter(|a| a.contains("...")).count();
    let groups: Vec<Vec<&String>> = if args.len() > 1 && with_ellipses == args.len() {
        args.iter().map(|a| vec![a]).collect()
    } else if with_ellipses == 0 || args.len() == 1 {
        vec![args.iter().collect()]
    } else {
        let odd = args.iter().find(|a| !a.contains("...")).cloned().unwrap_or_default();
        return Err(TopologyError::PoolWithoutEllipsis(odd));
    };
    let mut seen = std::collections::HashSet::new();
    let mut pools = Vec::new();
    for (pool, group) in groups.into_iter().enumerate() {
        let mut endpoints = Vec::new();
        for argument in group {
            for url in ellipsis::expand(argument)? {
                let endpoint = if distributed {
                    let (authority, host, port, path) = parse_url(&url, default_port)?;
                    let local = is_local(&host, port);
                    Endpoint { url: url.clone(), authority: Some(authority), path, local }
                } else {
                    Endpoint { url: url.clone(), authority: None, path: url.clone(), local: true }
                };
                if !seen.insert((endpoint.authority.clone(), endpoint.path.clone())) {
                    return Err(TopologyError::Duplicate(url));
                }
                endpoints.push(endpoint);
            }
        }
        pools.push(interleave(pool + 1, endpoints)?);
    }
    if distributed && !pools.iter().flatten().any(|e| e.local) {
        return Err(TopologyError::NotInCluster(format!("port {default_port}")));
    }
    Ok(Topology { pools, distributed, tls })
}

/// Orders a pool's drives round-robin over its nodes; every node must have as many drives.
fn interleave(pool: usize, endpoints: Vec<Endpoint>) -> Result<Vec<Endpoint>, TopologyError> {
    let mut nodes: Vec<(Option<String>, Vec<Endpoint>)> = Vec::new();
    for endpoint in endpoints {
        match nodes.iter_mut().find(|(authority, _)| *authority == endpoint.authority) {
            Some((_, drives)) => drives.push(endpoint),
            None => nodes.push((endpoint.authority.clone(), vec![endpoint])),
        }
    }
    let counts: Vec<usize> = nodes.iter().map(|(_, drives)| drives.len()).collect();
    if counts.iter().any(|c| *c != counts[0]) {
        let counts = counts.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        return Err(TopologyError::UnevenNodes { pool, counts });
    }
    let per_node = counts.first().copied().unwrap_or(0);
    let mut ordered = Vec::with_capacity(per_node * nodes.len());
    for index in 0..per_node {
        for (_, drives) in &nodes {
            ordered.push(drives[index].clone());
        }
    }
    Ok(ordered)
}

/// Checks that losing one node costs no set more than `parity` drives.
pub fn check_spread(pool: usize, drives: &[Endpoint], set_size: usize, parity: usize) -> Result<(), TopologyError> {
    for set in drives.chunks(set_size.max(1)) {
        let mut counts: std::collections::HashMap<&Option<String>, usize> = std::collections::HashMap::new();
        for endpoint in set {
            *counts.entry(&endpoint.authority).or_default() += 1;
        }
        let worst = counts.values().copied().max().unwrap_or(0);
        // A single node holds everything anyway; spreading is about surviving a node.
        if counts.len() > 1 && worst > parity {
            return Err(TopologyError::Unspread { pool: pool + 1, set_size, parity, worst });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn local_folders_are_one_pool_on_this_node() {
        let topology = parse(&args(&["/d{1...4}"]), 9000, |_, _| false).expect("valid");
        assert!(!topology.distributed);
        assert_eq!(topology.pools.len(), 1);
        assert_eq!(topology.pools[0].len(), 4);
        assert!(topology.pools[0].iter().all(|e| e.local));
        assert!(topology.peers().is_empty());
    }

    #[test]
    fn urls_find_this_node_and_interleave_drives_over_nodes() {
        let list = args(&["http://n{1...3}:9000/data{1...2}"]);
        let topology = parse(&list, 9000, |host, port| host == "n2" && port == 9000).expect("valid");
        let order: Vec<&str> = topology.pools[0].iter().map(|e| e.url.as_str()).collect();
        assert_eq!(
            order,
            [
                "http://n1:9000/data1",
                "http://n2:9000/data1",
                "http://n3:9000/data1",
                "http://n1:9000/data2",
                "http://n2:9000/data2",
                "http://n3:9000/data2"
            ]
        );
        assert_eq!(topology.pools[0].iter().filter(|e| e.local).count(), 2);
        assert_eq!(topology.peers(), ["n1:9000", "n3:9000"]);
        assert!(!topology.pools[0][0].local);
    }

    #[test]
    fn bad_command_lines_say_what_would_work() {
        let local = |_: &str, _: u16| true;
        assert!(matches!(parse(&args(&["/d1", "http://n1:9000/d"]), 9000, local), Err(TopologyError::Mixed(_))));
        assert!(matches!(parse(&args(&["ftp://n1/d"]), 9000, local), Err(TopologyError::BadUrl(_))));
        assert!(matches!(
            parse(&args(&["https://n1:9000/a", "http://n2:9000/a"]), 9000, local),
            Err(TopologyError::MixedSchemes(_))
        ));
        let secure = parse(&args(&["https://n{1...2}:9000/a"]), 9000, |host, _| host == "n1").expect("https");
        assert!(secure.tls && secure.distributed);
        assert_eq!(secure.peers(), ["n2:9000"]);
        assert!(matches!(parse(&args(&["http://n1:9000"]), 9000, local), Err(TopologyError::BadUrl(_))));
        assert!(matches!(
            parse(&args(&["http://n1:9000/a", "http://n1:9000/b", "http://n2:9000/a"]), 9000, local),
            Err(TopologyError::UnevenNodes { .. })
        ));
        assert!(matches!(
            parse(&args(&["http://n1:9000/a", "http://n1:9000/a"]), 9000, local),
            Err(TopologyError::Duplicate(_))
        ));
        assert!(matches!(
            parse(&args(&["http://n{1...2}:9000/a", "http://n3:9000/a"]), 9000, local),
            Err(TopologyError::PoolWithoutEllipsis(_))
        ));
        assert!(matches!(
            parse(&args(&["http://n{1...3}:9000/a"]), 9000, |_, _| false),
            Err(TopologyError::NotInCluster(_))
        ));
    }

    #[test]
    fn pools_and_spread() {
        let list = args(&["http://a{1...3}:9000/d", "http://b{1...3}:9000/d{1...2}"]);
        let topology = parse(&list, 9000, |host, _| host == "a1").expect("valid");
        assert_eq!(topology.pools.len(), 2);
        assert_eq!(topology.pools[1].len(), 6);
        assert!(topology.pools[0][0].local);
        check_spread(0, &topology.pools[1], 6, 2).expect("two drives per node in a set of six at EC:2");
        assert!(matches!(check_spread(0, &topology.pools[1], 6, 1), Err(TopologyError::Unspread { worst: 2, .. })));
        let default_port = parse(&args(&["http://a{1...2}/d"]), 9100, |_, _| true).expect("valid");
        assert_eq!(default_port.pools[0][0].authority.as_deref(), Some("a1:9100"));
    }
}
