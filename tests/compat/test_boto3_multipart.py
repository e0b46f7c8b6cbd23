"""boto3 compatibility: Multipart uploads and checksums."""

from __future__ import annotations

from compat_helpers import *  # noqa: F401,F403


# --------------------------------------------------------------------------
# multipart
# --------------------------------------------------------------------------


def test_multipart_upload_complete(s3, bucket):
    key = "mp/obj.bin"
    parts = [rand(5 * MiB), rand(5 * MiB), rand(5 * MiB), rand(1234)]
    mpu = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-test",
                                     Metadata={"kind": "multipart"})
    uid = mpu["UploadId"]
    assert mpu["Bucket"] == bucket and mpu["Key"] == key and uid

    uploads = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in uploads.get("Uploads", [])] == [(key, uid)]
    # not yet visible as an object
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key=key)
    assert err(ei)[1] == 404

    etags = []
    for n, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=p)
        assert r["ETag"] == etag_of(p)
        etags.append(r["ETag"])

    lp = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
    assert [(x["PartNumber"], x["ETag"], x["Size"]) for x in lp["Parts"]] == \
        [(n, etag_of(p), len(p)) for n, p in enumerate(parts, 1)]
    assert lp["UploadId"] == uid and lp["Key"] == key
    # paginated list_parts
    lp1 = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid, MaxParts=2)
    assert [x["PartNumber"] for x in lp1["Parts"]] == [1, 2] and lp1["IsTruncated"] is True
    lp2 = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid, MaxParts=2,
                        PartNumberMarker=lp1["NextPartNumberMarker"])
    assert [x["PartNumber"] for x in lp2["Parts"]] == [3, 4]

    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=uid,
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]})
    assert done["ETag"] == multipart_etag(parts)
    assert done["ETag"].endswith('-4"')

    whole = b"".join(parts)
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(whole)
    assert head["ETag"] == multipart_etag(parts)
    assert head["ContentType"] == "application/x-test"
    assert head["Metadata"] == {"kind": "multipart"}
    assert hashlib.sha256(get_body(s3, bucket, key)).digest() == hashlib.sha256(whole).digest()
    # a range spanning the part 1/part 2 boundary
    r = get_body(s3, bucket, key, Range=f"bytes={5 * MiB - 10}-{5 * MiB + 9}")
    assert r == whole[5 * MiB - 10:5 * MiB + 10]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # the listing shows the multipart etag and full size
    obj = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert obj["Size"] == len(whole) and obj["ETag"] == multipart_etag(parts)


def test_multipart_reupload_part_and_subset(s3, bucket):
    """Re-uploading a part replaces it; completing with a subset of parts is allowed."""
    key = "mp/subset"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    p1_old, p1, p2, p3 = rand(5 * MiB), rand(5 * MiB), rand(100), rand(5 * MiB)
    s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=p1_old)
    e1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    e3 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=3, Body=p3)["ETag"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=5, Body=p2)
    lp = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
    assert [(x["PartNumber"], x["ETag"]) for x in lp["Parts"]] == \
        [(1, etag_of(p1)), (3, etag_of(p3)), (5, etag_of(p2))]
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
        "Parts": [{"ETag": e1, "PartNumber": 1}, {"ETag": e3, "PartNumber": 3}]})
    assert done["ETag"] == multipart_etag([p1, p3])
    assert get_body(s3, bucket, key) == p1 + p3


def test_multipart_abort(s3, bucket):
    key = "mp/aborted"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=rand(1000))
    assert s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert uid not in [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    with pytest.raises(ClientError) as ei:
        s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, Body=b"x")
    assert err(ei) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as ei:
        s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
    assert err(ei) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                     MultipartUpload={"Parts": [{"ETag": '"x"', "PartNumber": 1}]})
    assert err(ei) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key=key)
    assert err(ei)[1] == 404
    assert list_all_keys(s3, bucket) == []


def test_multipart_unknown_upload_id(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.upload_part(Bucket=bucket, Key="k", UploadId="does-not-exist", PartNumber=1, Body=b"x")
    assert err(ei) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as ei:
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId="does-not-exist")
    assert err(ei) == ("NoSuchUpload", 404)


def test_multipart_entity_too_small(s3, bucket):
    key = "mp/small"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    p1, p2 = rand(1 * MiB), rand(1 * MiB)
    e1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, Body=p2)["ETag"]
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
            "Parts": [{"ETag": e1, "PartNumber": 1}, {"ETag": e2, "PartNumber": 2}]})
    assert err(ei) == ("EntityTooSmall", 400)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key=key)
    assert err(ei)[1] == 404
    # a single small part is fine (the last part may be small)
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
        "Parts": [{"ETag": e1, "PartNumber": 1}]})
    assert done["ETag"] == multipart_etag([p1])
    assert get_body(s3, bucket, key) == p1


def test_multipart_invalid_part(s3, bucket):
    key = "mp/invalid"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    # both parts >= 5 MiB so that the out-of-order check cannot trip EntityTooSmall instead
    p1, p2 = rand(5 * MiB), rand(5 * MiB)
    e1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2, Body=p2)["ETag"]
    # wrong etag
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
            "Parts": [{"ETag": e1, "PartNumber": 1}, {"ETag": '"0123456789abcdef0123456789abcdef"', "PartNumber": 2}]})
    assert err(ei) == ("InvalidPart", 400)
    # part never uploaded
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
            "Parts": [{"ETag": e1, "PartNumber": 1}, {"ETag": e2, "PartNumber": 7}]})
    assert err(ei) == ("InvalidPart", 400)
    # out of order
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
            "Parts": [{"ETag": e2, "PartNumber": 2}, {"ETag": e1, "PartNumber": 1}]})
    assert err(ei) == ("InvalidPartOrder", 400)
    # the upload survives failed completions
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
        "Parts": [{"ETag": e1, "PartNumber": 1}, {"ETag": e2, "PartNumber": 2}]})
    assert done["ETag"] == multipart_etag([p1, p2])
    assert get_body(s3, bucket, key) == p1 + p2


def test_multipart_invalid_part_number(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    for bad in (0, 10001):
        with pytest.raises(ClientError) as ei:
            s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=bad, Body=b"x")
        assert err(ei)[1] == 400, bad


def test_upload_part_copy(s3, bucket, bucket2):
    src = rand(10 * MiB + 333)  # part 2 (copied from offset 5 MiB) must itself be >= 5 MiB
    s3.put_object(Bucket=bucket2, Key="source", Body=src)
    key = "mp/copied"
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    r1 = s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket2, "Key": "source"},
                             CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    e1 = r1["CopyPartResult"]["ETag"]
    assert e1 == etag_of(src[:5 * MiB])
    r2 = s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": bucket2, "Key": "source"},
                             CopySourceRange=f"bytes={5 * MiB}-{len(src) - 1}")
    e2 = r2["CopyPartResult"]["ETag"]
    assert e2 == etag_of(src[5 * MiB:])
    tail = b"tail-from-regular-upload"
    e3 = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=3, Body=tail)["ETag"]
    # A range outside the source is rejected.
    with pytest.raises(ClientError) as ei:
        s3.upload_part_copy(Bucket=bucket, Key=key, UploadId=uid, PartNumber=4,
                            CopySource={"Bucket": bucket2, "Key": "source"},
                            CopySourceRange=f"bytes={len(src)}-{len(src) + 10}")
    assert err(ei)[1] in (400, 416)
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": [
        {"ETag": e1, "PartNumber": 1}, {"ETag": e2, "PartNumber": 2}, {"ETag": e3, "PartNumber": 3}]})
    assert done["ETag"] == multipart_etag([src[:5 * MiB], src[5 * MiB:], tail])
    assert get_body(s3, bucket, key) == src + tail


def test_multipart_with_crc32_checksums(s3, bucket):
    key = "mp/crc"
    parts = [rand(5 * MiB), rand(777)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32")["UploadId"]
    completed = []
    for n, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=p, ChecksumAlgorithm="CRC32")
        assert r.get("ChecksumCRC32") == checksum_b64("CRC32", p)
        completed.append({"ETag": r["ETag"], "PartNumber": n, "ChecksumCRC32": r["ChecksumCRC32"]})
    lp = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)
    assert [x.get("ChecksumCRC32") for x in lp["Parts"]] == [checksum_b64("CRC32", p) for p in parts]
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                        MultipartUpload={"Parts": completed})
    composite = b64(zlib.crc32(b"".join(base64.b64decode(checksum_b64("CRC32", p)) for p in parts))
                    .to_bytes(4, "big")) + f"-{len(parts)}"
    assert done.get("ChecksumCRC32") == composite
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head.get("ChecksumCRC32") == composite
    assert get_body(s3, bucket, key) == b"".join(parts)


def test_large_object_transfer_manager(s3, bucket, tmp_path):
    data = rand(20 * MiB + 4321)
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
    s3.upload_fileobj(io.BytesIO(data), bucket, "big/20mib", Config=cfg,
                      ExtraArgs={"ContentType": "application/x-big", "Metadata": {"size": str(len(data))}})
    head = s3.head_object(Bucket=bucket, Key="big/20mib")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-5"')  # 4 x 5 MiB + remainder
    assert head["ETag"] == multipart_etag([data[i:i + 5 * MiB] for i in range(0, len(data), 5 * MiB)])
    assert head["ContentType"] == "application/x-big"
    assert head["Metadata"] == {"size": str(len(data))}
    out = io.BytesIO()
    s3.download_fileobj(bucket, "big/20mib", out, Config=cfg)  # ranged, concurrent GETs
    assert hashlib.sha256(out.getvalue()).hexdigest() == hashlib.sha256(data).hexdigest()
    # and the file-based helpers
    path = tmp_path / "dl.bin"
    s3.download_file(bucket, "big/20mib", str(path), Config=cfg)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()


def test_concurrent_overwrites_are_atomic(s3, bucket):
    payloads = [bytes([i]) * (MiB + i) for i in range(8)]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda p: s3.put_object(Bucket=bucket, Key="contended", Body=p), payloads))
    got = s3.get_object(Bucket=bucket, Key="contended")
    body = got["Body"].read()
    assert body in payloads, "object content is a mix of concurrent writes"
    assert got["ETag"] == etag_of(body)
    assert got["ContentLength"] == len(body)


def test_parallel_puts_distinct_keys(s3, bucket):
    items = {f"par/{i:03d}": rand(1000 + i) for i in range(48)}
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), items.items()))
    assert list_all_keys(s3, bucket) == sorted(items)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        bodies = dict(ex.map(lambda k: (k, get_body(s3, bucket, k)), items))
    assert bodies == items

# --------------------------------------------------------------------------
# checksums
# --------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"])
def test_put_object_checksum_algorithm(s3, bucket, alg):
    if not botocore_supports(alg):
        pytest.skip(f"installed botocore cannot compute {alg} (needs awscrt)")
    data = rand(300 * 1024 + 7)
    expected = checksum_b64(alg, data)
    member = f"Checksum{alg}"
    put = s3.put_object(Bucket=bucket, Key=f"ck-{alg}", Body=data, ChecksumAlgorithm=alg)
    assert put.get(member) == expected
    got = s3.get_object(Bucket=bucket, Key=f"ck-{alg}", ChecksumMode="ENABLED")
    assert got.get(member) == expected
    assert got["Body"].read() == data
    head = s3.head_object(Bucket=bucket, Key=f"ck-{alg}", ChecksumMode="ENABLED")
    assert head.get(member) == expected


@pytest.mark.parametrize("alg", ["CRC32", "SHA256"])
def test_copy_object_keeps_checksum(s3, bucket, alg):
    """CopyObject without x-amz-checksum-algorithm copies the source's checksum (AWS behaviour)."""
    data = rand(10000)
    s3.put_object(Bucket=bucket, Key="src", Body=data, ChecksumAlgorithm=alg)
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    head = s3.head_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")
    assert head.get(f"Checksum{alg}") == checksum_b64(alg, data)


@pytest.mark.parametrize("alg", ["CRC32", "SHA256"])
def test_put_object_wrong_checksum_rejected(s3, bucket, alg):
    data = b"the real body"
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="bad-ck", Body=data, **{f"Checksum{alg}": checksum_b64(alg, b"other")})
    code, status = err(ei)
    assert status == 400 and code in ("BadDigest", "XAmzContentChecksumMismatch", "InvalidRequest"), (code, status)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="bad-ck")
    assert err(ei)[1] == 404


def test_content_md5(s3, bucket):
    data = b"md5 protected body"
    good = b64(hashlib.md5(data).digest())
    s3.put_object(Bucket=bucket, Key="md5-ok", Body=data, ContentMD5=good)
    assert get_body(s3, bucket, "md5-ok") == data

    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="md5-bad", Body=data, ContentMD5=b64(hashlib.md5(b"other").digest()))
    assert err(ei) == ("BadDigest", 400)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="md5-bad")
    assert err(ei)[1] == 404

    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="md5-invalid", Body=data, ContentMD5="not-base64-md5")
    code, status = err(ei)
    assert status == 400 and code in ("InvalidDigest", "BadDigest"), (code, status)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="md5-invalid")
    assert err(ei)[1] == 404


def test_content_md5_on_upload_part(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    with pytest.raises(ClientError) as ei:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"abc",
                       ContentMD5=b64(hashlib.md5(b"xyz").digest()))
    assert err(ei) == ("BadDigest", 400)
    assert s3.list_parts(Bucket=bucket, Key="k", UploadId=uid).get("Parts", []) == []
