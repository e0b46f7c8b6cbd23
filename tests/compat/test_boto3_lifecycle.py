"""boto3 compatibility: bucket lifecycle configurations (Put/Get/Delete) are kept as
given (rules by prefix, tag, size and And; Expiration by days, date or expired delete
marker; NoncurrentVersionExpiration with versions kept; AbortIncompleteMultipartUpload),
refused as S3 refuses them (MalformedXML, InvalidArgument, InvalidTag; transitions
NotImplemented) with the previous configuration left in place, and announced on
objects a rule will expire with x-amz-expiration (GET, HEAD and PUT). The scanner that
applies the rules is tested against real clusters in the Rust suites (tests/cluster/ilm.rs).
"""

from __future__ import annotations

import re

from compat_helpers import *  # noqa: F401,F403

EXPIRY = re.compile(r'^expiry-date="(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d \w{3} \d{4} 00:00:00 GMT", rule-id="([^"]+)"$')


def rules_of(s3, bucket):
    return s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]


def test_a_configuration_is_kept_and_returned(s3, bucket):
    rules = [
        {"ID": "temp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
        {"ID": "old-versions", "Status": "Disabled", "Filter": {"Prefix": ""},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 30, "NewerNoncurrentVersions": 3}},
        {"ID": "tagged", "Status": "Enabled",
         "Filter": {"And": {"Prefix": "docs/", "Tags": [{"Key": "state", "Value": "done"}],
                            "ObjectSizeGreaterThan": 100}},
         "Expiration": {"Date": "2030-01-01T00:00:00Z"}},
        {"ID": "markers", "Status": "Enabled", "Filter": {"ObjectSizeLessThan": 1000},
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = {r["ID"]: r for r in rules_of(s3, bucket)}
    assert set(got) == {"temp", "old-versions", "tagged", "markers"}
    assert got["temp"]["Filter"] == {"Prefix": "tmp/"} and got["temp"]["Expiration"] == {"Days": 7}
    assert got["temp"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert got["old-versions"]["Status"] == "Disabled"
    assert got["old-versions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30, "NewerNoncurrentVersions": 3}
    and_ = got["tagged"]["Filter"]["And"]
    assert and_["Prefix"] == "docs/" and and_["Tags"] == [{"Key": "state", "Value": "done"}]
    assert and_["ObjectSizeGreaterThan"] == 100
    assert got["tagged"]["Expiration"]["Date"].year == 2030
    assert got["markers"]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    assert got["markers"]["Filter"] == {"ObjectSizeLessThan": 1000}

    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as ei:
        rules_of(s3, bucket)
    assert err(ei) == ("NoSuchLifecycleConfiguration", 404)
    s3.delete_bucket_lifecycle(Bucket=bucket)  # nothing to delete: still a success


def test_a_rule_without_an_id_gets_one_and_the_old_form_prefix_is_accepted(s3, bucket):
    rules = [{"Status": "Enabled", "Prefix": "logs/", "Expiration": {"Days": 1}}]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    (rule,) = rules_of(s3, bucket)
    assert rule["ID"] and rule["Filter"] == {"Prefix": "logs/"}


GOOD = {"ID": "good", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 5}}

BAD_RULES = [
    ("days-zero", {**GOOD, "Expiration": {"Days": 0}}, "InvalidArgument"),
    ("date-not-midnight", {**GOOD, "Expiration": {"Date": "2030-01-01T12:00:00Z"}}, "InvalidArgument"),
    ("days-and-marker", {**GOOD, "Expiration": {"Days": 1, "ExpiredObjectDeleteMarker": True}}, "MalformedXML"),
    ("no-action", {"ID": "a", "Status": "Enabled", "Filter": {"Prefix": ""}}, "MalformedXML"),
    ("noncurrent-zero", {**GOOD, "NoncurrentVersionExpiration": {"NoncurrentDays": 0}}, "InvalidArgument"),
    ("keep-too-many", {**GOOD, "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 101}},
     "InvalidArgument"),
    ("abort-with-tag", {"ID": "a", "Status": "Enabled", "Filter": {"Tag": {"Key": "k", "Value": "v"}},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}, "InvalidArgument"),
    ("marker-with-tag", {"ID": "a", "Status": "Enabled", "Filter": {"Tag": {"Key": "k", "Value": "v"}},
                         "Expiration": {"ExpiredObjectDeleteMarker": True}}, "InvalidArgument"),
    ("bad-tag", {**GOOD, "Filter": {"Tag": {"Key": "aws:reserved", "Value": "v"}}}, "InvalidTag"),
    ("sizes-crossed", {**GOOD, "Filter": {"And": {"ObjectSizeGreaterThan": 100, "ObjectSizeLessThan": 50}}},
     "InvalidArgument"),
    ("transition", {**GOOD, "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}, "NotImplemented"),
    ("noncurrent-transition", {**GOOD, "NoncurrentVersionTransitions": [{"NoncurrentDays": 30,
                                                                          "StorageClass": "GLACIER"}]},
     "NotImplemented"),
]


@pytest.mark.parametrize("rule,code", [(r, c) for _, r, c in BAD_RULES], ids=[i for i, _, _ in BAD_RULES])
def test_bad_rules_are_refused_and_the_old_configuration_stays(s3, bucket, rule, code):
    kept = [{"ID": "kept", "Status": "Enabled", "Filter": {"Prefix": "k/"}, "Expiration": {"Days": 3}}]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": kept})
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    assert err(ei)[0] == code
    assert [r["ID"] for r in rules_of(s3, bucket)] == ["kept"]


def test_two_rules_with_one_id_are_refused(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [GOOD, GOOD]})
    assert err(ei) == ("InvalidArgument", 400)


def test_a_configuration_without_rules_is_malformed(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": []})
    assert err(ei) == ("MalformedXML", 400)


def test_objects_a_rule_expires_carry_x_amz_expiration(s3, bucket):
    rules = [{"ID": "temp-rule", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}}]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    put = s3.put_object(Bucket=bucket, Key="tmp/a", Body=b"x")
    match = EXPIRY.match(put["Expiration"])
    assert match and match.group(2) == "temp-rule", put["Expiration"]
    assert s3.get_object(Bucket=bucket, Key="tmp/a")["Expiration"] == put["Expiration"]
    assert s3.head_object(Bucket=bucket, Key="tmp/a")["Expiration"] == put["Expiration"]
    s3.put_object(Bucket=bucket, Key="keep/a", Body=b"x")
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="keep/a")
