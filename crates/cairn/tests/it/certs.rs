//! Certificates a test makes itself: a CA, leaf certificates it signs for loopback
//! addresses, certs folders laid out as MinIO's, and S3 clients that trust the CA.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server refusing its arguments or certificate files may take to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a certs folder holds the CA that signed its certificate.
#[derive(Debug, Clone, Copy)]
pub enum CaIn {
    /// Only the leaf: a node trusts the CA only if the system does.
    Nowhere,
    /// In `CAs/`, as an extra trusted CA.
    CasFolder,
    /// After the leaf in `public.crt` (the whole chain).
    Chain,
}

/// A certificate authority made for one test.
pub struct TestCa {
    /// The CA certificate, PEM.
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "cairn test CA");
        params.distinguished_name = name;
        let certificate = params.self_signed(&key).expect("CA certificate");
        TestCa { pem: certificate.pem(), issuer: Issuer::new(params, key) }
    }

    /// A leaf certificate for `names` (IP addresses or host names) signed by this CA:
    /// (certificate PEM, private key PEM).
    pub fn leaf(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let certificate = CertificateParams::new(names)
            .expect("leaf params")
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        (certificate.pem(), key.serialize_pem())
    }

    /// Makes `dir` a certs folder with a leaf for `names`, and this CA where `ca` says;
    /// returns `dir`.
    pub fn certs_dir(&self, dir: &Path, names: &[&str], ca: CaIn) -> PathBuf {
        std::fs::create_dir_all(dir).expect("certs folder");
        let (mut certificate, key) = self.leaf(names);
        match ca {
            CaIn::Nowhere => {}
            CaIn::CasFolder => {
                std::fs::create_dir_all(dir.join("CAs")).expect("CAs folder");
                self.write_pem(&dir.join("CAs").join("test-ca.crt"));
            }
            CaIn::Chain => certificate.push_str(&self.pem),
        }
        std::fs::write(dir.join("public.crt"), certificate).expect("write public.crt");
        std::fs::write(dir.join("private.key"), key).expect("write private.key");
        dir.to_owned()
    }

    /// Writes the CA certificate to `path`.
    pub fn write_pem(&self, path: &Path) {
        std::fs::write(path, &self.pem).expect("write CA certificate");
    }
}

/// An S3 client for an https `endpoint` (root credentials, no retries) that trusts
/// `ca_pem` only, or the system's roots alone when None.
pub fn https_client(endpoint: &str, ca_pem: Option<&str>) -> Client {
    let trust = match ca_pem {
        Some(pem) => TrustStore::empty().with_native_roots(false).with_pem_certificate(pem.as_bytes()),
        None => TrustStore::default(),
    };
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .tls_context(TlsContext::builder().with_trust_store(trust).build().expect("TLS context"))
        .build_https();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            crate::harness::ACCESS_KEY,
            crate::harness::SECRET_KEY,
            None,
            None,
            "test",
        ))
        .force_path_style(true)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(1))
        .http_client(http)
        .build();
    Client::from_conf(config)
}

/// Runs `command` (a `cairn server` that must refuse to start) and returns its stderr
/// once it exited; panics if it keeps running, exits successfully or panics.
pub fn refused_start(mut command: Command) -> String {
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn cairn");
    let deadline = Instant::now() + EXIT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server started although it must refuse: {command:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
    assert!(!status.success(), "the start must fail: {stderr}");
    assert!(!stderr.contains("panicked"), "a clear error, never a panic: {stderr}");
    stderr
}
