"""Identity and access: users, policies, service accounts and bucket policies, driven
through MinIO's own admin client (`minio.MinioAdmin`) and checked with boto3 and plain
HTTP. The access matrix is identities x buckets x actions; every cell is asserted."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request

import pytest
from minio import MinioAdmin
from minio.credentials import StaticProvider

from compat_helpers import *  # noqa: F401,F403

PUBLIC = "crm-documents"
PRIVATE = "crm-quotes"
ALL_CRM = ["crm-documents", "crm-quotes", "crm-attachments", "crm-backups", "crm-temp"]
APP_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            "Resource": ["arn:aws:s3:::crm-*"],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload",
                       "s3:ListMultipartUploadParts"],
            "Resource": ["arn:aws:s3:::crm-*/*"],
        },
    ],
}
PUBLIC_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{PUBLIC}"]},
        {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::{PUBLIC}/*"]},
    ],
}
SECRETS = {"crm-app": "crm-app-secret-1", "reader": "reader-secret-1", "disabled-user": "disabled-secret-1"}


def admin_client(access_key=ACCESS_KEY, secret_key=SECRET_KEY):
    return MinioAdmin(endpoint=HOST_HEADER, credentials=StaticProvider(access_key, secret_key), secure=False)


def anonymous(method, path, body=None):
    request = urllib.request.Request(ENDPOINT + path, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def world():
    """Buckets, policies, users and a short-lived service account, made by root."""
    root = make_client()
    for name in ALL_CRM:
        try:
            root.create_bucket(Bucket=name)
        except root.exceptions.BucketAlreadyOwnedByYou:
            pass
    for name in (PUBLIC, PRIVATE):
        root.put_object(Bucket=name, Key="seed.txt", Body=b"seed")
    root.put_bucket_policy(Bucket=PUBLIC, Policy=json.dumps(PUBLIC_READ))
    admin = admin_client()
    admin.policy_add("crm-app", policy=APP_POLICY)
    for user, secret in SECRETS.items():
        admin.user_add(user, secret)
    admin.attach_policy(["crm-app"], user="crm-app")
    admin.attach_policy(["readonly"], user="reader")
    admin.attach_policy(["readwrite"], user="disabled-user")
    admin.user_disable("disabled-user")
    expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # A user may make access keys for itself without admin rights, as in MinIO.
    app_admin = admin_client("crm-app", SECRETS["crm-app"])
    created = json.loads(app_admin.add_service_account(
        access_key="crm-app-expiring", secret_key="expiring-secret-1", expiration=expires))
    assert created["credentials"]["accessKey"] == "crm-app-expiring"
    info = json.loads(admin.get_service_account("crm-app-expiring"))
    assert info["parentUser"] == "crm-app"
    time.sleep(3)  # Let the service account expire.
    clients = {
        "root": root,
        "crm-app": make_client("crm-app", SECRETS["crm-app"]),
        "reader": make_client("reader", SECRETS["reader"]),
        "disabled": make_client("disabled-user", SECRETS["disabled-user"]),
        "expired": make_client("crm-app-expiring", "expiring-secret-1"),
    }
    return clients


def attempt(client, action, bucket):
    """True when `action` on `bucket` succeeds for `client`; False on AccessDenied-like errors."""
    key = f"probe-{action}-{time.monotonic_ns()}"
    try:
        if action == "list":
            client.list_objects_v2(Bucket=bucket)
        elif action == "get":
            client.get_object(Bucket=bucket, Key="seed.txt")["Body"].read()
        elif action == "put":
            client.put_object(Bucket=bucket, Key=key, Body=b"x")
        elif action == "delete":
            # Deleting needs something to delete: root writes it first.
            make_client().put_object(Bucket=bucket, Key=key, Body=b"x")
            client.delete_object(Bucket=bucket, Key=key)
            if make_client().list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) != 0:
                return False
        elif action == "get-policy":
            try:
                client.get_bucket_policy(Bucket=bucket)
            except ClientError as error:
                if error.response["Error"]["Code"] != "NoSuchBucketPolicy":
                    raise
        elif action == "put-policy":
            current = make_client()
            try:
                document = current.get_bucket_policy(Bucket=bucket)["Policy"]
                client.put_bucket_policy(Bucket=bucket, Policy=document)
            except ClientError as error:
                if error.response["Error"]["Code"] != "NoSuchBucketPolicy":
                    raise
                client.delete_bucket_policy(Bucket=bucket)
        else:
            raise AssertionError(action)
        return True
    except ClientError as error:
        code = error.response["Error"]["Code"]
        assert code in ("AccessDenied", "InvalidAccessKeyId"), f"{action} on {bucket}: unexpected {code}"
        return False


ALLOWED = {
    # identity: {bucket: set of allowed actions}
    "root": {PUBLIC: {"list", "get", "put", "delete", "get-policy", "put-policy"},
             PRIVATE: {"list", "get", "put", "delete", "get-policy", "put-policy"}},
    "crm-app": {PUBLIC: {"list", "get", "put", "delete"}, PRIVATE: {"list", "get", "put", "delete"}},
    "reader": {PUBLIC: {"get"}, PRIVATE: {"get"}},
    "disabled": {PUBLIC: set(), PRIVATE: set()},
    "expired": {PUBLIC: set(), PRIVATE: set()},
}
ACTIONS = ["list", "get", "put", "delete", "get-policy", "put-policy"]


@pytest.mark.parametrize("identity", list(ALLOWED))
def test_access_matrix(world, identity):
    client = world[identity]
    for bucket in (PUBLIC, PRIVATE):
        for action in ACTIONS:
            expected = action in ALLOWED[identity][bucket]
            assert attempt(client, action, bucket) == expected, f"{identity} {action} {bucket}"


@pytest.mark.parametrize("identity", ["root", "crm-app", "reader", "disabled", "expired"])
def test_admin_user_list_needs_admin_rights(world, identity):
    keys = {"root": (ACCESS_KEY, SECRET_KEY), "crm-app": ("crm-app", SECRETS["crm-app"]),
            "reader": ("reader", SECRETS["reader"]), "disabled": ("disabled-user", SECRETS["disabled-user"]),
            "expired": ("crm-app-expiring", "expiring-secret-1")}[identity]
    admin = admin_client(*keys)
    if identity == "root":
        users = json.loads(admin.user_list())
        assert {"crm-app", "reader", "disabled-user"} <= set(users)
        assert users["disabled-user"]["status"] == "disabled"
        assert "crm-app" in users["crm-app"]["policyName"]
    else:
        with pytest.raises(Exception) as raised:
            admin.user_list()
        assert "403" in str(raised.value) or "AccessDenied" in str(raised.value) or "InvalidAccessKeyId" in str(raised.value)


def test_anonymous_access_follows_the_bucket_policy(world):
    assert anonymous("GET", f"/{PUBLIC}/seed.txt") == 200
    assert anonymous("GET", f"/{PUBLIC}") == 200  # public listing
    assert anonymous("PUT", f"/{PUBLIC}/anonymous.txt", b"nope") == 403
    assert anonymous("DELETE", f"/{PUBLIC}/seed.txt") == 403
    assert anonymous("GET", f"/{PRIVATE}/seed.txt") == 403
    assert anonymous("GET", "/") == 403
    status = make_client().get_bucket_policy_status(Bucket=PUBLIC)["PolicyStatus"]
    assert status["IsPublic"] is True


def test_malformed_policies_are_refused_and_the_old_one_stays(world):
    root = make_client()
    before = root.get_bucket_policy(Bucket=PUBLIC)["Policy"]
    for bad in ["{not json", json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe"}]}),
                json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                           "Resource": "arn:aws:s3:::x/*", "Principal": "*"}]}) + " " * 30000]:
        with pytest.raises(ClientError) as raised:
            root.put_bucket_policy(Bucket=PUBLIC, Policy=bad)
        assert raised.value.response["Error"]["Code"] in ("MalformedPolicy", "PolicyTooLarge", "InvalidArgument")
    assert root.get_bucket_policy(Bucket=PUBLIC)["Policy"] == before
    admin = admin_client()
    with pytest.raises(Exception):
        admin.policy_add("broken", policy={"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]})
    assert "broken" not in json.loads(admin.policy_list())
    assert "crm-app" in json.loads(admin.policy_list())


def test_users_groups_and_rotation(world):
    admin = admin_client()
    admin.user_add("rotating", "first-secret-1")
    admin.group_add("crm-readers", "rotating")
    admin.policy_set("readonly", group="crm-readers")
    info = json.loads(admin.group_info("crm-readers"))
    assert info["members"] == ["rotating"] and "readonly" in info["policy"]
    assert make_client("rotating", "first-secret-1").get_object(Bucket=PRIVATE, Key="seed.txt")["Body"].read() == b"seed"
    # Rotation: a second key (service account) works next to the first; then the first is changed.
    own = admin_client("rotating", "first-secret-1")
    second = json.loads(own.add_service_account(access_key="rotating-2", secret_key="second-secret-1"))
    assert second["credentials"]["secretKey"] == "second-secret-1"
    assert make_client("rotating-2", "second-secret-1").get_object(Bucket=PRIVATE, Key="seed.txt")["Body"].read()
    admin.user_add("rotating", "third-secret-1")
    with pytest.raises(ClientError):
        make_client("rotating", "first-secret-1").get_object(Bucket=PRIVATE, Key="seed.txt")
    assert make_client("rotating", "third-secret-1").get_object(Bucket=PRIVATE, Key="seed.txt")["Body"].read()
    admin.group_remove("crm-readers", "rotating")
    with pytest.raises(ClientError):
        make_client("rotating", "third-secret-1").get_object(Bucket=PRIVATE, Key="seed.txt")
    admin.user_remove("rotating")
    assert "rotating" not in json.loads(admin.user_list())


def test_admin_config_get_set_applies_and_refuses_what_cairn_does_not_do(world):
    admin = admin_client()
    root = make_client()
    assert "speed=default" in admin.config_get("scanner")
    admin.config_set("region", {"name": "eu-west-1"})
    try:
        assert "name=eu-west-1" in admin.config_get("region")
        assert root.get_bucket_location(Bucket=PRIVATE)["LocationConstraint"] == "eu-west-1"
    finally:
        admin.config_set("region", {"name": "us-east-1"})
    assert root.get_bucket_location(Bucket=PRIVATE)["LocationConstraint"] is None
    for subsystem, values in [("scanner", {"speed": "ludicrous"}), ("notify_webhook", {"enable": "on"}),
                              ("region", {"colour": "blue"})]:
        with pytest.raises(Exception):
            admin.config_set(subsystem, values)
    assert "speed=default" in admin.config_get("scanner")
    with pytest.raises(Exception):
        admin_client("reader", SECRETS["reader"]).config_get("region")


def test_a_narrowed_key_cannot_lift_its_own_restrictions(world):
    admin = admin_client()
    admin.user_add("narrowed", "narrowed-secret-1")
    admin.attach_policy(["readwrite"], user="narrowed")
    read_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::*"]}]}
    own = admin_client("narrowed", "narrowed-secret-1")
    own.add_service_account(access_key="narrowed-key", secret_key="narrowed-key-secret", policy=read_only)
    key = make_client("narrowed-key", "narrowed-key-secret")
    with pytest.raises(ClientError):
        key.put_object(Bucket=PRIVATE, Key="narrowed.txt", Body=b"x")
    as_key = admin_client("narrowed-key", "narrowed-key-secret")
    with pytest.raises(Exception):
        as_key.update_service_account(access_key="narrowed-key", policy={"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}]})
    with pytest.raises(Exception):
        as_key.add_service_account(access_key="narrowed-key-2", secret_key="narrowed-key-secret-2")
    with pytest.raises(Exception):
        own.update_service_account(access_key="crm-app-expiring", status="on")  # another user's key
    with pytest.raises(ClientError):
        key.put_object(Bucket=PRIVATE, Key="narrowed.txt", Body=b"x")
    admin.user_remove("narrowed")


def test_anonymous_form_uploads_follow_the_bucket_policy(world):
    """An unsigned browser form upload is judged by the bucket's policy alone: the
    public-read bucket refuses it, and nothing is stored."""
    boundary = "cairnboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nform.txt\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\nx\r\n"
            f"--{boundary}--\r\n").encode()
    request = urllib.request.Request(f"{ENDPOINT}/{PUBLIC}", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=30)
    assert raised.value.code == 403
    with pytest.raises(ClientError):
        make_client().head_object(Bucket=PUBLIC, Key="form.txt")


def test_admin_info_describes_nodes_and_drives(world):
    info = json.loads(admin_client().info())
    assert info["mode"] == "online"
    assert info["backend"]["backendType"] == "Erasure" and info["backend"]["offlineDisks"] == 0
    drives = [drive for server in info["servers"] for drive in server["drives"]]
    assert len(drives) == 4 and all(d["state"] == "ok" and d["totalspace"] > 0 for d in drives)
    assert info["buckets"]["count"] >= len(ALL_CRM)
    with pytest.raises(Exception):
        admin_client("reader", SECRETS["reader"]).info()


def test_list_buckets_shows_the_buckets_an_identity_may_list(world):
    """As MinIO: without s3:ListAllMyBuckets, ListBuckets lists the buckets the caller may
    list (s3:ListBucket), and is refused when there are none."""
    root = make_client()
    try:
        root.create_bucket(Bucket="other-team")
    except root.exceptions.BucketAlreadyOwnedByYou:
        pass
    names = {b["Name"] for b in world["crm-app"].list_buckets()["Buckets"]}
    assert set(ALL_CRM) <= names, names
    assert "other-team" not in names
    with pytest.raises(ClientError) as refused:
        world["reader"].list_buckets()
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as disabled:
        world["disabled"].list_buckets()
    assert disabled.value.response["Error"]["Code"] in ("AccessDenied", "InvalidAccessKeyId")
    assert "other-team" in {b["Name"] for b in root.list_buckets()["Buckets"]}
