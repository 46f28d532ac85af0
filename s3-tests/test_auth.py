"""SigV4: no anonymous access, wrong secret, unknown key, clock skew, tampering, and the payload
modes UNSIGNED-PAYLOAD, signed SHA-256, STREAMING-AWS4-HMAC-SHA256-PAYLOAD and
STREAMING-UNSIGNED-PAYLOAD-TRAILER (with x-amz-checksum-* trailers)."""

import datetime as dt
import hashlib
import re
import time

import pytest
import requests
from botocore.exceptions import ClientError

from cwtest import data
from cwtest.checksums import ALGORITHMS, checksum_b64
from cwtest.gateway import ACCESS_KEY, SECRET_KEY
from cwtest.sigv4 import Signer
from conftest import boto_client

BODY = data.content("auth-body", 200_000)


def _assert_absent(raw, bucket, key):
    h = raw.request("HEAD", f"/{bucket}/{key}")
    assert h.status == 404, f"object {key} must not exist after a rejected PUT: {h.describe()}"


# --- who may talk -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path_fmt",
    [("GET", "/"), ("GET", "/{b}"), ("PUT", "/{b}/anon"), ("GET", "/{b}/k"), ("HEAD", "/{b}/k")],
)
def test_anonymous_denied(raw, s3, bucket, method, path_fmt):
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret")
    r = raw.request(method, path_fmt.format(b=bucket), sign=False, body=b"x" if method == "PUT" else b"")
    assert r.status == 403, r.describe()
    if method != "HEAD":
        assert r.code == "AccessDenied", r.describe()
    else:
        assert r.body == b""
    if method == "PUT":
        _assert_absent(raw, bucket, "anon")


def test_wrong_secret(raw, bucket):
    bad = Signer(ACCESS_KEY, SECRET_KEY[:-1] + "X")
    r = raw.request("GET", f"/{bucket}", signer=bad)
    assert r.status == 403, r.describe()
    assert r.code == "SignatureDoesNotMatch", r.describe()
    r = raw.request("PUT", f"/{bucket}/ws", body=b"x", signer=bad)
    assert r.code == "SignatureDoesNotMatch", r.describe()
    _assert_absent(raw, bucket, "ws")


def test_unknown_access_key(raw, bucket):
    r = raw.request("GET", f"/{bucket}", signer=Signer("AKIDUNKNOWN000000000", SECRET_KEY))
    assert r.status == 403, r.describe()
    assert r.code == "InvalidAccessKeyId", r.describe()


def test_boto3_wrong_secret_and_key(server, bucket):
    from botocore.exceptions import ClientError

    c = boto_client(server, secret_key="wrong-secret")
    with pytest.raises(ClientError) as e:
        c.list_objects_v2(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    c = boto_client(server, access_key="AKIDUNKNOWN000000000")
    with pytest.raises(ClientError) as e:
        c.list_buckets()
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"


@pytest.mark.parametrize("minutes", [-16, 16, -60 * 24])
def test_clock_skew(raw, bucket, minutes):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    r = raw.request("GET", f"/{bucket}", when=when)
    assert r.status == 403, r.describe()
    assert r.code == "RequestTimeTooSkewed", r.describe()


@pytest.mark.parametrize("minutes", [-10, 10])
def test_clock_within_window(raw, bucket, minutes):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    r = raw.request("GET", f"/{bucket}", query=[("list-type", "2")], when=when)
    assert r.status == 200, r.describe()


def test_tampered_header(raw, bucket):
    def tamper(h):
        h = dict(h)
        h["x-amz-meta-who"] = "mallory"
        return h

    r = raw.request(
        "PUT", f"/{bucket}/tamper", body=b"x", headers={"x-amz-meta-who": "alice"}, tamper=tamper
    )
    assert r.status == 403, r.describe()
    assert r.code == "SignatureDoesNotMatch", r.describe()
    _assert_absent(raw, bucket, "tamper")


def test_tampered_path(raw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="one", Body=b"1")
    s3.put_object(Bucket=bucket, Key="two", Body=b"2")
    req = raw.signer.sign(
        "GET",
        f"/{bucket}/one",
        [],
        {"Host": f"{raw.host}:{raw.port}"},
        hashlib.sha256(b"").hexdigest(),
        dt.datetime.now(dt.timezone.utc),
    )[0]
    from cwtest.sigv4 import send

    r = send(raw.host, raw.port, "GET", f"/{bucket}/two", [], req, b"")
    assert r.status == 403, r.describe()
    assert r.code == "SignatureDoesNotMatch", r.describe()


def test_malformed_authorization(raw, bucket):
    r = raw.request(
        "GET",
        f"/{bucket}",
        tamper=lambda h: {**h, "Authorization": "AWS4-HMAC-SHA256 garbage"},
    )
    assert r.status in (400, 403), r.describe()
    assert r.code in ("AuthorizationHeaderMalformed", "AccessDenied", "InvalidArgument"), r.describe()


# --- payload modes ----------------------------------------------------------------------------


def test_unsigned_payload(raw, bucket):
    r = raw.request("PUT", f"/{bucket}/unsigned", body=BODY, payload="unsigned")
    assert r.status == 200, r.describe()
    assert r.header("etag") == f'"{hashlib.md5(BODY).hexdigest()}"'
    g = raw.request("GET", f"/{bucket}/unsigned")
    assert g.body == BODY


def test_signed_sha256_payload(raw, bucket):
    r = raw.request("PUT", f"/{bucket}/signed", body=BODY, payload="signed")
    assert r.status == 200, r.describe()
    assert raw.request("GET", f"/{bucket}/signed").body == BODY


def test_signed_sha256_payload_mismatch(raw, bucket):
    wrong = hashlib.sha256(BODY + b"x").hexdigest()
    r = raw.request("PUT", f"/{bucket}/signed-bad", body=BODY, payload=wrong)
    assert r.status in (400, 403), r.describe()
    assert r.code in ("XAmzContentSHA256Mismatch", "BadDigest"), r.describe()
    _assert_absent(raw, bucket, "signed-bad")


def test_signed_body_tampered_in_flight(raw, bucket):
    # The signature covers the payload hash; a body that doesn't match it is rejected.
    tampered = bytearray(BODY)
    tampered[1000] ^= 0xFF
    h = dict(Host=f"{raw.host}:{raw.port}", **{"Content-Length": str(len(BODY))})
    h, _ = raw.signer.sign(
        "PUT", f"/{bucket}/flight", [], h, hashlib.sha256(BODY).hexdigest(),
        dt.datetime.now(dt.timezone.utc),
    )
    from cwtest.sigv4 import send

    r = send(raw.host, raw.port, "PUT", f"/{bucket}/flight", [], h, bytes(tampered))
    assert r.status in (400, 403), r.describe()
    assert r.code in ("XAmzContentSHA256Mismatch", "BadDigest"), r.describe()
    _assert_absent(raw, bucket, "flight")


@pytest.mark.parametrize("chunk_size", [8 * 1024, 64 * 1024, 1024 * 1024])
def test_streaming_signed_payload(raw, bucket, chunk_size):
    key = f"stream-{chunk_size}"
    r = raw.put_aws_chunked_signed(
        f"/{bucket}/{key}", BODY, chunk_size=chunk_size, headers={"Content-Type": "text/x-test"}
    )
    assert r.status == 200, r.describe()
    assert r.header("etag") == f'"{hashlib.md5(BODY).hexdigest()}"'
    g = raw.request("GET", f"/{bucket}/{key}")
    assert g.body == BODY
    # aws-chunked is a transfer detail: it must not be stored as the object's Content-Encoding
    assert "aws-chunked" not in (g.header("content-encoding") or "")
    assert g.header("content-type") == "text/x-test"
    assert g.header("content-length") == str(len(BODY))


def test_streaming_signed_payload_keeps_other_content_encoding(raw, bucket):
    # "aws-chunked,gzip": the transfer coding goes, the object's own coding stays
    r = raw.put_aws_chunked_signed(
        f"/{bucket}/stream-gz", BODY, headers={"Content-Encoding": "aws-chunked,gzip"}
    )
    assert r.status == 200, r.describe()
    g = raw.request("GET", f"/{bucket}/stream-gz")
    assert g.body == BODY
    assert g.header("content-encoding") == "gzip", g.headers


def test_streaming_signed_payload_empty(raw, bucket):
    r = raw.put_aws_chunked_signed(f"/{bucket}/stream-empty", b"")
    assert r.status == 200, r.describe()
    g = raw.request("GET", f"/{bucket}/stream-empty")
    assert g.status == 200 and g.body == b""


def test_streaming_signed_payload_tampered_chunk(raw, bucket):
    r = raw.put_aws_chunked_signed(f"/{bucket}/stream-bad", BODY, chunk_size=64 * 1024, corrupt_chunk=1)
    assert r.status == 403, r.describe()
    assert r.code == "SignatureDoesNotMatch", r.describe()
    _assert_absent(raw, bucket, "stream-bad")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_streaming_unsigned_trailer(raw, bucket, algorithm):
    key = f"trailer-{algorithm}"
    value = checksum_b64(algorithm, BODY)
    r = raw.put_aws_chunked_unsigned_trailer(
        f"/{bucket}/{key}", BODY, {f"x-amz-checksum-{algorithm}": value}
    )
    assert r.status == 200, r.describe()
    assert r.header("etag") == f'"{hashlib.md5(BODY).hexdigest()}"'
    g = raw.request("GET", f"/{bucket}/{key}", headers={"x-amz-checksum-mode": "ENABLED"})
    assert g.body == BODY
    assert g.header(f"x-amz-checksum-{algorithm}") == value, g.headers
    assert "aws-chunked" not in (g.header("content-encoding") or "")


@pytest.mark.parametrize("algorithm", ["crc32", "crc64nvme", "sha256"])
def test_streaming_unsigned_trailer_wrong_checksum(raw, bucket, algorithm):
    key = f"trailer-bad-{algorithm}"
    value = checksum_b64(algorithm, BODY[:-1])
    r = raw.put_aws_chunked_unsigned_trailer(
        f"/{bucket}/{key}", BODY, {f"x-amz-checksum-{algorithm}": value}
    )
    assert r.status == 400, r.describe()
    assert r.code == "BadDigest", r.describe()
    _assert_absent(raw, bucket, key)


def test_streaming_unsigned_trailer_upload_part(raw, s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp-trailer")["UploadId"]
    value = checksum_b64("crc32", BODY)
    path = f"/{bucket}/mp-trailer"
    # put_aws_chunked_unsigned_trailer builds the path without query: sign with query by hand
    import cwtest.sigv4 as sv

    body = bytearray()
    for i in range(0, len(BODY), 65536):
        p = BODY[i : i + 65536]
        body += f"{len(p):x}\r\n".encode() + p + b"\r\n"
    body += f"0\r\nx-amz-checksum-crc32:{value}\r\n\r\n".encode()
    q = [("partNumber", "1"), ("uploadId", up)]
    h = {
        "Host": f"{raw.host}:{raw.port}",
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(BODY)),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "Content-Length": str(len(body)),
    }
    h, _ = raw.signer.sign("PUT", path, q, h, sv.STREAMING_UNSIGNED_TRAILER, dt.datetime.now(dt.timezone.utc))
    r = sv.send(raw.host, raw.port, "PUT", path, q, h, bytes(body))
    assert r.status == 200, r.describe()
    assert r.header("etag") == f'"{hashlib.md5(BODY).hexdigest()}"'
    parts = s3.list_parts(Bucket=bucket, Key="mp-trailer", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, len(BODY))]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp-trailer",
        UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r.header("etag")}]},
    )
    assert s3.get_object(Bucket=bucket, Key="mp-trailer")["Body"].read() == BODY


# --- presigned URLs ---------------------------------------------------------------------------


def test_presigned_get_and_put(s3, bucket):
    s3.put_object(Bucket=bucket, Key="pre", Body=b"presigned content")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre"}, ExpiresIn=300)
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == b"presigned content"
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "pre-put"}, ExpiresIn=300
    )
    r = requests.put(put_url, data=b"uploaded via presigned url", timeout=30)
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=bucket, Key="pre-put")["Body"].read() == b"uploaded via presigned url"


def test_presigned_expired_and_tampered(s3, bucket):
    s3.put_object(Bucket=bucket, Key="pre2", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre2"}, ExpiresIn=1)
    time.sleep(2.5)
    r = requests.get(url, timeout=30)
    assert r.status_code == 403, r.text
    assert "<Code>AccessDenied</Code>" in r.text
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre2"}, ExpiresIn=300)
    r = requests.get(url.replace("/pre2?", "/pre3?"), timeout=30)
    assert r.status_code == 403, r.text
    assert "<Code>SignatureDoesNotMatch</Code>" in r.text


def _presign(s3, method, bucket, key, expires=300, **params):
    return s3.generate_presigned_url(
        method, Params={"Bucket": bucket, "Key": key, **params}, ExpiresIn=expires
    )


def _code(r) -> str | None:
    m = re.search(r"<Code>([^<]+)</Code>", r.text)
    return m.group(1) if m else None


def test_presigned_head(s3, bucket):
    body = data.content("presigned-head", 12_345)
    s3.put_object(Bucket=bucket, Key="ph", Body=body, ContentType="text/x-ph", Metadata={"k": "v"})
    r = requests.head(_presign(s3, "head_object", bucket, "ph"), timeout=30)
    assert r.status_code == 200, r.headers
    assert r.headers["Content-Length"] == str(len(body))
    assert r.headers["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert r.headers["Content-Type"] == "text/x-ph"
    assert r.headers["x-amz-meta-k"] == "v"
    assert r.content == b""
    # a presigned HEAD of a missing key: 404, no body
    r = requests.head(_presign(s3, "head_object", bucket, "ph-missing"), timeout=30)
    assert r.status_code == 404 and r.content == b""
    # the HEAD URL is for HEAD only: as a GET it no longer matches its signature
    r = requests.get(_presign(s3, "head_object", bucket, "ph"), timeout=30)
    assert r.status_code == 403 and _code(r) == "SignatureDoesNotMatch", r.text


@pytest.mark.parametrize("expires", [60, 3600, 604800])
def test_presigned_expiry_up_to_a_week(s3, bucket, expires):
    s3.put_object(Bucket=bucket, Key="pe", Body=b"valid for a while")
    url = _presign(s3, "get_object", bucket, "pe", expires)
    assert f"X-Amz-Expires={expires}&" in url or url.endswith(f"X-Amz-Expires={expires}")
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    assert r.content == b"valid for a while"
    put = _presign(s3, "put_object", bucket, f"pe-put-{expires}", expires)
    r = requests.put(put, data=b"put within the week", timeout=30)
    assert r.status_code == 200, r.text
    got = s3.get_object(Bucket=bucket, Key=f"pe-put-{expires}")["Body"].read()
    assert got == b"put within the week"


@pytest.mark.parametrize("expires", [604801, 10 * 604800])
def test_presigned_expiry_over_a_week_refused(s3, bucket, expires):
    s3.put_object(Bucket=bucket, Key="pw", Body=b"x")
    r = requests.get(_presign(s3, "get_object", bucket, "pw", expires), timeout=30)
    assert r.status_code == 400, r.text
    assert "X-Amz-Expires must be less than a week" in r.text, r.text
    r = requests.put(_presign(s3, "put_object", bucket, "pw-put", expires), data=b"no", timeout=30)
    assert r.status_code == 400, r.text
    r = requests.head(_presign(s3, "head_object", bucket, "pw", expires), timeout=30)
    assert r.status_code == 400 and r.content == b""
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="pw-put")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_presigned_expiry_over_a_week_error_code(s3, bucket):
    s3.put_object(Bucket=bucket, Key="pw", Body=b"x")
    r = requests.get(_presign(s3, "get_object", bucket, "pw", 604801), timeout=30)
    assert r.status_code == 400, r.text
    assert _code(r) == "AuthorizationQueryParametersError", r.text
    r = requests.put(_presign(s3, "put_object", bucket, "pw-put", 604801), data=b"no", timeout=30)
    assert r.status_code == 400, r.text
    assert _code(r) == "AuthorizationQueryParametersError", r.text


def test_presigned_expired_put_and_head(s3, bucket):
    s3.put_object(Bucket=bucket, Key="px", Body=b"x")
    put = _presign(s3, "put_object", bucket, "px-put", 1)
    head = _presign(s3, "head_object", bucket, "px", 1)
    time.sleep(2.5)
    r = requests.put(put, data=b"too late", timeout=30)
    assert r.status_code == 403 and _code(r) == "AccessDenied", r.text
    r = requests.head(head, timeout=30)
    assert r.status_code == 403 and r.content == b""
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="px-put")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def _flip_signature(url: str) -> str:
    m = re.search(r"X-Amz-Signature=([0-9a-f]{64})", url)
    sig = m.group(1)
    bad = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    return url.replace(sig, bad)


def _one_second_later(m) -> str:
    t = dt.datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ") + dt.timedelta(seconds=1)
    if t.strftime("%Y%m%d") != m.group(1)[:8]:  # keep the credential scope's date
        t -= dt.timedelta(seconds=2)
    return "X-Amz-Date=" + t.strftime("%Y%m%dT%H%M%SZ")


def test_presigned_tampered(s3, bucket):
    s3.put_object(Bucket=bucket, Key="pt", Body=b"tamper target")
    s3.put_object(Bucket=bucket, Key="pt-other", Body=b"other object")
    url = _presign(s3, "get_object", bucket, "pt")
    assert requests.get(url, timeout=30).content == b"tamper target"
    tampered = {
        "signature": _flip_signature(url),
        "path (other key)": url.replace("/pt?", "/pt-other?"),
        "path (other bucket)": url.replace(f"/{bucket}/", f"/{bucket}x/"),
        "query (expiry raised)": url.replace("X-Amz-Expires=300", "X-Amz-Expires=3000"),
        "query (parameter added)": url + "&response-content-type=text%2Fevil",
        # one second later: still within the validity window, but not what was signed
        "query (date moved)": re.sub(r"X-Amz-Date=(\d{8}T\d{6}Z)", _one_second_later, url),
    }
    assert all(t != url for t in tampered.values())
    for what, t in tampered.items():
        r = requests.get(t, timeout=30)
        assert r.status_code == 403, (what, r.status_code, r.text)
        assert _code(r) == "SignatureDoesNotMatch", (what, r.text)
    # the GET URL used for a PUT (method is signed): refused, nothing written
    r = requests.put(url, data=b"overwrite attempt", timeout=30)
    assert r.status_code == 403 and _code(r) == "SignatureDoesNotMatch", r.text
    assert s3.get_object(Bucket=bucket, Key="pt")["Body"].read() == b"tamper target"
    # a PUT URL for one key used for another: refused, nothing stored
    put = _presign(s3, "put_object", bucket, "pt-new")
    r = requests.put(put.replace("/pt-new?", "/pt-new2?"), data=b"elsewhere", timeout=30)
    assert r.status_code == 403 and _code(r) == "SignatureDoesNotMatch", r.text
    r = requests.put(_flip_signature(put), data=b"elsewhere", timeout=30)
    assert r.status_code == 403 and _code(r) == "SignatureDoesNotMatch", r.text
    for key in ("pt-new", "pt-new2"):
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=bucket, Key=key)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
