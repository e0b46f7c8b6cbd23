//! One network namespace per node and one for the test's clients, joined by veth pairs
//! to a bridge in a hub namespace, on TEST-NET-1 (192.0.2.0/24, RFC 5737). Node `n` is
//! `192.0.2.n`, the clients are `192.0.2.254`. Nothing is added to the machine's own
//! namespace (whose network may itself use TEST-NET-1: a route there could reach real
//! hosts), and no namespace of ours has a route out, so nothing outside is addressed.
//! Partitions are nftables rules inside a node's namespace.
//!
//! Every name starts with `cch<pid>` (the test process's id): [`remove_leftovers`] removes
//! what a killed run left behind (its process is gone), and [`Network`]'s `Drop` removes
//! what this run made, also when a test panics. Deleting a namespace deletes its ends of
//! the veth pairs, and so the pairs.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// Start of every interface and namespace name this suite makes.
const NAME_PREFIX: &str = "cch";
/// The bridge's name inside the hub namespace.
const BRIDGE: &str = "br0";
/// The clients' address.
pub const HOST_ADDRESS: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);
/// Prefix length of the test network.
const PREFIX_LENGTH: u8 = 24;
/// Name of the nftables table that holds a partition's rules.
const PARTITION_TABLE: &str = "cairn_chaos";

/// The namespaces, veth pairs and bridge of one run; removed on drop.
pub struct Network {
    /// `cch<pid>`: the start of every name this network made.
    tag: String,
    node_count: usize,
}

/// Node `n`'s address: `192.0.2.n`.
pub fn node_address(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, u8::try_from(n).expect("node number fits an address byte"))
}

/// Runs a command; `Err` with its output if it fails or cannot start.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program} {}: cannot run: {e}", args.join(" ")))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Runs `program` with `input` on its standard input.
fn run_with_input(program: &str, args: &[&str], input: &str) -> Result<(), String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: cannot run: {e}"))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input.as_bytes())
        .map_err(|e| format!("{program}: writing its input: {e}"))?;
    let output = child.wait_with_output().map_err(|e| format!("{program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("{program} {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
    }
}

/// The process id in a name made by this suite (`cch<pid>...`), if it is one.
fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn namespace_names() -> Vec<String> {
    let listing = run("ip", &["netns", "list"]).unwrap_or_default();
    listing.lines().filter_map(|line| line.split_whitespace().next()).map(str::to_owned).collect()
}

/// Removes the namespaces of earlier runs whose process is gone.
pub fn remove_leftovers() {
    let stale = |name: &String| owner_pid(name).is_some_and(|pid| !process_alive(pid));
    for namespace in namespace_names().iter().filter(|name| stale(name)) {
        eprintln!("chaos: removing network namespace {namespace} left by a killed run");
        let _ = run("ip", &["netns", "del", namespace]);
    }
}

impl Network {
    /// Makes `node_count` namespaces on one bridge. On failure removes what it made.
    pub fn create(node_count: usize) -> Result<Network, String> {
        let network = Network { tag: format!("{NAME_PREFIX}{}", std::process::id()), node_count };
        network.build()?;
        Ok(network)
    }

    fn hub(&self) -> String {
        format!("{}h", self.tag)
    }

    /// The clients' namespace name.
    fn client_namespace(&self) -> String {
        format!("{}c", self.tag)
    }

    /// Path of the clients' namespace, for [`enter`].
    pub fn client_namespace_path(&self) -> String {
        format!("/run/netns/{}", self.client_namespace())
    }

    /// Node `n`'s namespace name.
    pub fn namespace(&self, n: usize) -> String {
        format!("{}n{n}", self.tag)
    }

    fn build(&self) -> Result<(), String> {
        let hub = self.hub();
        run("ip", &["netns", "add", &hub])?;
        run("ip", &["-n", &hub, "link", "add", BRIDGE, "type", "bridge"])?;
        run("ip", &["-n", &hub, "link", "set", BRIDGE, "up"])?;
        let mut members: Vec<(String, Ipv4Addr)> =
            (1..=self.node_count).map(|n| (self.namespace(n), node_address(n))).collect();
        members.push((self.client_namespace(), HOST_ADDRESS));
        for (index, (namespace, address)) in members.iter().enumerate() {
            let hub_end = format!("v{index}");
            let address = format!("{address}/{PREFIX_LENGTH}");
            run("ip", &["netns", "add", namespace])?;
            run(
                "ip",
                &["-n", &hub, "link", "add", &hub_end, "type", "veth", "peer", "name", "eth0", "netns", namespace],
            )?;
            run("ip", &["-n", &hub, "link", "set", &hub_end, "master", BRIDGE, "up"])?;
            run("ip", &["-n", namespace, "addr", "add", &address, "dev", "eth0"])?;
            run("ip", &["-n", namespace, "link", "set", "eth0", "up"])?;
            run("ip", &["-n", namespace, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    /// A command that runs `program` inside node `n`'s namespace. `nsenter` enters only
    /// the network namespace and then executes the program, so the child's pid is the
    /// program's (signals reach it) and it shares the test's mounts (drive faults apply).
    pub fn command(&self, n: usize, program: &std::path::Path) -> Command {
        let mut command = Command::new("nsenter");
        command.arg(format!("--net=/run/netns/{}", self.namespace(n))).arg("--").arg(program);
        command
    }

    /// Drops node `n`'s traffic with the other nodes: what arrives from them, and with
    /// `both_ways` also what it sends to them. Clients (the clients' address) still reach it.
    pub fn partition(&self, n: usize, both_ways: bool) -> Result<(), String> {
        let peers: Vec<String> =
            (1..=self.node_count).filter(|&p| p != n).map(|p| node_address(p).to_string()).collect();
        let peers = peers.join(", ");
        let output_chain = if both_ways {
            format!(
                "chain output {{ type filter hook output priority 0; policy accept; ip daddr {{ {peers} }} drop; }}"
            )
        } else {
            String::new()
        };
        let rules = format!(
            "table inet {PARTITION_TABLE} {{\n chain input {{ type filter hook input priority 0; policy accept; ip saddr \
             {{ {peers} }} drop; }}\n {output_chain}\n}}\n"
        );
        run_with_input("ip", &["netns", "exec", &self.namespace(n), "nft", "-f", "-"], &rules)
    }

    /// Removes node `n`'s partition rules.
    pub fn heal_partition(&self, n: usize) -> Result<(), String> {
        run("ip", &["netns", "exec", &self.namespace(n), "nft", "delete", "table", "inet", PARTITION_TABLE]).map(|_| ())
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for n in 1..=self.node_count {
            let _ = run("ip", &["netns", "del", &self.namespace(n)]);
        }
        let _ = run("ip", &["netns", "del", &self.client_namespace()]);
        let _ = run("ip", &["netns", "del", &self.hub()]);
    }
}

/// Moves the calling thread into the network namespace at `path` (`/run/netns/<name>`).
/// Threads it spawns afterwards (a tokio runtime's workers) start in that namespace too.
#[allow(unsafe_code)]
pub fn enter(path: &str) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let namespace = std::fs::File::open(path).map_err(|e| format!("open {path}: {e}"))?;
    // SAFETY: setns(2) takes a descriptor that `namespace` keeps open for the call and a
    // flag; it changes this thread's network namespace and touches no memory of ours.
    // There is no safe wrapper among this workspace's dependencies (rustix's needs its
    // "thread" feature, which would rebuild the whole workspace for one call).
    let result = unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) };
    if result == 0 { Ok(()) } else { Err(format!("setns {path}: {}", std::io::Error::last_os_error())) }
}

/// Whether this machine lets the suite make namespaces and nftables rules; `Err` says why not.
pub fn available() -> Result<(), String> {
    let probe = format!("{NAME_PREFIX}{}probe", std::process::id());
    run("ip", &["netns", "add", &probe])?;
    let nft = run("ip", &["netns", "exec", &probe, "nft", "list", "tables"]);
    let _ = run("ip", &["netns", "del", &probe]);
    let nsenter = run("nsenter", &["--version"]);
    nft.and(nsenter).map(|_| ())
}

#[test]
fn owner_pid_reads_names_of_this_suite_only() {
    assert_eq!(owner_pid("cch1234n2"), Some(1234));
    assert_eq!(owner_pid("cch77h"), Some(77));
    assert_eq!(owner_pid("eth0"), None);
    assert_eq!(owner_pid("cchc"), None);
}
