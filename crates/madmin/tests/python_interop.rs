//! Interoperability with the Python `minio` package (`minio.crypto.encrypt` / `minio.crypto.decrypt`),
//! which implements madmin-go's payload format independently: what one side seals the other opens.
//!
//! Needs `python3` with the `minio` pip package (`tests/compat/install.sh` installs it). Without
//! it the tests fail, unless `CAIRN_TEST_ALLOW_SKIP=1` says that skipping them is acceptable on
//! this machine, in which case they print a loud SKIPPED line.

use std::io::Write;
use std::process::{Command, Stdio};
use std::thread;

use cairn_madmin::{Algorithm, MadminError, decrypt_data, encrypt_data, encrypt_data_with};

/// Non-ASCII, so that both sides must agree on encoding the password as UTF-8.
const PASSWORD: &str = "minio123-sécret/Key+";

/// Sizes around the 16 KiB package boundary, and 100 KiB spanning seven packages.
const PAYLOAD_SIZES_BYTES: [usize; 7] = [1, 100, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 32 * 1024, 100 * 1024];

/// Reads the payload from stdin and writes `minio.crypto.encrypt(payload, password)` to stdout.
const PYTHON_ENCRYPT: &str = "
import sys
from minio.crypto import encrypt
sys.stdout.buffer.write(encrypt(sys.stdin.buffer.read(), sys.argv[1]))
";

/// Reads a ciphertext from stdin and writes `minio.crypto.decrypt(response, password)` to stdout;
/// `decrypt` reads from an HTTP response, so a `BytesIO` stands in for one.
const PYTHON_DECRYPT: &str = "
import io, sys
from minio.crypto import decrypt
class Response(io.BytesIO):
    def release_conn(self):
        pass
sys.stdout.buffer.write(decrypt(Response(sys.stdin.buffer.read()), sys.argv[1]))
";

/// Lets the tests be skipped where Python's `minio` package cannot be installed.
const ALLOW_SKIP_ENV: &str = "CAIRN_TEST_ALLOW_SKIP";

/// True when `python3` can import `minio.crypto`. Otherwise the test fails, or with
/// `CAIRN_TEST_ALLOW_SKIP=1` prints a loud SKIPPED line and returns false.
fn python_minio_available() -> bool {
    let probe = Command::new("python3").args(["-c", "import minio.crypto"]).stdout(Stdio::null()).output();
    let why = match probe {
        Ok(output) if output.status.success() => return true,
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        Err(error) => format!("cannot run python3: {error}"),
    };
    if std::env::var(ALLOW_SKIP_ENV).is_ok_and(|v| v == "1") {
        eprintln!("\n*** SKIPPED ({ALLOW_SKIP_ENV}=1): python3 with the minio package is missing: {why} ***\n");
        return false;
    }
    panic!(
        "python3 with the minio package is needed (bash tests/compat/install.sh installs it): {why}; \
         set {ALLOW_SKIP_ENV}=1 to skip knowingly"
    );
}

/// Runs a Python script with `PASSWORD` as its argument, `input` on stdin, and returns stdout.
fn run_python(script: &str, input: Vec<u8>) -> Vec<u8> {
    let mut child = Command::new("python3")
        .args(["-c", script, PASSWORD])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Written from another thread so that a script that answers early cannot deadlock the pipes.
    let writer = thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("python3 runs to the end");
    writer.join().expect("the stdin writer does not panic").expect("python3 reads all of stdin");
    assert!(output.status.success(), "python3 failed: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

fn pattern(size_bytes: usize) -> Vec<u8> {
    (0..size_bytes).map(|index| (index * 7 % 256) as u8).collect()
}

#[test]
fn python_minio_interoperates() {
    if !python_minio_available() {
        return;
    }

    for size_bytes in PAYLOAD_SIZES_BYTES {
        let data = pattern(size_bytes);
        let python_ciphertext = run_python(PYTHON_ENCRYPT, data.clone());
        let plaintext = decrypt_data(PASSWORD, &python_ciphertext).expect("Rust decrypts Python's ciphertext");
        assert_eq!(plaintext, data, "Python -> Rust, {size_bytes} bytes");
    }

    // Python decrypts the two algorithm ids it knows; FIPS mode's PBKDF2 id is madmin-go only.
    for algorithm in [Algorithm::Argon2idAes256Gcm, Algorithm::Argon2idChaCha20Poly1305] {
        for size_bytes in std::iter::once(0).chain(PAYLOAD_SIZES_BYTES) {
            let data = pattern(size_bytes);
            let ciphertext = encrypt_data_with(algorithm, PASSWORD, &data).expect("Rust encrypts");
            assert_eq!(
                run_python(PYTHON_DECRYPT, ciphertext),
                data,
                "Rust -> Python, {algorithm:?}, {size_bytes} bytes"
            );
        }
    }
    let ciphertext = encrypt_data(PASSWORD, b"{\"accessKey\":\"alice\"}").expect("Rust encrypts");
    assert_eq!(run_python(PYTHON_DECRYPT, ciphertext), b"{\"accessKey\":\"alice\"}");
}

/// minio-py up to at least 7.2.20 seals an empty payload as a bare header, with no final package;
/// newer versions write the final empty package as madmin-go does. madmin-go (sio-go) rejects the
/// bare header, and so does Cairn, since accepting it would let a truncated stream pass as empty.
#[test]
fn python_minio_empty_payload() {
    if !python_minio_available() {
        return;
    }
    let ciphertext = run_python(PYTHON_ENCRYPT, Vec::new());
    let result = decrypt_data(PASSWORD, &ciphertext);
    if ciphertext.len() == 41 {
        assert!(matches!(result, Err(MadminError::NotAuthentic)), "bare header: {result:?}");
    } else {
        assert_eq!(result.expect("Rust decrypts Python's empty ciphertext"), Vec::<u8>::new());
    }
}
