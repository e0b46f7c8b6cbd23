"""boto3 compatibility: Hostile and unusual keys; virtual-host-style addressing."""

from __future__ import annotations

from compat_helpers import *  # noqa: F401,F403


# --------------------------------------------------------------------------
# hostile and unusual keys
# --------------------------------------------------------------------------


@pytest.mark.parametrize("key", [
    "日本/ü ñ.txt",
    "with space.txt",
    "plus+sign",
    "percent%20literal",
    "question?mark",
    "hash#tag",
    "amp&eq=semi;colon",
    "tilde~star*paren()",
    "quote'dq\"",
    "emoji-😀",
    "folder/",               # directory-marker object
    "brackets[]{}<>",
    "e\u0301",               # NFD é
    "\u00e9",                # NFC é (distinct key!)
    "trailing.",
    "a" * 255,
    ("s" * 200 + "/") * 5 + "t" * 19,  # exactly 1024 bytes, in 200-byte segments
])
def test_unusual_keys_round_trip(s3, bucket, key):
    assert len(key.encode()) <= 1024
    data = ("content of " + key).encode()
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    assert get_body(s3, bucket, key) == data
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(data)
    assert list_all_keys(s3, bucket) == [key]
    dest = "c/" + key if len(key.encode()) <= 1000 else key[:-6] + ".copy"
    s3.copy_object(Bucket=bucket, Key=dest, CopySource={"Bucket": bucket, "Key": key})
    assert get_body(s3, bucket, dest) == data
    s3.delete_object(Bucket=bucket, Key=key)
    assert list_all_keys(s3, bucket) == [dest]
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key=key)
    assert err(ei) == ("NoSuchKey", 404)


def test_unicode_normalization_forms_are_distinct(s3, bucket):
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    s3.put_object(Bucket=bucket, Key=nfc, Body=b"nfc")
    s3.put_object(Bucket=bucket, Key=nfd, Body=b"nfd")
    assert get_body(s3, bucket, nfc) == b"nfc"
    assert get_body(s3, bucket, nfd) == b"nfd"
    assert sorted(list_all_keys(s3, bucket)) == sorted([nfc, nfd])


def test_case_sensitive_keys(s3, bucket):
    s3.put_object(Bucket=bucket, Key="Readme", Body=b"upper")
    s3.put_object(Bucket=bucket, Key="readme", Body=b"lower")
    assert get_body(s3, bucket, "Readme") == b"upper"
    assert get_body(s3, bucket, "readme") == b"lower"


def test_object_and_prefix_with_same_name(s3, bucket):
    """'dir' and 'dir/file' are independent objects (hard for path-mapped stores)."""
    s3.put_object(Bucket=bucket, Key="dir/file", Body=b"inner")
    s3.put_object(Bucket=bucket, Key="dir", Body=b"outer")
    s3.put_object(Bucket=bucket, Key="dir/", Body=b"")
    assert get_body(s3, bucket, "dir") == b"outer"
    assert get_body(s3, bucket, "dir/file") == b"inner"
    assert get_body(s3, bucket, "dir/") == b""
    assert list_all_keys(s3, bucket) == ["dir", "dir/", "dir/file"]
    for missing in ("di", "dir/fil", "dir/file/", "dir/file/x"):
        with pytest.raises(ClientError) as ei:
            s3.get_object(Bucket=bucket, Key=missing)
        assert err(ei) == ("NoSuchKey", 404), missing
    s3.delete_object(Bucket=bucket, Key="dir")
    s3.delete_object(Bucket=bucket, Key="dir/")
    assert get_body(s3, bucket, "dir/file") == b"inner"
    assert list_all_keys(s3, bucket) == ["dir/file"]
    # an "implicit directory" is not an object
    s3.put_object(Bucket=bucket, Key="deep/er/obj", Body=b"x")
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="deep/er")
    assert err(ei) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="deep/er/")
    assert err(ei)[1] == 404


def _assert_nothing_escaped(marker):
    """No file or directory named after `marker` outside a bucket directory."""
    assert not os.path.exists(f"/tmp/{marker}"), "hostile key escaped to /tmp"
    if not DATA_DIR:
        return
    root = os.path.realpath(DATA_DIR)
    assert not any(marker in n for n in os.listdir(root)), "hostile key escaped into the data dir"
    for drive in os.listdir(root):
        dpath = os.path.join(root, drive)
        if os.path.isdir(dpath):
            assert not any(marker in n for n in os.listdir(dpath)), \
                f"hostile key escaped to drive top level {dpath}"


@pytest.mark.parametrize("template", [
    "../{m}",
    "../../{m}",
    "../../../../../../../../tmp/{m}",
    "a/../../{m}",
    "./{m}",
    "a/./../{m}",
    "..",
    ".",
    "a//{m}",
    "/{m}",
    "back\\slash\\..\\..\\{m}",
])
def test_hostile_keys(s3, bucket, template):
    """Dot-segment keys: either stored verbatim (AWS) or rejected with 400 - never resolved as paths."""
    marker = "escape-" + uuid.uuid4().hex[:10]
    key = template.format(m=marker)
    data = b"hostile " + key.encode()
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    except ClientError as e:
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        assert status == 400, f"rejection must be a 4xx client error, got {status} {e.response.get('Error')}"
        assert list_all_keys(s3, bucket) == []
        _assert_nothing_escaped(marker)
        return
    # accepted: it must be a normal object under exactly that key
    _assert_nothing_escaped(marker)
    assert list_all_keys(s3, bucket) == [key]
    assert get_body(s3, bucket, key) == data
    # and must not be reachable under the normalised name
    norm = os.path.normpath(key).lstrip("/")
    if norm not in (key, ".", "") and not norm.startswith(".."):
        with pytest.raises(ClientError) as ei:
            s3.get_object(Bucket=bucket, Key=norm)
        assert err(ei)[1] == 404
    s3.delete_object(Bucket=bucket, Key=key)
    assert list_all_keys(s3, bucket) == []


@pytest.mark.parametrize("first,second", [
    ("obj", "obj/xl.meta"),          # would overwrite obj's metadata file in a MinIO-style layout
    ("dir/", "dir__XLDIR__"),        # MinIO-style encoding of a folder object
    ("part", "part/part.1"),
    ("x", "x/.cairn.sys"),
])
def test_keys_colliding_with_storage_layout(s3, bucket, first, second):
    """A key shaped like the server's on-disk names is either refused (400) or independent."""
    s3.put_object(Bucket=bucket, Key=first, Body=b"first")
    try:
        s3.put_object(Bucket=bucket, Key=second, Body=b"second")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
        assert list_all_keys(s3, bucket) == [first]
    else:
        assert get_body(s3, bucket, second) == b"second"
        assert sorted(list_all_keys(s3, bucket)) == sorted([first, second])
    # the first object is intact either way
    got = s3.get_object(Bucket=bucket, Key=first)
    assert got["Body"].read() == b"first" and got["ETag"] == etag_of(b"first")


def test_hostile_key_does_not_clobber_other_bucket(s3, bucket, bucket2):
    """'../<other bucket>/victim' must not overwrite another bucket's object."""
    s3.put_object(Bucket=bucket2, Key="victim", Body=b"original")
    try:
        s3.put_object(Bucket=bucket, Key=f"../{bucket2}/victim", Body=b"clobbered")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert get_body(s3, bucket2, "victim") == b"original"
    assert list_all_keys(s3, bucket2) == ["victim"]
    try:
        got = get_body(s3, bucket, f"../{bucket2}/victim")
        assert got == b"clobbered"
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404)


def test_hostile_raw_paths(s3, bucket, bucket2):
    """Encoded traversal in the raw request path (%2e%2e, %2F) must not reach another bucket."""
    s3.put_object(Bucket=bucket2, Key="secret", Body=b"top secret")
    for raw_key in (f"..%2F{bucket2}%2Fsecret", f"%2e%2e/{bucket2}/secret", f"%2E%2E%2F{bucket2}%2Fsecret"):
        path = f"/{bucket}/{raw_key}"
        signer = SigV4()
        hdrs = {"host": HOST_HEADER, "x-amz-date": signer.amz_date, "x-amz-content-sha256": EMPTY_SHA256}
        auth, _ = signer.sign("GET", path, [], hdrs, EMPTY_SHA256)
        status, _, body = raw_request("GET", path, {"x-amz-date": signer.amz_date,
                                                    "x-amz-content-sha256": EMPTY_SHA256,
                                                    "Authorization": auth})
        assert body != b"top secret", f"{path} leaked an object from another bucket"
        assert status in (400, 403, 404), (path, status, body)


def test_key_with_nul_byte(s3, bucket):
    key = "nul\x00byte"
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=b"nul")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
        assert list_all_keys(s3, bucket) == []
    else:
        assert get_body(s3, bucket, key) == b"nul"
        assert list_all_keys(s3, bucket) == [key]
        # the key must not have been truncated at the NUL
        with pytest.raises(ClientError) as ei:
            s3.get_object(Bucket=bucket, Key="nul")
        assert err(ei)[1] == 404
    # the server is still healthy
    s3.put_object(Bucket=bucket, Key="after-nul", Body=b"ok")
    assert get_body(s3, bucket, "after-nul") == b"ok"


def test_key_too_long(s3, bucket):
    key = "k" * 1025
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    code, status = err(ei)
    assert status == 400, (code, status)
    assert code in ("KeyTooLongError", "InvalidArgument", "InvalidRequest", "XMinioInvalidObjectName"), code
    # also with slashes (each segment short)
    key = "/".join(["s" * 100] * 11)[:1025]
    assert len(key) == 1025
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert err(ei)[1] == 400
    assert list_all_keys(s3, bucket) == []

# --------------------------------------------------------------------------
# virtual-host-style addressing
# --------------------------------------------------------------------------


@pytest.mark.skipif(not DOMAIN_TEST, reason="server not started with CAIRN_DOMAIN=cairn.test (set CAIRN_DOMAIN_TEST=1)")
def test_virtual_host_style(monkeypatch):
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, *args, **kwargs):
        if isinstance(host, bytes):
            host = host.decode()
        if host == "cairn.test" or (isinstance(host, str) and host.endswith(".cairn.test")):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    vs3 = make_client(addressing_style="virtual", endpoint=f"http://cairn.test:{PORT}")
    name = unique_bucket("vhost")
    seen_hosts = []
    vs3.meta.events.register("before-send.s3", lambda request, **_: seen_hosts.append(
        urllib.parse.urlsplit(request.url).netloc))
    vs3.create_bucket(Bucket=name)
    deleted = False
    try:
        vs3.put_object(Bucket=name, Key="dir/hello.txt", Body=b"virtual", Metadata={"style": "vhost"})
        got = vs3.get_object(Bucket=name, Key="dir/hello.txt")
        assert got["Body"].read() == b"virtual"
        assert got["Metadata"] == {"style": "vhost"}
        listing = vs3.list_objects_v2(Bucket=name, Prefix="dir/")
        assert [o["Key"] for o in listing["Contents"]] == ["dir/hello.txt"]
        assert name in [b["Name"] for b in vs3.list_buckets()["Buckets"]]
        # the requests really used the bucket host
        assert f"{name}.cairn.test:{PORT}" in seen_hosts
        assert f"cairn.test:{PORT}" in seen_hosts  # list_buckets
        # the same object through path style
        assert make_client().get_object(Bucket=name, Key="dir/hello.txt")["Body"].read() == b"virtual"
        vs3.delete_object(Bucket=name, Key="dir/hello.txt")
        vs3.delete_bucket(Bucket=name)
        deleted = True
        with pytest.raises(ClientError) as ei:
            make_client().head_bucket(Bucket=name)
        assert err(ei)[1] == 404
    finally:
        if not deleted:
            empty_and_delete_bucket(make_client(), name)
