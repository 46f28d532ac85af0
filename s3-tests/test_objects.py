"""PutObject / GetObject / HeadObject / DeleteObject / DeleteObjects with boto3: byte-exact
round trips at chunk boundaries, ETags, overwrites, odd keys, idempotent deletes."""

import datetime as dt
import hashlib

import pytest
from botocore.exceptions import ClientError

from cwtest import data
from cwtest.data import BOUNDARY_SIZES, CHUNK
from cwtest.util import body_md5, err


@pytest.mark.parametrize("size", BOUNDARY_SIZES, ids=lambda s: f"size{s}")
def test_put_get_byte_exact(s3, bucket, size):
    seed = f"obj-{size}"
    body = data.content(seed, size)
    md5 = hashlib.md5(body).hexdigest()
    put = s3.put_object(Bucket=bucket, Key=f"k/{size}", Body=body)
    assert put["ETag"] == f'"{md5}"'
    del body

    got = s3.get_object(Bucket=bucket, Key=f"k/{size}")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["ContentLength"] == size
    assert got["ETag"] == f'"{md5}"'
    assert body_md5(got["Body"]) == (md5, size)

    head = s3.head_object(Bucket=bucket, Key=f"k/{size}")
    assert head["ContentLength"] == size
    assert head["ETag"] == f'"{md5}"'
    assert head["ResponseMetadata"]["HTTPHeaders"].get("accept-ranges") == "bytes"


def test_overwrite_returns_latest(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ow", Body=data.content("first", CHUNK + 5))
    second = data.content("second", 1000)
    s3.put_object(Bucket=bucket, Key="ow", Body=second)
    got = s3.get_object(Bucket=bucket, Key="ow")
    assert got["ContentLength"] == 1000
    assert got["Body"].read() == second
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="ow")
    assert [(o["Key"], o["Size"]) for o in listed["Contents"]] == [("ow", 1000)]


@pytest.mark.parametrize(
    "key",
    [
        "with space.txt",
        "unicodé/ключ/鍵.bin",
        "plus+sign&amp=eq?q#hash",
        "percent%20literal",
        "dir//double/slash",
        "trailing/",
        "~tilde!*'()$,;:@",
        "a" * 1024,
    ],
    ids=["space", "unicode", "reserved", "percent", "double-slash", "trailing-slash", "marks", "1024"],
)
def test_odd_keys_round_trip(s3, bucket, key):
    body = key.encode() + b"\x00\xff"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [key]
    s3.delete_object(Bucket=bucket, Key=key)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_key_too_long(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert err(e.value) == ("KeyTooLongError", 400)


def test_get_missing_key(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="nope")
    assert err(e.value) == ("NoSuchKey", 404)
    assert e.value.response["Error"].get("Key") in (None, "nope")


def test_head_missing_key_has_no_body(raw, bucket):
    r = raw.request("HEAD", f"/{bucket}/nope")
    assert r.status == 404, r.describe()
    assert r.body == b""
    assert r.header("x-amz-request-id")


def test_last_modified(s3, bucket):
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(seconds=2)
    s3.put_object(Bucket=bucket, Key="lm", Body=b"abc")
    after = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)
    head = s3.head_object(Bucket=bucket, Key="lm")
    assert before <= head["LastModified"] <= after, head["LastModified"]
    got = s3.get_object(Bucket=bucket, Key="lm")
    assert got["LastModified"] == head["LastModified"]
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert abs((listed["LastModified"] - head["LastModified"]).total_seconds()) < 1.0


def test_delete_object_idempotent(s3, bucket):
    s3.put_object(Bucket=bucket, Key="d", Body=b"1")
    r1 = s3.delete_object(Bucket=bucket, Key="d")
    assert r1["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="d")
    assert err(e.value)[1] == 404
    r2 = s3.delete_object(Bucket=bucket, Key="d")
    assert r2["ResponseMetadata"]["HTTPStatusCode"] == 204
    r3 = s3.delete_object(Bucket=bucket, Key="never-existed")
    assert r3["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_delete_object_missing_bucket(s3):
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket="cw-no-such-bucket-0000", Key="k")
    assert err(e.value) == ("NoSuchBucket", 404)


def _fill(s3, bucket, keys):
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())


def test_delete_objects_verbose(s3, bucket):
    keys = ["a", "b/c", "d e", "üñí"]
    _fill(s3, bucket, keys)
    r = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": k} for k in keys + ["missing"]], "Quiet": False},
    )
    assert sorted(d["Key"] for d in r["Deleted"]) == sorted(keys + ["missing"])
    assert not r.get("Errors")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_quiet(s3, bucket):
    keys = [f"q/{i}" for i in range(5)]
    _fill(s3, bucket, keys + ["keep"])
    r = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
    )
    assert not r.get("Deleted"), r
    assert not r.get("Errors"), r
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["keep"]
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"keep"


def test_delete_objects_malformed_xml(raw, bucket):
    body = b"<Delete><Object><Key>a</Key></Object"
    md5 = __import__("base64").b64encode(hashlib.md5(body).digest()).decode()
    r = raw.request(
        "POST", f"/{bucket}", query=[("delete", "")], body=body, headers={"Content-MD5": md5}
    )
    assert r.status == 400, r.describe()
    assert r.code == "MalformedXML", r.describe()
