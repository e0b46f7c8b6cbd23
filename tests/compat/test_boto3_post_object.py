"""boto3 compatibility: browser form uploads (POST object) with policies made by boto3's
generate_presigned_post. The file is stored with the form's fields (Content-Type,
metadata, tags; `${filename}` in the key); success_action_status and
success_action_redirect shape the answer; every condition type is enforced (eq,
starts-with, content-length-range, expiry, extra fields) with S3's errors and nothing
stored; bad signatures, unknown keys and malformed forms are refused; unsigned forms
follow the bucket policy; a large file streams through (chunked, fields after it
ignored); a form posted to a key's URL is refused.
"""

from __future__ import annotations

import json
import re

from compat_helpers import *  # noqa: F401,F403

TAGS_XML = "<Tagging><TagSet><Tag><Key>kind</Key><Value>quote</Value></Tag></TagSet></Tagging>"


def form_parts(fields, content_chunks, filename="upload.bin", after=None):
    """(content type, body chunks) of a multipart/form-data form with `fields` then the file."""
    boundary = f"cairn-{uuid.uuid4().hex}"
    head = b""
    for name, value in fields.items():
        head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()
    head += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
             f"Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = b"\r\n"
    for name, value in (after or {}).items():
        tail += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()
    tail += f"--{boundary}--\r\n".encode()

    def chunks():
        yield head
        yield from content_chunks
        yield tail

    return f"multipart/form-data; boundary={boundary}", chunks()


def post_form(bucket, fields, content=b"", filename="upload.bin", after=None, chunks=None):
    """POSTs a form to the bucket's URL; returns (status, headers, body)."""
    content_type, body = form_parts(fields, chunks if chunks is not None else [content], filename, after)
    if chunks is not None:
        return raw_request("POST", f"/{bucket}", headers={"Content-Type": content_type}, body=body,
                           encode_chunked=True)
    data = b"".join(body)
    return raw_request("POST", f"/{bucket}", headers={"Content-Type": content_type,
                                                      "Content-Length": str(len(data))}, body=data)


def presigned(s3, bucket, key, fields=None, conditions=None, expires=300):
    post = s3.generate_presigned_post(Bucket=bucket, Key=key, Fields=fields, Conditions=conditions,
                                      ExpiresIn=expires)
    return post["fields"]


def refused_with(result, code, status):
    got_status, _, body = result
    assert (xml_code(body), got_status) == (code, status), body


def test_a_form_stores_the_file_with_its_fields(s3, bucket):
    data = b"id,amount\n1,100\n"
    fields = {"Content-Type": "text/csv", "x-amz-meta-owner": "ann", "success_action_status": "201",
              "tagging": TAGS_XML}
    conditions = [{"Content-Type": "text/csv"}, {"x-amz-meta-owner": "ann"}, {"success_action_status": "201"},
                  {"tagging": TAGS_XML}, ["starts-with", "$key", "uploads/"], ["content-length-range", 1, MiB]]
    form = presigned(s3, bucket, "uploads/${filename}", fields, conditions)
    status, headers, body = post_form(bucket, form, data, filename="q1.csv")
    assert status == 201, body
    assert re.search(rb"<Key>uploads/q1.csv</Key>", body) and re.search(rb"<Bucket>" + bucket.encode(), body)
    assert f"<ETag>{etag_of(data)}</ETag>".encode().replace(b'"', b"&quot;") in body
    assert headers["etag"] == etag_of(data)
    assert headers["location"].endswith(f"/{bucket}/uploads/q1.csv")
    head = s3.head_object(Bucket=bucket, Key="uploads/q1.csv")
    assert head["ContentType"] == "text/csv" and head["Metadata"] == {"owner": "ann"}
    assert head["ContentLength"] == len(data)
    tags = s3.get_object_tagging(Bucket=bucket, Key="uploads/q1.csv")["TagSet"]
    assert tags == [{"Key": "kind", "Value": "quote"}]
    assert get_body(s3, bucket, "uploads/q1.csv") == data


def test_the_answer_follows_success_action_fields(s3, bucket):
    plain = presigned(s3, bucket, "plain.txt")
    status, headers, body = post_form(bucket, plain, b"x")
    assert (status, body) == (204, b"") and headers["etag"] == etag_of(b"x")
    ok = presigned(s3, bucket, "ok.txt", {"success_action_status": "200"}, [{"success_action_status": "200"}])
    assert post_form(bucket, ok, b"y")[0] == 200
    target = "https://crm.example.com/uploaded?from=form"
    moved = presigned(s3, bucket, "moved.txt", {"success_action_redirect": target},
                      [{"success_action_redirect": target}])
    status, headers, _ = post_form(bucket, moved, b"z")
    assert status == 303
    location = urllib.parse.urlsplit(headers["location"])
    query = urllib.parse.parse_qs(location.query)
    assert location.netloc == "crm.example.com" and query["from"] == ["form"]
    assert query["bucket"] == [bucket] and query["key"] == ["moved.txt"] and query["etag"] == [etag_of(b"z")]
    assert get_body(s3, bucket, "moved.txt") == b"z"


def test_the_size_range_is_enforced_and_nothing_is_stored(s3, bucket):
    form = presigned(s3, bucket, "sized.bin", conditions=[["content-length-range", 10, 100]])
    refused_with(post_form(bucket, form, b"x" * 101), "EntityTooLarge", 400)
    refused_with(post_form(bucket, form, b"x" * 9), "EntityTooSmall", 400)
    assert_absent(s3, bucket, "sized.bin")
    assert post_form(bucket, form, b"x" * 100)[0] == 204
    assert post_form(bucket, form, b"x" * 10)[0] == 204


def test_policy_conditions_are_enforced(s3, bucket):
    form = presigned(s3, bucket, "exact.txt", {"Content-Type": "text/plain"},
                     [["starts-with", "$Content-Type", "text/"]])
    other_key = dict(form, key="other.txt")
    status, _, body = post_form(bucket, other_key, b"x")
    assert (status, xml_code(body)) == (403, "AccessDenied") and b"Policy Condition failed" in body
    wrong_type = dict(form, **{"Content-Type": "image/png"})
    refused_with(post_form(bucket, wrong_type, b"x"), "AccessDenied", 403)
    extra = dict(form, **{"x-amz-meta-sneaky": "1"})
    status, _, body = post_form(bucket, extra, b"x")
    assert status == 403 and b"Extra input fields: x-amz-meta-sneaky" in body
    ignored = dict(form, **{"x-ignore-me": "1"})
    assert post_form(bucket, ignored, b"ok")[0] == 204
    assert_absent(s3, bucket, "other.txt")
    assert s3.head_object(Bucket=bucket, Key="exact.txt")["ContentType"] == "text/plain"


def test_expired_policies_bad_signatures_and_unknown_keys_are_refused(s3, bucket):
    expired = presigned(s3, bucket, "late.txt", expires=1)
    time.sleep(2)
    status, _, body = post_form(bucket, expired, b"x")
    assert status == 403 and b"Policy expired" in body
    form = presigned(s3, bucket, "signed.txt")
    tampered = dict(form)
    tampered["x-amz-signature"] = "0" * 64
    refused_with(post_form(bucket, tampered, b"x"), "SignatureDoesNotMatch", 403)
    forged = presigned(make_client(secret_key="not-the-secret"), bucket, "signed.txt")
    refused_with(post_form(bucket, forged, b"x"), "SignatureDoesNotMatch", 403)
    stranger = presigned(make_client(access_key="NOSUCHKEY", secret_key="x" * 20), bucket, "signed.txt")
    refused_with(post_form(bucket, stranger, b"x"), "InvalidAccessKeyId", 403)
    unsigned_policy = {k: v for k, v in form.items() if k != "x-amz-signature"}
    refused_with(post_form(bucket, unsigned_policy, b"x"), "InvalidArgument", 400)
    for key in ("late.txt", "signed.txt"):
        assert_absent(s3, bucket, key)


def test_malformed_forms_are_refused(s3, bucket):
    form = presigned(s3, bucket, "k.txt")
    no_key = {k: v for k, v in form.items() if k != "key"}
    refused_with(post_form(bucket, no_key, b"x"), "InvalidArgument", 400)
    # Fields only: no file.
    boundary = "b0undary"
    only_fields = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n"
                          for n, v in form.items()) + f"--{boundary}--\r\n"
    result = raw_request("POST", f"/{bucket}", body=only_fields.encode(),
                         headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                                  "Content-Length": str(len(only_fields))})
    refused_with(result, "InvalidArgument", 400)
    garbage = raw_request("POST", f"/{bucket}", body=b"this is not a form",
                          headers={"Content-Type": "multipart/form-data; boundary=zz", "Content-Length": "18"})
    assert garbage[0] == 400 and xml_code(garbage[2]) in ("MalformedPOSTRequest", "InvalidArgument")
    huge = dict(form, **{"x-ignore-pad": "p" * (70 * 1024)})
    refused_with(post_form(bucket, huge, b"x"), "MaxPostPreDataLengthExceededError", 400)
    assert_absent(s3, bucket, "k.txt")
    status, _, _ = raw_request("POST", f"/{bucket}/k.txt",
                               headers={"Content-Type": "multipart/form-data; boundary=zz", "Content-Length": "8"},
                               body=b"--zz--\r\n")
    assert status == 405


def test_forms_may_ask_for_sse_s3(s3, bucket):
    form = presigned(s3, bucket, "sealed.txt", {"x-amz-server-side-encryption": "AES256"},
                     [{"x-amz-server-side-encryption": "AES256"}])
    status, _, _ = post_form(bucket, form, b"sealed by a form")
    assert status == 204
    head = s3.head_object(Bucket=bucket, Key="sealed.txt")
    assert head["ServerSideEncryption"] == "AES256"
    assert get_body(s3, bucket, "sealed.txt") == b"sealed by a form"


def test_features_cairn_lacks_are_refused_in_forms_too(s3, bucket):
    form = presigned(s3, bucket, "sse.txt", {"x-amz-server-side-encryption": "aws:kms"},
                     [{"x-amz-server-side-encryption": "aws:kms"}])
    refused_with(post_form(bucket, form, b"x"), "NotImplemented", 501)
    assert_absent(s3, bucket, "sse.txt")


def test_unsigned_forms_follow_the_bucket_policy(s3, bucket):
    drop_box = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:PutObject"],
                       "Resource": [f"arn:aws:s3:::{bucket}/inbox/*"]}],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(drop_box))
    assert post_form(bucket, {"key": "inbox/${filename}"}, b"hello", filename="note.txt")[0] == 204
    assert get_body(s3, bucket, "inbox/note.txt") == b"hello"
    refused_with(post_form(bucket, {"key": "outside.txt"}, b"x"), "AccessDenied", 403)
    assert_absent(s3, bucket, "outside.txt")


def test_a_large_file_streams_through(s3, bucket):
    piece = os.urandom(MiB)
    count = 64
    form = presigned(s3, bucket, "big.bin", conditions=[["content-length-range", 0, count * MiB]])
    status, headers, body = post_form(bucket, form, chunks=[piece] * count, after={"ignored": "after the file"})
    assert status == 204, body
    digest = hashlib.md5(piece * count).hexdigest()
    assert headers["etag"] == f'"{digest}"'
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == count * MiB and head["ETag"] == f'"{digest}"'
    over = presigned(s3, bucket, "over.bin", conditions=[["content-length-range", 0, 8 * MiB]])
    refused_with(post_form(bucket, over, chunks=[piece] * 16), "EntityTooLarge", 400)
    assert_absent(s3, bucket, "over.bin")
