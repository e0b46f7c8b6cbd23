"""boto3 compatibility: Listing."""

from __future__ import annotations

from compat_helpers import *  # noqa: F401,F403


# --------------------------------------------------------------------------
# listing
# --------------------------------------------------------------------------

_25_KEYS = sorted(
    [f"logs/2024/{i:02d}.log" for i in range(8)]
    + [f"img/{c}.png" for c in "abcdefg"]
    + [f"z{i}" for i in range(5)]
    + ["a", "a0", "a/b", "A", "0"]
)


@pytest.fixture
def listing_bucket(s3, bucket):
    assert len(_25_KEYS) == 25
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=k.encode()), _25_KEYS))
    return bucket


def test_list_v2_pagination(s3, listing_bucket):
    keys, token, pages = [], None, []
    for _ in range(10):
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=listing_bucket, MaxKeys=7, **kw)
        got = [o["Key"] for o in page.get("Contents", [])]
        assert page["KeyCount"] == len(got)
        assert page["MaxKeys"] == 7
        pages.append(len(got))
        keys.extend(got)
        if not page["IsTruncated"]:
            assert "NextContinuationToken" not in page
            break
        token = page["NextContinuationToken"]
        assert token
    assert pages == [7, 7, 7, 4]
    assert keys == _25_KEYS
    # each entry carries size/etag/last-modified
    first = s3.list_objects_v2(Bucket=listing_bucket, MaxKeys=1)["Contents"][0]
    assert first["Key"] == _25_KEYS[0]
    assert first["Size"] == len(_25_KEYS[0])
    assert first["ETag"] == etag_of(_25_KEYS[0].encode())
    assert isinstance(first["LastModified"], dt.datetime)


def test_list_v2_paginator(s3, listing_bucket):
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=listing_bucket, PaginationConfig={"PageSize": 7}))
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == _25_KEYS
    assert len(pages) == 4


def test_list_v1_pagination_with_marker(s3, listing_bucket):
    keys, marker, pages = [], "", []
    for _ in range(10):
        page = s3.list_objects(Bucket=listing_bucket, MaxKeys=7, Marker=marker)
        got = [o["Key"] for o in page.get("Contents", [])]
        pages.append(len(got))
        keys.extend(got)
        if not page["IsTruncated"]:
            break
        marker = page.get("NextMarker") or got[-1]
    assert pages == [7, 7, 7, 4]
    assert keys == _25_KEYS


def test_list_start_after_and_marker(s3, listing_bucket):
    pivot = _25_KEYS[10]
    v2 = s3.list_objects_v2(Bucket=listing_bucket, StartAfter=pivot)
    assert [o["Key"] for o in v2["Contents"]] == _25_KEYS[11:]
    assert v2["StartAfter"] == pivot
    v1 = s3.list_objects(Bucket=listing_bucket, Marker=pivot)
    assert [o["Key"] for o in v1["Contents"]] == _25_KEYS[11:]
    # a marker between keys
    v2 = s3.list_objects_v2(Bucket=listing_bucket, StartAfter="logs/2024/03.log~")
    assert [o["Key"] for o in v2["Contents"]] == [k for k in _25_KEYS if k > "logs/2024/03.log~"]


def test_list_prefix_and_delimiter(s3, listing_bucket):
    top = s3.list_objects_v2(Bucket=listing_bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "img/", "logs/"]
    assert [o["Key"] for o in top["Contents"]] == ["0", "A", "a", "a0", "z0", "z1", "z2", "z3", "z4"]
    assert top["KeyCount"] == 12

    logs = s3.list_objects_v2(Bucket=listing_bucket, Prefix="logs/", Delimiter="/")
    assert [p["Prefix"] for p in logs["CommonPrefixes"]] == ["logs/2024/"]
    assert "Contents" not in logs
    assert logs["Prefix"] == "logs/"

    inner = s3.list_objects_v2(Bucket=listing_bucket, Prefix="logs/2024/", Delimiter="/")
    assert [o["Key"] for o in inner["Contents"]] == [f"logs/2024/{i:02d}.log" for i in range(8)]
    assert "CommonPrefixes" not in inner

    img = s3.list_objects_v2(Bucket=listing_bucket, Prefix="img/")
    assert [o["Key"] for o in img["Contents"]] == [f"img/{c}.png" for c in "abcdefg"]

    # prefix that is not a "directory"
    a = s3.list_objects_v2(Bucket=listing_bucket, Prefix="a")
    assert [o["Key"] for o in a["Contents"]] == ["a", "a/b", "a0"]
    a = s3.list_objects_v2(Bucket=listing_bucket, Prefix="a", Delimiter="/")
    assert [o["Key"] for o in a["Contents"]] == ["a", "a0"]
    assert [p["Prefix"] for p in a["CommonPrefixes"]] == ["a/"]

    none = s3.list_objects_v2(Bucket=listing_bucket, Prefix="nothing-here/")
    assert none["KeyCount"] == 0 and "Contents" not in none

    # v1 with delimiter
    v1 = s3.list_objects(Bucket=listing_bucket, Delimiter="/", Prefix="img/")
    assert [o["Key"] for o in v1["Contents"]] == [f"img/{c}.png" for c in "abcdefg"]

    # non-slash delimiter
    dot = s3.list_objects_v2(Bucket=listing_bucket, Prefix="img/", Delimiter=".")
    assert [p["Prefix"] for p in dot["CommonPrefixes"]] == [f"img/{c}." for c in "abcdefg"]


def test_list_delimiter_pagination(s3, listing_bucket):
    # 3 common prefixes + 9 keys at top level = 12 entries; MaxKeys=5 -> 5, 5, 2
    expected_prefixes = ["a/", "img/", "logs/"]
    expected_keys = ["0", "A", "a", "a0", "z0", "z1", "z2", "z3", "z4"]
    prefixes, keys, token, sizes = [], [], None, []
    for _ in range(10):
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=listing_bucket, Delimiter="/", MaxKeys=5, **kw)
        p = [x["Prefix"] for x in page.get("CommonPrefixes", [])]
        k = [x["Key"] for x in page.get("Contents", [])]
        assert page["KeyCount"] == len(p) + len(k)
        sizes.append(len(p) + len(k))
        prefixes += p
        keys += k
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert prefixes == expected_prefixes
    assert keys == expected_keys
    assert sizes == [5, 5, 2]

    # v1: NextMarker is mandatory when a delimiter is given and the result is truncated
    prefixes, keys, marker = [], [], ""
    for _ in range(10):
        page = s3.list_objects(Bucket=listing_bucket, Delimiter="/", MaxKeys=5, Marker=marker)
        prefixes += [x["Prefix"] for x in page.get("CommonPrefixes", [])]
        keys += [x["Key"] for x in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        assert page.get("NextMarker"), "NextMarker missing on truncated v1 listing with delimiter"
        marker = page["NextMarker"]
    assert prefixes == expected_prefixes
    assert keys == expected_keys


_ODD_KEYS = ["sp ace/file one.txt", "ünï/cödé.txt", "日本/ü ñ.txt", "plus+sign", "amp&eq=semi;", "pct%20lit"]


def test_list_encoding_type_url(s3, bucket):
    for k in _ODD_KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=b"1")
    # Explicit EncodingType: botocore leaves the keys exactly as the server sent them.
    raw = s3.list_objects_v2(Bucket=bucket, EncodingType="url")
    assert raw.get("EncodingType") == "url"
    raw_keys = [o["Key"] for o in raw["Contents"]]
    for rk in raw_keys:
        assert rk.isascii() and " " not in rk, rk
    assert sorted(urllib.parse.unquote_plus(k) for k in raw_keys) == sorted(_ODD_KEYS)
    # '+' in a key must be escaped, otherwise it would decode to a space
    assert "plus+sign" not in raw_keys

    raw = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter="/")
    assert sorted(urllib.parse.unquote_plus(p["Prefix"]) for p in raw["CommonPrefixes"]) == \
        ["sp ace/", "ünï/", "日本/"]
    raw = s3.list_objects(Bucket=bucket, EncodingType="url", Prefix="日本/")
    assert [urllib.parse.unquote_plus(o["Key"]) for o in raw["Contents"]] == ["日本/ü ñ.txt"]
    assert urllib.parse.unquote_plus(raw["Prefix"]) == "日本/"
    assert raw["Contents"][0]["Key"].isascii()

    # Default: botocore asks for url encoding itself and decodes; keys must be exact.
    assert sorted(list_all_keys(s3, bucket)) == sorted(_ODD_KEYS)
    v1 = s3.list_objects(Bucket=bucket)
    assert sorted(o["Key"] for o in v1["Contents"]) == sorted(_ODD_KEYS)


def test_list_objects_without_encoding_returns_raw_utf8(s3, bucket):
    # boto3 always sets EncodingType=url for ListObjects; do a raw signed request without it
    key = "日本/ü ñ.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    signer = SigV4()
    hdrs = {"host": HOST_HEADER, "x-amz-date": signer.amz_date, "x-amz-content-sha256": EMPTY_SHA256}
    auth, _ = signer.sign("GET", f"/{bucket}", [("list-type", "2")], hdrs, EMPTY_SHA256)
    status, _, body = raw_request("GET", f"/{bucket}?list-type=2", {
        "x-amz-date": signer.amz_date, "x-amz-content-sha256": EMPTY_SHA256, "Authorization": auth})
    assert status == 200, body
    assert f"<Key>{key}</Key>".encode() in body


def test_delete_objects_verbose_and_quiet(s3, bucket):
    keys = [f"del/{i}" for i in range(10)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": k} for k in keys[:5]] + [{"Key": "del/missing"}]})
    assert sorted(d["Key"] for d in resp["Deleted"]) == sorted(keys[:5] + ["del/missing"])
    assert not resp.get("Errors")
    assert list_all_keys(s3, bucket) == sorted(keys[5:])

    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[5:]], "Quiet": True})
    assert not resp.get("Deleted")
    assert not resp.get("Errors")
    assert list_all_keys(s3, bucket) == []
