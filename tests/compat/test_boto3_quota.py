"""MinIO's admin client (minio-py MinioAdmin) manages bucket quotas on Cairn, and boto3
writes meet them: a PUT that would take the bucket past its hard quota is refused with
MinIO's XMinioAdminBucketQuotaExceeded and stores nothing; clearing the quota lifts it.
"""

from __future__ import annotations

import json

from minio import MinioAdmin
from minio.credentials import StaticProvider
from minio.error import MinioAdminException

from compat_helpers import *  # noqa: F401,F403


def admin():
    return MinioAdmin(endpoint=HOST_HEADER, credentials=StaticProvider(ACCESS_KEY, SECRET_KEY), secure=False)


def test_minio_admin_sets_reads_and_clears_a_quota_that_writes_meet(s3, bucket):
    client = admin()
    with pytest.raises(MinioAdminException) as raised:
        client.bucket_quota_get(bucket)
    assert "Status: 404" in str(raised.value) and "XMinioAdminNoSuchQuotaConfiguration" in str(raised.value)
    client.bucket_quota_set(bucket, MiB)
    assert json.loads(client.bucket_quota_get(bucket))["quota"] == MiB
    s3.put_object(Bucket=bucket, Key="a.bin", Body=b"a" * (700 * 1024))
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="b.bin", Body=b"b" * (700 * 1024))
    assert err(ei) == ("XMinioAdminBucketQuotaExceeded", 400)
    assert_absent(s3, bucket, "b.bin")
    client.bucket_quota_clear(bucket)
    with pytest.raises(MinioAdminException):
        client.bucket_quota_get(bucket)
    s3.put_object(Bucket=bucket, Key="b.bin", Body=b"b" * (700 * 1024))
