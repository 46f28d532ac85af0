"""Conditional requests: If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since on
GET and HEAD (RFC 7232 precedence, 304 and 412), conditional writes (If-None-Match: * and
If-Match on PutObject and CompleteMultipartUpload), and GetObjectAttributes."""

import datetime as dt
import hashlib
from email.utils import format_datetime

import pytest
from botocore.exceptions import ClientError

from cwtest import data
from cwtest.data import MiB
from cwtest.util import err


def _http_date(t: dt.datetime) -> str:
    return format_datetime(t.astimezone(dt.timezone.utc), usegmt=True)


@pytest.fixture
def obj(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="cond", Body=b"conditional body")
    head = s3.head_object(Bucket=bucket, Key="cond")
    return bucket, put["ETag"], head["LastModified"]


# ----- GET / HEAD ------------------------------------------------------------------------------


def test_get_if_match(s3, raw, obj):
    bucket, etag, _ = obj
    assert s3.get_object(Bucket=bucket, Key="cond", IfMatch=etag)["Body"].read() == b"conditional body"
    assert s3.get_object(Bucket=bucket, Key="cond", IfMatch="*")["Body"].read() == b"conditional body"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfMatch='"deadbeef"')
    assert err(e.value) == ("PreconditionFailed", 412)
    r = raw.request("GET", f"/{bucket}/cond", headers={"If-Match": '"deadbeef"'})
    assert (r.status, r.code) == (412, "PreconditionFailed")
    assert r.find("Condition") == "If-Match"
    # HEAD: same status, no body
    r = raw.request("HEAD", f"/{bucket}/cond", headers={"If-Match": '"deadbeef"'})
    assert r.status == 412 and r.body == b""
    r = raw.request("GET", f"/{bucket}/cond", headers={"If-Match": f'"x", {etag}'})
    assert r.status == 200 and r.body == b"conditional body"


def test_get_if_none_match_304(s3, raw, obj):
    bucket, etag, modified = obj
    for method in ("GET", "HEAD"):
        r = raw.request(method, f"/{bucket}/cond", headers={"If-None-Match": etag})
        assert r.status == 304, r.describe()
        assert r.body == b""
        assert r.header("ETag") == etag
        assert r.header("Last-Modified") == _http_date(modified)
    r = raw.request("GET", f"/{bucket}/cond", headers={"If-None-Match": "*"})
    assert r.status == 304
    r = raw.request("GET", f"/{bucket}/cond", headers={"If-None-Match": '"other"'})
    assert r.status == 200 and r.body == b"conditional body"
    # boto3 surfaces the 304 as a ClientError with code 304
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)
    assert err(e.value)[1] == 304
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)
    assert err(e.value)[1] == 304


def test_get_if_modified_since(s3, raw, obj):
    bucket, _, modified = obj
    past = modified - dt.timedelta(hours=1)
    assert s3.get_object(Bucket=bucket, Key="cond", IfModifiedSince=past)["Body"].read() == b"conditional body"
    for since in (modified, modified + dt.timedelta(hours=1)):
        r = raw.request("GET", f"/{bucket}/cond", headers={"If-Modified-Since": _http_date(since)})
        assert r.status == 304 and r.body == b"", r.describe()
        r = raw.request("HEAD", f"/{bucket}/cond", headers={"If-Modified-Since": _http_date(since)})
        assert r.status == 304
    # an unparseable date is ignored
    r = raw.request("GET", f"/{bucket}/cond", headers={"If-Modified-Since": "yesterday"})
    assert r.status == 200


def test_get_if_unmodified_since(s3, raw, obj):
    bucket, _, modified = obj
    future = modified + dt.timedelta(hours=1)
    assert s3.get_object(Bucket=bucket, Key="cond", IfUnmodifiedSince=future)["Body"].read() == b"conditional body"
    assert s3.get_object(Bucket=bucket, Key="cond", IfUnmodifiedSince=modified)["ContentLength"] == 16
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="cond", IfUnmodifiedSince=modified - dt.timedelta(hours=1))
    assert err(e.value) == ("PreconditionFailed", 412)
    r = raw.request("HEAD", f"/{bucket}/cond",
                    headers={"If-Unmodified-Since": _http_date(modified - dt.timedelta(hours=1))})
    assert r.status == 412 and r.body == b""


def test_get_condition_precedence(raw, obj):
    bucket, etag, modified = obj
    past = _http_date(modified - dt.timedelta(hours=1))
    future = _http_date(modified + dt.timedelta(hours=1))
    cases = [
        # If-Match true + If-Unmodified-Since false → 200
        ({"If-Match": etag, "If-Unmodified-Since": past}, 200),
        # If-None-Match false (no match) + If-Modified-Since false (not modified) → 200
        ({"If-None-Match": '"other"', "If-Modified-Since": future}, 200),
        # If-None-Match matches + If-Modified-Since true → 304
        ({"If-None-Match": etag, "If-Modified-Since": past}, 304),
        # 412 comes before 304
        ({"If-Match": '"other"', "If-None-Match": etag}, 412),
        ({"If-Unmodified-Since": past, "If-Modified-Since": future}, 412),
    ]
    for headers, status in cases:
        r = raw.request("GET", f"/{bucket}/cond", headers=headers)
        assert r.status == status, (headers, r.describe())


def test_conditional_get_missing_key_is_404(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing", IfMatch='"x"')
    assert err(e.value) == ("NoSuchKey", 404)


# ----- conditional writes ----------------------------------------------------------------------


def _shard_files(gw):
    return [p for p in gw.all_location_files() if "/shards/" in str(p)]


def test_put_if_none_match(fresh_server, fresh_s3, fresh_bucket):
    s3, b = fresh_s3, fresh_bucket
    r = s3.put_object(Bucket=b, Key="k", Body=b"first", IfNoneMatch="*")
    assert r["ETag"] == f'"{hashlib.md5(b"first").hexdigest()}"'
    shards = _shard_files(fresh_server)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="k", Body=b"second", IfNoneMatch="*")
    assert err(e.value) == ("PreconditionFailed", 412)
    assert e.value.response["Error"].get("Condition") == "If-None-Match"
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"first"
    # the refused write left no shard files behind
    assert _shard_files(fresh_server) == shards


def test_put_if_none_match_race_has_one_winner(fresh_server, fresh_s3, fresh_bucket):
    """Both PUTs pass the early check while the key is free; the commit transaction decides.
    The loser gets 412 and its shard files are removed."""
    from concurrent.futures import ThreadPoolExecutor

    from conftest import boto_client

    s3, b = fresh_s3, fresh_bucket
    bodies = [data.content(f"race-{i}", 9 * MiB) for i in range(2)]
    clients = [boto_client(fresh_server) for _ in bodies]

    def put(i):
        try:
            clients[i].put_object(Bucket=b, Key="race", Body=bodies[i], IfNoneMatch="*")
            return "ok"
        except ClientError as e:
            return err(e)

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(put, range(2)))
    assert sorted(map(str, outcomes)) == sorted(["ok", str(("PreconditionFailed", 412))]), outcomes
    winner = outcomes.index("ok")
    assert s3.get_object(Bucket=b, Key="race")["Body"].read() == bodies[winner]
    # only the winner's shard files remain (one blob directory)
    assert len({p.parent.name for p in _shard_files(fresh_server)}) == 1


def test_put_if_none_match_other_values_not_implemented(raw, bucket):
    r = raw.request("PUT", f"/{bucket}/k", headers={"If-None-Match": '"abc"'}, body=b"x")
    assert (r.status, r.code) == (501, "NotImplemented"), r.describe()


def test_put_if_match(s3, bucket):
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert err(e.value) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"two", IfMatch=first["ETag"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    # the old ETag no longer matches
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"three", IfMatch=first["ETag"])
    assert err(e.value) == ("PreconditionFailed", 412)
    assert s3.head_object(Bucket=bucket, Key="k")["ETag"] == second["ETag"]
    # If-Match on a missing key: 404 NoSuchKey, nothing created
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=first["ETag"])
    assert err(e.value) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="absent")
    assert err(e.value)[1] == 404


def _one_part_upload(s3, bucket, key, seed):
    up = s3.create_multipart_upload(Bucket=bucket, Key=key)
    body = data.content(seed, 1000)
    r = s3.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=body)
    return up["UploadId"], [{"PartNumber": 1, "ETag": r["ETag"]}], body


def test_complete_multipart_if_none_match(s3, bucket):
    uid, parts, body = _one_part_upload(s3, bucket, "mk", "cmp-a")
    s3.complete_multipart_upload(Bucket=bucket, Key="mk", UploadId=uid,
                                 MultipartUpload={"Parts": parts}, IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="mk")["Body"].read() == body
    uid2, parts2, body2 = _one_part_upload(s3, bucket, "mk", "cmp-b")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mk", UploadId=uid2,
                                     MultipartUpload={"Parts": parts2}, IfNoneMatch="*")
    assert err(e.value) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="mk")["Body"].read() == body
    # the upload survives the refusal and can still be completed unconditionally
    assert len(s3.list_parts(Bucket=bucket, Key="mk", UploadId=uid2)["Parts"]) == 1
    s3.complete_multipart_upload(Bucket=bucket, Key="mk", UploadId=uid2,
                                 MultipartUpload={"Parts": parts2})
    assert s3.get_object(Bucket=bucket, Key="mk")["Body"].read() == body2


def test_complete_multipart_if_match(s3, bucket):
    current = s3.put_object(Bucket=bucket, Key="mm", Body=b"current")
    uid, parts, body = _one_part_upload(s3, bucket, "mm", "cmp-m")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mm", UploadId=uid,
                                     MultipartUpload={"Parts": parts}, IfMatch='"feed"')
    assert err(e.value) == ("PreconditionFailed", 412)
    s3.complete_multipart_upload(Bucket=bucket, Key="mm", UploadId=uid,
                                 MultipartUpload={"Parts": parts}, IfMatch=current["ETag"])
    assert s3.get_object(Bucket=bucket, Key="mm")["Body"].read() == body
    uid, parts, _ = _one_part_upload(s3, bucket, "mm-absent", "cmp-n")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mm-absent", UploadId=uid,
                                     MultipartUpload={"Parts": parts}, IfMatch=current["ETag"])
    assert err(e.value) == ("NoSuchKey", 404)


# ----- GetObjectAttributes ---------------------------------------------------------------------


ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


def test_get_object_attributes_single_part(s3, bucket):
    body = b"attributes"
    s3.put_object(Bucket=bucket, Key="a", Body=body, ChecksumAlgorithm="CRC32")
    crc = s3.head_object(Bucket=bucket, Key="a", ChecksumMode="ENABLED")["ChecksumCRC32"]
    r = s3.get_object_attributes(Bucket=bucket, Key="a", ObjectAttributes=ALL)
    assert r["ETag"] == hashlib.md5(body).hexdigest()  # unquoted, as AWS answers
    assert r["ObjectSize"] == len(body)
    assert r["StorageClass"] == "STANDARD"
    assert r["Checksum"]["ChecksumCRC32"] == crc
    assert "ObjectParts" not in r
    assert isinstance(r["LastModified"], dt.datetime)
    r = s3.get_object_attributes(Bucket=bucket, Key="a", ObjectAttributes=["ObjectSize"])
    assert r["ObjectSize"] == len(body) and "ETag" not in r and "StorageClass" not in r


def test_get_object_attributes_parts(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    sizes = [5 * MiB, 5 * MiB, 5 * MiB, 77]
    parts = []
    for i, size in enumerate(sizes, start=1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=i,
                           Body=data.content(f"goa-{i}", size))
        parts.append({"PartNumber": i, "ETag": r["ETag"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                        MultipartUpload={"Parts": parts})
    r = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=ALL)
    assert r["ETag"] == done["ETag"].strip('"')
    assert r["ObjectSize"] == sum(sizes)
    op = r["ObjectParts"]
    assert op["TotalPartsCount"] == 4
    assert [(p["PartNumber"], p["Size"]) for p in op["Parts"]] == list(enumerate(sizes, start=1))
    assert op["IsTruncated"] is False
    # paging
    r = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"], MaxParts=2)
    op = r["ObjectParts"]
    assert [p["PartNumber"] for p in op["Parts"]] == [1, 2]
    assert op["IsTruncated"] is True and op["NextPartNumberMarker"] == 2 and op["MaxParts"] == 2
    r = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"],
                                 MaxParts=2, PartNumberMarker=op["NextPartNumberMarker"])
    op = r["ObjectParts"]
    assert [p["PartNumber"] for p in op["Parts"]] == [3, 4]
    assert op["IsTruncated"] is False and op["PartNumberMarker"] == 2


def test_get_object_attributes_errors(s3, raw, bucket):
    s3.put_object(Bucket=bucket, Key="e", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=bucket, Key="missing", ObjectAttributes=["ETag"])
    assert err(e.value) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket="no-such-bucket-cw", Key="e", ObjectAttributes=["ETag"])
    assert err(e.value) == ("NoSuchBucket", 404)
    r = raw.request("GET", f"/{bucket}/e", query={"attributes": ""},
                    headers={"x-amz-object-attributes": "ETag,Colour"})
    assert (r.status, r.code) == (400, "InvalidArgument"), r.describe()
    r = raw.request("GET", f"/{bucket}/e", query={"attributes": ""})
    assert (r.status, r.code) == (400, "InvalidArgument"), r.describe()
    r = raw.request("GET", f"/{bucket}/e", query={"attributes": ""},
                    headers={"x-amz-object-attributes": "ETag", "x-amz-max-parts": "many"})
    assert (r.status, r.code) == (400, "InvalidArgument"), r.describe()
