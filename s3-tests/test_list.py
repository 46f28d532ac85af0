"""ListObjectsV2 (prefix, delimiter, max-keys, continuation-token, start-after,
encoding-type=url, KeyCount, CommonPrefixes) and ListObjects v1 (marker, NextMarker)."""

import urllib.parse

import pytest

from cwtest.util import new_bucket_name

KEYS = sorted(
    [
        "a.txt",
        "b/1.txt",
        "b/2.txt",
        "b/sub/3.txt",
        "c/4.txt",
        "d.txt",
        "e e/5.txt",
        "photos/2024/jan.jpg",
        "photos/2024/feb.jpg",
        "photos/2025/mar.jpg",
        "z",
    ]
)


@pytest.fixture(scope="module")
def listing(s3):
    name = new_bucket_name("list")
    s3.create_bucket(Bucket=name)
    for k in KEYS:
        s3.put_object(Bucket=name, Key=k, Body=k.encode())
    return name


def test_v2_all(s3, listing):
    r = s3.list_objects_v2(Bucket=listing)
    assert [o["Key"] for o in r["Contents"]] == KEYS
    assert r["KeyCount"] == len(KEYS)
    assert r["IsTruncated"] is False
    assert r["Name"] == listing
    for o in r["Contents"]:
        assert o["Size"] == len(o["Key"].encode())
        assert o["ETag"].startswith('"') and len(o["ETag"]) == 34
        assert o["StorageClass"] == "STANDARD"


def test_v2_prefix(s3, listing):
    r = s3.list_objects_v2(Bucket=listing, Prefix="b/")
    assert [o["Key"] for o in r["Contents"]] == ["b/1.txt", "b/2.txt", "b/sub/3.txt"]
    assert r["KeyCount"] == 3
    assert r["Prefix"] == "b/"
    empty = s3.list_objects_v2(Bucket=listing, Prefix="nothing/")
    assert empty["KeyCount"] == 0
    assert "Contents" not in empty


def test_v2_delimiter(s3, listing):
    r = s3.list_objects_v2(Bucket=listing, Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a.txt", "d.txt", "z"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/", "c/", "e e/", "photos/"]
    assert r["KeyCount"] == 7  # keys + common prefixes
    assert r["Delimiter"] == "/"


def test_v2_prefix_and_delimiter(s3, listing):
    r = s3.list_objects_v2(Bucket=listing, Prefix="photos/", Delimiter="/")
    assert "Contents" not in r
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["photos/2024/", "photos/2025/"]
    assert r["KeyCount"] == 2
    r = s3.list_objects_v2(Bucket=listing, Prefix="b/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["b/1.txt", "b/2.txt"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/sub/"]


def test_v2_pagination(s3, listing):
    seen = []
    token = None
    pages = 0
    while True:
        kw = {"Bucket": listing, "MaxKeys": 3}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        pages += 1
        assert r["MaxKeys"] == 3
        assert r["KeyCount"] == len(r.get("Contents", []))
        assert r["KeyCount"] <= 3
        seen += [o["Key"] for o in r.get("Contents", [])]
        if token:
            assert r.get("ContinuationToken") == token
        if not r["IsTruncated"]:
            assert "NextContinuationToken" not in r
            break
        token = r["NextContinuationToken"]
        assert token
        assert pages < 20
    assert seen == KEYS
    assert pages == 4


def test_v2_pagination_with_delimiter(s3, listing):
    paginator = s3.get_paginator("list_objects_v2")
    keys, prefixes = [], []
    for page in paginator.paginate(Bucket=listing, Delimiter="/", PaginationConfig={"PageSize": 2}):
        assert page["KeyCount"] <= 2
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    assert keys == ["a.txt", "d.txt", "z"]
    assert prefixes == ["b/", "c/", "e e/", "photos/"]


def test_v2_max_keys_zero(s3, listing):
    r = s3.list_objects_v2(Bucket=listing, MaxKeys=0)
    assert r["KeyCount"] == 0
    assert "Contents" not in r


def test_v2_start_after(s3, listing):
    r = s3.list_objects_v2(Bucket=listing, StartAfter="c/4.txt")
    assert [o["Key"] for o in r["Contents"]] == [k for k in KEYS if k > "c/4.txt"]
    assert r["StartAfter"] == "c/4.txt"
    r = s3.list_objects_v2(Bucket=listing, StartAfter="b/")  # not itself a key
    assert [o["Key"] for o in r["Contents"]] == [k for k in KEYS if k > "b/"]


def test_v2_encoding_type_url(s3, bucket):
    keys = ["plain", "with space", "ümlaut/é", "plus+and&amp"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    # EncodingType passed explicitly: botocore does not decode the answer, so we see the wire.
    r = s3.list_objects_v2(Bucket=bucket, EncodingType="url")
    assert r.get("EncodingType") == "url"
    got = [o["Key"] for o in r["Contents"]]
    assert sorted(urllib.parse.unquote_plus(k) for k in got) == sorted(keys)
    assert "with space" not in got
    for k in got:
        assert all(ord(c) < 128 for c in k), k
    # and with a delimiter the prefixes are encoded too
    r = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter="/")
    prefixes = [p["Prefix"] for p in r["CommonPrefixes"]]
    assert [urllib.parse.unquote_plus(p) for p in prefixes] == ["ümlaut/"]
    assert prefixes != ["ümlaut/"]


def test_v2_auto_decoded_by_boto(s3, bucket):
    # botocore sets encoding-type=url by itself and decodes: the keys must come back intact.
    keys = sorted(["sp ace", "ta\tb", "ünï", "a+b"])
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == keys


def test_v1_marker_and_next_marker(s3, listing):
    r = s3.list_objects(Bucket=listing, MaxKeys=4)
    assert [o["Key"] for o in r["Contents"]] == KEYS[:4]
    assert r["IsTruncated"] is True
    last = r["Contents"][-1]["Key"]
    r2 = s3.list_objects(Bucket=listing, Marker=last)
    assert r2.get("Marker") == last
    assert [o["Key"] for o in r2["Contents"]] == KEYS[4:]
    assert r2["IsTruncated"] is False


@pytest.mark.parametrize("max_keys", [1, 2])
def test_v1_next_marker_with_delimiter(s3, listing, max_keys):
    """Paging by NextMarker must make progress when NextMarker is a common prefix (with
    max-keys=1 a server that re-lists the prefix loops forever)."""
    seen_keys, seen_prefixes = [], []
    marker = ""
    for _ in range(20):
        r = s3.list_objects(Bucket=listing, Delimiter="/", MaxKeys=max_keys, Marker=marker)
        seen_keys += [o["Key"] for o in r.get("Contents", [])]
        seen_prefixes += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            break
        # With a delimiter, S3 returns NextMarker when the answer is truncated.
        assert r.get("NextMarker"), r
        marker = r["NextMarker"]
    assert seen_keys == ["a.txt", "d.txt", "z"]
    assert seen_prefixes == ["b/", "c/", "e e/", "photos/"]


def test_v1_prefix_delimiter(s3, listing):
    r = s3.list_objects(Bucket=listing, Prefix="photos/2024/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["photos/2024/feb.jpg", "photos/2024/jan.jpg"]
    assert "CommonPrefixes" not in r


def test_list_v2_raw_xml_shape(raw, listing):
    r = raw.request(
        "GET", f"/{listing}", query=[("list-type", "2"), ("max-keys", "2"), ("prefix", "b/")]
    )
    assert r.status == 200, r.describe()
    assert r.xml().tag.split("}")[-1] == "ListBucketResult"
    assert r.find("KeyCount") == "2"
    assert r.find("MaxKeys") == "2"
    assert r.find("IsTruncated") == "true"
    assert r.find("NextContinuationToken")
    assert r.header("content-type", "").startswith(("application/xml", "text/xml"))
