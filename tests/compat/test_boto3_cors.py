"""boto3 compatibility: bucket CORS configurations (Put/Get/Delete) are kept as given and
refused as S3 refuses them (InvalidRequest for a method S3 does not know or two
wildcards, MalformedXML for an empty configuration) with the old one kept; preflight
OPTIONS requests are answered from the bucket's rules without credentials (allowed
origin, method and headers, exposed headers, max age; 403 otherwise); actual responses
to requests with an allowed Origin carry the CORS headers, errors included.
"""

from __future__ import annotations

from compat_helpers import *  # noqa: F401,F403

CRM = "https://crm.example.com"
RULES = [
    {"ID": "crm-uploads", "AllowedOrigins": [CRM, "https://*.crm.example.com"], "AllowedMethods": ["PUT", "POST", "GET"],
     "AllowedHeaders": ["Content-Type", "x-amz-*"], "ExposeHeaders": ["ETag", "x-amz-version-id"],
     "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
]


def put_rules(s3, bucket, rules=RULES):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})


def preflight(bucket, origin, method, headers=None):
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = headers
    return raw_request("OPTIONS", f"/{bucket}/upload.bin", headers=asked)


def test_a_configuration_is_kept_returned_and_deleted(s3, bucket):
    put_rules(s3, bucket)
    got = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert got[0]["ID"] == "crm-uploads" and got[0]["AllowedOrigins"] == RULES[0]["AllowedOrigins"]
    assert got[0]["AllowedMethods"] == ["PUT", "POST", "GET"] and got[0]["MaxAgeSeconds"] == 600
    assert got[0]["ExposeHeaders"] == ["ETag", "x-amz-version-id"]
    assert got[1]["AllowedOrigins"] == ["*"]
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_cors(Bucket=bucket)
    assert err(ei) == ("NoSuchCORSConfiguration", 404)


@pytest.mark.parametrize("rule,code", [
    ({"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}, "InvalidRequest"),
    ({"AllowedOrigins": ["https://*.*.example.com"], "AllowedMethods": ["GET"]}, "InvalidRequest"),
    ({"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["x-*-*"]}, "InvalidRequest"),
], ids=["unknown-method", "two-wildcards-origin", "two-wildcards-header"])
def test_bad_rules_are_refused_and_the_old_configuration_stays(s3, bucket, rule, code):
    put_rules(s3, bucket)
    with pytest.raises(ClientError) as ei:
        put_rules(s3, bucket, [rule])
    assert err(ei)[0] == code
    assert len(s3.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 2
    with pytest.raises(ClientError) as ei:
        put_rules(s3, bucket, [])
    assert err(ei)[0] == "MalformedXML"


def test_preflights_are_answered_from_the_rules(s3, bucket):
    status, _, body = preflight(bucket, CRM, "PUT")
    assert status == 403 and xml_code(body) == "AccessForbidden", "no CORS configuration yet"
    put_rules(s3, bucket)
    status, headers, _ = preflight(bucket, CRM, "PUT", "content-type, x-amz-date, X-Amz-Content-Sha256")
    assert status == 200
    assert headers["access-control-allow-origin"] == CRM
    assert headers["access-control-allow-methods"] == "PUT, POST, GET"
    assert headers["access-control-allow-headers"] == "content-type, x-amz-date, x-amz-content-sha256"
    assert headers["access-control-max-age"] == "600"
    assert headers["access-control-expose-headers"] == "ETag, x-amz-version-id"
    assert "Origin" in headers["vary"]
    status, headers, _ = preflight(bucket, "https://eu.crm.example.com", "POST")
    assert status == 200 and headers["access-control-allow-origin"] == "https://eu.crm.example.com"
    status, headers, _ = preflight(bucket, "https://elsewhere.example", "GET")
    assert status == 200 and headers["access-control-allow-origin"] == "*", "the catch-all rule"
    for origin, method, asked in [("https://elsewhere.example", "PUT", None), (CRM, "DELETE", None),
                                  (CRM, "PUT", "authorization")]:
        status, headers, body = preflight(bucket, origin, method, asked)
        assert status == 403 and xml_code(body) == "AccessForbidden", (origin, method, asked)
        assert "access-control-allow-origin" not in headers
    status, _, _ = raw_request("OPTIONS", f"/{bucket}/x", headers={"Origin": CRM})
    assert status == 400, "a preflight without Access-Control-Request-Method"


def test_actual_responses_carry_cors_headers_errors_included(s3, bucket):
    put_rules(s3, bucket)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"hello")

    def with_origin(request, **_):
        request.headers["Origin"] = CRM

    s3.meta.events.register("before-sign.s3.GetObject", with_origin)
    try:
        got = s3.get_object(Bucket=bucket, Key="a.txt")
        headers = got["ResponseMetadata"]["HTTPHeaders"]
        assert headers["access-control-allow-origin"] == CRM
        assert headers["access-control-expose-headers"] == "ETag, x-amz-version-id"
        with pytest.raises(ClientError) as ei:
            s3.get_object(Bucket=bucket, Key="missing.txt")
        assert ei.value.response["ResponseMetadata"]["HTTPHeaders"]["access-control-allow-origin"] == CRM
    finally:
        s3.meta.events.unregister("before-sign.s3.GetObject", with_origin)
    # An anonymous request refused by the access check is answered with the headers too.
    status, headers, _ = raw_request("GET", f"/{bucket}/a.txt", headers={"Origin": "https://elsewhere.example"})
    assert status == 403 and headers["access-control-allow-origin"] == "*"
    status, headers, _ = raw_request("PUT", f"/{bucket}/b.txt", headers={"Origin": "https://elsewhere.example"},
                                     body=b"x")
    assert status == 403 and "access-control-allow-origin" not in headers, "PUT is not allowed from there"
