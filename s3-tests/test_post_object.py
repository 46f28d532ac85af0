"""Browser form uploads (POST Object): boto3's generate_presigned_post + `requests.post` with a
file, exactly what a browser form sends. Success answers (204, 200, 201 PostResponse, 303
redirect), ${filename}, metadata fields, streaming of a multi-chunk file, and the errors:
policy conditions, expiration, extra fields, signature, access key, content-length-range,
malformed forms."""

import hashlib
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from conftest import boto_client
from cwtest.data import MiB
from cwtest.util import new_bucket_name

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def s3_error(resp):
    root = ET.fromstring(resp.content)
    return root.findtext("Code"), root.findtext("Message")


def post(presigned, content=b"hello form", filename="hello.txt", extra=None, drop=(), file_field=True, **kw):
    fields = dict(presigned["fields"])
    fields.update(extra or {})
    for name in drop:
        fields.pop(name, None)
    files = {"file": (filename, content, "application/octet-stream")} if file_field else None
    if files is None:
        # requests sends urlencoded without files; force multipart with a dummy-less form
        files = {name: (None, value) for name, value in fields.items()}
        return requests.post(presigned["url"], files=files, timeout=120, **kw)
    return requests.post(presigned["url"], data=fields, files=files, timeout=120, **kw)


def test_post_object_201_with_metadata(s3, bucket):
    p = s3.generate_presigned_post(
        bucket, "uploads/${filename}",
        Fields={"Content-Type": "text/plain", "x-amz-meta-note": "via form", "success_action_status": "201"},
        Conditions=[
            {"Content-Type": "text/plain"},
            {"x-amz-meta-note": "via form"},
            {"success_action_status": "201"},
            ["content-length-range", 1, 1024],
        ],
        ExpiresIn=600,
    )
    body = b"quarterly report"
    r = post(p, body, filename="report.txt")
    assert r.status_code == 201, r.text
    root = ET.fromstring(r.content)
    assert root.tag.endswith("PostResponse")
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    assert root.findtext(f"{NS}Bucket") == bucket
    assert root.findtext(f"{NS}Key") == "uploads/report.txt"
    assert root.findtext(f"{NS}ETag") == etag
    assert root.findtext(f"{NS}Location").endswith(f"/{bucket}/uploads/report.txt")
    assert r.headers["ETag"] == etag
    got = s3.get_object(Bucket=bucket, Key="uploads/report.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"note": "via form"}
    assert got["ETag"] == etag


def test_post_object_default_204_and_200(s3, bucket):
    p = s3.generate_presigned_post(bucket, "plain.bin")
    r = post(p, b"\x00\x01binary\r\n--not-a-boundary\r\n")
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert s3.get_object(Bucket=bucket, Key="plain.bin")["Body"].read() == b"\x00\x01binary\r\n--not-a-boundary\r\n"
    p = s3.generate_presigned_post(bucket, "two.txt", Fields={"success_action_status": "200"},
                                   Conditions=[{"success_action_status": "200"}])
    r = post(p, b"200 please")
    assert r.status_code == 200
    assert s3.get_object(Bucket=bucket, Key="two.txt")["Body"].read() == b"200 please"


def test_post_object_redirect(s3, bucket):
    target = "https://portal.example.nl/done?step=2"
    p = s3.generate_presigned_post(bucket, "r.txt", Fields={"success_action_redirect": target},
                                   Conditions=[{"success_action_redirect": target}])
    r = post(p, b"redirect me", allow_redirects=False)
    assert r.status_code == 303, r.text
    loc = urlparse(r.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == "https://portal.example.nl/done"
    q = parse_qs(loc.query)
    assert q["step"] == ["2"] and q["bucket"] == [bucket] and q["key"] == ["r.txt"]
    assert q["etag"] == [f'"{hashlib.md5(b"redirect me").hexdigest()}"']


def test_post_object_streams_a_large_file(s3, bucket):
    content = hashlib.sha256(b"seed").digest() * ((9 * MiB + 123) // 32 + 1)
    content = content[: 9 * MiB + 123]
    p = s3.generate_presigned_post(bucket, "big.bin", Conditions=[["content-length-range", 0, 10 * MiB]])
    r = post(p, content)
    assert r.status_code == 204, r.text
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(content)
    assert head["ETag"] == f'"{hashlib.md5(content).hexdigest()}"'
    assert hashlib.md5(s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read()).hexdigest() == hashlib.md5(content).hexdigest()


def test_content_length_range(s3, bucket):
    p = s3.generate_presigned_post(bucket, "sized", Conditions=[["content-length-range", 10, 100]])
    r = post(p, b"x" * 101)
    assert r.status_code == 400 and s3_error(r)[0] == "EntityTooLarge", r.text
    r = post(p, b"x" * 9)
    assert r.status_code == 400 and s3_error(r)[0] == "EntityTooSmall", r.text
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert post(p, b"x" * 100).status_code == 204
    assert post(p, b"x" * 10).status_code == 204
    # a larger file than the range is refused while streaming
    p = s3.generate_presigned_post(bucket, "big", Conditions=[["content-length-range", 0, 1 * MiB]])
    r = post(p, b"y" * (6 * MiB))
    assert r.status_code == 400 and s3_error(r)[0] == "EntityTooLarge"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["sized"]


def test_policy_conditions_enforced(s3, bucket):
    p = s3.generate_presigned_post(bucket, "fixed.txt", Fields={"Content-Type": "image/png"},
                                   Conditions=[["starts-with", "$Content-Type", "image/"]])
    assert post(p).status_code == 204
    r = post(p, extra={"key": "other.txt"})
    assert r.status_code == 403
    assert s3_error(r) == ("AccessDenied", 'Invalid according to Policy: Policy Condition failed: ["eq", "$key", "fixed.txt"]')
    r = post(p, extra={"Content-Type": "text/html"})
    assert r.status_code == 403
    assert s3_error(r) == ("AccessDenied", 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", "image/"]')
    # a field the policy does not mention
    r = post(p, extra={"x-amz-meta-sneaky": "1"})
    assert r.status_code == 403
    assert s3_error(r) == ("AccessDenied", "Invalid according to Policy: Extra input fields: x-amz-meta-sneaky")
    # starts-with on the key, with ${filename}
    p = s3.generate_presigned_post(bucket, "inbox/${filename}", Conditions=[["starts-with", "$key", "inbox/"]])
    assert post(p, filename="a.txt").status_code == 204
    r = post(p, extra={"key": "outbox/${filename}"})
    assert r.status_code == 403 and s3_error(r)[0] == "AccessDenied"
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["fixed.txt", "inbox/a.txt"]


def test_expired_policy(s3, bucket):
    p = s3.generate_presigned_post(bucket, "late.txt", ExpiresIn=-60)
    r = post(p)
    assert r.status_code == 403
    assert s3_error(r) == ("AccessDenied", "Invalid according to Policy: Policy expired.")


def test_bad_signature_and_unknown_key(server, s3, bucket):
    p = s3.generate_presigned_post(bucket, "sig.txt")
    sig = p["fields"]["x-amz-signature"]
    tampered = ("0" if sig[0] != "0" else "1") + sig[1:]
    r = post(p, extra={"x-amz-signature": tampered})
    assert r.status_code == 403 and s3_error(r)[0] == "SignatureDoesNotMatch", r.text
    # a policy changed after signing
    import base64, json
    doc = json.loads(base64.b64decode(p["fields"]["policy"]))
    doc["conditions"].append(["starts-with", "$key", ""])
    r = post(p, extra={"policy": base64.b64encode(json.dumps(doc).encode()).decode()})
    assert r.status_code == 403 and s3_error(r)[0] == "SignatureDoesNotMatch"
    stranger = boto_client(server, access_key="AKIDNOTKNOWN00000000", secret_key="x" * 40)
    r = post(stranger.generate_presigned_post(bucket, "sig.txt"))
    assert r.status_code == 403 and s3_error(r)[0] == "InvalidAccessKeyId"
    wrong_secret = boto_client(server, secret_key="y" * 40)
    r = post(wrong_secret.generate_presigned_post(bucket, "sig.txt"))
    assert r.status_code == 403 and s3_error(r)[0] == "SignatureDoesNotMatch"
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_malformed_forms(server, s3, bucket):
    p = s3.generate_presigned_post(bucket, "m.txt")
    r = post(p, file_field=False)
    assert r.status_code == 400 and s3_error(r)[0] == "IncorrectNumberOfFilesInPostRequest", r.text
    r = post(p, drop=("key",))
    assert r.status_code == 400
    assert s3_error(r) == ("InvalidArgument", "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.")
    r = post(p, drop=("policy",))
    assert r.status_code == 403 and s3_error(r)[0] == "AccessDenied"
    r = post(p, drop=("x-amz-signature",))
    assert r.status_code == 400 and s3_error(r)[0] == "InvalidArgument"
    r = post(p, extra={"x-amz-algorithm": "AWS4-HMAC-SHA1"})
    assert r.status_code == 400 and s3_error(r)[0] == "InvalidArgument"
    r = requests.post(f"{server.endpoint}/{bucket}", data=b"key=x", timeout=30,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and s3_error(r)[0] == "MalformedPOSTRequest"
    # a body cut off before the closing boundary
    r = requests.post(f"{server.endpoint}/{bucket}", data=b'--XX\r\nContent-Disposition: form-data; name="key"\r\n\r\nk',
                      headers={"Content-Type": "multipart/form-data; boundary=XX"}, timeout=30)
    assert r.status_code == 400 and s3_error(r)[0] == "MalformedPOSTRequest"
    p = s3.generate_presigned_post(new_bucket_name(), "k")
    r = post(p)
    assert r.status_code == 404 and s3_error(r)[0] == "NoSuchBucket"
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_browser_post_with_cors(s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://portal.example.nl"], "AllowedMethods": ["POST"], "ExposeHeaders": ["ETag"]}]})
    pre = requests.options(f"{s3.meta.endpoint_url}/{bucket}", headers={
        "Origin": "https://portal.example.nl", "Access-Control-Request-Method": "POST"}, timeout=30)
    assert pre.status_code == 200
    assert pre.headers["Access-Control-Allow-Origin"] == "https://portal.example.nl"
    p = s3.generate_presigned_post(bucket, "${filename}")
    r = post(p, b"from the portal", filename="aanvraag.pdf", headers={"Origin": "https://portal.example.nl"})
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "https://portal.example.nl"
    assert r.headers["Access-Control-Expose-Headers"] == "ETag"
    assert s3.get_object(Bucket=bucket, Key="aanvraag.pdf")["Body"].read() == b"from the portal"


def test_post_object_with_tagging_field(s3, bucket):
    tagging = "<Tagging><TagSet><Tag><Key>src</Key><Value>form</Value></Tag></TagSet></Tagging>"
    p = s3.generate_presigned_post(bucket, "t.txt", Fields={"tagging": tagging}, Conditions=[{"tagging": tagging}])
    assert post(p).status_code == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="t.txt")["TagSet"] == [{"Key": "src", "Value": "form"}]


@pytest.mark.destructive
def test_post_object_streams_without_buffering(fresh_server, fresh_s3):
    """A 384 MiB file sent chunked (no Content-Length, as a streaming client may) is stored
    byte-exact while the gateway's peak RSS stays far below the file size."""
    s3 = fresh_s3
    s3.create_bucket(Bucket="stream")
    p = s3.generate_presigned_post("stream", "big.bin")
    boundary = "----cwstreamtest"
    block = hashlib.sha256(b"stream").digest() * 32768  # 1 MiB
    blocks = 384
    sent = hashlib.md5()

    def body():
        for k, v in p["fields"].items():
            yield f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        yield f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'.encode()
        for _ in range(blocks):
            sent.update(block)
            yield block
        yield f"\r\n--{boundary}--\r\n".encode()

    r = requests.post(p["url"], data=body(), timeout=600,
                      headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 204, r.text
    assert r.headers["ETag"] == f'"{sent.hexdigest()}"'
    assert s3.head_object(Bucket="stream", Key="big.bin")["ContentLength"] == blocks * MiB
    hwm_kib = fresh_server.proc_status()["VmHWM"]
    assert hwm_kib * 1024 < 200 * MiB, f"peak RSS {hwm_kib} KiB for a {blocks} MiB form upload"
