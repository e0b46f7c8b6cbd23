"""boto3 compatibility: requests for features Cairn has not built are refused, and
nothing is stored. A PUT asking for KMS encryption or a public ACL that got a 200 would
make its client believe the object is encrypted or public. (Tags, versioning, object
lock, SSE-S3 and SSE-C are built: test_boto3_tagging.py, test_boto3_versioning.py,
test_boto3_object_lock.py, test_boto3_encryption.py; a lock asked of a bucket without
object lock is refused with InvalidRequest, as on S3.)
"""

from __future__ import annotations

from compat_helpers import *  # noqa: F401,F403

SSE_C_KEY = b"k" * 32
SSE_C = dict(
    SSECustomerAlgorithm="AES256",
    SSECustomerKey=SSE_C_KEY.decode(),
)
RETAIN_UNTIL = dt.datetime(2099, 1, 1, tzinfo=UTC)

# (what is asked, extra PutObject / CopyObject / CreateMultipartUpload parameters, expected code)
REFUSED_OBJECT_PARAMS = [
    ("SSE-KMS", dict(ServerSideEncryption="aws:kms", SSEKMSKeyId="key-1"), "NotImplemented"),
    ("SSE-KMS", dict(ServerSideEncryption="aws:kms"), "NotImplemented"),
    ("object lock", dict(ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=RETAIN_UNTIL), "InvalidRequest"),
    ("legal hold", dict(ObjectLockLegalHoldStatus="ON"), "InvalidRequest"),
    ("storage class", dict(StorageClass="GLACIER"), "InvalidStorageClass"),
    ("storage class", dict(StorageClass="DEEP_ARCHIVE"), "InvalidStorageClass"),
    ("public ACL", dict(ACL="public-read"), "NotImplemented"),
    ("ACL grant", dict(GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"'), "NotImplemented"),
    ("website redirect", dict(WebsiteRedirectLocation="/elsewhere"), "NotImplemented"),
]
IDS = [f"{what}-{code}" for what, _, code in REFUSED_OBJECT_PARAMS]


def expect_refused(call, code):
    with pytest.raises(ClientError) as ei:
        call()
    status = 400 if code in ("InvalidStorageClass", "InvalidRequest") else 501
    assert err(ei) == (code, status)


@pytest.mark.parametrize("what,params,code", REFUSED_OBJECT_PARAMS, ids=IDS)
def test_put_object_refuses(s3, bucket, what, params, code):
    expect_refused(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"data", **params), code)
    assert_absent(s3, bucket, "k")


@pytest.mark.parametrize("what,params,code", REFUSED_OBJECT_PARAMS, ids=IDS)
def test_copy_object_refuses(s3, bucket, what, params, code):
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    expect_refused(
        lambda: s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, **params),
        code,
    )
    assert_absent(s3, bucket, "dst")


@pytest.mark.parametrize("what,params,code", REFUSED_OBJECT_PARAMS, ids=IDS)
def test_create_multipart_upload_refuses(s3, bucket, what, params, code):
    expect_refused(lambda: s3.create_multipart_upload(Bucket=bucket, Key="mpu", **params), code)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_sse_c_keys_for_objects_stored_without_one_are_refused(s3, bucket):
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
    expect_refused(lambda: s3.get_object(Bucket=bucket, Key="plain", **SSE_C), "InvalidRequest")
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="plain", **SSE_C)
    assert err(ei)[1] == 400  # a HEAD answer has no body to name the code
    expect_refused(
        lambda: s3.copy_object(
            Bucket=bucket,
            Key="copy",
            CopySource={"Bucket": bucket, "Key": "plain"},
            CopySourceSSECustomerAlgorithm="AES256",
            CopySourceSSECustomerKey=SSE_C_KEY.decode(),
        ),
        "InvalidRequest",
    )
    assert_absent(s3, bucket, "copy")


def test_what_cairn_honours_is_accepted(s3, bucket):
    s3.put_object(Bucket=bucket, Key="rrs", Body=b"x", StorageClass="REDUCED_REDUNDANCY")
    s3.put_object(Bucket=bucket, Key="std", Body=b"x", StorageClass="STANDARD", ACL="private")
    s3.put_object(Bucket=bucket, Key="owner", Body=b"x", ACL="bucket-owner-full-control")
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "std"}, TaggingDirective="COPY")
    assert get_body(s3, bucket, "copy") == b"x"


def test_create_bucket_with_a_public_acl_is_refused(s3):
    for params in (
        dict(ACL="public-read"),
        dict(GrantFullControl='id="someone-else"'),
        dict(ObjectOwnership="ObjectWriter"),
    ):
        name = unique_bucket("refused")
        expect_refused(lambda: s3.create_bucket(Bucket=name, **params), "NotImplemented")
        with pytest.raises(ClientError) as ei:
            s3.head_bucket(Bucket=name)
        assert err(ei)[1] == 404, f"{params} created the bucket"
    name = unique_bucket("accepted")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=False, ACL="private")
    s3.delete_bucket(Bucket=name)


def test_versions_that_do_not_exist_are_not_confused_with_the_current_one(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"keep")
    malformed = "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY"  # not an id Cairn makes: refused, as on S3
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="k", VersionId=malformed)
    assert err(ei) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as ei:
        s3.delete_object(Bucket=bucket, Key="k", VersionId=malformed)
    assert err(ei) == ("InvalidArgument", 400)
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": malformed}]})
    assert [e["Code"] for e in out.get("Errors", [])] == ["InvalidArgument"]
    absent = str(uuid.uuid4())  # well formed, but no such version
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="k", VersionId=absent)
    assert err(ei) == ("NoSuchVersion", 404)
    s3.delete_object(Bucket=bucket, Key="k", VersionId=absent)  # nothing to delete: success, as on S3
    assert get_body(s3, bucket, "k") == b"keep"
    s3.delete_object(Bucket=bucket, Key="k", VersionId="null")
    assert_absent(s3, bucket, "k")


BUCKET_SUBRESOURCES = [
    ("put_bucket_encryption", dict(ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})),
    ("put_bucket_replication", dict(ReplicationConfiguration={
        "Role": "arn:aws:iam::1:role/r",
        "Rules": [{"Status": "Enabled", "Destination": {"Bucket": "arn:aws:s3:::other"}, "Prefix": ""}]})),
    ("put_bucket_website", dict(WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})),
    ("put_bucket_logging", dict(BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "x/"}})),
    # Webhook (queue) notifications are built (test_boto3_notifications.py); SNS is not.
    ("put_bucket_notification_configuration", dict(NotificationConfiguration={
        "TopicConfigurations": [{"TopicArn": "arn:aws:sns:us-east-1:1:t", "Events": ["s3:ObjectCreated:*"]}]})),
    ("put_bucket_acl", dict(ACL="public-read")),
    ("put_public_access_block", dict(PublicAccessBlockConfiguration={"BlockPublicAcls": True})),
    ("put_bucket_ownership_controls", dict(OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})),
]


@pytest.mark.parametrize("operation,params", BUCKET_SUBRESOURCES, ids=[op for op, _ in BUCKET_SUBRESOURCES])
def test_bucket_subresources_not_built_answer_501(s3, bucket, operation, params):
    expect_refused(lambda: getattr(s3, operation)(Bucket=bucket, **params), "NotImplemented")


OBJECT_SUBRESOURCES = [
    ("put_object_acl", dict(ACL="public-read")),
]


@pytest.mark.parametrize("operation,params", OBJECT_SUBRESOURCES, ids=[op for op, _ in OBJECT_SUBRESOURCES])
def test_object_subresources_not_built_answer_501(s3, bucket, operation, params):
    s3.put_object(Bucket=bucket, Key="k", Body=b"unchanged")
    expect_refused(lambda: getattr(s3, operation)(Bucket=bucket, Key="k", **params), "NotImplemented")
    assert get_body(s3, bucket, "k") == b"unchanged"
