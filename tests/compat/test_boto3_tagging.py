"""boto3 compatibility: object tags given when an object is written (PutObject,
CreateMultipartUpload, CopyObject with either tagging directive) are kept with the
object, counted in GetObject's x-amz-tagging-count and read back with
GetObjectTagging; tags outside S3's rules are refused with InvalidTag; writing tags
needs s3:PutObjectTagging. PutObjectTagging and DeleteObjectTagging change an object's
tags in place (data, ETag and Last-Modified stay). Bucket tags (Put/Get/Delete
BucketTagging) allow 50. Policies can test the tags a request sets
(s3:RequestObjectTag/<key>, s3:RequestObjectTagKeys) and an object's current tags
(s3:ExistingObjectTag/<key>). Supabase Storage's resumable uploads tag their state
objects this way.
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


def test_tags_change_in_place_and_the_object_stays_as_it_was(s3, bucket):
    body = rand(300 * 1024)  # stored in part files, not inline
    for key, data in (("big", body), ("small", b"x")):
        s3.put_object(Bucket=bucket, Key=key, Body=data, Tagging="keep=me", Metadata={"m": "1"})
        before = s3.head_object(Bucket=bucket, Key=key)
        s3.put_object_tagging(Bucket=bucket, Key=key,
                              Tagging={"TagSet": [{"Key": "a", "Value": "b"}, {"Key": "team", "Value": "crm app"}]})
        assert tags_of(s3, bucket, key) == [("a", "b"), ("team", "crm app")]
        after = s3.head_object(Bucket=bucket, Key=key)
        for field in ("ETag", "LastModified", "ContentLength", "Metadata"):
            assert after[field] == before[field], field
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["TagCount"] == 2
        assert got["Body"].read() == data
        s3.delete_object_tagging(Bucket=bucket, Key=key)
        assert tags_of(s3, bucket, key) == []
        assert "TagCount" not in s3.head_object(Bucket=bucket, Key=key)
        assert get_body(s3, bucket, key) == data
    # A listing still shows the object once, with its size and ETag.
    listed = {o["Key"]: o for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed["big"]["Size"] == len(body)
    # The null version is the current one; no other version exists.
    s3.put_object_tagging(Bucket=bucket, Key="small", VersionId="null", Tagging={"TagSet": [{"Key": "v", "Value": "1"}]})
    assert tags_of(s3, bucket, "small") == [("v", "1")]
    with pytest.raises(ClientError) as ei:
        s3.put_object_tagging(Bucket=bucket, Key="small", VersionId=str(uuid.uuid4()), Tagging={"TagSet": []})
    assert err(ei) == ("NoSuchVersion", 404)
    assert tags_of(s3, bucket, "small") == [("v", "1")]


def test_tagging_a_missing_object_or_with_bad_tags_fails_and_changes_nothing(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.put_object_tagging(Bucket=bucket, Key="missing", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert err(ei) == ("NoSuchKey", 404)
    assert_absent(s3, bucket, "missing")
    with pytest.raises(ClientError) as ei:
        s3.delete_object_tagging(Bucket=bucket, Key="missing")
    assert err(ei) == ("NoSuchKey", 404)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="keep=me")
    bad_sets = [
        [{"Key": f"k{n}", "Value": "v"} for n in range(11)],
        [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}],
        [{"Key": "aws:reserved", "Value": "v"}],
        [{"Key": "k" * 129, "Value": "v"}],
    ]
    for tags in bad_sets:
        with pytest.raises(ClientError) as ei:
            s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tags})
        assert err(ei) == ("InvalidTag", 400)
    assert tags_of(s3, bucket, "k") == [("keep", "me")]


def test_bucket_tags_are_set_read_and_removed(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_tagging(Bucket=bucket)
    assert err(ei) == ("NoSuchTagSet", 404)
    tags = [{"Key": f"k{n}", "Value": f"v{n}"} for n in range(50)]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags + [{"Key": "k50", "Value": "v"}]})
    assert err(ei) == ("InvalidTag", 400)
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags, "a refused change keeps the old tags"
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "crm"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "crm"}]
    # The bucket's other properties are untouched.
    created = [b for b in s3.list_buckets()["Buckets"] if b["Name"] == bucket][0]["CreationDate"]
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_tagging(Bucket=bucket)
    assert err(ei) == ("NoSuchTagSet", 404)
    assert [b for b in s3.list_buckets()["Buckets"] if b["Name"] == bucket][0]["CreationDate"] == created
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_tagging(Bucket="no-such-bucket-tags", Tagging={"TagSet": []})
    assert err(ei) == ("NoSuchBucket", 404)


def user_with_policy(bucket, statements):
    """A new user whose only policy is `statements`; returns its client."""
    admin = MinioAdmin(endpoint=HOST_HEADER, credentials=StaticProvider(ACCESS_KEY, SECRET_KEY), secure=False)
    suffix = uuid.uuid4().hex[:8]
    user, secret, policy = f"tags-{suffix}", "tags-secret-12345", f"tags-{suffix}"
    admin.policy_add(policy, policy={"Version": "2012-10-17", "Statement": statements})
    admin.user_add(user, secret)
    admin.attach_policy([policy], user=user)
    return make_client(access_key=user, secret_key=secret)


def test_policies_can_require_the_tags_a_request_sets(s3, bucket):
    client = user_with_policy(bucket, [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:PutObjectTagging"],
         "Resource": [f"arn:aws:s3:::{bucket}/*"],
         "Condition": {"StringEquals": {"s3:RequestObjectTag/team": "crm"},
                       "ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["team", "kind"]}}},
    ])
    client.put_object(Bucket=bucket, Key="ok", Body=b"x", Tagging="team=crm&kind=quote")
    for tagging in ("team=sales", "team=crm&other=1", ""):
        with pytest.raises(ClientError) as ei:
            client.put_object(Bucket=bucket, Key="denied", Body=b"x", Tagging=tagging)
        assert err(ei) == ("AccessDenied", 403), tagging
    assert_absent(s3, bucket, "denied")
    client.put_object_tagging(Bucket=bucket, Key="ok", Tagging={"TagSet": [{"Key": "team", "Value": "crm"}]})
    with pytest.raises(ClientError) as ei:
        client.put_object_tagging(Bucket=bucket, Key="ok", Tagging={"TagSet": [{"Key": "team", "Value": "x"}]})
    assert err(ei) == ("AccessDenied", 403)
    assert tags_of(s3, bucket, "ok") == [("team", "crm")]


def test_policies_can_require_an_objects_existing_tags(s3, bucket):
    client = user_with_policy(bucket, [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectTagging", "s3:DeleteObjectTagging"],
         "Resource": [f"arn:aws:s3:::{bucket}/*"],
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/classification": "public"}}},
    ])
    s3.put_object(Bucket=bucket, Key="open", Body=b"o", Tagging="classification=public")
    s3.put_object(Bucket=bucket, Key="secret", Body=b"s", Tagging="classification=confidential")
    s3.put_object(Bucket=bucket, Key="untagged", Body=b"u")
    assert client.get_object(Bucket=bucket, Key="open")["Body"].read() == b"o"
    assert client.get_object_tagging(Bucket=bucket, Key="open")["TagSet"] == [
        {"Key": "classification", "Value": "public"}]
    for key in ("secret", "untagged"):
        for call in (client.get_object, client.get_object_tagging, client.delete_object_tagging):
            with pytest.raises(ClientError) as ei:
                call(Bucket=bucket, Key=key)
            assert err(ei)[1] == 403, (key, call)
    # Changing the tags changes what the policy allows, at once.
    s3.put_object_tagging(Bucket=bucket, Key="secret",
                          Tagging={"TagSet": [{"Key": "classification", "Value": "public"}]})
    assert client.get_object(Bucket=bucket, Key="secret")["Body"].read() == b"s"
    s3.delete_object_tagging(Bucket=bucket, Key="open")
    with pytest.raises(ClientError) as ei:
        client.get_object(Bucket=bucket, Key="open")
    assert err(ei) == ("AccessDenied", 403)
