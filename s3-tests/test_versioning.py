"""Bucket versioning through boto3 and aws-cli: version ids, GET/HEAD/DELETE by versionId,
delete markers, ListObjectVersions with key and version-id markers, suspended buckets' `null`
versions, and that noncurrent versions keep their bytes."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError


def code(e: ClientError) -> str:
    return e.response["Error"]["Code"]


def status(e: ClientError) -> int:
    return e.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def vbucket(s3):
    name = f"ver-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield name
    # remove every version so the bucket can go
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
    s3.delete_bucket(Bucket=name)


def test_versioning_state_round_trip(s3):
    name = f"ver-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    assert "Status" not in s3.get_bucket_versioning(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Suspended"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Off"})
    assert code(e.value) == "MalformedXML"
    s3.delete_bucket(Bucket=name)


def test_versions_keep_their_bytes(s3, vbucket):
    ids = []
    for body in (b"first", b"second" * 1000, b"third"):
        r = s3.put_object(Bucket=vbucket, Key="doc.txt", Body=body)
        assert len(r["VersionId"]) == 32
        ids.append(r["VersionId"])
    assert len(set(ids)) == 3
    assert s3.get_object(Bucket=vbucket, Key="doc.txt")["Body"].read() == b"third"
    for vid, body in zip(ids, (b"first", b"second" * 1000, b"third")):
        got = s3.get_object(Bucket=vbucket, Key="doc.txt", VersionId=vid)
        assert got["Body"].read() == body
        assert got["VersionId"] == vid
        head = s3.head_object(Bucket=vbucket, Key="doc.txt", VersionId=vid)
        assert head["ContentLength"] == len(body)
    # a plain listing shows the key once, with the newest size
    listed = s3.list_objects_v2(Bucket=vbucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("doc.txt", 5)]


def test_delete_marker_and_undelete(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="k", Body=b"v1")["VersionId"]
    d = s3.delete_object(Bucket=vbucket, Key="k")
    assert d["DeleteMarker"] is True
    marker = d["VersionId"]
    assert marker != v1
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k")
    assert code(e.value) == "NoSuchKey"
    assert "Contents" not in s3.list_objects_v2(Bucket=vbucket)
    # the old version is still there, by id
    assert s3.get_object(Bucket=vbucket, Key="k", VersionId=v1)["Body"].read() == b"v1"
    # GET of the marker by id: 405
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="k", VersionId=marker)
    assert status(e.value) == 405 and code(e.value) == "MethodNotAllowed"
    versions = s3.list_object_versions(Bucket=vbucket)
    assert [(m["VersionId"], m["IsLatest"]) for m in versions["DeleteMarkers"]] == [(marker, True)]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions["Versions"]] == [(v1, False)]
    # deleting the marker brings the object back
    d = s3.delete_object(Bucket=vbucket, Key="k", VersionId=marker)
    assert d["DeleteMarker"] is True and d["VersionId"] == marker
    assert s3.get_object(Bucket=vbucket, Key="k")["Body"].read() == b"v1"


def test_delete_version_permanently_promotes_previous(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="p", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=vbucket, Key="p", Body=b"two")["VersionId"]
    r = s3.delete_object(Bucket=vbucket, Key="p", VersionId=v2)
    assert r["VersionId"] == v2 and "DeleteMarker" not in r
    assert s3.get_object(Bucket=vbucket, Key="p")["Body"].read() == b"one"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="p", VersionId=v2)
    assert code(e.value) == "NoSuchVersion" and status(e.value) == 404
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=vbucket, Key="p", VersionId="not-a-version")
    assert code(e.value) == "InvalidArgument"
    s3.delete_object(Bucket=vbucket, Key="p", VersionId=v1)
    assert "Versions" not in s3.list_object_versions(Bucket=vbucket, Prefix="p")


def test_list_object_versions_paging_and_markers(s3, vbucket):
    expected = []  # (key, version id) in S3 order: key, newest first
    for key in ("a", "b/x", "b/y", "c"):
        ids = [s3.put_object(Bucket=vbucket, Key=key, Body=f"{key}{i}".encode())["VersionId"] for i in range(3)]
        expected += [(key, v) for v in reversed(ids)]
    got = []
    kwargs = {"MaxKeys": 4}
    while True:
        page = s3.list_object_versions(Bucket=vbucket, **kwargs)
        got += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {"MaxKeys": 4, "KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert got == expected
    latest = [v["Key"] for v in s3.list_object_versions(Bucket=vbucket)["Versions"] if v["IsLatest"]]
    assert latest == ["a", "b/x", "b/y", "c"]
    # delimiter folds b/ into one common prefix
    page = s3.list_object_versions(Bucket=vbucket, Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["b/"]
    assert {v["Key"] for v in page["Versions"]} == {"a", "c"}
    # prefix
    page = s3.list_object_versions(Bucket=vbucket, Prefix="b/")
    assert [(v["Key"], v["VersionId"]) for v in page["Versions"]] == [e for e in expected if e[0].startswith("b/")]


def test_suspended_bucket_writes_null_versions(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="s", Body=b"versioned")["VersionId"]
    s3.put_bucket_versioning(Bucket=vbucket, VersioningConfiguration={"Status": "Suspended"})
    r = s3.put_object(Bucket=vbucket, Key="s", Body=b"null-1")
    assert r["VersionId"] == "null"
    r = s3.put_object(Bucket=vbucket, Key="s", Body=b"null-2")  # replaces the null version
    assert r["VersionId"] == "null"
    versions = s3.list_object_versions(Bucket=vbucket, Prefix="s")["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True), (v1, False)]
    assert s3.get_object(Bucket=vbucket, Key="s", VersionId="null")["Body"].read() == b"null-2"
    assert s3.get_object(Bucket=vbucket, Key="s", VersionId=v1)["Body"].read() == b"versioned"
    d = s3.delete_object(Bucket=vbucket, Key="s")  # a null delete marker replaces the null version
    assert d["DeleteMarker"] is True and d["VersionId"] == "null"
    listing = s3.list_object_versions(Bucket=vbucket, Prefix="s")
    assert [v["VersionId"] for v in listing["Versions"]] == [v1]
    assert [m["VersionId"] for m in listing["DeleteMarkers"]] == ["null"]


def test_delete_objects_with_versions(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="m1", Body=b"1")["VersionId"]
    s3.put_object(Bucket=vbucket, Key="m2", Body=b"2")
    r = s3.delete_objects(
        Bucket=vbucket,
        Delete={"Objects": [{"Key": "m1", "VersionId": v1}, {"Key": "m2"}]},
    )
    deleted = {d["Key"]: d for d in r["Deleted"]}
    assert deleted["m1"]["VersionId"] == v1
    assert deleted["m2"]["DeleteMarker"] is True and len(deleted["m2"]["DeleteMarkerVersionId"]) == 32
    listing = s3.list_object_versions(Bucket=vbucket)
    assert [v["Key"] for v in listing.get("Versions", [])] == ["m2"]
    assert [m["Key"] for m in listing["DeleteMarkers"]] == ["m2"]


def test_bucket_with_versions_is_not_empty(s3, vbucket):
    v = s3.put_object(Bucket=vbucket, Key="x", Body=b"x")["VersionId"]
    s3.delete_object(Bucket=vbucket, Key="x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=vbucket)
    assert code(e.value) == "BucketNotEmpty"
    assert s3.get_object(Bucket=vbucket, Key="x", VersionId=v)["Body"].read() == b"x"


def test_multipart_upload_creates_a_version(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="mp", Body=b"small")["VersionId"]
    up = s3.create_multipart_upload(Bucket=vbucket, Key="mp")["UploadId"]
    part = b"p" * (5 * 1024 * 1024)
    e1 = s3.upload_part(Bucket=vbucket, Key="mp", UploadId=up, PartNumber=1, Body=part)["ETag"]
    e2 = s3.upload_part(Bucket=vbucket, Key="mp", UploadId=up, PartNumber=2, Body=b"tail")["ETag"]
    r = s3.complete_multipart_upload(
        Bucket=vbucket,
        Key="mp",
        UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    assert len(r["VersionId"]) == 32 and r["VersionId"] != v1
    assert s3.get_object(Bucket=vbucket, Key="mp")["Body"].read() == part + b"tail"
    assert s3.get_object(Bucket=vbucket, Key="mp", VersionId=v1)["Body"].read() == b"small"


def test_awscli_versions(cli, s3, vbucket, tmp_path):
    src = tmp_path / "f.txt"
    src.write_bytes(b"cli-1")
    cli.aws("s3", "cp", str(src), f"s3://{vbucket}/f.txt")
    src.write_bytes(b"cli-2")
    cli.aws("s3", "cp", str(src), f"s3://{vbucket}/f.txt")
    out = json.loads(cli.aws("s3api", "list-object-versions", "--bucket", vbucket).stdout)
    versions = out["Versions"]
    assert [v["IsLatest"] for v in versions] == [True, False]
    old = versions[1]["VersionId"]
    dest = tmp_path / "old.txt"
    cli.aws("s3api", "get-object", "--bucket", vbucket, "--key", "f.txt", "--version-id", old, str(dest))
    assert dest.read_bytes() == b"cli-1"
    cli.aws("s3", "rm", f"s3://{vbucket}/f.txt")  # a delete marker
    out = json.loads(cli.aws("s3api", "list-object-versions", "--bucket", vbucket).stdout)
    assert len(out["DeleteMarkers"]) == 1 and len(out["Versions"]) == 2


def test_copy_a_noncurrent_version(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="src", Body=b"old bytes")["VersionId"]
    s3.put_object(Bucket=vbucket, Key="src", Body=b"new bytes")
    r = s3.copy_object(Bucket=vbucket, Key="dst", CopySource={"Bucket": vbucket, "Key": "src", "VersionId": v1})
    assert r["CopySourceVersionId"] == v1 and len(r["VersionId"]) == 32
    assert s3.get_object(Bucket=vbucket, Key="dst")["Body"].read() == b"old bytes"
    with pytest.raises(ClientError) as e:
        s3.copy_object(
            Bucket=vbucket, Key="dst", CopySource={"Bucket": vbucket, "Key": "src", "VersionId": "f" * 32}
        )
    assert code(e.value) == "NoSuchVersion"


def test_tags_per_version(s3, vbucket):
    v1 = s3.put_object(Bucket=vbucket, Key="t", Body=b"1", Tagging="stage=draft")["VersionId"]
    v2 = s3.put_object(Bucket=vbucket, Key="t", Body=b"2", Tagging="stage=final")["VersionId"]
    tags = lambda **kw: {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=vbucket, Key="t", **kw)["TagSet"]}  # noqa: E731
    assert tags() == {"stage": "final"}
    assert tags(VersionId=v1) == {"stage": "draft"}
    s3.put_object_tagging(
        Bucket=vbucket, Key="t", VersionId=v1, Tagging={"TagSet": [{"Key": "stage", "Value": "archived"}]}
    )
    assert tags(VersionId=v1) == {"stage": "archived"}
    assert tags(VersionId=v2) == {"stage": "final"}
    s3.delete_object_tagging(Bucket=vbucket, Key="t", VersionId=v2)
    assert tags() == {} and tags(VersionId=v1) == {"stage": "archived"}
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=vbucket, Key="t", VersionId="e" * 32)
    assert code(e.value) == "NoSuchVersion"


def test_list_object_versions_pages_through_common_prefixes(s3, vbucket):
    for key in ("a/1", "a/2", "b/1", "c"):
        s3.put_object(Bucket=vbucket, Key=key, Body=b"x")
        s3.put_object(Bucket=vbucket, Key=key, Body=b"y")
    seen_prefixes, seen_keys, kwargs = [], [], {}
    for _ in range(10):
        page = s3.list_object_versions(Bucket=vbucket, Delimiter="/", MaxKeys=1, **kwargs)
        seen_prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        seen_keys += [(v["Key"], v["IsLatest"]) for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"]}
        if "NextVersionIdMarker" in page:
            kwargs["VersionIdMarker"] = page["NextVersionIdMarker"]
    assert seen_prefixes == ["a/", "b/"]
    assert seen_keys == [("c", True), ("c", False)]
