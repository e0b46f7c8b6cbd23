"""boto3 compatibility: Signer self-checks, server basics and buckets."""

from __future__ import annotations

from compat_helpers import *  # noqa: F401,F403


# --------------------------------------------------------------------------
# self-checks of the hand-rolled signer against AWS's published examples
# (these need no server; they guard the streaming tests below)
# --------------------------------------------------------------------------

_EX_AK = "AKIAIOSFODNN7EXAMPLE"
_EX_SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
_EX_TIME = dt.datetime(2013, 5, 24, tzinfo=UTC)


def test_signer_matches_aws_get_object_example():
    s = SigV4(_EX_AK, _EX_SK, when=_EX_TIME)
    _, sig = s.sign("GET", "/test.txt", [], {
        "Host": "examplebucket.s3.amazonaws.com",
        "Range": "bytes=0-9",
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
    }, EMPTY_SHA256)
    assert sig == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"


def test_signer_matches_aws_streaming_example():
    s = SigV4(_EX_AK, _EX_SK, when=_EX_TIME)
    _, seed = s.sign("PUT", "/examplebucket/chunkObject.txt", [], {
        "Host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "Content-Length": "66824",
    }, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    assert seed == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    c1 = s.chunk_signature(seed, b"a" * 65536)
    assert c1 == "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
    c2 = s.chunk_signature(c1, b"a" * 1024)
    assert c2 == "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
    c3 = s.chunk_signature(c2, b"")
    assert c3 == "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
    body = b"".join(signed_chunked_body(s, seed, [b"a" * 65536, b"a" * 1024]))
    assert len(body) == 66824


def test_local_crc_implementations():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc64nvme(b"123456789") == 0xAE8B14860A799888

# --------------------------------------------------------------------------
# server basics
# --------------------------------------------------------------------------


def test_health_live():
    status, _, _ = urlopen(urllib.request.Request(ENDPOINT + "/minio/health/live"))
    assert status == 200

# --------------------------------------------------------------------------
# buckets
# --------------------------------------------------------------------------


def test_bucket_lifecycle(s3):
    name = unique_bucket("life")
    before = dt.datetime.now(UTC) - dt.timedelta(minutes=5)
    resp = s3.create_bucket(Bucket=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    try:
        assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
        listed = {b["Name"]: b for b in s3.list_buckets()["Buckets"]}
        assert name in listed
        created = listed[name]["CreationDate"]
        assert before <= created <= dt.datetime.now(UTC) + dt.timedelta(minutes=5)
        loc = s3.get_bucket_location(Bucket=name)
        assert loc.get("LocationConstraint") in (None, "", "us-east-1")
        # empty bucket lists nothing
        v2 = s3.list_objects_v2(Bucket=name)
        assert v2.get("KeyCount") == 0 and "Contents" not in v2 and v2["IsTruncated"] is False
    finally:
        s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket=name)
    assert err(ei)[1] == 404
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=name)
    assert err(ei) == ("NoSuchBucket", 404)


def test_create_bucket_twice(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.create_bucket(Bucket=bucket)
    assert err(ei) == ("BucketAlreadyOwnedByYou", 409)


def test_delete_non_empty_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=bucket)
    assert err(ei) == ("BucketNotEmpty", 409)
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert get_body(s3, bucket, "x") == b"x"


def test_no_such_bucket(s3):
    name = unique_bucket("missing")
    for call in (
        lambda: s3.get_object(Bucket=name, Key="k"),
        lambda: s3.put_object(Bucket=name, Key="k", Body=b"v"),
        lambda: s3.list_objects_v2(Bucket=name),
        lambda: s3.list_objects(Bucket=name),
        lambda: s3.delete_bucket(Bucket=name),
        lambda: s3.get_bucket_location(Bucket=name),
        lambda: s3.create_multipart_upload(Bucket=name, Key="k"),
    ):
        with pytest.raises(ClientError) as ei:
            call()
        assert err(ei) == ("NoSuchBucket", 404)


@pytest.mark.parametrize("name", ["ab", "UpperCase-bucket", "bad_underscore", "-leading-dash",
                                  "a" * 64, "192.168.1.1", "double..dot"])
def test_invalid_bucket_names(s3, name):
    with pytest.raises(ClientError) as ei:
        s3.create_bucket(Bucket=name)
    code, status = err(ei)
    assert status == 400, (code, status)
    assert code == "InvalidBucketName"
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
