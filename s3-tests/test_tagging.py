"""Object and bucket tagging: Put/Get/DeleteObjectTagging, x-amz-tagging on PutObject and
CreateMultipartUpload, x-amz-tagging-count, Put/Get/DeleteBucketTagging; AWS's limits as
InvalidTag, MalformedXML, NoSuchTagSet; tags sealed into the manifest copies (never plaintext at
a location, rebuilt by recover-index)."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import boto_client

from cwtest.data import MiB
from cwtest.util import err, new_bucket_name


def tagset(pairs):
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs]}


def pairs_of(resp):
    return [(t["Key"], t["Value"]) for t in resp["TagSet"]]


def tagging_count(s3, bucket, key):
    return s3.head_object(Bucket=bucket, Key=key)["ResponseMetadata"]["HTTPHeaders"].get("x-amz-tagging-count")


def test_put_object_with_tagging_header(s3, bucket):
    s3.put_object(Bucket=bucket, Key="doc", Body=b"hello", Tagging="class=secret&owner=team%20a&empty=")
    got = s3.get_object_tagging(Bucket=bucket, Key="doc")
    assert pairs_of(got) == [("class", "secret"), ("owner", "team a"), ("empty", "")]
    obj = s3.get_object(Bucket=bucket, Key="doc")
    assert obj["Body"].read() == b"hello"
    assert obj["TagCount"] == 3
    assert tagging_count(s3, bucket, "doc") == "3"
    # an untagged object has no count header
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert tagging_count(s3, bucket, "plain") is None
    assert s3.get_object_tagging(Bucket=bucket, Key="plain")["TagSet"] == []


def test_put_get_delete_object_tagging(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"content", Tagging="a=1")
    before = s3.head_object(Bucket=bucket, Key="k")
    r = s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset([("x", "1"), ("ü-key", "välue"), ("z", "")]))
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert pairs_of(s3.get_object_tagging(Bucket=bucket, Key="k")) == [("x", "1"), ("ü-key", "välue"), ("z", "")]
    assert tagging_count(s3, bucket, "k") == "3"
    # a tag change is no new version of the content: same ETag, Last-Modified, bytes
    after = s3.head_object(Bucket=bucket, Key="k")
    assert after["ETag"] == put["ETag"] == before["ETag"]
    assert after["LastModified"] == before["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"content"
    r = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert tagging_count(s3, bucket, "k") is None
    # an overwrite without x-amz-tagging drops the tags, as in S3
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset([("x", "1")]))
    s3.put_object(Bucket=bucket, Key="k", Body=b"new")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []


def test_multipart_upload_carries_tags(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="project=archive&year=2026")
    part1 = b"a" * (5 * MiB)
    e1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=part1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=2, Body=b"tail")["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    assert pairs_of(s3.get_object_tagging(Bucket=bucket, Key="mp")) == [("project", "archive"), ("year", "2026")]
    assert tagging_count(s3, bucket, "mp") == "2"


def test_multipart_create_rejects_bad_tagging(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="aws:x=1")
    assert err(e.value) == ("InvalidTag", 400)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize(
    "tags, message",
    [
        ([(f"k{i}", "v") for i in range(11)], "Object tags cannot be greater than 10"),
        ([("k" * 129, "v")], "The TagKey you have provided is invalid"),
        ([("k", "v" * 257)], "The TagValue you have provided is invalid"),
        ([("dup", "1"), ("dup", "2")], "Cannot provide multiple Tags with the same key"),
        ([("aws:created", "1")], "Your TagKey cannot be prefixed with aws:"),
    ],
)
def test_put_object_tagging_limits(s3, bucket, tags, message):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="keep=me")
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset(tags))
    assert err(e.value) == ("InvalidTag", 400)
    assert e.value.response["Error"]["Message"] == message
    # nothing changed
    assert pairs_of(s3.get_object_tagging(Bucket=bucket, Key="k")) == [("keep", "me")]


def test_limits_at_the_boundary_are_accepted(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    tags = [(f"k{i}", "v") for i in range(9)] + [("é" * 128, "ü" * 256)]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset(tags))
    assert pairs_of(s3.get_object_tagging(Bucket=bucket, Key="k")) == tags


def test_put_object_with_bad_tagging_header(s3, bucket):
    too_many = "&".join(f"k{i}=v" for i in range(11))
    for header in (too_many, "a=1&a=2", "aws:x=1", "k=" + "v" * 257):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="bad", Body=b"x", Tagging=header)
        assert err(e.value) == ("InvalidTag", 400), header
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="bad")
    assert err(e.value)[1] == 404


def test_malformed_tagging_xml(raw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for body in (b"<Tagging><TagSet><Tag><Key>a</Key>", b"not xml", b"<Tagging></Tagging>"):
        r = raw.request("PUT", f"/{bucket}/k", query={"tagging": ""}, body=body)
        assert (r.status, r.code) == (400, "MalformedXML"), r.describe()
        r = raw.request("PUT", f"/{bucket}", query={"tagging": ""}, body=body)
        assert (r.status, r.code) == (400, "MalformedXML"), r.describe()


def test_empty_tag_key_is_invalid(raw, s3, bucket):
    # boto3 refuses to send an empty key, so the document goes out by hand
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    body = b"<Tagging><TagSet><Tag><Key></Key><Value>v</Value></Tag></TagSet></Tagging>"
    r = raw.request("PUT", f"/{bucket}/k", query={"tagging": ""}, body=body)
    assert (r.status, r.code) == (400, "InvalidTag"), r.describe()
    assert r.find("Message") == "The TagKey you have provided is invalid"


def test_object_tagging_missing_key_and_bucket(s3, bucket):
    for call in (
        lambda: s3.get_object_tagging(Bucket=bucket, Key="nope"),
        lambda: s3.put_object_tagging(Bucket=bucket, Key="nope", Tagging=tagset([("a", "b")])),
        lambda: s3.delete_object_tagging(Bucket=bucket, Key="nope"),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e.value) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=new_bucket_name(), Key="k")
    assert err(e.value) == ("NoSuchBucket", 404)


def test_bucket_tagging(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert err(e.value) == ("NoSuchTagSet", 404)
    assert e.value.response["Error"]["Message"] == "The TagSet does not exist"
    r = s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset([("dept", "finance"), ("env", "prod")]))
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert pairs_of(s3.get_bucket_tagging(Bucket=bucket)) == [("dept", "finance"), ("env", "prod")]
    fifty = [(f"k{i}", f"v{i}") for i in range(50)]
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset(fifty))
    assert pairs_of(s3.get_bucket_tagging(Bucket=bucket)) == fifty
    r = s3.delete_bucket_tagging(Bucket=bucket)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert err(e.value) == ("NoSuchTagSet", 404)


def test_bucket_tagging_limits(s3, bucket):
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset([("keep", "me")]))
    for tags in (
        [(f"k{i}", "v") for i in range(51)],
        [("aws:x", "1")],
        [("a", "1"), ("a", "2")],
        [("k" * 129, "")],
    ):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_tagging(Bucket=bucket, Tagging=tagset(tags))
        assert err(e.value) == ("InvalidTag", 400)
    assert pairs_of(s3.get_bucket_tagging(Bucket=bucket)) == [("keep", "me")]
    missing = new_bucket_name()
    for call in (
        lambda: s3.get_bucket_tagging(Bucket=missing),
        lambda: s3.put_bucket_tagging(Bucket=missing, Tagging=tagset([("a", "b")])),
        lambda: s3.delete_bucket_tagging(Bucket=missing),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e.value) == ("NoSuchBucket", 404)


def test_aws_cli_object_tagging(cli, s3, bucket):
    s3.put_object(Bucket=bucket, Key="cli.txt", Body=b"cli")
    cli.aws("s3api", "put-object-tagging", "--bucket", bucket, "--key", "cli.txt",
            "--tagging", json.dumps(tagset([("via", "aws-cli")])))
    out = json.loads(cli.aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "cli.txt").stdout)
    assert out["TagSet"] == [{"Key": "via", "Value": "aws-cli"}]
    cli.aws("s3api", "put-bucket-tagging", "--bucket", bucket, "--tagging", json.dumps(tagset([("b", "1")])))
    out = json.loads(cli.aws("s3api", "get-bucket-tagging", "--bucket", bucket).stdout)
    assert out["TagSet"] == [{"Key": "b", "Value": "1"}]


@pytest.mark.destructive
def test_tags_are_sealed_in_manifest_copies(fresh_server, fresh_s3):
    """Tag keys and values never appear in plaintext at a location, and the sealed manifest
    copies carry the newest tags: recover-index rebuilds them."""
    mark = uuid.uuid4().hex[:12]
    s3 = fresh_s3
    b = new_bucket_name()
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="a", Body=b"a", Tagging=f"hdrkey{mark}=hdrval{mark}")
    s3.put_object(Bucket=b, Key="b", Body=b"b", Tagging="old=1")
    s3.put_object_tagging(Bucket=b, Key="b", Tagging=tagset([(f"putkey{mark}", f"putval{mark}")]))
    s3.put_object(Bucket=b, Key="c", Body=b"c", Tagging="gone=1")
    s3.delete_object_tagging(Bucket=b, Key="c")
    markers = [f"{w}{mark}".encode() for w in ("hdrkey", "hdrval", "putkey", "putval")]
    root = fresh_server.data_dir / "locations"
    for p in root.rglob("*"):
        if p.is_file():
            blob = p.read_bytes()
            for m in markers:
                assert m not in blob, f"{m!r} in {p}"
    fresh_server.stop()
    p = fresh_server.cli("recover-index", "--force")
    assert p.returncode == 0, p.stderr.decode()
    fresh_server.start()
    s3 = boto_client(fresh_server)  # the restarted gateway listens on a new port
    assert pairs_of(s3.get_object_tagging(Bucket=b, Key="a")) == [(f"hdrkey{mark}", f"hdrval{mark}")]
    assert pairs_of(s3.get_object_tagging(Bucket=b, Key="b")) == [(f"putkey{mark}", f"putval{mark}")]
    assert s3.get_object_tagging(Bucket=b, Key="c")["TagSet"] == []
    assert s3.get_object(Bucket=b, Key="b")["Body"].read() == b"b"
