"""Transparent compression, as boto3 sees it: with `compression enable=on` set through
MinIO's admin client (minio-py MinioAdmin.config_set), text objects read back byte for
byte, whole and by ranges, with the Content-Length, ETag and checksums of what was sent,
single and multipart; content that is compressed already reads back unchanged too.
"""

from __future__ import annotations

from minio import MinioAdmin
from minio.credentials import StaticProvider

from compat_helpers import *  # noqa: F401,F403


def admin():
    return MinioAdmin(endpoint=HOST_HEADER, credentials=StaticProvider(ACCESS_KEY, SECRET_KEY), secure=False)


def csv_text(size):
    rows = []
    total = 0
    n = 0
    while total < size:
        row = f"{n},customer-{n % 977},{n * 7 % 1013}@example.com,{n * 13 % 5000}.{n % 100:02d}\n"
        rows.append(row)
        total += len(row)
        n += 1
    return "".join(rows).encode()[:size]


@pytest.fixture
def compression_on():
    client = admin()
    client.config_set("compression", {"enable": "on", "extensions": ".txt,.log,.csv,.json",
                                      "mime_types": "text/*,application/json"})
    try:
        yield client
    finally:
        client.config_set("compression", {"enable": "off"})


def test_compression_settings_read_back_through_minio_admin(compression_on):
    line = compression_on.config_get("compression")
    assert "enable=on" in line and "extensions=.txt,.log,.csv,.json" in line, line
    assert "mime_types=text/*,application/json" in line, line


def test_compressed_text_reads_back_whole_and_by_ranges(s3, bucket, compression_on):
    body = csv_text(3 * MiB + 1234)
    put = s3.put_object(Bucket=bucket, Key="export.csv", Body=body, ContentType="text/csv",
                        ChecksumAlgorithm="CRC32C")
    assert put["ETag"].strip('"') == md5_hex(body)
    head = s3.head_object(Bucket=bucket, Key="export.csv", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(body)
    assert head["ChecksumCRC32C"] == put["ChecksumCRC32C"]
    assert s3.get_object(Bucket=bucket, Key="export.csv")["Body"].read() == body
    for first, last in [(0, 0), (MiB - 2, MiB + 2), (2 * MiB, len(body) - 1), (100, 3 * MiB)]:
        got = s3.get_object(Bucket=bucket, Key="export.csv", Range=f"bytes={first}-{last}")
        assert got["ContentLength"] == last - first + 1
        assert got["Body"].read() == body[first:last + 1], (first, last)
    tail = s3.get_object(Bucket=bucket, Key="export.csv", Range="bytes=-10")["Body"].read()
    assert tail == body[-10:]
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("export.csv", len(body))]


def test_compressed_multipart_upload_and_precompressed_content(s3, bucket, compression_on):
    body = csv_text(11 * MiB + 3)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_fileobj(io.BytesIO(body), bucket, "big.log", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big.log")
    assert head["ContentLength"] == len(body) and head["ETag"].strip('"').endswith("-3")
    assert s3.get_object(Bucket=bucket, Key="big.log")["Body"].read() == body
    got = s3.get_object(Bucket=bucket, Key="big.log", Range=f"bytes={5 * MiB - 5}-{10 * MiB + 5}")
    assert got["Body"].read() == body[5 * MiB - 5:10 * MiB + 6]
    gz = zlib.compress(body[:MiB])
    s3.put_object(Bucket=bucket, Key="data.txt", Body=gz, ContentEncoding="deflate")
    got = s3.get_object(Bucket=bucket, Key="data.txt")
    assert got["Body"].read() == gz and got["ContentEncoding"] == "deflate"
