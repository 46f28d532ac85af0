"""Server-side copies: CopyObject (same and other bucket, COPY/REPLACE metadata directive,
copy onto itself, URL-encoded sources, x-amz-copy-source-if-* conditions, a 20 MiB+ multipart
source) and UploadPartCopy (ranges, errors), through boto3, aws-cli, rclone and raw requests."""

import datetime as dt
import hashlib
import json
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from cwtest import data
from cwtest.data import MiB
from cwtest.util import err, new_bucket_name


def _get(s3, bucket, key) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def _put(s3, bucket, key, body, **kw):
    return s3.put_object(Bucket=bucket, Key=key, Body=body, **kw)


@pytest.fixture
def other_bucket(s3):
    name = new_bucket_name("copy-dst")
    s3.create_bucket(Bucket=name)
    yield name
    for o in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=o["Key"])
    for u in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=u["Key"], UploadId=u["UploadId"])
    s3.delete_bucket(Bucket=name)


def _shard_files(gw) -> list:
    return [p for p in gw.all_location_files() if "/shards/" in str(p)]


# ----- CopyObject ------------------------------------------------------------------------------


def test_copy_object_same_bucket_copies_content_and_metadata(s3, bucket):
    body = data.content("copy-same", 3 * MiB + 17)
    put = _put(
        s3, bucket, "src.bin", body,
        ContentType="application/x-src", ContentDisposition="attachment",
        CacheControl="no-cache", Metadata={"case": "2024-17", "owner": "alice"},
    )
    r = s3.copy_object(Bucket=bucket, Key="dst.bin", CopySource={"Bucket": bucket, "Key": "src.bin"})
    result = r["CopyObjectResult"]
    assert result["ETag"] == put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert isinstance(result["LastModified"], dt.datetime)

    got = s3.get_object(Bucket=bucket, Key="dst.bin")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"]
    assert got["ContentType"] == "application/x-src"
    assert got["ContentDisposition"] == "attachment"
    assert got["CacheControl"] == "no-cache"
    assert got["Metadata"] == {"case": "2024-17", "owner": "alice"}
    # the source is untouched
    assert _get(s3, bucket, "src.bin") == body


def test_copy_object_other_bucket(s3, bucket, other_bucket):
    body = data.content("copy-other", 12345)
    _put(s3, bucket, "dir/a.txt", body, ContentType="text/plain")
    r = s3.copy_object(
        Bucket=other_bucket, Key="b/c.txt", CopySource={"Bucket": bucket, "Key": "dir/a.txt"}
    )
    assert r["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=other_bucket, Key="b/c.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"


def test_copy_object_metadata_replace(s3, bucket):
    _put(s3, bucket, "m.src", b"meta", ContentType="text/old", Metadata={"a": "1", "b": "2"})
    s3.copy_object(
        Bucket=bucket, Key="m.dst", CopySource=f"{bucket}/m.src",
        MetadataDirective="REPLACE", ContentType="text/new", Metadata={"c": "3"},
    )
    head = s3.head_object(Bucket=bucket, Key="m.dst")
    assert head["ContentType"] == "text/new"
    assert head["Metadata"] == {"c": "3"}
    # COPY (explicit) ignores the request's metadata and takes the source's
    s3.copy_object(
        Bucket=bucket, Key="m.dst2", CopySource=f"{bucket}/m.src",
        MetadataDirective="COPY", ContentType="text/ignored", Metadata={"x": "y"},
    )
    head = s3.head_object(Bucket=bucket, Key="m.dst2")
    assert head["ContentType"] == "text/old"
    assert head["Metadata"] == {"a": "1", "b": "2"}


def test_copy_object_unknown_metadata_directive(raw, bucket, s3):
    _put(s3, bucket, "d.src", b"x")
    r = raw.request("PUT", f"/{bucket}/d.dst", headers={
        "x-amz-copy-source": f"/{bucket}/d.src", "x-amz-metadata-directive": "MERGE",
    })
    assert (r.status, r.code) == (400, "InvalidArgument"), r.describe()


def test_copy_onto_itself(s3, bucket):
    body = data.content("self", 1000)
    _put(s3, bucket, "self", body, ContentType="text/a", Metadata={"v": "1"})
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"})
    assert err(e.value) == ("InvalidRequest", 400)
    assert "copy an object to itself" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        s3.copy_object(
            Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"},
            MetadataDirective="COPY",
        )
    assert err(e.value) == ("InvalidRequest", 400)

    # REPLACE is a change: metadata rewritten, content kept
    s3.copy_object(
        Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"},
        MetadataDirective="REPLACE", ContentType="text/b", Metadata={"v": "2"},
    )
    got = s3.get_object(Bucket=bucket, Key="self")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/b"
    assert got["Metadata"] == {"v": "2"}


def test_copy_replaces_destination_and_frees_its_shards(fresh_server, fresh_s3, fresh_bucket):
    s3, b = fresh_s3, fresh_bucket
    _put(s3, b, "src", data.content("repl-src", 2 * MiB))
    _put(s3, b, "dst", data.content("repl-old", 3 * MiB))
    before = _shard_files(fresh_server)
    s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"})
    assert _get(s3, b, "dst") == data.content("repl-src", 2 * MiB)
    after = _shard_files(fresh_server)
    # one blob replaced by another: same number of shard files, none of the old dst's left
    assert len(after) == len(before)
    assert sorted(after) != sorted(before)
    # and source and copy share no shard files (new blob ids)
    blob_dirs = {p.parent.name for p in after}
    assert len(blob_dirs) == 2


def test_copy_source_url_encoded(s3, raw, bucket):
    key = "dir/ä b+c?&=%.txt"
    body = b"encoded source"
    _put(s3, bucket, key, body)
    s3.copy_object(Bucket=bucket, Key="enc1", CopySource={"Bucket": bucket, "Key": key})
    assert _get(s3, bucket, "enc1") == body
    quoted = urllib.parse.quote(key, safe="/")
    # with and without the leading slash, with a versionId (parsed, not used yet)
    for i, source in enumerate([f"/{bucket}/{quoted}", f"{bucket}/{quoted}",
                                f"{bucket}/{quoted}?versionId=null"]):
        r = raw.request("PUT", f"/{bucket}/enc-raw-{i}", headers={"x-amz-copy-source": source})
        assert r.status == 200, r.describe()
        assert r.xml().tag.endswith("CopyObjectResult")
        assert r.find("ETag") == f'"{hashlib.md5(body).hexdigest()}"'
        assert r.find("LastModified").endswith("Z")
        assert _get(s3, bucket, f"enc-raw-{i}") == body


def test_copy_source_malformed(raw, bucket):
    for source in ["justabucket", f"/{bucket}", f"/{bucket}/", "/"]:
        r = raw.request("PUT", f"/{bucket}/x", headers={"x-amz-copy-source": source})
        assert (r.status, r.code) == (400, "InvalidArgument"), (source, r.describe())


def test_copy_missing_source_and_buckets(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="d", CopySource={"Bucket": bucket, "Key": "nope"})
    assert err(e.value) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="d", CopySource={"Bucket": "no-such-bucket-cw", "Key": "k"})
    assert err(e.value) == ("NoSuchBucket", 404)
    _put(s3, bucket, "s", b"s")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="no-such-bucket-cw", Key="d", CopySource={"Bucket": bucket, "Key": "s"})
    assert err(e.value) == ("NoSuchBucket", 404)
    # nothing appeared at the destination
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="d")
    assert err(e.value)[1] == 404


def test_copy_source_conditions(s3, bucket):
    put = _put(s3, bucket, "c.src", b"conditional")
    etag = put["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c.src")["LastModified"]
    past = modified - dt.timedelta(days=1)
    future = modified + dt.timedelta(days=1)
    src = {"Bucket": bucket, "Key": "c.src"}
    passing = [
        {"CopySourceIfMatch": etag},
        {"CopySourceIfNoneMatch": '"0123"'},
        {"CopySourceIfModifiedSince": past},
        {"CopySourceIfUnmodifiedSince": future},
        # If-Match true wins over If-Unmodified-Since false (AWS)
        {"CopySourceIfMatch": etag, "CopySourceIfUnmodifiedSince": past},
    ]
    failing = [
        {"CopySourceIfMatch": '"0123"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": future},
        {"CopySourceIfUnmodifiedSince": past},
        # If-None-Match false and If-Modified-Since true → 412 (AWS)
        {"CopySourceIfNoneMatch": etag, "CopySourceIfModifiedSince": past},
    ]
    for i, cond in enumerate(passing):
        s3.copy_object(Bucket=bucket, Key=f"ok-{i}", CopySource=src, **cond)
        assert _get(s3, bucket, f"ok-{i}") == b"conditional"
    for i, cond in enumerate(failing):
        with pytest.raises(ClientError) as e:
            s3.copy_object(Bucket=bucket, Key=f"bad-{i}", CopySource=src, **cond)
        assert err(e.value) == ("PreconditionFailed", 412), cond
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=bucket, Key=f"bad-{i}")
        assert err(e.value)[1] == 404


def test_copy_destination_conditions(s3, bucket):
    _put(s3, bucket, "dc.src", b"source")
    old = _put(s3, bucket, "dc.dst", b"old destination")
    src = {"Bucket": bucket, "Key": "dc.src"}
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dc.dst", CopySource=src, IfNoneMatch="*")
    assert err(e.value) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dc.dst", CopySource=src, IfMatch='"feed"')
    assert err(e.value) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dc.absent", CopySource=src, IfMatch=old["ETag"])
    assert err(e.value) == ("NoSuchKey", 404)
    assert _get(s3, bucket, "dc.dst") == b"old destination"
    s3.copy_object(Bucket=bucket, Key="dc.dst", CopySource=src, IfMatch=old["ETag"])
    assert _get(s3, bucket, "dc.dst") == b"source"
    s3.copy_object(Bucket=bucket, Key="dc.new", CopySource=src, IfNoneMatch="*")
    assert _get(s3, bucket, "dc.new") == b"source"


def test_copy_multipart_source_20mib(s3, bucket, other_bucket):
    sizes = [8 * MiB, 8 * MiB, 5 * MiB + 123]
    up = s3.create_multipart_upload(Bucket=bucket, Key="big", ContentType="application/x-big")
    whole = hashlib.md5()
    parts = []
    for i, size in enumerate(sizes, start=1):
        body = data.content(f"cbig-{i}", size)
        whole.update(body)
        r = s3.upload_part(Bucket=bucket, Key="big", UploadId=up["UploadId"], PartNumber=i, Body=body)
        parts.append({"PartNumber": i, "ETag": r["ETag"]})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )
    assert done["ETag"].endswith('-3"')
    r = s3.copy_object(Bucket=other_bucket, Key="big-copy", CopySource={"Bucket": bucket, "Key": "big"})
    # one-request copy of a multipart source: a plain MD5 ETag
    assert r["CopyObjectResult"]["ETag"] == f'"{whole.hexdigest()}"'
    got = s3.get_object(Bucket=other_bucket, Key="big-copy")
    assert got["ContentLength"] == sum(sizes)
    assert got["ContentType"] == "application/x-big"
    h = hashlib.md5()
    for block in iter(lambda: got["Body"].read(MiB), b""):
        h.update(block)
    assert h.hexdigest() == whole.hexdigest()


def test_copy_source_over_the_size_limit():
    """The copy-size check, shown with a gateway whose object limit is 1 MiB (the AWS limit of
    5 GiB is the same check with a bigger number): a 6 MiB multipart source is refused with
    EntityTooLarge, and nothing appears at the destination. UploadPartCopy of it is fine."""
    from conftest import _start, _stop, boto_client

    gw = _start("cw-copylimit-", "max_put_size = 1048576\n")
    try:
        s3 = boto_client(gw)
        b = new_bucket_name("copy-limit")
        s3.create_bucket(Bucket=b)
        up = s3.create_multipart_upload(Bucket=b, Key="big")
        parts = []
        for i, size in enumerate([5 * MiB, MiB], start=1):
            r = s3.upload_part(Bucket=b, Key="big", UploadId=up["UploadId"], PartNumber=i,
                               Body=data.content(f"lim-{i}", size))
            parts.append({"PartNumber": i, "ETag": r["ETag"]})
        s3.complete_multipart_upload(Bucket=b, Key="big", UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": parts})
        with pytest.raises(ClientError) as e:
            s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "big"})
        assert err(e.value) == ("EntityTooLarge", 400)
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=b, Key="copy")
        assert err(e.value)[1] == 404
        up = s3.create_multipart_upload(Bucket=b, Key="parts")
        r = s3.upload_part_copy(Bucket=b, Key="parts", UploadId=up["UploadId"], PartNumber=1,
                                CopySource={"Bucket": b, "Key": "big"})
        assert r["CopyPartResult"]["ETag"].startswith('"')
    finally:
        _stop(gw)


def test_copy_keeps_full_object_checksum(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ck", Body=b"checksummed", ChecksumAlgorithm="SHA256")
    src = s3.head_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    r = s3.copy_object(Bucket=bucket, Key="ck2", CopySource={"Bucket": bucket, "Key": "ck"})
    assert r["CopyObjectResult"]["ChecksumSHA256"] == src["ChecksumSHA256"]
    head = s3.head_object(Bucket=bucket, Key="ck2", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == src["ChecksumSHA256"]


def test_copy_empty_object(s3, bucket):
    _put(s3, bucket, "empty", b"")
    r = s3.copy_object(Bucket=bucket, Key="empty2", CopySource={"Bucket": bucket, "Key": "empty"})
    assert r["CopyObjectResult"]["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert _get(s3, bucket, "empty2") == b""


# ----- UploadPartCopy --------------------------------------------------------------------------


def test_upload_part_copy_assembles_ranges(s3, bucket, other_bucket):
    src_size = 11 * MiB + 5
    src_body = data.content("upc-src", src_size)
    small = data.content("upc-small", 1000)
    _put(s3, bucket, "src", src_body)
    _put(s3, bucket, "small", small)
    up = s3.create_multipart_upload(Bucket=other_bucket, Key="assembled")
    uid = up["UploadId"]
    ranges = [(0, 5 * MiB - 1), (6 * MiB, src_size - 1)]
    expected = b""
    parts = []
    for n, (first, last) in enumerate(ranges, start=1):
        r = s3.upload_part_copy(
            Bucket=other_bucket, Key="assembled", UploadId=uid, PartNumber=n,
            CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange=f"bytes={first}-{last}",
        )
        piece = src_body[first:last + 1]
        assert r["CopyPartResult"]["ETag"] == f'"{hashlib.md5(piece).hexdigest()}"'
        assert isinstance(r["CopyPartResult"]["LastModified"], dt.datetime)
        parts.append({"PartNumber": n, "ETag": r["CopyPartResult"]["ETag"]})
        expected += piece
    # a whole (small) object as the last part, without a range
    r = s3.upload_part_copy(
        Bucket=other_bucket, Key="assembled", UploadId=uid, PartNumber=3,
        CopySource={"Bucket": bucket, "Key": "small"},
    )
    parts.append({"PartNumber": 3, "ETag": r["CopyPartResult"]["ETag"]})
    expected += small
    listed = s3.list_parts(Bucket=other_bucket, Key="assembled", UploadId=uid)["Parts"]
    assert [p["Size"] for p in listed] == [5 * MiB, src_size - 6 * MiB, 1000]
    s3.complete_multipart_upload(
        Bucket=other_bucket, Key="assembled", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    got = _get(s3, other_bucket, "assembled")
    assert len(got) == len(expected)
    assert hashlib.md5(got).hexdigest() == hashlib.md5(expected).hexdigest()


def test_upload_part_copy_errors(s3, raw, bucket):
    _put(s3, bucket, "ten", b"0123456789")
    up = s3.create_multipart_upload(Bucket=bucket, Key="t")
    uid = up["UploadId"]
    src = {"Bucket": bucket, "Key": "ten"}

    def copy(**kw):
        return s3.upload_part_copy(Bucket=bucket, Key="t", UploadId=uid, PartNumber=1, **kw)

    for bad in ["bytes=-1", "bytes=2-1", "bytes=x-y", "bytes=3-", "items=0-1"]:
        with pytest.raises(ClientError) as e:
            copy(CopySource=src, CopySourceRange=bad)
        assert err(e.value) == ("InvalidArgument", 400), bad
    with pytest.raises(ClientError) as e:
        copy(CopySource=src, CopySourceRange="bytes=0-10")
    assert err(e.value) == ("InvalidRange", 416)
    with pytest.raises(ClientError) as e:
        copy(CopySource={"Bucket": bucket, "Key": "nope"})
    assert err(e.value) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        copy(CopySource=src, CopySourceIfMatch='"0000"')
    assert err(e.value) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket=bucket, Key="t", UploadId="nosuchupload", PartNumber=1,
                            CopySource=src)
    assert err(e.value) == ("NoSuchUpload", 404)
    r = raw.request("PUT", f"/{bucket}/t", query={"partNumber": "0", "uploadId": uid},
                    headers={"x-amz-copy-source": f"/{bucket}/ten"})
    assert (r.status, r.code) == (400, "InvalidArgument"), r.describe()
    # none of the failures left a part behind; a good one does
    assert s3.list_parts(Bucket=bucket, Key="t", UploadId=uid).get("Parts", []) == []
    r = copy(CopySource=src, CopySourceRange="bytes=2-4")
    assert r["CopyPartResult"]["ETag"] == f'"{hashlib.md5(b"234").hexdigest()}"'
    assert [p["Size"] for p in s3.list_parts(Bucket=bucket, Key="t", UploadId=uid)["Parts"]] == [3]


# ----- other clients ---------------------------------------------------------------------------


def test_awscli_copy(cli, s3, bucket, other_bucket, tmp_path):
    src = tmp_path / "x.bin"
    md5 = data.write_file(src, "awscli-copy", 2 * MiB + 1)
    cli.aws("s3", "cp", "--no-progress", str(src), f"s3://{bucket}/x")
    cli.aws("s3", "cp", "--no-progress", f"s3://{bucket}/x", f"s3://{other_bucket}/y")
    got = s3.get_object(Bucket=other_bucket, Key="y")
    assert hashlib.md5(got["Body"].read()).hexdigest() == md5
    out = cli.aws(
        "s3api", "copy-object", "--bucket", bucket, "--key", "z",
        "--copy-source", f"{other_bucket}/y",
        "--metadata-directive", "REPLACE", "--content-type", "application/x-z",
    ).stdout.decode()
    assert json.loads(out)["CopyObjectResult"]["ETag"] == f'"{md5}"'
    head = s3.head_object(Bucket=bucket, Key="z")
    assert head["ContentType"] == "application/x-z" and head["ETag"] == f'"{md5}"'
    # above aws-cli's 8 MiB multipart threshold `s3 cp` copies with UploadPartCopy ranges
    big = tmp_path / "big.bin"
    big_md5 = data.write_file(big, "awscli-copy-big", 9 * MiB + 5)
    cli.aws("s3", "cp", "--no-progress", str(big), f"s3://{bucket}/big")
    cli.aws("s3", "cp", "--no-progress", f"s3://{bucket}/big", f"s3://{other_bucket}/big2")
    got = s3.get_object(Bucket=other_bucket, Key="big2")
    assert got["ETag"].endswith('-2"')  # assembled from two copied parts
    assert hashlib.md5(got["Body"].read()).hexdigest() == big_md5
    p = cli.aws("s3api", "copy-object", "--bucket", bucket, "--key", "w",
                "--copy-source", f"{bucket}/missing", check=False)
    assert p.returncode != 0 and b"NoSuchKey" in p.stderr


def test_rclone_server_side_copy(cli, s3, bucket):
    body = data.content("rclone-copy", 3 * MiB)
    _put(s3, bucket, "a/src.bin", body)
    p = cli.rclone("copyto", f"cw:{bucket}/a/src.bin", f"cw:{bucket}/b/dst.bin",
                   "--dump", "headers")
    # rclone copied on the server: it sent a CopyObject, no GET of the body
    assert b"X-Amz-Copy-Source" in p.stderr, p.stderr[-2000:]
    assert _get(s3, bucket, "b/dst.bin") == body
    sums = cli.rclone("md5sum", f"cw:{bucket}/b").stdout.decode()
    assert hashlib.md5(body).hexdigest() in sums
