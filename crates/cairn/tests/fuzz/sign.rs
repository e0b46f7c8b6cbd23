//! Valid requests to start from: signed with SigV4 by the root credentials (header,
//! presigned query and aws-chunked streaming signatures), as the AWS SDKs send them.

use crate::harness::{ACCESS_KEY, SECRET_KEY};
use crate::raw::RawRequest;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4::{SigningParams, sign_chunk};
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use std::time::{Duration, SystemTime};

/// How a request's body is covered by its signature.
pub enum Payload<'a> {
    /// `x-amz-content-sha256` is the body's hash.
    Signed(&'a [u8]),
    /// `UNSIGNED-PAYLOAD`: an edited body still passes authentication and reaches
    /// the body's parser.
    Unsigned(&'a [u8]),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, every chunk signed.
    SignedChunks(&'a [&'a [u8]]),
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked with a checksum trailer.
    UnsignedChunksWithTrailer(&'a [&'a [u8]], &'a str),
}

/// Signs requests for one endpoint with the root credentials, at one moment.
pub struct Signer {
    host: String,
    identity: Identity,
    time: SystemTime,
}

impl Signer {
    pub fn new(address: &str) -> Signer {
        let identity = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "fuzz").into();
        Signer { host: address.to_owned(), identity, time: SystemTime::now() }
    }

    fn params(&self, settings: SigningSettings) -> SigningParams<'_, SigningSettings> {
        SigningParams::builder()
            .identity(&self.identity)
            .region("us-east-1")
            .name("s3")
            .time(self.time)
            .settings(settings)
            .build()
            .expect("complete signing parameters")
    }

    /// A request signed in its headers, with `headers` signed too.
    pub fn request(&self, method: &str, target: &str, headers: &[(&str, &str)], payload: Payload<'_>) -> RawRequest {
        let mut headers: Vec<(String, String)> =
            headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        let (signable_body, body) = match &payload {
            Payload::Signed(body) => (SignableBody::Bytes(body), body.to_vec()),
            Payload::Unsigned(body) => (SignableBody::UnsignedPayload, body.to_vec()),
            Payload::SignedChunks(chunks) => {
                let decoded: usize = chunks.iter().map(|c| c.len()).sum();
                headers.push(("content-encoding".into(), "aws-chunked".into()));
                headers.push(("x-amz-decoded-content-length".into(), decoded.to_string()));
                (SignableBody::Precomputed("STREAMING-AWS4-HMAC-SHA256-PAYLOAD".into()), Vec::new())
            }
            Payload::UnsignedChunksWithTrailer(chunks, trailer) => {
                let decoded: usize = chunks.iter().map(|c| c.len()).sum();
                let name = trailer.split(':').next().unwrap_or_default().to_owned();
                headers.push(("content-encoding".into(), "aws-chunked".into()));
                headers.push(("x-amz-decoded-content-length".into(), decoded.to_string()));
                headers.push(("x-amz-trailer".into(), name));
                (SignableBody::StreamingUnsignedPayloadTrailer, unsigned_chunked(chunks, trailer))
            }
        };
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let (instructions, seed_signature) = self.sign(method, target, &headers, signable_body, settings.clone());
        headers.extend(instructions);
        let body = match payload {
            Payload::SignedChunks(chunks) => signed_chunked(chunks, &seed_signature, &self.params(settings)),
            _ => body,
        };
        RawRequest { method: method.to_owned(), target: target.to_owned(), headers, body }
    }

    /// A presigned URL's request (the signature in the query, valid for an hour).
    pub fn presigned(&self, method: &str, target: &str) -> RawRequest {
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(3600));
        let params = self.params(settings);
        let url = format!("http://{}{target}", self.host);
        let signable = SignableRequest::new(
            method,
            url.clone(),
            [("host", self.host.as_str())].into_iter(),
            SignableBody::UnsignedPayload,
        )
        .expect("signable request");
        let (instructions, _) = sign(signable, &params.into()).expect("sign").into_parts();
        let mut request = http::Request::builder().method(method).uri(url).body(()).expect("request");
        instructions.apply_to_request_http1x(&mut request);
        let target = request.uri().path_and_query().map(ToString::to_string).unwrap_or_default();
        RawRequest { method: method.to_owned(), target, headers: Vec::new(), body: Vec::new() }
    }

    /// The headers that sign a request, and the signature (the seed of chunk signatures).
    fn sign(
        &self,
        method: &str,
        target: &str,
        headers: &[(String, String)],
        body: SignableBody<'_>,
        settings: SigningSettings,
    ) -> (Vec<(String, String)>, String) {
        let url = format!("http://{}{target}", self.host);
        let mut all: Vec<(&str, &str)> = vec![("host", self.host.as_str())];
        all.extend(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let signable = SignableRequest::new(method, url.clone(), all.into_iter(), body).expect("signable request");
        let output = sign(signable, &self.params(settings).into()).expect("sign");
        let signature = output.signature().to_owned();
        let (instructions, _) = output.into_parts();
        let mut request = http::Request::builder().method(method).uri(url).body(()).expect("request");
        instructions.apply_to_request_http1x(&mut request);
        let added = request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().expect("ascii signature headers").to_owned()))
            .collect();
        (added, signature)
    }
}

/// An aws-chunked body whose chunks are signed one after another from `seed_signature`.
fn signed_chunked(chunks: &[&[u8]], seed_signature: &str, params: &SigningParams<'_, SigningSettings>) -> Vec<u8> {
    let mut body = Vec::new();
    let mut previous = seed_signature.to_owned();
    for chunk in chunks.iter().copied().chain(std::iter::once(&[][..])) {
        let signature =
            sign_chunk(&Bytes::copy_from_slice(chunk), &previous, params).expect("sign chunk").signature().to_owned();
        body.extend_from_slice(format!("{:x};chunk-signature={signature}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
        previous = signature;
    }
    body
}

/// An unsigned aws-chunked body ending with one trailer line (`name:value`).
fn unsigned_chunked(chunks: &[&[u8]], trailer: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for chunk in chunks {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("0\r\n{trailer}\r\n\r\n").as_bytes());
    body
}
