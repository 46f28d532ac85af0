"""Error shape and protocol hygiene: XML errors with Code, Message, Resource, RequestId;
x-amz-request-id on every response; HEAD errors carry no body; unsupported operations answer
501 NotImplemented; the startup log line."""

import re

import pytest


def test_listening_line(server):
    assert f"listening on http://127.0.0.1:{server.port}" in server.log()


def test_error_xml_shape(raw, bucket):
    r = raw.request("GET", f"/{bucket}/no/such/key")
    assert r.status == 404, r.describe()
    assert r.header("content-type", "").startswith(("application/xml", "text/xml"))
    root = r.xml()
    assert root.tag == "Error"
    assert r.find("Code") == "NoSuchKey"
    assert r.find("Message")
    assert r.find("Resource") in (f"/{bucket}/no/such/key", "no/such/key")
    request_id = r.find("RequestId")
    assert request_id
    assert r.header("x-amz-request-id") == request_id


def test_request_ids_are_unique(raw, bucket):
    ids = {raw.request("GET", f"/{bucket}/missing").header("x-amz-request-id") for _ in range(5)}
    assert None not in ids
    assert len(ids) == 5


@pytest.mark.parametrize(
    "method,path,query,body",
    [
        ("GET", "/", [], b""),  # ListBuckets
        ("GET", "/{b}", [("list-type", "2")], b""),
        ("HEAD", "/{b}", [], b""),
        ("PUT", "/{b}/rid", [], b"abc"),
        ("GET", "/{b}/rid", [], b""),
        ("HEAD", "/{b}/rid", [], b""),
        ("DELETE", "/{b}/rid", [], b""),
        ("GET", "/{b}/missing", [], b""),  # error
        ("HEAD", "/{b}/missing", [], b""),  # error, HEAD
        ("GET", "/{b}", [("website", "")], b""),  # not implemented
    ],
)
def test_request_id_on_every_response(raw, bucket, method, path, query, body):
    r = raw.request(method, path.format(b=bucket), query=query, body=body)
    assert r.header("x-amz-request-id"), r.describe()
    if method == "HEAD":
        assert r.body == b""


def test_head_errors_have_no_body(raw, bucket):
    for path in (f"/{bucket}/missing", "/cw-bucket-does-not-exist-000"):
        r = raw.request("HEAD", path)
        assert r.status == 404, r.describe()
        assert r.body == b""
    r = raw.request("HEAD", f"/{bucket}/x", sign=False)
    assert r.status == 403 and r.body == b"", r.describe()


@pytest.mark.parametrize(
    "method,query",
    [
        ("GET", "website"),
        ("PUT", "website"),
        ("GET", "replication"),
        ("GET", "analytics"),
    ],
)
def test_unsupported_bucket_operation(raw, bucket, method, query):
    body = b"<WebsiteConfiguration/>" if method == "PUT" else b""
    r = raw.request(method, f"/{bucket}", query=[(query, "")], body=body)
    assert r.status == 501, r.describe()
    assert r.code == "NotImplemented", r.describe()
    assert r.header("x-amz-request-id")


def test_unsupported_object_operation(raw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="o", Body=b"o")
    r = raw.request("POST", f"/{bucket}/o", query=[("select", ""), ("select-type", "2")], body=b"<x/>")
    assert r.status == 501, r.describe()
    assert r.code == "NotImplemented", r.describe()


def test_method_not_allowed_or_not_implemented(raw, bucket):
    r = raw.request("PATCH", f"/{bucket}/o", body=b"x")
    assert r.status in (405, 501), r.describe()
    assert r.code in ("MethodNotAllowed", "NotImplemented"), r.describe()


def test_no_server_internals_in_errors(raw, bucket):
    r = raw.request("GET", f"/{bucket}/missing")
    text = r.body.decode(errors="replace")
    assert not re.search(r"(/work/|/tmp/|src/|panicked|\.rs:\d+)", text), text
