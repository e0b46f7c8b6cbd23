"""Client-compatibility tests for Cairn with boto3 (and hand-built SigV4 requests).

Run against a live server; configuration comes from the environment:

    CAIRN_ENDPOINT      e.g. http://127.0.0.1:9000      (required)
    CAIRN_ACCESS_KEY    root access key                   (required)
    CAIRN_SECRET_KEY    root secret key                   (required)
    CAIRN_DOMAIN_TEST   "1" when the server runs with CAIRN_DOMAIN=cairn.test
                        (enables the virtual-host-style test)
    CAIRN_DATA_DIR      optional: the directory holding the server's drives; the
                        hostile-key tests then check nothing escaped into it

`tests/compat/run.sh BINARY` starts a server and sets all of these.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import email.utils
import hashlib
import hmac
import http.client
import io
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib

import boto3
import botocore
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("CAIRN_ENDPOINT", "").rstrip("/")
ACCESS_KEY = os.environ.get("CAIRN_ACCESS_KEY", "")
SECRET_KEY = os.environ.get("CAIRN_SECRET_KEY", "")
REGION = "us-east-1"
DOMAIN_TEST = os.environ.get("CAIRN_DOMAIN_TEST") == "1"
DATA_DIR = os.environ.get("CAIRN_DATA_DIR", "")

if not (ENDPOINT and ACCESS_KEY and SECRET_KEY):
    raise RuntimeError(
        "CAIRN_ENDPOINT, CAIRN_ACCESS_KEY and CAIRN_SECRET_KEY must be set "
        "(tests/compat/run.sh BINARY sets them)"
    )

_EP = urllib.parse.urlsplit(ENDPOINT)
HOST = _EP.hostname
PORT = _EP.port or 80
HOST_HEADER = _EP.netloc

MiB = 1024 * 1024
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UTC = dt.timezone.utc


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def make_client(access_key=ACCESS_KEY, secret_key=SECRET_KEY, addressing_style="path",
                endpoint=ENDPOINT, **cfg):
    config = Config(
        signature_version="s3v4",
        region_name=REGION,
        s3={"addressing_style": addressing_style},
        retries={"total_max_attempts": 1},
        connect_timeout=10,
        read_timeout=120,
        **cfg,
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
        config=config,
    )


def unique_bucket(tag="t"):
    return f"cairn-{tag}-{uuid.uuid4().hex[:12]}"


def err(excinfo):
    """(code, http status) of a botocore ClientError caught by pytest.raises."""
    resp = excinfo.value.response
    return resp.get("Error", {}).get("Code"), resp["ResponseMetadata"]["HTTPStatusCode"]


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def b64(raw):
    return base64.b64encode(raw).decode()


def etag_of(data):
    return f'"{md5_hex(data)}"'


def multipart_etag(parts):
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def rand(n):
    return os.urandom(n)


def header(resp, name):
    return resp["ResponseMetadata"]["HTTPHeaders"].get(name.lower())


def list_all_keys(s3, bucket, **kw):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, **kw):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def empty_and_delete_bucket(s3, bucket):
    try:
        for up in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            try:
                s3.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
            except ClientError:
                pass
        keys = list_all_keys(s3, bucket)
        for i in range(0, len(keys), 1000):
            s3.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True},
            )
        s3.delete_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001 - best-effort cleanup
        pass


def get_body(s3, bucket, key, **kw):
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


def raw_request(method, path, headers=None, body=None, host=HOST_HEADER, encode_chunked=False):
    """Send one HTTP request to the server; returns (status, headers dict lowercase, body)."""
    conn = http.client.HTTPConnection(HOST, PORT, timeout=60)
    try:
        hdrs = {"Host": host}
        hdrs.update(headers or {})
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        if encode_chunked:
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for piece in body:
                if piece:
                    conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            conn.send(b"0\r\n\r\n")
        else:
            conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def xml_code(body):
    import re

    m = re.search(rb"<Code>([^<]*)</Code>", body or b"")
    return m.group(1).decode() if m else None


def urlopen(req, timeout=60):
    """urllib request that returns (status, headers, body) for HTTP errors too."""
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


# ---- checksums -----------------------------------------------------------


def _reflected_table(poly):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _reflected_table(0x82F63B78)
_CRC64NVME_TABLE = _reflected_table(0x9A6C9329AC4BC9B5)


def crc32c(data):
    c = 0xFFFFFFFF
    t = _CRC32C_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def crc64nvme(data):
    c = 0xFFFFFFFFFFFFFFFF
    t = _CRC64NVME_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFFFFFFFFFF


def checksum_b64(alg, data):
    alg = alg.upper()
    if alg == "CRC32":
        return b64((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big"))
    if alg == "CRC32C":
        return b64(crc32c(data).to_bytes(4, "big"))
    if alg == "CRC64NVME":
        return b64(crc64nvme(data).to_bytes(8, "big"))
    if alg == "SHA1":
        return b64(hashlib.sha1(data).digest())
    if alg == "SHA256":
        return b64(hashlib.sha256(data).digest())
    raise ValueError(alg)


def botocore_supports(alg):
    from botocore import httpchecksum

    return alg.lower() in getattr(httpchecksum, "_CHECKSUM_CLS", {})


# ---- hand-rolled SigV4 (for aws-chunked streaming and raw-header tests) ---


def _hmac(key, msg):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg, hashlib.sha256).digest()


def uri_encode(s, safe="-_.~"):
    return urllib.parse.quote(s, safe=safe)


def key_path(bucket, key):
    return f"/{bucket}/" + uri_encode(key, safe="-_.~/")


class SigV4:
    def __init__(self, access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION, when=None):
        when = when or dt.datetime.now(UTC)
        self.access_key = access_key
        self.amz_date = when.strftime("%Y%m%dT%H%M%SZ")
        date = self.amz_date[:8]
        self.scope = f"{date}/{region}/s3/aws4_request"
        k = _hmac(("AWS4" + secret_key).encode(), date)
        k = _hmac(k, region)
        k = _hmac(k, "s3")
        self.key = _hmac(k, "aws4_request")

    def sign(self, method, path, query, headers, payload_hash):
        """headers: dict of every header to sign (names any case). Returns (authorization, signature)."""
        canon_q = "&".join(
            f"{uri_encode(k)}={uri_encode(v)}" for k, v in sorted(query, key=lambda kv: (uri_encode(kv[0]), uri_encode(kv[1])))
        )
        hmap = {k.lower(): " ".join(str(v).strip().split()) for k, v in headers.items()}
        names = sorted(hmap)
        canon_h = "".join(f"{n}:{hmap[n]}\n" for n in names)
        signed = ";".join(names)
        creq = f"{method}\n{path}\n{canon_q}\n{canon_h}\n{signed}\n{payload_hash}"
        sts = "\n".join([
            "AWS4-HMAC-SHA256", self.amz_date, self.scope, hashlib.sha256(creq.encode()).hexdigest(),
        ])
        sig = hmac.new(self.key, sts.encode(), hashlib.sha256).hexdigest()
        auth = (f"AWS4-HMAC-SHA256 Credential={self.access_key}/{self.scope}, "
                f"SignedHeaders={signed}, Signature={sig}")
        return auth, sig

    def chunk_signature(self, prev, data):
        sts = "\n".join([
            "AWS4-HMAC-SHA256-PAYLOAD", self.amz_date, self.scope, prev, EMPTY_SHA256,
            hashlib.sha256(data).hexdigest(),
        ])
        return hmac.new(self.key, sts.encode(), hashlib.sha256).hexdigest()

    def trailer_signature(self, prev, trailer_bytes):
        sts = "\n".join([
            "AWS4-HMAC-SHA256-TRAILER", self.amz_date, self.scope, prev,
            hashlib.sha256(trailer_bytes).hexdigest(),
        ])
        return hmac.new(self.key, sts.encode(), hashlib.sha256).hexdigest()


def split_chunks(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)] or []


def signed_chunked_body(signer, seed, chunks, trailer=None, tamper_chunk=None):
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] body. trailer: (name, value) or None."""
    out = []
    prev = seed
    for i, c in enumerate(chunks + [b""]):
        sig = signer.chunk_signature(prev, c)
        prev = sig
        if tamper_chunk is not None and i == tamper_chunk:
            sig = ("0" if sig[0] != "0" else "1") + sig[1:]
        if c or trailer is None:
            out.append(f"{len(c):x};chunk-signature={sig}\r\n".encode() + c + b"\r\n")
        else:
            out.append(f"0;chunk-signature={sig}\r\n".encode())
    if trailer is not None:
        name, value = trailer
        tbytes = f"{name}:{value}\n".encode()
        tsig = signer.trailer_signature(prev, tbytes)
        out.append(f"{name}:{value}\r\n".encode())
        out.append(f"x-amz-trailer-signature:{tsig}\r\n\r\n".encode())
    return out


def unsigned_trailer_body(chunks, trailer):
    out = [f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks]
    out.append(b"0\r\n")
    name, value = trailer
    out.append(f"{name}:{value}\r\n\r\n".encode())
    return out


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3():
    return make_client()


@pytest.fixture
def bucket(s3):
    name = unique_bucket()
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(s3, name)


@pytest.fixture
def bucket2(s3):
    name = unique_bucket("b2")
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete_bucket(s3, name)


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


# --------------------------------------------------------------------------
# listing
# --------------------------------------------------------------------------

_25_KEYS = sorted(
    [f"logs/2024/{i:02d}.log" for i in range(8)]
    + [f"img/{c}.png" for c in "abcdefg"]
    + [f"z{i}" for i in range(5)]
    + ["a", "a0", "a/b", "A", "0"]
)


@pytest.fixture
def listing_bucket(s3, bucket):
    assert len(_25_KEYS) == 25
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=k.encode()), _25_KEYS))
    return bucket


def test_list_v2_pagination(s3, listing_bucket):
    keys, token, pages = [], None, []
    for _ in range(10):
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=listing_bucket, MaxKeys=7, **kw)
        got = [o["Key"] for o in page.get("Contents", [])]
        assert page["KeyCount"] == len(got)
        assert page["MaxKeys"] == 7
        pages.append(len(got))
        keys.extend(got)
        if not page["IsTruncated"]:
            assert "NextContinuationToken" not in page
            break
        token = page["NextContinuationToken"]
        assert token
    assert pages == [7, 7, 7, 4]
    assert keys == _25_KEYS
    # each entry carries size/etag/last-modified
    first = s3.list_objects_v2(Bucket=listing_bucket, MaxKeys=1)["Contents"][0]
    assert first["Key"] == _25_KEYS[0]
    assert first["Size"] == len(_25_KEYS[0])
    assert first["ETag"] == etag_of(_25_KEYS[0].encode())
    assert isinstance(first["LastModified"], dt.datetime)


def test_list_v2_paginator(s3, listing_bucket):
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=listing_bucket, PaginationConfig={"PageSize": 7}))
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == _25_KEYS
    assert len(pages) == 4


def test_list_v1_pagination_with_marker(s3, listing_bucket):
    keys, marker, pages = [], "", []
    for _ in range(10):
        page = s3.list_objects(Bucket=listing_bucket, MaxKeys=7, Marker=marker)
        got = [o["Key"] for o in page.get("Contents", [])]
        pages.append(len(got))
        keys.extend(got)
        if not page["IsTruncated"]:
            break
        marker = page.get("NextMarker") or got[-1]
    assert pages == [7, 7, 7, 4]
    assert keys == _25_KEYS


def test_list_start_after_and_marker(s3, listing_bucket):
    pivot = _25_KEYS[10]
    v2 = s3.list_objects_v2(Bucket=listing_bucket, StartAfter=pivot)
    assert [o["Key"] for o in v2["Contents"]] == _25_KEYS[11:]
    assert v2["StartAfter"] == pivot
    v1 = s3.list_objects(Bucket=listing_bucket, Marker=pivot)
    assert [o["Key"] for o in v1["Contents"]] == _25_KEYS[11:]
    # a marker between keys
    v2 = s3.list_objects_v2(Bucket=listing_bucket, StartAfter="logs/2024/03.log~")
    assert [o["Key"] for o in v2["Contents"]] == [k for k in _25_KEYS if k > "logs/2024/03.log~"]


def test_list_prefix_and_delimiter(s3, listing_bucket):
    top = s3.list_objects_v2(Bucket=listing_bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "img/", "logs/"]
    assert [o["Key"] for o in top["Contents"]] == ["0", "A", "a", "a0", "z0", "z1", "z2", "z3", "z4"]
    assert top["KeyCount"] == 12

    logs = s3.list_objects_v2(Bucket=listing_bucket, Prefix="logs/", Delimiter="/")
    assert [p["Prefix"] for p in logs["CommonPrefixes"]] == ["logs/2024/"]
    assert "Contents" not in logs
    assert logs["Prefix"] == "logs/"

    inner = s3.list_objects_v2(Bucket=listing_bucket, Prefix="logs/2024/", Delimiter="/")
    assert [o["Key"] for o in inner["Contents"]] == [f"logs/2024/{i:02d}.log" for i in range(8)]
    assert "CommonPrefixes" not in inner

    img = s3.list_objects_v2(Bucket=listing_bucket, Prefix="img/")
    assert [o["Key"] for o in img["Contents"]] == [f"img/{c}.png" for c in "abcdefg"]

    # prefix that is not a "directory"
    a = s3.list_objects_v2(Bucket=listing_bucket, Prefix="a")
    assert [o["Key"] for o in a["Contents"]] == ["a", "a/b", "a0"]
    a = s3.list_objects_v2(Bucket=listing_bucket, Prefix="a", Delimiter="/")
    assert [o["Key"] for o in a["Contents"]] == ["a", "a0"]
    assert [p["Prefix"] for p in a["CommonPrefixes"]] == ["a/"]

    none = s3.list_objects_v2(Bucket=listing_bucket, Prefix="nothing-here/")
    assert none["KeyCount"] == 0 and "Contents" not in none

    # v1 with delimiter
    v1 = s3.list_objects(Bucket=listing_bucket, Delimiter="/", Prefix="img/")
    assert [o["Key"] for o in v1["Contents"]] == [f"img/{c}.png" for c in "abcdefg"]

    # non-slash delimiter
    dot = s3.list_objects_v2(Bucket=listing_bucket, Prefix="img/", Delimiter=".")
    assert [p["Prefix"] for p in dot["CommonPrefixes"]] == [f"img/{c}." for c in "abcdefg"]


def test_list_delimiter_pagination(s3, listing_bucket):
    # 3 common prefixes + 9 keys at top level = 12 entries; MaxKeys=5 -> 5, 5, 2
    expected_prefixes = ["a/", "img/", "logs/"]
    expected_keys = ["0", "A", "a", "a0", "z0", "z1", "z2", "z3", "z4"]
    prefixes, keys, token, sizes = [], [], None, []
    for _ in range(10):
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=listing_bucket, Delimiter="/", MaxKeys=5, **kw)
        p = [x["Prefix"] for x in page.get("CommonPrefixes", [])]
        k = [x["Key"] for x in page.get("Contents", [])]
        assert page["KeyCount"] == len(p) + len(k)
        sizes.append(len(p) + len(k))
        prefixes += p
        keys += k
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert prefixes == expected_prefixes
    assert keys == expected_keys
    assert sizes == [5, 5, 2]

    # v1: NextMarker is mandatory when a delimiter is given and the result is truncated
    prefixes, keys, marker = [], [], ""
    for _ in range(10):
        page = s3.list_objects(Bucket=listing_bucket, Delimiter="/", MaxKeys=5, Marker=marker)
        prefixes += [x["Prefix"] for x in page.get("CommonPrefixes", [])]
        keys += [x["Key"] for x in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        assert page.get("NextMarker"), "NextMarker missing on truncated v1 listing with delimiter"
        marker = page["NextMarker"]
    assert prefixes == expected_prefixes
    assert keys == expected_keys


_ODD_KEYS = ["sp ace/file one.txt", "ünï/cödé.txt", "日本/ü ñ.txt", "plus+sign", "amp&eq=semi;", "pct%20lit"]


def test_list_encoding_type_url(s3, bucket):
    for k in _ODD_KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=b"1")
    # Explicit EncodingType: botocore leaves the keys exactly as the server sent them.
    raw = s3.list_objects_v2(Bucket=bucket, EncodingType="url")
    assert raw.get("EncodingType") == "url"
    raw_keys = [o["Key"] for o in raw["Contents"]]
    for rk in raw_keys:
        assert rk.isascii() and " " not in rk, rk
    assert sorted(urllib.parse.unquote_plus(k) for k in raw_keys) == sorted(_ODD_KEYS)
    # '+' in a key must be escaped, otherwise it would decode to a space
    assert "plus+sign" not in raw_keys

    raw = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter="/")
    assert sorted(urllib.parse.unquote_plus(p["Prefix"]) for p in raw["CommonPrefixes"]) == \
        ["sp ace/", "ünï/", "日本/"]
    raw = s3.list_objects(Bucket=bucket, EncodingType="url", Prefix="日本/")
    assert [urllib.parse.unquote_plus(o["Key"]) for o in raw["Contents"]] == ["日本/ü ñ.txt"]
    assert urllib.parse.unquote_plus(raw["Prefix"]) == "日本/"
    assert raw["Contents"][0]["Key"].isascii()

    # Default: botocore asks for url encoding itself and decodes; keys must be exact.
    assert sorted(list_all_keys(s3, bucket)) == sorted(_ODD_KEYS)
    v1 = s3.list_objects(Bucket=bucket)
    assert sorted(o["Key"] for o in v1["Contents"]) == sorted(_ODD_KEYS)


def test_list_objects_without_encoding_returns_raw_utf8(s3, bucket):
    # boto3 always sets EncodingType=url for ListObjects; do a raw signed request without it
    key = "日本/ü ñ.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    signer = SigV4()
    hdrs = {"host": HOST_HEADER, "x-amz-date": signer.amz_date, "x-amz-content-sha256": EMPTY_SHA256}
    auth, _ = signer.sign("GET", f"/{bucket}", [("list-type", "2")], hdrs, EMPTY_SHA256)
    status, _, body = raw_request("GET", f"/{bucket}?list-type=2", {
        "x-amz-date": signer.amz_date, "x-amz-content-sha256": EMPTY_SHA256, "Authorization": auth})
    assert status == 200, body
    assert f"<Key>{key}</Key>".encode() in body


def test_delete_objects_verbose_and_quiet(s3, bucket):
    keys = [f"del/{i}" for i in range(10)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": k} for k in keys[:5]] + [{"Key": "del/missing"}]})
    assert sorted(d["Key"] for d in resp["Deleted"]) == sorted(keys[:5] + ["del/missing"])
    assert not resp.get("Errors")
    assert list_all_keys(s3, bucket) == sorted(keys[5:])

    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[5:]], "Quiet": True})
    assert not resp.get("Deleted")
    assert not resp.get("Errors")
    assert list_all_keys(s3, bucket) == []


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


# --------------------------------------------------------------------------
# hostile and unusual keys
# --------------------------------------------------------------------------


@pytest.mark.parametrize("key", [
    "日本/ü ñ.txt",
    "with space.txt",
    "plus+sign",
    "percent%20literal",
    "question?mark",
    "hash#tag",
    "amp&eq=semi;colon",
    "tilde~star*paren()",
    "quote'dq\"",
    "emoji-😀",
    "folder/",               # directory-marker object
    "brackets[]{}<>",
    "e\u0301",               # NFD é
    "\u00e9",                # NFC é (distinct key!)
    "trailing.",
    "a" * 255,
    ("s" * 200 + "/") * 5 + "t" * 19,  # exactly 1024 bytes, in 200-byte segments
])
def test_unusual_keys_round_trip(s3, bucket, key):
    assert len(key.encode()) <= 1024
    data = ("content of " + key).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    assert get_body(s3, bucket, key) == data
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(data)
    assert list_all_keys(s3, bucket) == [key]
    dest = "c/" + key if len(key.encode()) <= 1000 else key[:-6] + ".copy"
    s3.copy_object(Bucket=bucket, Key=dest, CopySource={"Bucket": bucket, "Key": key})
    assert get_body(s3, bucket, dest) == data
    s3.delete_object(Bucket=bucket, Key=key)
    assert list_all_keys(s3, bucket) == [dest]
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key=key)
    assert err(ei) == ("NoSuchKey", 404)


def test_unicode_normalization_forms_are_distinct(s3, bucket):
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    s3.put_object(Bucket=bucket, Key=nfc, Body=b"nfc")
    s3.put_object(Bucket=bucket, Key=nfd, Body=b"nfd")
    assert get_body(s3, bucket, nfc) == b"nfc"
    assert get_body(s3, bucket, nfd) == b"nfd"
    assert sorted(list_all_keys(s3, bucket)) == sorted([nfc, nfd])


def test_case_sensitive_keys(s3, bucket):
    s3.put_object(Bucket=bucket, Key="Readme", Body=b"upper")
    s3.put_object(Bucket=bucket, Key="readme", Body=b"lower")
    assert get_body(s3, bucket, "Readme") == b"upper"
    assert get_body(s3, bucket, "readme") == b"lower"


def test_object_and_prefix_with_same_name(s3, bucket):
    """'dir' and 'dir/file' are independent objects (hard for path-mapped stores)."""
    s3.put_object(Bucket=bucket, Key="dir/file", Body=b"inner")
    s3.put_object(Bucket=bucket, Key="dir", Body=b"outer")
    s3.put_object(Bucket=bucket, Key="dir/", Body=b"")
    assert get_body(s3, bucket, "dir") == b"outer"
    assert get_body(s3, bucket, "dir/file") == b"inner"
    assert get_body(s3, bucket, "dir/") == b""
    assert list_all_keys(s3, bucket) == ["dir", "dir/", "dir/file"]
    for missing in ("di", "dir/fil", "dir/file/", "dir/file/x"):
        with pytest.raises(ClientError) as ei:
            s3.get_object(Bucket=bucket, Key=missing)
        assert err(ei) == ("NoSuchKey", 404), missing
    s3.delete_object(Bucket=bucket, Key="dir")
    s3.delete_object(Bucket=bucket, Key="dir/")
    assert get_body(s3, bucket, "dir/file") == b"inner"
    assert list_all_keys(s3, bucket) == ["dir/file"]
    # an "implicit directory" is not an object
    s3.put_object(Bucket=bucket, Key="deep/er/obj", Body=b"x")
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="deep/er")
    assert err(ei) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="deep/er/")
    assert err(ei)[1] == 404


def _assert_nothing_escaped(marker):
    """No file or directory named after `marker` outside a bucket directory."""
    assert not os.path.exists(f"/tmp/{marker}"), "hostile key escaped to /tmp"
    if not DATA_DIR:
        return
    root = os.path.realpath(DATA_DIR)
    assert not any(marker in n for n in os.listdir(root)), "hostile key escaped into the data dir"
    for drive in os.listdir(root):
        dpath = os.path.join(root, drive)
        if os.path.isdir(dpath):
            assert not any(marker in n for n in os.listdir(dpath)), \
                f"hostile key escaped to drive top level {dpath}"


@pytest.mark.parametrize("template", [
    "../{m}",
    "../../{m}",
    "../../../../../../../../tmp/{m}",
    "a/../../{m}",
    "./{m}",
    "a/./../{m}",
    "..",
    ".",
    "a//{m}",
    "/{m}",
    "back\\slash\\..\\..\\{m}",
])
def test_hostile_keys(s3, bucket, template):
    """Dot-segment keys: either stored verbatim (AWS) or rejected with 400 - never resolved as paths."""
    marker = "escape-" + uuid.uuid4().hex[:10]
    key = template.format(m=marker)
    data = b"hostile " + key.encode()
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    except ClientError as e:
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status == 400, f"rejection must be a 4xx client error, got {status} {e.response.get('Error')}"
        assert list_all_keys(s3, bucket) == []
        _assert_nothing_escaped(marker)
        return
    # accepted: it must be a normal object under exactly that key
    _assert_nothing_escaped(marker)
    assert list_all_keys(s3, bucket) == [key]
    assert get_body(s3, bucket, key) == data
    # and must not be reachable under the normalised name
    norm = os.path.normpath(key).lstrip("/")
    if norm not in (key, ".", "") and not norm.startswith(".."):
        with pytest.raises(ClientError) as ei:
            s3.get_object(Bucket=bucket, Key=norm)
        assert err(ei)[1] == 404
    s3.delete_object(Bucket=bucket, Key=key)
    assert list_all_keys(s3, bucket) == []


@pytest.mark.parametrize("first,second", [
    ("obj", "obj/xl.meta"),          # would overwrite obj's metadata file in a MinIO-style layout
    ("dir/", "dir__XLDIR__"),        # MinIO-style encoding of a folder object
    ("part", "part/part.1"),
    ("x", "x/.cairn.sys"),
])
def test_keys_colliding_with_storage_layout(s3, bucket, first, second):
    """A key shaped like the server's on-disk names is either refused (400) or independent."""
    s3.put_object(Bucket=bucket, Key=first, Body=b"first")
    try:
        s3.put_object(Bucket=bucket, Key=second, Body=b"second")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
        assert list_all_keys(s3, bucket) == [first]
    else:
        assert get_body(s3, bucket, second) == b"second"
        assert sorted(list_all_keys(s3, bucket)) == sorted([first, second])
    # the first object is intact either way
    got = s3.get_object(Bucket=bucket, Key=first)
    assert got["Body"].read() == b"first" and got["ETag"] == etag_of(b"first")


def test_hostile_key_does_not_clobber_other_bucket(s3, bucket, bucket2):
    """'../<other bucket>/victim' must not overwrite another bucket's object."""
    s3.put_object(Bucket=bucket2, Key="victim", Body=b"original")
    try:
        s3.put_object(Bucket=bucket, Key=f"../{bucket2}/victim", Body=b"clobbered")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert get_body(s3, bucket2, "victim") == b"original"
    assert list_all_keys(s3, bucket2) == ["victim"]
    try:
        got = get_body(s3, bucket, f"../{bucket2}/victim")
        assert got == b"clobbered"
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404)


def test_hostile_raw_paths(s3, bucket, bucket2):
    """Encoded traversal in the raw request path (%2e%2e, %2F) must not reach another bucket."""
    s3.put_object(Bucket=bucket2, Key="secret", Body=b"top secret")
    for raw_key in (f"..%2F{bucket2}%2Fsecret", f"%2e%2e/{bucket2}/secret", f"%2E%2E%2F{bucket2}%2Fsecret"):
        path = f"/{bucket}/{raw_key}"
        signer = SigV4()
        hdrs = {"host": HOST_HEADER, "x-amz-date": signer.amz_date, "x-amz-content-sha256": EMPTY_SHA256}
        auth, _ = signer.sign("GET", path, [], hdrs, EMPTY_SHA256)
        status, _, body = raw_request("GET", path, {"x-amz-date": signer.amz_date,
                                                    "x-amz-content-sha256": EMPTY_SHA256,
                                                    "Authorization": auth})
        assert body != b"top secret", f"{path} leaked an object from another bucket"
        assert status in (400, 403, 404), (path, status, body)


def test_key_with_nul_byte(s3, bucket):
    key = "nul\x00byte"
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"nul")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
        assert list_all_keys(s3, bucket) == []
    else:
        assert get_body(s3, bucket, key) == b"nul"
        assert list_all_keys(s3, bucket) == [key]
        # the key must not have been truncated at the NUL
        with pytest.raises(ClientError) as ei:
            s3.get_object(Bucket=bucket, Key="nul")
        assert err(ei)[1] == 404
    # the server is still healthy
    s3.put_object(Bucket=bucket, Key="after-nul", Body=b"ok")
    assert get_body(s3, bucket, "after-nul") == b"ok"


def test_key_too_long(s3, bucket):
    key = "k" * 1025
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    code, status = err(ei)
    assert status == 400, (code, status)
    assert code in ("KeyTooLongError", "InvalidArgument", "InvalidRequest", "XMinioInvalidObjectName"), code
    # also with slashes (each segment short)
    key = "/".join(["s" * 100] * 11)[:1025]
    assert len(key) == 1025
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert err(ei)[1] == 400
    assert list_all_keys(s3, bucket) == []


# --------------------------------------------------------------------------
# virtual-host-style addressing
# --------------------------------------------------------------------------


@pytest.mark.skipif(not DOMAIN_TEST, reason="server not started with CAIRN_DOMAIN=cairn.test (set CAIRN_DOMAIN_TEST=1)")
def test_virtual_host_style(monkeypatch):
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, *args, **kwargs):
        if isinstance(host, bytes):
            host = host.decode()
        if host == "cairn.test" or (isinstance(host, str) and host.endswith(".cairn.test")):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    vs3 = make_client(addressing_style="virtual", endpoint=f"http://cairn.test:{PORT}")
    name = unique_bucket("vhost")
    seen_hosts = []
    vs3.meta.events.register("before-send.s3", lambda request, **_: seen_hosts.append(
        urllib.parse.urlsplit(request.url).netloc))
    vs3.create_bucket(Bucket=name)
    deleted = False
    try:
        vs3.put_object(Bucket=name, Key="dir/hello.txt", Body=b"virtual", Metadata={"style": "vhost"})
        got = vs3.get_object(Bucket=name, Key="dir/hello.txt")
        assert got["Body"].read() == b"virtual"
        assert got["Metadata"] == {"style": "vhost"}
        listing = vs3.list_objects_v2(Bucket=name, Prefix="dir/")
        assert [o["Key"] for o in listing["Contents"]] == ["dir/hello.txt"]
        assert name in [b["Name"] for b in vs3.list_buckets()["Buckets"]]
        # the requests really used the bucket host
        assert f"{name}.cairn.test:{PORT}" in seen_hosts
        assert f"cairn.test:{PORT}" in seen_hosts  # list_buckets
        # the same object through path style
        assert make_client().get_object(Bucket=name, Key="dir/hello.txt")["Body"].read() == b"virtual"
        vs3.delete_object(Bucket=name, Key="dir/hello.txt")
        vs3.delete_bucket(Bucket=name)
        deleted = True
        with pytest.raises(ClientError) as ei:
            make_client().head_bucket(Bucket=name)
        assert err(ei)[1] == 404
    finally:
        if not deleted:
            empty_and_delete_bucket(make_client(), name)
