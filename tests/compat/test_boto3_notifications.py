"""boto3 and MinIO's admin client with bucket notifications: minio-py's MinioAdmin sets
a `notify_webhook` target (and reads it back with the token redacted), boto3 sets and
reads the bucket's notification configuration (S3's XML, filters and all), and the
events of boto3's requests (a PUT, a form upload, a multipart upload_file, a copy and
deletes) reach a webhook served here, with S3's event record. Configurations Cairn
cannot honour are refused.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import uuid
import threading
import time

import pytest
import boto3.s3.transfer
import botocore.exceptions
from minio import MinioAdmin
from minio.credentials import StaticProvider

from compat_helpers import *  # noqa: F401,F403
from test_boto3_post_object import post_form, presigned

DELIVERY_WAIT_SECS = 60


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records the events POSTed to it."""

    def __init__(self):
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                received.append((self.headers.get("Authorization"), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def wait_for(self, count):
        deadline = time.time() + DELIVERY_WAIT_SECS
        while len(self.received) < count:
            assert time.time() < deadline, f"only {len(self.received)} of {count} events: {self.received}"
            time.sleep(0.05)
        time.sleep(0.7)  # extra (wrong) events would show up too
        return list(self.received)

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def admin():
    return MinioAdmin(endpoint=HOST_HEADER, credentials=StaticProvider(ACCESS_KEY, SECRET_KEY), secure=False)


def queue_rule(arn, events, prefix="", suffix="", rule_id=None):
    rules = []
    if prefix:
        rules.append({"Name": "prefix", "Value": prefix})
    if suffix:
        rules.append({"Name": "suffix", "Value": suffix})
    rule = {"QueueArn": arn, "Events": events}
    if rules:
        rule["Filter"] = {"Key": {"FilterRules": rules}}
    if rule_id:
        rule["Id"] = rule_id
    return rule


def test_events_of_boto3_requests_reach_a_webhook(s3, bucket, receiver):
    target = f"py{uuid.uuid4().hex[:8]}"
    arn = f"arn:minio:sqs::{target}:webhook"
    admin().config_set(f"notify_webhook:{target}", {"endpoint": receiver.url, "auth_token": "py-token"})
    shown = admin().config_get(f"notify_webhook:{target}")
    assert "auth_token=*redacted*" in shown and "py-token" not in shown, shown

    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [
            queue_rule(arn, ["s3:ObjectCreated:*"], prefix="crm/", rule_id="created"),
            queue_rule(arn, ["s3:ObjectRemoved:Delete"], suffix=".csv", rule_id="removed"),
        ]})
    stored = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert [(q["Id"], q["QueueArn"], q["Events"]) for q in stored] == [
        ("created", arn, ["s3:ObjectCreated:*"]), ("removed", arn, ["s3:ObjectRemoved:Delete"])]
    assert stored[0]["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "crm/"}] or \
        stored[0]["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "crm/"}]

    s3.put_object(Bucket=bucket, Key="crm/export.csv", Body=b"id,name\n1,acme\n", ContentType="text/csv",
                  Metadata={"source": "crm"})
    s3.put_object(Bucket=bucket, Key="elsewhere.csv", Body=b"not under crm/")
    status, _, body = post_form(bucket, presigned(s3, bucket, "crm/form.txt"), b"from a form")
    assert status == 204, body
    big = os.urandom(9 * 1024 * 1024)
    s3.upload_fileobj(io.BytesIO(big), bucket, "crm/big.bin",
                      Config=boto3.s3.transfer.TransferConfig(multipart_threshold=5 * 1024 * 1024,
                                                              multipart_chunksize=5 * 1024 * 1024))
    s3.copy_object(Bucket=bucket, Key="crm/copy.csv", CopySource={"Bucket": bucket, "Key": "elsewhere.csv"})
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "crm/export.csv"}, {"Key": "crm/big.bin"}]})

    received = receiver.wait_for(5)
    names = [(body["EventName"], body["Records"][0]["s3"]["object"]["key"]) for _, body in received]
    assert names == [
        ("s3:ObjectCreated:Put", "crm/export.csv"),
        ("s3:ObjectCreated:Post", "crm/form.txt"),
        ("s3:ObjectCreated:CompleteMultipartUpload", "crm/big.bin"),
        ("s3:ObjectCreated:Copy", "crm/copy.csv"),
        ("s3:ObjectRemoved:Delete", "crm/export.csv"),
    ], names
    assert all(auth == "Bearer py-token" for auth, _ in received)
    record = received[0][1]["Records"][0]
    assert record["eventSource"] == "minio:s3" and record["eventVersion"] == "2.0"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["object"]["size"] == 15
    assert record["s3"]["object"]["contentType"] == "text/csv"
    assert record["s3"]["object"]["userMetadata"] == {"x-amz-meta-source": "crm"}
    assert record["s3"]["configurationId"] == "created"
    assert received[2][1]["Records"][0]["s3"]["object"]["size"] == len(big)
    assert received[4][1]["Records"][0]["s3"]["configurationId"] == "removed"
    admin().config_reset(f"notify_webhook:{target}")


def test_configurations_cairn_cannot_honour_are_refused(s3, bucket, receiver):
    target = f"py{uuid.uuid4().hex[:8]}"
    arn = f"arn:minio:sqs::{target}:webhook"
    admin().config_set(f"notify_webhook:{target}", {"endpoint": receiver.url})
    cases = [
        ({"QueueConfigurations": [queue_rule("arn:minio:sqs::missing:webhook", ["s3:ObjectCreated:*"])]},
         "InvalidArgument", 400),
        ({"QueueConfigurations": [queue_rule(arn, ["s3:NoSuchEvent"])]}, "InvalidArgument", 400),
        ({"QueueConfigurations": [queue_rule(arn, ["s3:Replication:OperationFailedReplication"])]},
         "NotImplemented", 501),
        ({"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {
            "FilterRules": [{"Name": "prefix", "Value": "a"}, {"Name": "prefix", "Value": "b"}]}}}]},
         "InvalidArgument", 400),
        ({"TopicConfigurations": [{"TopicArn": "arn:aws:sns:us-east-1:1:t", "Events": ["s3:ObjectCreated:*"]}]},
         "NotImplemented", 501),
        ({"LambdaFunctionConfigurations": [{"LambdaFunctionArn": "arn:aws:lambda:us-east-1:1:function:f",
                                            "Events": ["s3:ObjectCreated:*"]}]}, "NotImplemented", 501),
    ]
    for configuration, code, status in cases:
        with pytest.raises(botocore.exceptions.ClientError) as error:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
        got = (error.value.response["Error"]["Code"], error.value.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), (configuration, error.value.response)
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    admin().config_reset(f"notify_webhook:{target}")
