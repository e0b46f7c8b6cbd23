//! `mc admin config export|import` over MinIO's admin API: the whole configuration
//! comes out encrypted with the caller's secret, goes back in the same way, takes
//! effect, and an invalid import changes nothing.

use crate::harness::*;

fn export(endpoint: &str) -> String {
    let (status, body) = signed_request(endpoint, "GET", "/minio/admin/v3/get-config", b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let plain = cairn_madmin::decrypt_data(SECRET_KEY, &body).expect("decrypt");
    String::from_utf8(plain).expect("text")
}

pub(crate) fn import(endpoint: &str, text: &str) -> u16 {
    let sealed = cairn_madmin::encrypt_data(SECRET_KEY, text.as_bytes()).expect("encrypt");
    signed_request(endpoint, "PUT", "/minio/admin/v3/set-config", &sealed).0
}

#[tokio::test(flavor = "multi_thread")]
async fn config_export_and_import_round_trip() {
    let server = Server::start(4);
    let client = server.client();
    let bucket = new_bucket(&client, "config").await;
    let exported = export(&server.endpoint);
    assert!(exported.contains("region name=us-east-1"), "{exported}");
    assert!(exported.contains("scanner cycle=1h deep=720h deep_speed=32MiB speed=default"), "{exported}");

    let changed = exported.replace("region name=us-east-1", "region name=eu-central-1");
    assert_eq!(import(&server.endpoint, &changed), 200);
    let location = client.get_bucket_location().bucket(&bucket).send().await.expect("location");
    assert_eq!(location.location_constraint().map(|c| c.as_str()), Some("eu-central-1"));
    assert!(export(&server.endpoint).contains("region name=eu-central-1"));

    assert_eq!(import(&server.endpoint, "region name=us-east-1\nscanner speed=warp\n"), 400);
    assert!(export(&server.endpoint).contains("region name=eu-central-1"), "a refused import changed the config");
    // Survives a restart: it is stored in the cluster, not in memory.
    let server = Server::start_in(server.stop(), 4, &[]);
    assert!(export(&server.endpoint).contains("region name=eu-central-1"));
}
