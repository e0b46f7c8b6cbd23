"""boto3 compatibility: object tags given when an object is written (PutObject,
CreateMultipartUpload, CopyObject with either tagging directive) are kept with the
object, counted in GetObject's x-amz-tagging-count and read back with
GetObjectTagging; tags outside S3's rules are refused with InvalidTag; writing tags
needs s3:PutObjectTagging; changing an existing object's tags in place is not built
(501) and leaves them as they were. Supabase Storage's resumable uploads tag their
state objects this way.
"""

from __future__ import annotations

from compat_helpers import *  # noqa: F401,F403
from minio import MinioAdmin
from minio.credentials import StaticProvider


def tags_of(s3, bucket, key):
    return [(t["Key"], t["Value"]) for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]]


def test_tags_given_at_write_are_kept_counted_and_read_back(s3, bucket):
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="Tus-Completed=false&project=crm%20app")
    assert tags_of(s3, bucket, "tagged") == [("Tus-Completed", "false"), ("project", "crm app")]
    assert s3.get_object(Bucket=bucket, Key="tagged")["TagCount"] == 2
    # Writing the key again without tags leaves none (tags belong to the version).
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"y", Tagging="Tus-Completed=true")
    assert tags_of(s3, bucket, "tagged") == [("Tus-Completed", "true")]
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"z")
    assert tags_of(s3, bucket, "tagged") == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="tagged")
    with pytest.raises(ClientError) as ei:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert err(ei) == ("NoSuchKey", 404)


def test_multipart_uploads_and_copies_carry_tags(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="kind=upload")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=rand(1024))
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert tags_of(s3, bucket, "mp") == [("kind", "upload")]

    source = {"Bucket": bucket, "Key": "mp"}
    s3.copy_object(Bucket=bucket, Key="copied", CopySource=source)
    assert tags_of(s3, bucket, "copied") == [("kind", "upload")], "COPY is the default directive"
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource=source, TaggingDirective="REPLACE", Tagging="kind=copy")
    assert tags_of(s3, bucket, "replaced") == [("kind", "copy")]
    s3.copy_object(Bucket=bucket, Key="untagged", CopySource=source, TaggingDirective="REPLACE")
    assert tags_of(s3, bucket, "untagged") == []
    # A new metadata set does not drop the source's tags: each directive governs its own.
    s3.copy_object(Bucket=bucket, Key="meta", CopySource=source, MetadataDirective="REPLACE", Metadata={"a": "b"})
    assert tags_of(s3, bucket, "meta") == [("kind", "upload")]


@pytest.mark.parametrize("tagging", [
    "&".join(f"k{n}=v" for n in range(11)),
    "k" * 129 + "=v",
    "k=" + "v" * 257,
    "a=1&a=2",
    "k=%3Cscript%3E",
])
def test_tags_outside_s3_rules_are_refused_and_nothing_is_stored(s3, bucket, tagging):
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"x", Tagging=tagging)
    assert err(ei) == ("InvalidTag", 400)
    assert_absent(s3, bucket, "bad")


def test_writing_tags_needs_the_tagging_permission(s3, bucket):
    admin = MinioAdmin(endpoint=HOST_HEADER, credentials=StaticProvider(ACCESS_KEY, SECRET_KEY), secure=False)
    user, secret = f"tagless-{uuid.uuid4().hex[:8]}", "tagless-secret-1"
    admin.policy_add("put-no-tags", policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": [f"arn:aws:s3:::{bucket}/*"]}]})
    admin.user_add(user, secret)
    admin.attach_policy(["put-no-tags"], user=user)
    client = make_client(access_key=user, secret_key=secret)
    client.put_object(Bucket=bucket, Key="plain", Body=b"x")
    with pytest.raises(ClientError) as ei:
        client.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="a=b")
    assert err(ei) == ("AccessDenied", 403)
    assert_absent(s3, bucket, "tagged")


def test_changing_tags_in_place_is_not_built_and_changes_nothing(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="keep=me")
    with pytest.raises(ClientError) as ei:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert err(ei) == ("NotImplemented", 501)
    with pytest.raises(ClientError) as ei:
        s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert err(ei) == ("NotImplemented", 501)
    assert tags_of(s3, bucket, "k") == [("keep", "me")]
