"""Integrity headers: Content-MD5 (BadDigest / InvalidDigest) and the flexible checksums
x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}: a wrong value is BadDigest and stores
nothing; a right one is stored and returned on GET/HEAD with x-amz-checksum-mode: ENABLED."""

import base64
import hashlib

import pytest
from botocore.exceptions import ClientError

from cwtest import data
from cwtest.checksums import ALGORITHMS, checksum_b64
from cwtest.util import err

BODY = data.content("checksum-body", 70_000)


def test_content_md5_right(s3, bucket):
    md5 = base64.b64encode(hashlib.md5(BODY).digest()).decode()
    r = s3.put_object(Bucket=bucket, Key="md5ok", Body=BODY, ContentMD5=md5)
    assert r["ETag"] == f'"{hashlib.md5(BODY).hexdigest()}"'
    assert s3.get_object(Bucket=bucket, Key="md5ok")["Body"].read() == BODY


def test_content_md5_mismatch(s3, bucket):
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="md5bad", Body=BODY, ContentMD5=wrong)
    assert err(e.value) == ("BadDigest", 400)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="md5bad")
    assert err(e.value)[1] == 404


def test_content_md5_malformed(raw, bucket):
    r = raw.request("PUT", f"/{bucket}/md5junk", body=b"abc", headers={"Content-MD5": "notbase64!"})
    assert r.status == 400, r.describe()
    assert r.code == "InvalidDigest", r.describe()


def test_content_md5_on_upload_part(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mpmd5")["UploadId"]
    wrong = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.upload_part(
            Bucket=bucket, Key="mpmd5", UploadId=up, PartNumber=1, Body=b"y", ContentMD5=wrong
        )
    assert err(e.value) == ("BadDigest", 400)
    assert not s3.list_parts(Bucket=bucket, Key="mpmd5", UploadId=up).get("Parts")
    s3.abort_multipart_upload(Bucket=bucket, Key="mpmd5", UploadId=up)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_checksum_header_right_is_stored(raw, bucket, algorithm):
    value = checksum_b64(algorithm, BODY)
    key = f"ck-{algorithm}"
    r = raw.request(
        "PUT", f"/{bucket}/{key}", body=BODY, headers={f"x-amz-checksum-{algorithm}": value}
    )
    assert r.status == 200, r.describe()
    assert r.header(f"x-amz-checksum-{algorithm}") == value, r.headers
    for method in ("HEAD", "GET"):
        g = raw.request(method, f"/{bucket}/{key}", headers={"x-amz-checksum-mode": "ENABLED"})
        assert g.status == 200, g.describe()
        assert g.header(f"x-amz-checksum-{algorithm}") == value, (method, g.headers)
        if method == "GET":
            assert g.body == BODY
    # Without checksum mode, S3 does not send the checksum; we don't insist either way.


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_checksum_header_wrong_is_bad_digest(raw, bucket, algorithm):
    value = checksum_b64(algorithm, BODY + b"!")
    key = f"ckbad-{algorithm}"
    r = raw.request(
        "PUT", f"/{bucket}/{key}", body=BODY, headers={f"x-amz-checksum-{algorithm}": value}
    )
    assert r.status == 400, r.describe()
    assert r.code == "BadDigest", r.describe()
    h = raw.request("HEAD", f"/{bucket}/{key}")
    assert h.status == 404, h.describe()


def test_checksum_header_malformed(raw, bucket):
    r = raw.request(
        "PUT", f"/{bucket}/ckjunk", body=BODY, headers={"x-amz-checksum-crc32": "@@@"}
    )
    assert r.status == 400, r.describe()
    assert r.code in ("InvalidRequest", "InvalidArgument", "BadDigest", "InvalidDigest"), r.describe()


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA256", "SHA1"])
def test_boto3_checksum_algorithm(s3, bucket, algorithm):
    """boto3 computes the checksum itself (over plain HTTP it sends it as a header with a
    signed payload) and validates it on GET with ChecksumMode=ENABLED."""
    key = f"boto-{algorithm}"
    r = s3.put_object(Bucket=bucket, Key=key, Body=BODY, ChecksumAlgorithm=algorithm)
    expected = checksum_b64(algorithm, BODY)
    assert r.get(f"Checksum{algorithm}") == expected, r
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head.get(f"Checksum{algorithm}") == expected, head
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got.get(f"Checksum{algorithm}") == expected
    assert got["Body"].read() == BODY  # botocore validates the checksum while reading


def test_boto3_default_put(s3, bucket):
    """Current boto3 sends a CRC32 checksum with every PutObject by default."""
    r = s3.put_object(Bucket=bucket, Key="default", Body=BODY)
    assert r["ETag"] == f'"{hashlib.md5(BODY).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="default", ChecksumMode="ENABLED")
    assert got["Body"].read() == BODY
    if "ChecksumCRC32" in got:
        assert got["ChecksumCRC32"] == checksum_b64("crc32", BODY)
