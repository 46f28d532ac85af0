"""AWS SDK for JavaScript v3 (@aws-sdk/client-s3, lib-storage, s3-request-presigner) against the
gateway: js/scenario.mjs runs one scenario per call under Node.js and prints JSON; these tests
assert on it and cross-check what was stored with boto3.

Needs `node` >= 20 (what the current SDK packages declare) on PATH and s3-tests/js/node_modules
(run-all.sh runs `npm ci` there). Without them the tests are skipped, or fail when CI=true."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from cwtest import data
from cwtest.checksums import checksum_b64
from cwtest.data import MiB
from cwtest.gateway import ACCESS_KEY, REGION, SECRET_KEY
from cwtest.util import new_bucket_name

JS_DIR = Path(__file__).resolve().parent / "js"


def _node_problem() -> str | None:
    node = shutil.which("node")
    if not node:
        return "node (Node.js >= 20) is not on PATH"
    v = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    m = re.match(r"v(\d+)\.", v)
    if not m or int(m.group(1)) < 20:
        return f"node {v!r} is older than 20 (the AWS SDK packages need >= 20)"
    if not (JS_DIR / "node_modules" / "@aws-sdk" / "client-s3").is_dir():
        return "s3-tests/js/node_modules is missing: run `npm ci` in s3-tests/js (run-all.sh does)"
    return None


@pytest.fixture(scope="module")
def node():
    problem = _node_problem()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the JS SDK tests cannot run: {problem}")
        pytest.skip(problem)
    return shutil.which("node")


class Js:
    def __init__(self, node: str, gw, bucket: str):
        self.node = node
        self.gw = gw
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CW_"))}
        self.env.update(
            CW_ENDPOINT=gw.endpoint,
            CW_ACCESS_KEY=ACCESS_KEY,
            CW_SECRET_KEY=SECRET_KEY,
            CW_REGION=REGION,
            CW_BUCKET=bucket,
            # no shared config/credentials files, no IMDS: only what scenario.mjs passes
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
        )

    def run(self, scenario: str, timeout=300, **inputs) -> dict:
        env = dict(self.env)
        env.update({f"CW_{k.upper()}": str(v) for k, v in inputs.items()})
        p = subprocess.run(
            [self.node, "scenario.mjs", scenario],
            cwd=JS_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        lines = p.stdout.strip().splitlines()
        if p.returncode != 0 or not lines:
            raise AssertionError(
                f"node scenario.mjs {scenario} exited {p.returncode}\nstdout: {p.stdout[-4000:]}"
                f"\nstderr: {p.stderr[-3000:]}\n--- gateway log tail ---\n{self.gw.log_tail(30)}"
            )
        return json.loads(lines[-1])


@pytest.fixture
def js(node, server, bucket):
    return Js(node, server, bucket)


def _lower(headers: dict) -> dict:
    return {k.lower(): v for k, v in headers.items()}


def test_js_put_get_default_crc32(js, s3, bucket, tmp_path):
    size = 3 * MiB + 17
    src = tmp_path / "in.bin"
    md5 = data.write_file(src, "js-put-get", size)
    body = src.read_bytes()
    crc = checksum_b64("crc32", body)
    out = js.run("put-get", file_in=src, file_out=tmp_path / "out")

    # a Buffer body: the SDK's default CRC32 as a signed header
    h = _lower(out["put_buffer"]["request_headers"])
    assert h.get("x-amz-checksum-crc32") == crc, h
    assert h.get("x-amz-sdk-checksum-algorithm") == "CRC32", h
    # a file stream: sent aws-chunked (STREAMING-UNSIGNED-PAYLOAD-TRAILER), the CRC32 as trailer
    h = _lower(out["put_stream"]["request_headers"])
    assert h.get("x-amz-trailer") == "x-amz-checksum-crc32", h
    assert h.get("x-amz-decoded-content-length") == str(size), h
    assert "aws-chunked" in h.get("content-encoding", ""), h
    for which in ("put_buffer", "put_stream"):
        # the gateway's answer: MD5 ETag and the CRC32 it verified
        assert out[which]["ETag"] == f'"{md5}"', out[which]
        assert out[which]["ChecksumCRC32"] == crc, out[which]

    for key in ("buffer.bin", "stream.bin"):
        got = out[f"get_{key}"]
        assert got["length"] == size and got["ContentLength"] == size, got
        assert got["md5"] == md5 and got["ETag"] == f'"{md5}"', got
        assert got["ChecksumCRC32"] == crc, got
        assert (tmp_path / f"out.{key}").read_bytes() == body
        # what boto3 reads is what the JS SDK wrote
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body


def test_js_head_metadata_and_content_type(js, s3, bucket):
    out = js.run("head")
    head = out["head"]
    assert head["status"] == 200
    assert head["ContentType"] == "application/json; charset=utf-8"
    assert head["ContentLength"] == len(b'{"hello":"js"}')
    assert head["ETag"] == '"' + hashlib.md5(b'{"hello":"js"}').hexdigest() + '"'
    assert head["CacheControl"] == "no-cache"
    assert head["ContentDisposition"] == 'inline; filename="meta.json"'
    assert head["ContentLanguage"] == "de-CH"
    assert head["LastModified"]
    assert head["Metadata"]["colour"] == "green"
    assert head["Metadata"]["multi-word"] == "a b c"
    assert out["get"]["body"] == '{"hello":"js"}'
    assert out["get"]["ContentType"] == "application/json; charset=utf-8"
    assert out["get"]["Metadata"]["colour"] == "green"
    # boto3 sees the same
    b = s3.head_object(Bucket=bucket, Key="meta.json")
    assert b["ContentType"] == "application/json; charset=utf-8"
    assert b["Metadata"]["colour"] == "green" and b["Metadata"]["multi-word"] == "a b c"


def test_js_list_prefix_delimiter_pagination(js, s3, bucket):
    keys = ["a.txt", "docs/1", "docs/2", "docs/3", "docs/4", "docs/5", "docs/sub/x", "img/p.png"]
    for i, k in enumerate(keys):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x" * i)
    out = js.run("list")
    assert out["top"]["keys"] == ["a.txt"]
    assert out["top"]["prefixes"] == ["docs/", "img/"]
    assert out["top"]["KeyCount"] == 3 and out["top"]["IsTruncated"] is False
    assert out["docs"]["keys"] == ["docs/1", "docs/2", "docs/3", "docs/4", "docs/5"]
    assert out["docs"]["sizes"] == [1, 2, 3, 4, 5]
    assert out["docs"]["prefixes"] == ["docs/sub/"]
    pages = out["pages"]
    assert [p["keys"] for p in pages] == [
        ["docs/1", "docs/2"],
        ["docs/3", "docs/4"],
        ["docs/5", "docs/sub/x"],
    ], pages
    assert [p["IsTruncated"] for p in pages] == [True, True, False]
    assert [p["hasToken"] for p in pages] == [True, True, False]
    assert [p["KeyCount"] for p in pages] == [2, 2, 2]


def test_js_delete_objects(js, s3, bucket):
    for k in ["d1", "d2", "dir/d3", "keep", "quiet-1", "quiet-2"]:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    out = js.run("delete-objects", keys=json.dumps(["d1", "d2", "dir/d3", "never-existed"]))
    # deleting a missing key is a success in S3
    assert out["deleted"] == ["d1", "d2", "dir/d3", "never-existed"], out
    assert out["errors"] == [] and out["quiet_errors"] == [] and out["quiet_deleted"] == []
    assert out["remaining"] == ["keep"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["keep"]
    # DeleteObjects requires an integrity header; the SDK sends a flexible checksum (or MD5)
    h = _lower(out["request_headers"])
    assert any(k.startswith("x-amz-checksum-") or k == "content-md5" for k in h), h


UPLOAD_SIZE = 12 * MiB + 123
PART = 5 * MiB


def _upload_source(tmp_path):
    src = tmp_path / "in.bin"
    md5 = data.write_file(src, "js-upload", UPLOAD_SIZE)
    body = src.read_bytes()
    parts = [body[i : i + PART] for i in range(0, UPLOAD_SIZE, PART)]
    assert len(parts) == 3
    return src, md5, body, parts


def test_js_lib_storage_multipart_upload(js, s3, bucket, tmp_path):
    src, md5, body, parts = _upload_source(tmp_path)
    size = UPLOAD_SIZE
    part_md5s = [hashlib.md5(p).digest() for p in parts]
    out = js.run("upload", file_in=src, file_out=tmp_path / "out.bin")

    assert "CreateMultipartUploadCommand" in out["commands"], out["commands"]
    assert "CompleteMultipartUploadCommand" in out["commands"], out["commands"]
    # by default (requestChecksumCalculation WHEN_SUPPORTED) the SDK asks for CRC32 checksums
    # on CreateMultipartUpload too, without ChecksumAlgorithm in the Upload's params
    create = _lower(out["create_headers"])
    assert create.get("x-amz-checksum-algorithm") == "CRC32", create
    # the SDK's default flexible checksum on every part (parts go out two at a time)
    part_crcs = sorted(_lower(h).get("x-amz-checksum-crc32") for h in out["upload_part_headers"])
    assert part_crcs == sorted(checksum_b64("crc32", p) for p in parts), part_crcs
    assert out["result"]["ETag"] == data.multipart_etag(part_md5s), out["result"]
    assert out["get"]["md5"] == md5
    assert out["get"]["ContentLength"] == size
    assert out["get"]["ContentType"] == "application/x-cw-upload"
    assert out["get"]["Metadata"] == {"via": "lib-storage"}
    assert data.file_md5(tmp_path / "out.bin") == md5
    got = s3.get_object(Bucket=bucket, Key=out["result"]["Key"])
    assert got["ETag"] == data.multipart_etag(part_md5s)
    assert hashlib.md5(got["Body"].read()).hexdigest() == md5
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_js_presigned_urls(js, s3, bucket, tmp_path):
    content = data.content("js-presign", 70_000)
    s3.put_object(Bucket=bucket, Key="pre.bin", Body=content)
    put_body = b"uploaded with a presigned URL from the JS SDK\n"
    src = tmp_path / "put.txt"
    src.write_bytes(put_body)
    out = js.run("presign", key="pre.bin", file_in=src)

    assert "X-Amz-Signature=" in out["get"]["url"] and "X-Amz-Expires=300" in out["get"]["url"]
    assert out["get"]["status"] == 200, out["get"]
    assert out["get"]["md5"] == hashlib.md5(content).hexdigest()
    assert out["get"]["length"] == len(content)

    assert out["head"]["status"] == 200, out["head"]
    assert out["head"]["contentLength"] == str(len(content))
    assert out["head"]["etag"] == '"' + hashlib.md5(content).hexdigest() + '"'

    # The default client signs x-amz-checksum-crc32=AAAAAA== (CRC32 of the empty body it had
    # at signing time) and x-amz-sdk-checksum-algorithm into the PUT URL. AWS documents that
    # presigned uploads don't support these checksums (they are not checked against the body;
    # LocalStack and MinIO do the same), so the upload of a real body must work.
    assert "x-amz-checksum-crc32=AAAAAA%3D%3D" in out["put"]["url"], out["put"]["url"]
    assert out["put"]["status"] == 200, out["put"]
    assert out["put"]["etag"] == '"' + hashlib.md5(put_body).hexdigest() + '"'
    got = s3.get_object(Bucket=bucket, Key="pre.bin.put")
    assert got["Body"].read() == put_body
    assert got["ContentType"] == "text/x-presigned"
    # requestChecksumCalculation WHEN_REQUIRED: no checksum in the URL
    assert "x-amz-checksum" not in out["put_when_required"]["url"], out["put_when_required"]["url"]
    assert out["put_when_required"]["status"] == 200, out["put_when_required"]
    assert s3.get_object(Bucket=bucket, Key="pre.bin.put2")["Body"].read() == put_body

    assert out["expired"]["status"] == 403, out["expired"]
    assert "<Code>AccessDenied</Code>" in out["expired"]["body"], out["expired"]
    for which in ("tampered_signature", "tampered_path"):
        assert out[which]["status"] == 403, (which, out[which])
        assert "<Code>SignatureDoesNotMatch</Code>" in out[which]["body"], (which, out[which])


def test_js_error_names(js, s3, bucket):
    s3.put_object(Bucket=bucket, Key="keeps-bucket-busy", Body=b"x")
    out = js.run("errors", missing_bucket=new_bucket_name("js-missing"))
    expect = {
        "get_missing_key": ("NoSuchKey", 404),
        "get_missing_bucket": ("NoSuchBucket", 404),
        # HEAD responses have no body: the SDK names the error after the status
        "head_missing_key": ("NotFound", 404),
        "list_missing_bucket": ("NoSuchBucket", 404),
        "put_missing_bucket": ("NoSuchBucket", 404),
        "delete_nonempty_bucket": ("BucketNotEmpty", 409),
        "wrong_secret": ("SignatureDoesNotMatch", 403),
    }
    got = {k: (v["name"], v["status"]) for k, v in out.items()}
    assert got == expect, out


def test_js_lib_storage_upload_composite_checksum(js, tmp_path):
    """The SDK's default multipart upload (x-amz-checksum-algorithm: CRC32 on
    CreateMultipartUpload, a CRC32 on every part and in CompleteMultipartUpload's part list):
    S3 answers Complete with the composite CRC32 and returns it on HEAD/GET with checksum mode."""
    src, md5, body, parts = _upload_source(tmp_path)
    out = js.run("upload", file_in=src, file_out=tmp_path / "out.bin")
    assert out["get"]["md5"] == md5
    # S3's composite checksum: CRC32 over the parts' big-endian CRC32 digests, then "-<parts>"
    digests = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
    composite = checksum_b64("crc32", digests) + "-3"
    assert out["result"]["ChecksumCRC32"] == composite, out["result"]
    assert out["result"]["ChecksumType"] == "COMPOSITE", out["result"]
    assert out["head"]["ChecksumCRC32"] == composite, out["head"]
    assert out["head"]["ChecksumType"] == "COMPOSITE", out["head"]
