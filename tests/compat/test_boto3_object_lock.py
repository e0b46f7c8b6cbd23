"""boto3 compatibility: object lock (WORM) as S3 documents it.

A bucket created with object lock is versioned and stays so. A version can carry a
retention (GOVERNANCE or COMPLIANCE, until a date) and a legal hold, given on the write
or later by Put/GetObjectRetention and Put/GetObjectLegalHold; a bucket can give every
new version a default retention. A protected version cannot be deleted by anyone, root
included (COMPLIANCE, a legal hold), or only with x-amz-bypass-governance-retention by a
caller allowed s3:BypassGovernanceRetention (GOVERNANCE); COMPLIANCE cannot be
shortened. A DELETE without a version id still adds a delete marker.
"""

from __future__ import annotations

import datetime as dt

from compat_helpers import *  # noqa: F401,F403
from minio import MinioAdmin
from minio.credentials import StaticProvider


def later(days=1):
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=days)


@pytest.fixture
def locked_bucket(s3):
    name = unique_bucket("lock")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    yield name
    # Versions still under retention cannot go: only those that can are removed.
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            try:
                s3.put_object_legal_hold(Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"],
                                         LegalHold={"Status": "OFF"})
            except ClientError:
                pass
            try:
                s3.delete_object(Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"],
                                 BypassGovernanceRetention=True)
            except ClientError:
                pass
    try:
        s3.delete_bucket(Bucket=name)
    except ClientError:
        pass


def test_a_bucket_with_object_lock_is_versioned_for_good(s3, locked_bucket, bucket):
    assert s3.get_bucket_versioning(Bucket=locked_bucket)["Status"] == "Enabled"
    config = s3.get_object_lock_configuration(Bucket=locked_bucket)["ObjectLockConfiguration"]
    assert config == {"ObjectLockEnabled": "Enabled"}
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_versioning(Bucket=locked_bucket, VersioningConfiguration={"Status": "Suspended"})
    assert err(ei) == ("InvalidBucketState", 409)
    # A bucket created without it has none, and cannot get one.
    with pytest.raises(ClientError) as ei:
        s3.get_object_lock_configuration(Bucket=bucket)
    assert err(ei) == ("ObjectLockConfigurationNotFoundError", 404)
    with pytest.raises(ClientError) as ei:
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    assert err(ei) == ("InvalidBucketState", 409)
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=later())
    assert err(ei) == ("InvalidRequest", 400)
    assert_absent(s3, bucket, "k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for call in (lambda: s3.put_object_retention(Bucket=bucket, Key="k", Retention={
                     "Mode": "GOVERNANCE", "RetainUntilDate": later()}),
                 lambda: s3.put_object_legal_hold(Bucket=bucket, Key="k", LegalHold={"Status": "ON"})):
        with pytest.raises(ClientError) as ei:
            call()
        assert err(ei) == ("InvalidRequest", 400)


def test_compliance_retention_protects_a_version_from_everyone(s3, locked_bucket):
    until = later()
    put = s3.put_object(Bucket=locked_bucket, Key="contract", Body=b"signed",
                        ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
    version = put["VersionId"]
    head = s3.head_object(Bucket=locked_bucket, Key="contract")
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"] == until
    got = s3.get_object_retention(Bucket=locked_bucket, Key="contract", VersionId=version)["Retention"]
    assert got == {"Mode": "COMPLIANCE", "RetainUntilDate": until}
    for bypass in (False, True):
        with pytest.raises(ClientError) as ei:
            s3.delete_object(Bucket=locked_bucket, Key="contract", VersionId=version, BypassGovernanceRetention=bypass)
        assert err(ei) == ("AccessDenied", 403)
    out = s3.delete_objects(Bucket=locked_bucket, Delete={"Objects": [{"Key": "contract", "VersionId": version}]})
    assert [e["Code"] for e in out["Errors"]] == ["AccessDenied"]
    # Shortening or weakening is refused; lengthening is allowed.
    for retention in ({"Mode": "COMPLIANCE", "RetainUntilDate": until - dt.timedelta(hours=1)},
                      {"Mode": "GOVERNANCE", "RetainUntilDate": later(2)}):
        with pytest.raises(ClientError) as ei:
            s3.put_object_retention(Bucket=locked_bucket, Key="contract", VersionId=version, Retention=retention,
                                    BypassGovernanceRetention=True)
        assert err(ei) == ("AccessDenied", 403)
    s3.put_object_retention(Bucket=locked_bucket, Key="contract", VersionId=version,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later(2)})
    # A DELETE of the key adds a marker; the version stays readable.
    assert s3.delete_object(Bucket=locked_bucket, Key="contract")["DeleteMarker"] is True
    assert get_body(s3, locked_bucket, "contract", VersionId=version) == b"signed"


def test_governance_retention_yields_only_to_an_allowed_bypass(s3, locked_bucket):
    version = s3.put_object(Bucket=locked_bucket, Key="draft", Body=b"v1", ObjectLockMode="GOVERNANCE",
                            ObjectLockRetainUntilDate=later())["VersionId"]
    with pytest.raises(ClientError) as ei:
        s3.delete_object(Bucket=locked_bucket, Key="draft", VersionId=version)
    assert err(ei) == ("AccessDenied", 403)
    # A user allowed to delete versions but not to bypass governance cannot, even asking.
    admin = MinioAdmin(endpoint=HOST_HEADER, credentials=StaticProvider(ACCESS_KEY, SECRET_KEY), secure=False)
    user, secret = f"nobypass-{uuid.uuid4().hex[:8]}", "nobypass-secret-1"
    admin.policy_add(f"{user}-p", policy={"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [
        "s3:DeleteObjectVersion", "s3:GetObject"], "Resource": [f"arn:aws:s3:::{locked_bucket}/*"]}]})
    admin.user_add(user, secret)
    admin.attach_policy([f"{user}-p"], user=user)
    client = make_client(access_key=user, secret_key=secret)
    with pytest.raises(ClientError) as ei:
        client.delete_object(Bucket=locked_bucket, Key="draft", VersionId=version, BypassGovernanceRetention=True)
    assert err(ei) == ("AccessDenied", 403)
    assert get_body(s3, locked_bucket, "draft", VersionId=version) == b"v1"
    # Root may bypass.
    s3.delete_object(Bucket=locked_bucket, Key="draft", VersionId=version, BypassGovernanceRetention=True)
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=locked_bucket, Key="draft", VersionId=version)
    assert err(ei) == ("NoSuchVersion", 404)


def test_a_legal_hold_protects_until_it_is_lifted(s3, locked_bucket):
    version = s3.put_object(Bucket=locked_bucket, Key="evidence", Body=b"e", ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert s3.head_object(Bucket=locked_bucket, Key="evidence")["ObjectLockLegalHoldStatus"] == "ON"
    assert s3.get_object_legal_hold(Bucket=locked_bucket, Key="evidence")["LegalHold"] == {"Status": "ON"}
    with pytest.raises(ClientError) as ei:
        s3.delete_object(Bucket=locked_bucket, Key="evidence", VersionId=version, BypassGovernanceRetention=True)
    assert err(ei) == ("AccessDenied", 403)
    s3.put_object_legal_hold(Bucket=locked_bucket, Key="evidence", VersionId=version, LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=locked_bucket, Key="evidence")["LegalHold"] == {"Status": "OFF"}
    s3.delete_object(Bucket=locked_bucket, Key="evidence", VersionId=version)
    assert versions_left(s3, locked_bucket, "evidence") == 0


def versions_left(s3, bucket, key):
    page = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return len([v for v in page.get("Versions", []) + page.get("DeleteMarkers", []) if v["Key"] == key])


def test_a_default_retention_locks_every_new_version(s3, locked_bucket):
    s3.put_object_lock_configuration(Bucket=locked_bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 3}}})
    config = s3.get_object_lock_configuration(Bucket=locked_bucket)["ObjectLockConfiguration"]
    assert config["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 3}
    version = s3.put_object(Bucket=locked_bucket, Key="quote", Body=b"q")["VersionId"]
    retention = s3.get_object_retention(Bucket=locked_bucket, Key="quote", VersionId=version)["Retention"]
    assert retention["Mode"] == "GOVERNANCE"
    days = (retention["RetainUntilDate"] - dt.datetime.now(dt.timezone.utc)).total_seconds() / 86400
    assert 2.9 < days <= 3.0
    with pytest.raises(ClientError) as ei:
        s3.delete_object(Bucket=locked_bucket, Key="quote", VersionId=version)
    assert err(ei) == ("AccessDenied", 403)
    # Copies and multipart uploads are new versions: they get the default too, never the source's.
    copy = s3.copy_object(Bucket=locked_bucket, Key="copy", CopySource={"Bucket": locked_bucket, "Key": "quote"})
    assert s3.head_object(Bucket=locked_bucket, Key="copy", VersionId=copy["VersionId"])["ObjectLockMode"] == "GOVERNANCE"
    bad = [
        {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}},
        {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "STRICT", "Days": 1}}},
    ]
    for configuration in bad:
        with pytest.raises(ClientError) as ei:
            s3.put_object_lock_configuration(Bucket=locked_bucket, ObjectLockConfiguration=configuration)
        assert err(ei)[1] == 400
    assert s3.get_object_lock_configuration(Bucket=locked_bucket)["ObjectLockConfiguration"] == config
    s3.put_object_lock_configuration(Bucket=locked_bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    plain = s3.put_object(Bucket=locked_bucket, Key="plain", Body=b"p")["VersionId"]
    with pytest.raises(ClientError) as ei:
        s3.get_object_retention(Bucket=locked_bucket, Key="plain", VersionId=plain)
    assert err(ei) == ("NoSuchObjectLockConfiguration", 404)
    s3.delete_object(Bucket=locked_bucket, Key="plain", VersionId=plain)


def test_bad_lock_headers_are_refused_and_store_nothing(s3, locked_bucket):
    cases = [
        dict(ObjectLockMode="GOVERNANCE"),
        dict(ObjectLockRetainUntilDate=later()),
        dict(ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=later(-1)),
    ]
    for case in cases:
        with pytest.raises(ClientError) as ei:
            s3.put_object(Bucket=locked_bucket, Key="bad", Body=b"x", **case)
        assert err(ei)[1] == 400, case
    assert versions_left(s3, locked_bucket, "bad") == 0
