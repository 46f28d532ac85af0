"""Metadata round trip: Content-Type, Content-Encoding, Content-Disposition, Cache-Control,
Expires, x-amz-meta-*; through GET, HEAD and multipart."""

import datetime as dt

from cwtest.data import MiB

EXPIRES = dt.datetime(2031, 5, 17, 8, 30, 0, tzinfo=dt.timezone.utc)
META = {"owner": "gemeente-utrecht", "case-id": "Z-2024-0042", "note": "plain ascii value"}
HEADERS = dict(
    ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ContentEncoding="gzip",
    ContentDisposition='attachment; filename="besluit 42.docx"',
    CacheControl="private, max-age=600",
    ContentLanguage="nl-NL",
)


def _check(resp):
    for k, v in HEADERS.items():
        assert resp.get(k) == v, (k, resp.get(k))
    assert resp["Metadata"] == META
    # botocore parses Expires into a datetime (older) or keeps the string (ExpiresString, newer)
    raw = resp["ResponseMetadata"]["HTTPHeaders"].get("expires")
    assert raw == "Sat, 17 May 2031 08:30:00 GMT", raw


def test_metadata_round_trip(s3, bucket):
    body = b"\x1f\x8b not really gzip, stored as is"
    s3.put_object(Bucket=bucket, Key="meta", Body=body, Expires=EXPIRES, Metadata=META, **HEADERS)
    head = s3.head_object(Bucket=bucket, Key="meta")
    _check(head)
    got = s3.get_object(Bucket=bucket, Key="meta")
    _check(got)
    # Content-Encoding is returned, never applied: the body is the stored bytes.
    assert got["Body"].read() == body


def test_metadata_multipart(s3, bucket):
    up = s3.create_multipart_upload(
        Bucket=bucket, Key="mpmeta", Expires=EXPIRES, Metadata=META, **HEADERS
    )["UploadId"]
    p1 = s3.upload_part(Bucket=bucket, Key="mpmeta", UploadId=up, PartNumber=1, Body=b"a" * (5 * MiB))
    p2 = s3.upload_part(Bucket=bucket, Key="mpmeta", UploadId=up, PartNumber=2, Body=b"b")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mpmeta",
        UploadId=up,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]
        },
    )
    _check(s3.head_object(Bucket=bucket, Key="mpmeta"))


def test_user_metadata_case_and_default_content_type(raw, bucket):
    r = raw.request(
        "PUT",
        f"/{bucket}/mixed",
        body=b"hello",
        headers={"X-Amz-Meta-MixedCase": "Value With Case", "x-amz-meta-empty": ""},
    )
    assert r.status == 200, r.describe()
    h = raw.request("HEAD", f"/{bucket}/mixed")
    assert h.status == 200, h.describe()
    # header names are case-insensitive: S3 stores and returns them lower-case
    assert h.header("x-amz-meta-mixedcase") == "Value With Case"
    # no Content-Type given: S3 answers binary/octet-stream (some servers application/octet-stream)
    assert h.header("content-type") in ("binary/octet-stream", "application/octet-stream")
    assert h.header("content-length") == "5"
    assert h.header("etag") == '"5d41402abc4b2a76b9719d911017c592"'
    assert h.header("last-modified", "").endswith(" GMT")


def test_response_header_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ovr", Body=b"x", ContentType="text/plain")
    r = s3.get_object(
        Bucket=bucket,
        Key="ovr",
        ResponseContentType="application/json",
        ResponseContentDisposition="inline",
        ResponseCacheControl="no-cache",
    )
    assert r["ContentType"] == "application/json"
    assert r["ContentDisposition"] == "inline"
    assert r["CacheControl"] == "no-cache"
    assert r["Body"].read() == b"x"
    assert s3.head_object(Bucket=bucket, Key="ovr")["ContentType"] == "text/plain"
