//! The certs folder, laid out as MinIO's:
//!
//! ```text
//! <certs>/public.crt    the node's certificate chain, PEM, leaf first
//! <certs>/private.key   its private key, PEM (PKCS#8, PKCS#1 or SEC1), unencrypted
//! <certs>/CAs/*         extra trusted CA certificates, PEM, any file name
//! ```
//!
//! With neither `public.crt` nor `private.key` the node serves plain HTTP. Files in
//! `CAs/` that hold no certificate are skipped with a warning (as MinIO ignores them).

use crate::TlsError;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The node's certificate chain.
pub const PUBLIC_CERT_FILE: &str = "public.crt";
/// The node's private key.
pub const PRIVATE_KEY_FILE: &str = "private.key";
/// The folder of extra trusted CA certificates.
pub const CAS_DIR: &str = "CAs";
/// Largest PEM file read, in bytes (a chain or a CA bundle is a few KiB; a system
/// bundle about 200 KiB).
const PEM_BYTES_MAX: u64 = 4 << 20;
/// Most files read from `CAs/`.
const CA_FILES_MAX: usize = 4096;

/// A certificate chain and its key, as read from the folder.
pub struct Identity {
    /// Leaf first, then intermediates (never empty).
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

/// Reads `path` whole, refusing files over [`PEM_BYTES_MAX`].
fn read_bounded(path: &Path) -> Result<Vec<u8>, TlsError> {
    let failed = |source| TlsError::Read { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(failed)?;
    let mut bytes = Vec::new();
    file.take(PEM_BYTES_MAX + 1).read_to_end(&mut bytes).map_err(failed)?;
    if bytes.len() as u64 > PEM_BYTES_MAX {
        return Err(failed(std::io::Error::other(format!("larger than {PEM_BYTES_MAX} bytes"))));
    }
    Ok(bytes)
}

/// Every certificate in the PEM file `path`; an error when there is none.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read_bounded(path)?;
    parse_certificates(path, &bytes)
}

fn parse_certificates(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem { path: path.to_owned(), why: e.to_string() })?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate { path: path.to_owned() });
    }
    Ok(certificates)
}

/// Reads `public.crt` and `private.key` from `dir`: None when neither exists (plain
/// HTTP), an error when only one does or either is unreadable.
pub fn read_identity(dir: &Path) -> Result<Option<Identity>, TlsError> {
    let (cert_path, key_path) = (dir.join(PUBLIC_CERT_FILE), dir.join(PRIVATE_KEY_FILE));
    match (cert_path.exists(), key_path.exists()) {
        (false, false) => return Ok(None),
        (true, false) => {
            return Err(TlsError::Incomplete {
                dir: dir.to_owned(),
                present: PUBLIC_CERT_FILE,
                missing: PRIVATE_KEY_FILE,
            });
        }
        (false, true) => {
            return Err(TlsError::Incomplete {
                dir: dir.to_owned(),
                present: PRIVATE_KEY_FILE,
                missing: PUBLIC_CERT_FILE,
            });
        }
        (true, true) => {}
    }
    let chain = read_certificates(&cert_path)?;
    let key_bytes = read_bounded(&key_path)?;
    let key = PrivateKeyDer::from_pem_slice(&key_bytes)
        .map_err(|e| TlsError::NoKey { path: key_path.clone(), why: e.to_string() })?;
    Ok(Some(Identity { chain, key }))
}

/// The regular files of `CAs/` under `dir`, sorted (none when the folder is missing).
fn ca_files(dir: &Path) -> Result<Vec<PathBuf>, TlsError> {
    let folder = dir.join(CAS_DIR);
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(TlsError::Read { path: folder, source }),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| TlsError::Read { path: folder.clone(), source })?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        // `is_file` follows symbolic links, as Kubernetes secrets mount their files.
        if !hidden && path.is_file() {
            files.push(path);
        }
        if files.len() > CA_FILES_MAX {
            return Err(TlsError::Read {
                path: folder,
                source: std::io::Error::other(format!("more than {CA_FILES_MAX} files")),
            });
        }
    }
    files.sort();
    Ok(files)
}

/// Every certificate in the files of `CAs/` under `dir`.
pub fn read_ca_folder(dir: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut certificates = Vec::new();
    for path in ca_files(dir)? {
        match read_certificates(&path) {
            Ok(found) => certificates.extend(found),
            Err(error @ (TlsError::NoCertificate { .. } | TlsError::BadPem { .. })) => {
                tracing::warn!(%error, "skipping a file of the trusted CAs folder");
            }
            Err(error) => return Err(error),
        }
    }
    Ok(certificates)
}

/// What identifies a version of the folder's files: their paths, sizes, modification
/// times and inodes. A change means the files should be read again.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stamp(Vec<(PathBuf, Option<FileVersion>)>);

/// A file's modification time, length and inode.
type FileVersion = (std::time::SystemTime, u64, u64);

/// The current [`Stamp`] of `dir`'s certificate, key and CA files.
pub fn stamp(dir: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let mut paths = vec![dir.join(PUBLIC_CERT_FILE), dir.join(PRIVATE_KEY_FILE), dir.join(CAS_DIR)];
    paths.extend(ca_files(dir).unwrap_or_default());
    Stamp(
        paths
            .into_iter()
            .map(|path| {
                let seen = std::fs::metadata(&path)
                    .ok()
                    .map(|m| (m.modified().unwrap_or(std::time::UNIX_EPOCH), m.len(), m.ino()));
                (path, seen)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_files_is_plain_http_and_half_a_pair_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read_identity(dir.path()).expect("empty folder").is_none());
        assert!(read_ca_folder(dir.path()).expect("no CAs folder").is_empty());
        std::fs::write(dir.path().join(PUBLIC_CERT_FILE), b"x").expect("write");
        let error = read_identity(dir.path()).err().expect("only the certificate");
        assert!(matches!(error, TlsError::Incomplete { missing: PRIVATE_KEY_FILE, .. }), "{error}");
    }

    #[test]
    fn garbage_is_refused_with_the_file_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(PUBLIC_CERT_FILE), b"not a certificate").expect("write");
        std::fs::write(dir.path().join(PRIVATE_KEY_FILE), b"not a key").expect("write");
        let error = read_identity(dir.path()).err().expect("garbage");
        assert!(error.to_string().contains(PUBLIC_CERT_FILE), "{error}");
    }

    #[test]
    fn stamps_change_with_the_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let before = stamp(dir.path());
        std::fs::create_dir(dir.path().join(CAS_DIR)).expect("mkdir");
        std::fs::write(dir.path().join(CAS_DIR).join("a.crt"), b"x").expect("write");
        assert_ne!(stamp(dir.path()), before);
        assert_eq!(stamp(dir.path()), stamp(dir.path()));
    }
}
