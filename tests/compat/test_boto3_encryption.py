"""Encryption at rest, as boto3 sees it (run.sh starts the server with a master key in
CAIRN_KMS_SECRET_KEY): SSE-S3 on PUT, multipart (boto3's transfer manager) and copy,
bucket default encryption through Put/Get/DeleteBucketEncryption, SSE-C with boto3's own
key handling (it sends the key's MD5), S3's errors for a missing or wrong key, and the
drives holding none of the plaintext.
"""

from __future__ import annotations

import pathlib

from boto3.s3.transfer import TransferConfig

from compat_helpers import *  # noqa: F401,F403

KEY_C = b"c" * 32
OTHER_C = b"o" * 32
SSE_C = dict(SSECustomerAlgorithm="AES256", SSECustomerKey=KEY_C.decode())
SMALL_PARTS = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20)


def marked(size, marker):
    line = f"{marker} and some more text to fill the line\n".encode()
    return (line * (size // len(line) + 1))[:size]


def on_drives(needle: bytes) -> bool:
    """Whether any file of the server's drives holds `needle` (run.sh tells where they are)."""
    assert DATA_DIR, "run.sh exports CAIRN_DATA_DIR"
    for path in pathlib.Path(DATA_DIR).rglob("*"):
        if path.is_file() and needle in path.read_bytes():
            return True
    return False


def test_sse_s3_put_get_head_and_at_rest(s3, bucket):
    body = marked(3 << 20, "BOTO3-SSE-S3")
    put = s3.put_object(Bucket=bucket, Key="s3.txt", Body=body, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert put["ETag"] == etag_of(body)
    got = s3.get_object(Bucket=bucket, Key="s3.txt")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == body
    ranged = s3.get_object(Bucket=bucket, Key="s3.txt", Range="bytes=65530-65545")
    assert ranged["Body"].read() == body[65530:65546]
    assert s3.head_object(Bucket=bucket, Key="s3.txt")["ServerSideEncryption"] == "AES256"
    assert not on_drives(b"BOTO3-SSE-S3")


def test_sse_s3_multipart_and_copy(s3, bucket, tmp_path):
    body = marked(12 << 20, "BOTO3-MULTIPART")
    path = tmp_path / "big.bin"
    path.write_bytes(body)
    s3.upload_file(str(path), bucket, "big.bin", ExtraArgs={"ServerSideEncryption": "AES256"}, Config=SMALL_PARTS)
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ServerSideEncryption"] == "AES256" and head["ContentLength"] == len(body)
    assert get_body(s3, bucket, "big.bin") == body
    copied = s3.copy_object(Bucket=bucket, Key="copy.bin", CopySource={"Bucket": bucket, "Key": "big.bin"},
                            ServerSideEncryption="AES256")
    assert copied["ServerSideEncryption"] == "AES256"
    assert get_body(s3, bucket, "copy.bin") == body
    assert not on_drives(b"BOTO3-MULTIPART")


def test_bucket_default_encryption(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_encryption(Bucket=bucket)
    assert err(ei) == ("ServerSideEncryptionConfigurationNotFoundError", 404)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    put = s3.put_object(Bucket=bucket, Key="default.txt", Body=marked(1000, "BOTO3-DEFAULT"))
    assert put["ServerSideEncryption"] == "AES256"
    assert not on_drives(b"BOTO3-DEFAULT")
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                              "KMSMasterKeyID": "key-1"}}]})
    assert err(ei) == ("NotImplemented", 501)
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"], "the old one stays"
    s3.delete_bucket_encryption(Bucket=bucket)
    assert "ServerSideEncryption" not in s3.put_object(Bucket=bucket, Key="after.txt", Body=b"x")


def test_sse_c_round_trip_and_errors(s3, bucket, tmp_path):
    body = marked(6 << 20, "BOTO3-SSE-C")
    put = s3.put_object(Bucket=bucket, Key="c.bin", Body=body, **SSE_C)
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"] == b64(hashlib.md5(KEY_C).digest())
    assert s3.get_object(Bucket=bucket, Key="c.bin", **SSE_C)["Body"].read() == body
    assert s3.head_object(Bucket=bucket, Key="c.bin", **SSE_C)["ContentLength"] == len(body)
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="c.bin")
    assert err(ei) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="c.bin", SSECustomerAlgorithm="AES256", SSECustomerKey=OTHER_C.decode())
    assert err(ei) == ("AccessDenied", 403)
    # Multipart through the transfer manager: every part sends the key.
    path = tmp_path / "c-big.bin"
    path.write_bytes(body)
    s3.upload_file(str(path), bucket, "c-big.bin", ExtraArgs=dict(SSE_C), Config=SMALL_PARTS)
    assert s3.get_object(Bucket=bucket, Key="c-big.bin", **SSE_C)["Body"].read() == body
    # A copy re-keys the object.
    s3.copy_object(Bucket=bucket, Key="rekeyed.bin", CopySource={"Bucket": bucket, "Key": "c.bin"},
                   CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=KEY_C.decode(),
                   SSECustomerAlgorithm="AES256", SSECustomerKey=OTHER_C.decode())
    again = s3.get_object(Bucket=bucket, Key="rekeyed.bin", SSECustomerAlgorithm="AES256",
                          SSECustomerKey=OTHER_C.decode())
    assert again["Body"].read() == body
    assert not on_drives(b"BOTO3-SSE-C") and not on_drives(KEY_C)
