"""boto3 compatibility: Objects and copies."""

from __future__ import annotations

from compat_helpers import *  # noqa: F401,F403


# --------------------------------------------------------------------------
# objects
# --------------------------------------------------------------------------


def test_put_get_head_delete_with_metadata(s3, bucket):
    data = rand(1000)
    put = s3.put_object(Bucket=bucket, Key="obj.bin", Body=data,
                        Metadata={"color": "blue", "Mixed-Case": "Value With Spaces"})
    assert put["ETag"] == etag_of(data)

    got = s3.get_object(Bucket=bucket, Key="obj.bin")
    assert got["Body"].read() == data
    assert got["ETag"] == etag_of(data)
    assert got["ContentLength"] == len(data)
    assert got["Metadata"] == {"color": "blue", "mixed-case": "Value With Spaces"}
    assert abs((got["LastModified"] - dt.datetime.now(UTC)).total_seconds()) < 300
    assert header(got, "accept-ranges") == "bytes"

    head = s3.head_object(Bucket=bucket, Key="obj.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == etag_of(data)
    assert head["Metadata"] == {"color": "blue", "mixed-case": "Value With Spaces"}
    assert head["LastModified"] == got["LastModified"]

    d = s3.delete_object(Bucket=bucket, Key="obj.bin")
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="obj.bin")
    assert err(ei) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="obj.bin")
    assert err(ei)[1] == 404
    # deleting a missing key succeeds (idempotent)
    assert s3.delete_object(Bucket=bucket, Key="obj.bin")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="never-existed")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_overwrite_with_smaller_object(s3, bucket):
    big = rand(3 * MiB + 17)
    small = b"tiny"
    s3.put_object(Bucket=bucket, Key="k", Body=big, Metadata={"v": "1"})
    s3.put_object(Bucket=bucket, Key="k", Body=small)
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == small
    assert got["ContentLength"] == 4
    assert got["ETag"] == etag_of(small)
    assert got["Metadata"] == {}


def test_empty_object(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert put["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["ContentLength"] == 0 and got["Body"].read() == b""
    assert s3.head_object(Bucket=bucket, Key="empty")["ContentLength"] == 0


def test_puts_after_an_empty_put_on_one_connection(bucket):
    # Regression: botocore sends `Expect: 100-continue` even for an empty body; the
    # server's direct answer left botocore misreading the next response on the same
    # connection until its read timeout.
    # A stall surfaces as a read timeout (no retries).
    client = make_client(read_timeout=10)
    for round_ in range(3):
        client.put_object(Bucket=bucket, Key=f"empty-{round_}", Body=b"")
        client.put_object(Bucket=bucket, Key=f"small-{round_}", Body=b"x" * 100)
    assert client.get_object(Bucket=bucket, Key="small-2")["Body"].read() == b"x" * 100


def test_standard_headers_round_trip(s3, bucket):
    import gzip

    body = gzip.compress(b"hello world " * 100)
    expires = dt.datetime(2031, 7, 4, 12, 30, 0, tzinfo=UTC)
    s3.put_object(
        Bucket=bucket, Key="doc.txt", Body=body,
        ContentType="text/plain; charset=utf-8",
        ContentEncoding="gzip",
        ContentDisposition='attachment; filename="report.txt"',
        ContentLanguage="de-DE",
        CacheControl="max-age=3600, must-revalidate",
        Expires=expires,
    )
    for resp in (s3.get_object(Bucket=bucket, Key="doc.txt"), s3.head_object(Bucket=bucket, Key="doc.txt")):
        assert resp["ContentType"] == "text/plain; charset=utf-8"
        assert resp["ContentEncoding"] == "gzip"
        assert resp["ContentDisposition"] == 'attachment; filename="report.txt"'
        assert resp["ContentLanguage"] == "de-DE"
        assert resp["CacheControl"] == "max-age=3600, must-revalidate"
        raw_expires = header(resp, "expires")
        assert raw_expires is not None
        assert email.utils.parsedate_to_datetime(raw_expires) == expires
    # body comes back byte-exact (not decompressed, not re-encoded)
    assert get_body(s3, bucket, "doc.txt") == body


def test_default_content_type(s3, bucket):
    s3.put_object(Bucket=bucket, Key="noct", Body=b"abc")
    ct = s3.head_object(Bucket=bucket, Key="noct")["ContentType"]
    # boto3 sends no Content-Type; S3 then reports binary/octet-stream (MinIO: application/octet-stream)
    assert ct in ("binary/octet-stream", "application/octet-stream")


@pytest.fixture
def hundred(s3, bucket):
    data = bytes(range(100))
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    return data


@pytest.mark.parametrize("rng,start,end", [
    ("bytes=10-19", 10, 19),
    ("bytes=0-0", 0, 0),
    ("bytes=5-", 5, 99),
    ("bytes=-10", 90, 99),
    ("bytes=90-200", 90, 99),     # end past EOF is clamped
    ("bytes=-500", 0, 99),        # suffix longer than object -> whole object
    ("bytes=99-99", 99, 99),
])
def test_ranges(s3, bucket, hundred, rng, start, end):
    got = s3.get_object(Bucket=bucket, Key="r", Range=rng)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes {start}-{end}/100"
    assert got["ContentLength"] == end - start + 1
    assert got["Body"].read() == hundred[start:end + 1]
    assert got["ETag"] == etag_of(hundred)


@pytest.mark.parametrize("rng", ["bytes=100-110", "bytes=100-", "bytes=500-600"])
def test_range_unsatisfiable(s3, bucket, hundred, rng):
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="r", Range=rng)
    assert err(ei) == ("InvalidRange", 416)


def test_head_with_range(s3, bucket, hundred):
    head = s3.head_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert head["ContentLength"] == 10
    assert head["ContentRange"] == "bytes 10-19/100"


def test_ranges_on_large_odd_sized_object(s3, bucket):
    # Crosses erasure-coding block/shard boundaries at odd offsets.
    data = rand(9 * MiB + 12345)
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    assert hashlib.sha256(get_body(s3, bucket, "big")).digest() == hashlib.sha256(data).digest()
    n = len(data)
    for start, end in [(0, MiB), (MiB - 7, MiB + 7), (2 * MiB - 1, 2 * MiB), (3 * MiB + 1, 7 * MiB + 3),
                       (n - MiB - 5, n - 1), (n - 1, n - 1), (12345, 12345 + 64 * 1024)]:
        got = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={start}-{end}")
        assert got["ContentRange"] == f"bytes {start}-{end}/{n}"
        assert got["Body"].read() == data[start:end + 1], (start, end)


def test_conditional_get(s3, bucket):
    data = b"conditional"
    etag = s3.put_object(Bucket=bucket, Key="c", Body=data)["ETag"]
    past = dt.datetime(2000, 1, 1, tzinfo=UTC)
    future = dt.datetime.now(UTC) + dt.timedelta(days=1)

    # If-Match
    assert get_body(s3, bucket, "c", IfMatch=etag) == data
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"00000000000000000000000000000000"')
    assert err(ei) == ("PreconditionFailed", 412)

    # If-None-Match
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert err(ei)[1] == 304
    assert get_body(s3, bucket, "c", IfNoneMatch='"00000000000000000000000000000000"') == data

    # If-Modified-Since
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=future)
    assert err(ei)[1] == 304
    assert get_body(s3, bucket, "c", IfModifiedSince=past) == data

    # If-Unmodified-Since
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=past)
    assert err(ei) == ("PreconditionFailed", 412)
    assert get_body(s3, bucket, "c", IfUnmodifiedSince=future) == data


def test_conditional_head(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"x")["ETag"]
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="c", IfMatch='"00000000000000000000000000000000"')
    assert err(ei)[1] == 412
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert err(ei)[1] == 304
    assert s3.head_object(Bucket=bucket, Key="c", IfMatch=etag)["ETag"] == etag


def test_response_header_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"data", ContentType="application/json")
    exp = dt.datetime(2030, 1, 1, tzinfo=UTC)
    got = s3.get_object(
        Bucket=bucket, Key="o",
        ResponseContentType="text/x-override",
        ResponseContentDisposition='inline; filename="o.txt"',
        ResponseCacheControl="no-cache",
        ResponseContentLanguage="fr",
        ResponseContentEncoding="identity",
        ResponseExpires=exp,
    )
    assert got["ContentType"] == "text/x-override"
    assert got["ContentDisposition"] == 'inline; filename="o.txt"'
    assert got["CacheControl"] == "no-cache"
    assert got["ContentLanguage"] == "fr"
    assert got["ContentEncoding"] == "identity"
    assert email.utils.parsedate_to_datetime(header(got, "expires")) == exp
    assert got["Body"].read() == b"data"
    # the stored content type is untouched
    assert s3.head_object(Bucket=bucket, Key="o")["ContentType"] == "application/json"


def test_put_if_none_match_star(s3, bucket):
    """Conditional write (If-None-Match: *) - supported by AWS since 2024 and recent SDKs."""
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert err(ei) == ("PreconditionFailed", 412)
    assert get_body(s3, bucket, "once") == b"first"

# --------------------------------------------------------------------------
# copy
# --------------------------------------------------------------------------


def test_copy_object_copy_directive(s3, bucket):
    data = rand(4096)
    s3.put_object(Bucket=bucket, Key="src", Body=data, ContentType="image/png",
                  Metadata={"origin": "here"}, CacheControl="max-age=5")
    resp = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert resp["CopyObjectResult"]["ETag"] == etag_of(data)
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["ContentType"] == "image/png"
    assert head["Metadata"] == {"origin": "here"}
    assert head["CacheControl"] == "max-age=5"
    assert head["ETag"] == etag_of(data)
    assert get_body(s3, bucket, "dst") == data
    # the source is unchanged
    assert get_body(s3, bucket, "src") == data


def test_copy_object_replace_directive(s3, bucket):
    data = rand(2048)
    s3.put_object(Bucket=bucket, Key="src", Body=data, ContentType="image/png", Metadata={"origin": "here"})
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"new": "meta"}, ContentType="text/plain")
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["Metadata"] == {"new": "meta"}
    assert head["ContentType"] == "text/plain"
    assert get_body(s3, bucket, "dst") == data
    src_head = s3.head_object(Bucket=bucket, Key="src")
    assert src_head["Metadata"] == {"origin": "here"} and src_head["ContentType"] == "image/png"


def test_copy_object_onto_itself_with_replace(s3, bucket):
    data = b"self-copy"
    s3.put_object(Bucket=bucket, Key="self", Body=data, Metadata={"a": "1"})
    s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"},
                   MetadataDirective="REPLACE", Metadata={"a": "2"})
    got = s3.get_object(Bucket=bucket, Key="self")
    assert got["Metadata"] == {"a": "2"} and got["Body"].read() == data


def test_copy_object_onto_itself_without_change_is_rejected(s3, bucket):
    s3.put_object(Bucket=bucket, Key="self", Body=b"x")
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"})
    assert err(ei) == ("InvalidRequest", 400)


def test_copy_object_across_buckets(s3, bucket, bucket2):
    data = rand(10000)
    key = "dir/ü ñ+&=.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=data, Metadata={"m": "v"})
    s3.copy_object(Bucket=bucket2, Key="copied/" + key, CopySource={"Bucket": bucket, "Key": key})
    got = s3.get_object(Bucket=bucket2, Key="copied/" + key)
    assert got["Body"].read() == data and got["Metadata"] == {"m": "v"}
    # CopySource given as a string works as well
    s3.copy_object(Bucket=bucket2, Key="copied2", CopySource=f"{bucket}/{key}")  # botocore URL-encodes it
    assert get_body(s3, bucket2, "copied2") == data


def test_copy_object_conditions(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"cond")["ETag"]
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                       CopySourceIfMatch='"00000000000000000000000000000000"')
    assert err(ei) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                       CopySourceIfNoneMatch=etag)
    assert err(ei) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="dst")
    assert err(ei)[1] == 404
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, CopySourceIfMatch=etag)
    assert get_body(s3, bucket, "dst") == b"cond"


def test_copy_object_missing_source(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "nope"})
    assert err(ei) == ("NoSuchKey", 404)
