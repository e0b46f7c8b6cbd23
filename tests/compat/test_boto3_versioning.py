"""boto3 compatibility: bucket versioning as S3 documents it.

A bucket starts unversioned (no status), can be Enabled or Suspended, never
unversioned again. With versioning enabled every write makes a new version with an id
(`x-amz-version-id`), a DELETE adds a delete marker, and any version can be read,
copied, tagged or deleted by id; while suspended, writes and deletes replace the `null`
version and older versions stay. ListObjectVersions lists every version and delete
marker with key and version-id markers; ListObjects skips keys whose newest version is
a delete marker. A bucket holding versions or markers is not empty.
"""

from __future__ import annotations

from compat_helpers import *  # noqa: F401,F403
from minio import MinioAdmin
from minio.credentials import StaticProvider


def enable(s3, bucket, status="Enabled"):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def versions_of(s3, bucket, **kw):
    """(key, version id, is latest, is delete marker) of every version, in listing order."""
    out = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, **kw):
        entries = [(v, False) for v in page.get("Versions", [])] + [(m, True) for m in page.get("DeleteMarkers", [])]
        # boto3 gives versions and markers in two lists: order them as S3 does (key, then newest first).
        entries.sort(key=lambda e: (e[0]["Key"], -e[0]["LastModified"].timestamp()))
        out.extend((e["Key"], e["VersionId"], e["IsLatest"], marker) for e, marker in entries)
    return out


def test_versioning_states(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Off"})
    assert err(ei) == ("MalformedXML", 400)
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"})
    assert err(ei) == ("NotImplemented", 501)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended", "a refused change keeps the state"
    with pytest.raises(ClientError) as ei:
        enable(s3, "no-such-bucket-versioning")
    assert err(ei) == ("NoSuchBucket", 404)


def test_an_unversioned_bucket_names_no_versions(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    assert "VersionId" not in put
    assert "VersionId" not in s3.head_object(Bucket=bucket, Key="k")
    assert get_body(s3, bucket, "k", VersionId="null") == b"one"
    listed = versions_of(s3, bucket)
    assert listed == [("k", "null", True, False)]
    s3.delete_object(Bucket=bucket, Key="k")
    assert_absent(s3, bucket, "k")
    assert versions_of(s3, bucket) == []


def test_enabled_versioning_keeps_every_version(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"first")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"second" * 30000)["VersionId"]
    assert v1 != v2 and "null" not in (v1, v2)
    got = s3.get_object(Bucket=bucket, Key="doc")
    assert (got["Body"].read(), got["VersionId"]) == (b"second" * 30000, v2)
    assert get_body(s3, bucket, "doc", VersionId=v1) == b"first"
    assert s3.head_object(Bucket=bucket, Key="doc", VersionId=v1)["ContentLength"] == 5
    assert get_body(s3, bucket, "doc", VersionId=v1, Range="bytes=1-2") == b"ir"
    assert versions_of(s3, bucket) == [("doc", v2, True, False), ("doc", v1, False, False)]
    assert list_all_keys(s3, bucket) == ["doc"]


def test_a_delete_adds_a_marker_that_hides_the_key_until_it_is_removed(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"data")["VersionId"]
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    assert marker not in ("null", v1)
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="k")
    assert err(ei) == ("NoSuchKey", 404)
    headers = ei.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers.get("x-amz-delete-marker") == "true" and headers.get("x-amz-version-id") == marker
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="k")
    assert err(ei)[1] == 404
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="k", VersionId=marker)
    assert err(ei) == ("MethodNotAllowed", 405)
    assert list_all_keys(s3, bucket) == [], "ListObjects skips a key whose newest version is a marker"
    assert versions_of(s3, bucket) == [("k", marker, True, True), ("k", v1, False, False)]
    assert get_body(s3, bucket, "k", VersionId=v1) == b"data"
    # A bucket with versions or markers is not empty.
    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=bucket)
    assert err(ei) == ("BucketNotEmpty", 409)
    # Removing the marker brings the object back.
    removed = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert (removed["VersionId"], removed.get("DeleteMarker")) == (marker, True)
    assert get_body(s3, bucket, "k") == b"data"
    assert list_all_keys(s3, bucket) == ["k"]


def test_deleting_a_version_by_id_removes_it_for_good(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=rand(300 * 1024))["VersionId"]
    body2 = rand(1000)
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=body2)["VersionId"]
    assert s3.delete_object(Bucket=bucket, Key="k", VersionId=v1)["VersionId"] == v1
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="k", VersionId=v1)
    assert err(ei) == ("NoSuchVersion", 404)
    assert get_body(s3, bucket, "k") == body2
    # Deleting the newest version makes the previous one current; the last one takes the key.
    v3 = s3.put_object(Bucket=bucket, Key="k", Body=b"three")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v3)
    assert get_body(s3, bucket, "k") == body2
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v2)
    assert versions_of(s3, bucket) == []
    assert_absent(s3, bucket, "k")


def test_suspended_versioning_replaces_the_null_version_and_keeps_the_others(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"before versioning")  # the null version
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    enable(s3, bucket, "Suspended")
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"null one")["VersionId"] == "null"
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"null two")["VersionId"] == "null"
    assert versions_of(s3, bucket) == [("k", "null", True, False), ("k", v1, False, False)]
    assert get_body(s3, bucket, "k", VersionId="null") == b"null two"
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert (deleted["VersionId"], deleted["DeleteMarker"]) == ("null", True)
    assert versions_of(s3, bucket) == [("k", "null", True, True), ("k", v1, False, False)]
    assert get_body(s3, bucket, "k", VersionId=v1) == b"versioned"


def test_copies_read_a_version_and_uploads_complete_into_one(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="src", Body=b"old", Tagging="gen=1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"new")
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": v1})
    assert copied["CopySourceVersionId"] == v1 and copied["VersionId"] not in ("null", v1)
    assert get_body(s3, bucket, "dst") == b"old"
    # Restoring an old version by copying it onto its own key, as the S3 guide says.
    restored = s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src", "VersionId": v1})
    assert get_body(s3, bucket, "src") == b"old"
    assert len(versions_of(s3, bucket, Prefix="src")) == 3
    upload = s3.create_multipart_upload(Bucket=bucket, Key="src")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="src", UploadId=upload, PartNumber=1, Body=rand(2048))
    done = s3.complete_multipart_upload(Bucket=bucket, Key="src", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert done["VersionId"] not in ("null", v1, restored["VersionId"])
    assert len(versions_of(s3, bucket, Prefix="src")) == 4
    # Tags belong to a version.
    assert s3.get_object_tagging(Bucket=bucket, Key="src", VersionId=v1)["TagSet"] == [{"Key": "gen", "Value": "1"}]
    s3.put_object_tagging(Bucket=bucket, Key="src", VersionId=v1, Tagging={"TagSet": [{"Key": "gen", "Value": "x"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="src", VersionId=v1)["TagSet"] == [{"Key": "gen", "Value": "x"}]
    assert s3.get_object_tagging(Bucket=bucket, Key="src")["TagSet"] == []


def test_list_object_versions_pages_with_key_and_version_markers(s3, bucket):
    enable(s3, bucket)
    expected = []
    for key in ("a/1", "a/2", "b"):
        ids = [s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * n)["VersionId"] for n in range(1, 4)]
        expected.extend((key, vid) for vid in reversed(ids))
    marker = s3.delete_object(Bucket=bucket, Key="b")["VersionId"]
    expected.insert(6, ("b", marker))
    seen, pages = [], 0
    kwargs = {"MaxKeys": 4}
    while True:
        page = s3.list_object_versions(Bucket=bucket, **kwargs)
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        assert len(entries) <= 4
        entries.sort(key=lambda e: (e["Key"], -e["LastModified"].timestamp()))
        seen.extend((e["Key"], e["VersionId"]) for e in entries)
        pages += 1
        if not page["IsTruncated"]:
            break
        kwargs = {"MaxKeys": 4, "KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert seen == expected and pages == 3
    grouped = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["a/"]
    assert {v["Key"] for v in grouped.get("Versions", [])} == {"b"}
    assert [v["Key"] for v in s3.list_object_versions(Bucket=bucket, Prefix="a/2")["Versions"]] == ["a/2"] * 3
    with pytest.raises(ClientError) as ei:
        s3.list_object_versions(Bucket=bucket, VersionIdMarker=marker)
    assert err(ei) == ("InvalidArgument", 400)


def test_delete_objects_with_version_ids(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="x", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="x", Body=b"2")["VersionId"]
    s3.put_object(Bucket=bucket, Key="y", Body=b"y")
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "x", "VersionId": v1}, {"Key": "y"}, {"Key": "x", "VersionId": "not-a-version"}]})
    deleted = {(d["Key"], d.get("VersionId"), d.get("DeleteMarker", False)) for d in out["Deleted"]}
    assert ("x", v1, False) in deleted
    marker = [d for d in out["Deleted"] if d["Key"] == "y"][0]
    assert marker["DeleteMarker"] is True and marker["DeleteMarkerVersionId"]
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("x", "InvalidArgument")]
    assert [v for k, v, _, _ in versions_of(s3, bucket) if k == "x"] == [v2]


def test_reading_a_version_needs_the_version_permission(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    admin = MinioAdmin(endpoint=HOST_HEADER, credentials=StaticProvider(ACCESS_KEY, SECRET_KEY), secure=False)
    user, secret = f"noversions-{uuid.uuid4().hex[:8]}", "noversions-secret-1"
    admin.policy_add(f"{user}-p", policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:DeleteObject"], "Resource": [f"arn:aws:s3:::{bucket}/*"]}]})
    admin.user_add(user, secret)
    admin.attach_policy([f"{user}-p"], user=user)
    client = make_client(access_key=user, secret_key=secret)
    assert get_body(client, bucket, "k") == b"1"
    for call in (lambda: client.get_object(Bucket=bucket, Key="k", VersionId=v1),
                 lambda: client.delete_object(Bucket=bucket, Key="k", VersionId=v1)):
        with pytest.raises(ClientError) as ei:
            call()
        assert err(ei) == ("AccessDenied", 403)
    assert get_body(s3, bucket, "k", VersionId=v1) == b"1"
