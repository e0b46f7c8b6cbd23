//! Regions in signatures, as MinIO judges them: any region while none is configured,
//! S3's legacy name `US` (s3cmd's default `bucket_location`) as `us-east-1`, and once
//! `region name=` is set only that region (GetBucketLocation answers in any).

use crate::harness::*;

const ROOT: (&str, &str) = (ACCESS_KEY, SECRET_KEY);

fn put_in(endpoint: &str, region: &str, path: &str, body: &[u8]) -> (u16, String) {
    let (status, answer) = signed_request_in(endpoint, ROOT, region, "PUT", path, body);
    (status, String::from_utf8_lossy(&answer).into_owned())
}

fn get_in(endpoint: &str, region: &str, path: &str) -> (u16, Vec<u8>) {
    signed_request_in(endpoint, ROOT, region, "GET", path, b"")
}

fn set_region(endpoint: &str, region: &str) {
    let sealed = cairn_madmin::encrypt_data(SECRET_KEY, format!("region name={region}").as_bytes()).expect("encrypt");
    let (status, body) = signed_request(endpoint, "PUT", "/minio/admin/v3/set-config-kv", &sealed);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_signed_for_legacy_or_any_region_are_served_until_one_is_configured() {
    let server = Server::start(4);
    let endpoint = &server.endpoint;
    // s3cmd with `bucket_location = US` signs everything, bucket creation included, for `US`.
    let (status, answer) = put_in(endpoint, "US", "/legacy", b"");
    assert_eq!(status, 200, "create bucket in US: {answer}");
    for region in ["US", "us-east-1", "eu-central-1", "ap-southeast-2"] {
        let path = format!("/legacy/object-{region}");
        let (status, answer) = put_in(endpoint, region, &path, region.as_bytes());
        assert_eq!(status, 200, "PUT signed for {region}: {answer}");
        let (status, body) = get_in(endpoint, region, &path);
        assert_eq!((status, body), (200, region.as_bytes().to_vec()), "GET signed for {region}");
    }
    // A wrong signature in the legacy region is still refused.
    let (status, answer) =
        signed_request_in(endpoint, (ACCESS_KEY, "wrong-secret"), "US", "GET", "/legacy/object-US", b"");
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&answer));

    set_region(endpoint, "eu-west-1");
    let (status, answer) = put_in(endpoint, "eu-west-1", "/legacy/configured", b"ok");
    assert_eq!(status, 200, "{answer}");
    for region in ["us-east-1", "US", "eu-central-1"] {
        let path = format!("/legacy/refused-{region}");
        let (status, answer) = put_in(endpoint, region, &path, b"refused");
        assert_eq!(status, 400, "PUT signed for {region} with eu-west-1 configured: {answer}");
        assert!(answer.contains("AuthorizationHeaderMalformed") && answer.contains("eu-west-1"), "{answer}");
    }
    // Clients find the region with GetBucketLocation, signed for us-east-1.
    let (status, body) = get_in(endpoint, "us-east-1", "/legacy?location");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("eu-west-1"));
    let listed = String::from_utf8_lossy(&get_in(endpoint, "eu-west-1", "/legacy").1).into_owned();
    assert!(!listed.contains("refused-"), "a refused PUT stored something: {listed}");

    set_region(endpoint, "us-east-1");
    let (status, answer) = put_in(endpoint, "US", "/legacy/us-again", b"ok");
    assert_eq!(status, 200, "US is us-east-1: {answer}");
    let (status, _) = put_in(endpoint, "eu-west-1", "/legacy/eu-again", b"no");
    assert_eq!(status, 400);
}
