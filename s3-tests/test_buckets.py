"""Bucket operations: CreateBucket (naming rules, owned-by-you), HeadBucket, DeleteBucket,
ListBuckets, GetBucketLocation."""

import datetime as dt

import pytest
from botocore.exceptions import ClientError

from cwtest.util import err, new_bucket_name


def test_create_head_list_delete(s3):
    name = new_bucket_name()
    r = s3.create_bucket(Bucket=name)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["ResponseMetadata"]["HTTPHeaders"].get("location") in (f"/{name}", None)

    h = s3.head_bucket(Bucket=name)
    assert h["ResponseMetadata"]["HTTPStatusCode"] == 200

    listed = s3.list_buckets()
    names = [b["Name"] for b in listed["Buckets"]]
    assert name in names
    created = next(b for b in listed["Buckets"] if b["Name"] == name)["CreationDate"]
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((now - created).total_seconds()) < 120, created
    assert "Owner" in listed and listed["Owner"].get("ID")

    d = s3.delete_bucket(Bucket=name)
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert err(e.value)[1] == 404
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_create_twice_is_owned_by_you(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=bucket)
    assert err(e.value) == ("BucketAlreadyOwnedByYou", 409)


@pytest.mark.parametrize(
    "name",
    [
        "ab",  # too short
        "a" * 64,  # too long
        "UpperCase",
        "under_score",
        "-leading-hyphen",
        "trailing-hyphen-",
        "192.168.5.4",  # formatted as an IP address
        "double..dot",
        ".leading-dot",
        "trailing-dot.",
        "spa ce",
    ],
)
def test_invalid_bucket_names(raw, name):
    r = raw.request("PUT", f"/{name}")
    assert r.status == 400, r.describe()
    assert r.code == "InvalidBucketName", r.describe()
    head = raw.request("HEAD", f"/{name}")
    assert head.status in (400, 404), head.describe()


@pytest.mark.parametrize("name", ["abc", "a" * 63, "with.dots.ok", "0digits-first9"])
def test_valid_edge_bucket_names(s3, name):
    # Unique prefixes are impossible for the fixed names: clean up if a previous run left one.
    try:
        s3.create_bucket(Bucket=name)
        assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        try:
            s3.delete_bucket(Bucket=name)
        except ClientError:
            pass


def test_delete_non_empty_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert err(e.value) == ("BucketNotEmpty", 409)
    # still there, object intact
    assert s3.get_object(Bucket=bucket, Key="x")["Body"].read() == b"x"


def test_missing_bucket_errors(s3):
    name = new_bucket_name("missing")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert err(e.value) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=name)
    assert err(e.value) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=name, Key="k", Body=b"1")
    assert err(e.value) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert err(e.value)[1] == 404


def test_get_bucket_location(s3, bucket):
    r = s3.get_bucket_location(Bucket=bucket)
    # us-east-1 is answered as an empty LocationConstraint by AWS; some servers name it.
    assert r.get("LocationConstraint") in (None, "", "us-east-1"), r


def test_get_bucket_location_raw_xml(raw, bucket):
    r = raw.request("GET", f"/{bucket}", query=[("location", "")])
    assert r.status == 200, r.describe()
    root = r.xml()
    assert root.tag.split("}")[-1] == "LocationConstraint"
    assert (root.text or "") in ("", "us-east-1")
