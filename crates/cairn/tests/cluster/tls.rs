//! A three-node cluster whose nodes talk over TLS (`https://` drive URLs): each node
//! has its own certificate for its address, signed by a CA the test makes and that
//! every node trusts through its `CAs/` folder. S3 clients trusting the CA write and
//! read through every node. Drive URLs that mix http and https are refused.

use crate::certs::{CaIn, TestCa, https_client, refused_start};
use crate::harness::{ACCESS_KEY, SECRET_KEY, get, put, random_bytes};
use crate::nodes::{SERIAL, free_port, node_ip};
use crate::util::MIB;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the nodes may take to find each other and accept writes.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Time between two attempts while the cluster starts.
const POLL_INTERVAL: Duration = Duration::from_millis(300);
const NODES: usize = 3;

/// The node processes; killed on drop.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `cairn server` on `address` with `certs` and `drives`, its stderr going to `log`.
fn server(address: &str, certs: &Path, drives: &[String], log: &Path) -> Command {
    let log = std::fs::File::create(log).expect("log file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
    command
        .args(["server", "--address", address, "--certs-dir"])
        .env("CAIRN_CONSOLE_ADDRESS", "127.0.0.1:0")
        .arg(certs)
        .args(drives)
        .env("CAIRN_ROOT_USER", ACCESS_KEY)
        .env("CAIRN_ROOT_PASSWORD", SECRET_KEY)
        .env("CAIRN_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    command
}

fn logs(dir: &Path) -> String {
    (1..=NODES)
        .map(|n| format!("\n----- node {n} -----\n{}", std::fs::read_to_string(log_path(dir, n)).unwrap_or_default()))
        .collect()
}

fn log_path(dir: &Path, n: usize) -> PathBuf {
    dir.join(format!("node{n}.log"))
}

/// Three nodes on 127.0.0.1-3 with `https://` drive URLs; node `n`'s certs folder is
/// made by `make_certs(n, folder)`.
struct TlsCluster {
    nodes: Nodes,
    port: u16,
    /// Drives, certs folders and logs.
    dir: tempfile::TempDir,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl TlsCluster {
    async fn start(make_certs: impl Fn(usize, &Path)) -> TlsCluster {
        let turn = Arc::clone(&SERIAL).lock_owned().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port(NODES);
        let drives: Vec<String> =
            (1..=NODES).map(|n| format!("https://{}:{port}{}/n{n}", node_ip(n), dir.path().display())).collect();
        let mut nodes = Nodes(Vec::new());
        for n in 1..=NODES {
            let certs = dir.path().join(format!("certs{n}"));
            make_certs(n, &certs);
            let address = format!("{}:{port}", node_ip(n));
            nodes.0.push(server(&address, &certs, &drives, &log_path(dir.path(), n)).spawn().expect("spawn cairn"));
        }
        TlsCluster { nodes, port, dir, _turn: turn }
    }

    fn endpoint(&self, n: usize) -> String {
        format!("https://{}:{}", node_ip(n), self.port)
    }

    fn logs(&self) -> String {
        logs(self.dir.path())
    }

    /// Panics if a node exited.
    fn check_running(&mut self) {
        for (index, child) in self.nodes.0.iter_mut().enumerate() {
            if let Some(status) = child.try_wait().expect("poll node") {
                panic!("node {} exited ({status}){}", index + 1, logs(self.dir.path()));
            }
        }
    }

    /// Waits until every node accepts writes into `bucket` (made on the way): each
    /// reached the others over TLS and has write quorum.
    async fn wait_writable(&mut self, clients: &[Client], bucket: &str) {
        let deadline = Instant::now() + START_TIMEOUT;
        for (index, client) in clients.iter().enumerate() {
            loop {
                let probe = client.put_object().bucket(bucket).key("probe").body(Vec::new().into()).send().await;
                let Err(error) = probe else { break };
                self.check_running();
                if matches!(&error, SdkError::ServiceError(e) if e.err().meta().code() == Some("NoSuchBucket")) {
                    client.create_bucket().bucket(bucket).send().await.ok();
                }
                assert!(
                    Instant::now() < deadline,
                    "node {} took no write over TLS within {START_TIMEOUT:?}: {error:?}{}",
                    index + 1,
                    self.logs()
                );
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
    }
}

/// Writes through every node and reads everything back through every node.
async fn write_and_read_through_every_node(cluster: &mut TlsCluster, ca_pem: &str) {
    let clients: Vec<Client> = (1..=NODES).map(|n| https_client(&cluster.endpoint(n), Some(ca_pem))).collect();
    cluster.wait_writable(&clients, "tls-cluster").await;
    let mut written = Vec::new();
    for (index, client) in clients.iter().enumerate() {
        for (size, kind) in [(1000, "inline"), (3 * MIB, "parts")] {
            let key = format!("through-{}/{kind}", index + 1);
            let body = random_bytes(size);
            put(client, "tls-cluster", &key, &body).await;
            written.push((key, body));
        }
    }
    for (index, client) in clients.iter().enumerate() {
        for (key, body) in &written {
            assert!(get(client, "tls-cluster", key).await == *body, "{key} read through node {} differs", index + 1);
        }
    }
    let log = cluster.logs();
    assert!(!log.contains("TLS handshake failed") && !log.contains("panicked"), "{log}");
}

/// Every node has its own certificate for its address, signed by one CA found where `ca_in` says.
async fn nodes_with_certificates_from_one_ca_serve_through_every_node(ca_in: CaIn) {
    let ca = TestCa::new();
    let mut cluster = TlsCluster::start(|n, certs| {
        ca.certs_dir(certs, &[&node_ip(n).to_string()], ca_in);
    })
    .await;
    write_and_read_through_every_node(&mut cluster, &ca.pem).await;
}

#[tokio::test]
async fn tls_cluster_nodes_talk_over_https_and_serve_through_every_node() {
    nodes_with_certificates_from_one_ca_serve_through_every_node(CaIn::CasFolder).await;
}

#[tokio::test]
async fn tls_cluster_nodes_trust_the_ca_in_their_own_certificate_chain() {
    nodes_with_certificates_from_one_ca_serve_through_every_node(CaIn::Chain).await;
}

#[tokio::test]
async fn tls_cluster_nodes_refuse_a_peer_whose_certificate_they_do_not_trust() {
    let (ca, stranger) = (TestCa::new(), TestCa::new());
    // Node 3's certificate comes from a CA that nodes 1 and 2 do not trust.
    let mut cluster = TlsCluster::start(|n, certs| {
        let signer = if n == 3 { &stranger } else { &ca };
        signer.certs_dir(certs, &[&node_ip(n).to_string()], CaIn::CasFolder);
    })
    .await;
    let refusal = format!("{}", node_ip(3));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        cluster.check_running();
        let log = std::fs::read_to_string(log_path(cluster.dir.path(), 1)).unwrap_or_default();
        if let Some(line) =
            log.lines().find(|line| line.contains(&refusal) && line.contains("certificate must chain to a CA"))
        {
            eprintln!("node 1 refused node 3: {line}");
            break;
        }
        assert!(Instant::now() < deadline, "node 1 never refused node 3's certificate:{}", cluster.logs());
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Runs a node on `address` with `drives` and returns its stderr once it exited (it must exit).
fn start_fails(dir: &Path, address: &str, certs: &Path, drives: &[String]) -> String {
    refused_start(server(address, certs, drives, &dir.join("refused.log")))
}

#[test]
fn tls_cluster_refuses_mixed_schemes_and_https_without_a_certificate() {
    let ca = TestCa::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = ca.certs_dir(&dir.path().join("certs"), &["127.0.0.1"], CaIn::CasFolder);
    let root = dir.path().display();
    let port = free_port(1);
    let address = format!("127.0.0.1:{port}");
    let mixed = [format!("https://127.0.0.1:{port}{root}/a"), format!("http://127.0.0.2:{port}{root}/b")];
    let error = start_fails(dir.path(), &address, &certs, &mixed);
    assert!(error.contains("mixing http:// and https://"), "{error}");

    let empty = dir.path().join("no-certificate");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let secure = [format!("https://127.0.0.1:{port}{root}/a"), format!("https://127.0.0.2:{port}{root}/b")];
    let error = start_fails(dir.path(), &address, &empty, &secure);
    assert!(error.contains("https://") && error.contains("no certificate"), "{error}");

    let plain = [format!("http://127.0.0.1:{port}{root}/a"), format!("http://127.0.0.2:{port}{root}/b")];
    let error = start_fails(dir.path(), &address, &certs, &plain);
    assert!(error.contains("serves TLS") && error.contains("http://"), "{error}");
}
