"""boto3 compatibility: aws-chunked streaming, raw SigV4 edge cases, presigned URLs and auth failures."""

from __future__ import annotations

from compat_helpers import *  # noqa: F401,F403


# --------------------------------------------------------------------------
# aws-chunked streaming uploads (hand-built, like minio-go / Java / JS SDKs send)
# --------------------------------------------------------------------------

_STREAM_DATA_LEN = 200_000  # 3 x 64 KiB chunks + remainder


def _streaming_put(bucket, key, data, mode, tamper=None, content_encoding=True):
    """mode: signed | signed-trailer | unsigned-trailer | unsigned-trailer-te-chunked"""
    signer = SigV4()
    path = key_path(bucket, key)
    chunks = split_chunks(data, 64 * 1024)
    crc = checksum_b64("CRC32", data)
    if tamper == "trailer-checksum":
        crc = checksum_b64("CRC32", b"not the data")
    hdrs = {
        "host": HOST_HEADER,
        "x-amz-date": signer.amz_date,
        "x-amz-decoded-content-length": str(len(data)),
    }
    if content_encoding:
        hdrs["content-encoding"] = "aws-chunked"
    te_chunked = False
    if mode == "signed":
        sha = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        trailer = None
    elif mode == "signed-trailer":
        sha = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
        trailer = ("x-amz-checksum-crc32", crc)
        hdrs["x-amz-trailer"] = "x-amz-checksum-crc32"
    elif mode in ("unsigned-trailer", "unsigned-trailer-te-chunked"):
        sha = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        trailer = ("x-amz-checksum-crc32", crc)
        hdrs["x-amz-trailer"] = "x-amz-checksum-crc32"
        te_chunked = mode.endswith("te-chunked")
    else:
        raise ValueError(mode)
    hdrs["x-amz-content-sha256"] = sha

    if mode.startswith("signed"):
        # length of the encoded body is needed before signing; compute with a dummy seed
        dummy = signed_chunked_body(signer, "0" * 64, chunks, trailer)
        hdrs["content-length"] = str(sum(len(p) for p in dummy))
        auth, seed = signer.sign("PUT", path, [], hdrs, sha)
        tamper_chunk = 1 if tamper == "chunk-signature" else None
        pieces = signed_chunked_body(signer, seed, chunks, trailer, tamper_chunk=tamper_chunk)
        if tamper == "chunk-data":
            pieces[1] = pieces[1][:-3] + bytes([pieces[1][-3] ^ 1]) + pieces[1][-2:]
    else:
        pieces = unsigned_trailer_body(chunks, trailer)
        if not te_chunked:
            hdrs["content-length"] = str(sum(len(p) for p in pieces))
        auth, seed = signer.sign("PUT", path, [], hdrs, sha)
    send_headers = {k: v for k, v in hdrs.items() if k != "host"}
    send_headers["Authorization"] = auth
    if te_chunked:
        return raw_request("PUT", path, send_headers, pieces, encode_chunked=True)
    return raw_request("PUT", path, send_headers, b"".join(pieces))


@pytest.mark.parametrize("mode,content_encoding", [
    ("signed", True),
    ("signed", False),             # minio-go / mc omit Content-Encoding: aws-chunked
    ("signed-trailer", True),
    ("unsigned-trailer", True),
    ("unsigned-trailer-te-chunked", True),  # what the JS SDK v3 sends for stream bodies
])
def test_aws_chunked_upload(s3, bucket, mode, content_encoding):
    data = rand(_STREAM_DATA_LEN)
    status, hdrs, body = _streaming_put(bucket, "streamed", data, mode, content_encoding=content_encoding)
    assert status == 200, (status, body[:500])
    assert hdrs.get("etag") == etag_of(data)
    got = s3.get_object(Bucket=bucket, Key="streamed")
    assert got["ContentLength"] == len(data)
    assert got["Body"].read() == data
    # the aws-chunked coding must not be persisted as the object's Content-Encoding
    assert got.get("ContentEncoding") in (None, "")
    if "trailer" in mode:
        head = s3.head_object(Bucket=bucket, Key="streamed", ChecksumMode="ENABLED")
        assert head.get("ChecksumCRC32") == checksum_b64("CRC32", data)


@pytest.mark.parametrize("mode,tamper", [
    ("signed", "chunk-signature"),
    ("signed", "chunk-data"),
    ("signed-trailer", "chunk-signature"),
])
def test_aws_chunked_tampered_signature_rejected(s3, bucket, mode, tamper):
    data = rand(_STREAM_DATA_LEN)
    status, _, body = _streaming_put(bucket, "tampered", data, mode, tamper=tamper)
    assert status == 403, (status, body[:500])
    assert xml_code(body) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="tampered")
    assert err(ei)[1] == 404


@pytest.mark.parametrize("mode", ["unsigned-trailer", "signed-trailer"])
def test_aws_chunked_wrong_trailer_checksum_rejected(s3, bucket, mode):
    data = rand(_STREAM_DATA_LEN)
    status, _, body = _streaming_put(bucket, "badtrailer", data, mode, tamper="trailer-checksum")
    assert status == 400, (status, body[:500])
    assert xml_code(body) in ("BadDigest", "XAmzContentChecksumMismatch", "InvalidRequest")
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="badtrailer")
    assert err(ei)[1] == 404


def test_aws_chunked_upload_part(s3, bucket):
    """Multipart parts sent as signed aws-chunked streams (minio-go/mc do exactly this)."""
    key = "mp-streamed"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    part = rand(5 * MiB)
    signer = SigV4()
    path = key_path(bucket, key)
    query = [("partNumber", "1"), ("uploadId", uid)]
    chunks = split_chunks(part, 64 * 1024)
    sha = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    hdrs = {"host": HOST_HEADER, "x-amz-date": signer.amz_date, "x-amz-content-sha256": sha,
            "x-amz-decoded-content-length": str(len(part)), "content-encoding": "aws-chunked"}
    hdrs["content-length"] = str(sum(len(p) for p in signed_chunked_body(signer, "0" * 64, chunks)))
    auth, seed = signer.sign("PUT", path, query, hdrs, sha)
    send = {k: v for k, v in hdrs.items() if k != "host"}
    send["Authorization"] = auth
    qs = "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in query)
    status, rh, body = raw_request("PUT", f"{path}?{qs}", send, b"".join(signed_chunked_body(signer, seed, chunks)))
    assert status == 200, (status, body[:500])
    assert rh.get("etag") == etag_of(part)
    last = b"last"
    e2 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, Body=last)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
        "Parts": [{"ETag": rh["etag"], "PartNumber": 1}, {"ETag": e2, "PartNumber": 2}]})
    assert get_body(s3, bucket, key) == part + last

# --------------------------------------------------------------------------
# raw SigV4 header-auth edge cases
# --------------------------------------------------------------------------


def _signed_put(bucket, key, body, payload_hash=None, when=None, extra=None):
    signer = SigV4(when=when)
    path = key_path(bucket, key)
    payload_hash = payload_hash or hashlib.sha256(body).hexdigest()
    hdrs = {"host": HOST_HEADER, "x-amz-date": signer.amz_date, "x-amz-content-sha256": payload_hash}
    hdrs.update(extra or {})
    auth, _ = signer.sign("PUT", path, [], hdrs, payload_hash)
    send = {k: v for k, v in hdrs.items() if k != "host"}
    send["Authorization"] = auth
    send["Content-Length"] = str(len(body))
    return raw_request("PUT", path, send, body)


def test_raw_signed_put_works(s3, bucket):
    """Sanity check of the hand-rolled signer against the live server."""
    status, hdrs, body = _signed_put(bucket, "raw-ok", b"hello raw")
    assert status == 200, body
    assert get_body(s3, bucket, "raw-ok") == b"hello raw"


def test_unsigned_payload(s3, bucket):
    status, _, body = _signed_put(bucket, "unsigned", b"unsigned payload", payload_hash="UNSIGNED-PAYLOAD")
    assert status == 200, body
    assert get_body(s3, bucket, "unsigned") == b"unsigned payload"


def test_payload_hash_mismatch_rejected(s3, bucket):
    status, _, body = _signed_put(bucket, "mismatch", b"actual body",
                                  payload_hash=hashlib.sha256(b"claimed body").hexdigest())
    assert status == 400, body
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="mismatch")
    assert err(ei)[1] == 404
    assert xml_code(body) == "XAmzContentSHA256Mismatch", body


def test_request_time_too_skewed(s3, bucket):
    status, _, body = _signed_put(bucket, "skewed", b"x", when=dt.datetime.now(UTC) - dt.timedelta(hours=1))
    assert status == 403, body
    assert xml_code(body) == "RequestTimeTooSkewed"
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="skewed")
    assert err(ei)[1] == 404


def test_signed_header_altered_rejected(s3, bucket):
    """A signed header changed after signing must invalidate the signature."""
    signer = SigV4()
    path = key_path(bucket, "altered")
    body = b"body"
    ph = hashlib.sha256(body).hexdigest()
    hdrs = {"host": HOST_HEADER, "x-amz-date": signer.amz_date, "x-amz-content-sha256": ph,
            "x-amz-meta-owner": "alice"}
    auth, _ = signer.sign("PUT", path, [], hdrs, ph)
    send = {k: v for k, v in hdrs.items() if k != "host"}
    send["x-amz-meta-owner"] = "mallory"
    send["Authorization"] = auth
    status, _, resp = raw_request("PUT", path, send, body)
    assert status == 403 and xml_code(resp) == "SignatureDoesNotMatch", (status, resp)

# --------------------------------------------------------------------------
# presigned URLs and authentication failures
# --------------------------------------------------------------------------


def test_presigned_get_and_put(s3, bucket):
    key = "presigned/ü ñ+x.txt"
    data = b"presigned content"
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    status, hdrs, body = urlopen(urllib.request.Request(url))
    assert status == 200 and body == data

    # presigned GET with a response-* override
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": key, "ResponseContentDisposition": "attachment"}, ExpiresIn=300)
    status, hdrs, body = urlopen(urllib.request.Request(url))
    assert status == 200 and body == data
    assert {k.lower(): v for k, v in hdrs.items()}.get("content-disposition") == "attachment"

    put_key = "presigned/uploaded.txt"
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": put_key}, ExpiresIn=300)
    status, _, body = urlopen(urllib.request.Request(url, data=b"via presigned PUT", method="PUT",
                                                     headers={"Content-Type": "text/plain"}))
    assert status == 200, body
    got = s3.get_object(Bucket=bucket, Key=put_key)
    assert got["Body"].read() == b"via presigned PUT"
    assert got["ContentType"] == "text/plain"

    # HEAD via presigned URL
    url = s3.generate_presigned_url("head_object", Params={"Bucket": bucket, "Key": put_key}, ExpiresIn=300)
    status, hdrs, _ = urlopen(urllib.request.Request(url, method="HEAD"))
    assert status == 200
    assert int({k.lower(): v for k, v in hdrs.items()}["content-length"]) == len(b"via presigned PUT")


def test_presigned_url_expired(s3, bucket):
    s3.put_object(Bucket=bucket, Key="exp", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "exp"}, ExpiresIn=1)
    time.sleep(2.5)
    status, _, body = urlopen(urllib.request.Request(url))
    assert status == 403, body
    assert xml_code(body) == "AccessDenied"


def test_presigned_url_tampered(s3, bucket):
    s3.put_object(Bucket=bucket, Key="public", Body=b"public")
    s3.put_object(Bucket=bucket, Key="secret", Body=b"secret")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "public"}, ExpiresIn=300)
    status, _, body = urlopen(urllib.request.Request(url.replace("/public?", "/secret?")))
    assert status == 403 and xml_code(body) == "SignatureDoesNotMatch", (status, body)
    # a presigned GET cannot be used to PUT
    status, _, body = urlopen(urllib.request.Request(url, data=b"overwrite", method="PUT"))
    assert status == 403, body
    assert get_body(s3, bucket, "public") == b"public"


def test_presigned_put_with_wrong_secret(s3, bucket):
    bad = make_client(secret_key=SECRET_KEY + "x")
    url = bad.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "forged"}, ExpiresIn=300)
    status, _, body = urlopen(urllib.request.Request(url, data=b"forged", method="PUT"))
    assert status == 403 and xml_code(body) == "SignatureDoesNotMatch", (status, body)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="forged")
    assert err(ei)[1] == 404


def test_wrong_secret_key(s3, bucket):
    bad = make_client(secret_key=SECRET_KEY[::-1] + "x")
    with pytest.raises(ClientError) as ei:
        bad.list_buckets()
    assert err(ei) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as ei:
        bad.put_object(Bucket=bucket, Key="nope", Body=b"x")
    assert err(ei) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="nope")
    assert err(ei)[1] == 404


def test_unknown_access_key(s3, bucket):
    bad = make_client(access_key="NOSUCHACCESSKEY" + uuid.uuid4().hex[:8].upper())
    with pytest.raises(ClientError) as ei:
        bad.list_buckets()
    assert err(ei) == ("InvalidAccessKeyId", 403)
    with pytest.raises(ClientError) as ei:
        bad.get_object(Bucket=bucket, Key="x")
    assert err(ei) == ("InvalidAccessKeyId", 403)


def test_anonymous_requests_denied(s3, bucket):
    s3.put_object(Bucket=bucket, Key="private", Body=b"private data")
    for req in (
        urllib.request.Request(f"{ENDPOINT}/{bucket}/private"),
        urllib.request.Request(f"{ENDPOINT}/{bucket}"),
        urllib.request.Request(f"{ENDPOINT}/"),
        urllib.request.Request(f"{ENDPOINT}/{bucket}/private", method="HEAD"),
        urllib.request.Request(f"{ENDPOINT}/{bucket}/anon-put", data=b"anon", method="PUT"),
        urllib.request.Request(f"{ENDPOINT}/{bucket}/private", method="DELETE"),
    ):
        status, _, body = urlopen(req)
        assert status == 403, (req.get_method(), req.full_url, status, body)
        if req.get_method() != "HEAD":
            assert xml_code(body) == "AccessDenied", (req.get_method(), req.full_url, body)
    assert get_body(s3, bucket, "private") == b"private data"
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="anon-put")
    assert err(ei)[1] == 404


def test_malformed_authorization_header(s3, bucket):
    status, _, body = raw_request("GET", f"/{bucket}/x", {"Authorization": "AWS4-HMAC-SHA256 garbage"})
    assert 400 <= status < 500 and status != 404, (status, body)
    status, _, body = raw_request("GET", "/", {"Authorization": "Bearer abc"})
    assert 400 <= status < 500, (status, body)
