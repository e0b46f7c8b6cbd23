"""Shared helpers for the boto3 client-compatibility tests (test_boto3_*.py).

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
    settings = dict(
        signature_version="s3v4",
        region_name=REGION,
        s3={"addressing_style": addressing_style},
        retries={"total_max_attempts": 1},
        connect_timeout=10,
        read_timeout=120,
    )
    settings.update(cfg)
    config = Config(**settings)
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
        # A bucket that was versioned keeps older versions and delete markers: remove them by id.
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
            if entries:
                s3.delete_objects(Bucket=bucket, Delete={"Quiet": True, "Objects": [
                    {"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries]})
        s3.delete_bucket(Bucket=bucket)
    except Exception:  # noqa: BLE001 - best-effort cleanup
        pass


def assert_absent(s3, bucket, key):
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key=key)
    assert err(ei)[1] == 404


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


