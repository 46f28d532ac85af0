"""aws-cli against the gateway: s3 mb/cp/ls/rm/mv/sync/rb and s3api calls (credentials from the
environment, AWS_CONFIG_FILE in a temp dir)."""

import hashlib
import json

from cwtest import data
from cwtest.data import MiB
from cwtest.util import new_bucket_name


def test_aws_s3_high_level(cli, tmp_path):
    b = new_bucket_name("awscli")
    out = cli.aws("s3", "mb", f"s3://{b}").stdout.decode()
    assert f"make_bucket: {b}" in out

    src = tmp_path / "src"
    src.mkdir()
    files = {"small.txt": 11, "empty": 0, "chunk.bin": 4 * MiB + 1, "multi.bin": 20 * MiB + 5}
    md5s = {}
    for name, size in files.items():
        md5s[name] = data.write_file(src / name, f"awscli-{name}", size)

    # single PUT and multipart (default threshold 8 MiB) uploads
    cli.aws("s3", "cp", "--no-progress", str(src / "small.txt"), f"s3://{b}/one/small.txt")
    cli.aws("s3", "cp", "--no-progress", str(src / "multi.bin"), f"s3://{b}/one/multi.bin")
    cli.aws("s3", "sync", "--no-progress", str(src), f"s3://{b}/tree/")

    ls = cli.aws("s3", "ls", f"s3://{b}/tree/").stdout.decode()
    for name, size in files.items():
        assert any(line.split()[-1] == name and line.split()[-2] == str(size) for line in ls.splitlines()), ls
    top = cli.aws("s3", "ls", f"s3://{b}/").stdout.decode()
    assert "PRE one/" in top and "PRE tree/" in top, top
    buckets = cli.aws("s3", "ls").stdout.decode()
    assert b in buckets

    dst = tmp_path / "dst"
    cli.aws("s3", "cp", "--no-progress", "--recursive", f"s3://{b}/tree/", str(dst))
    for name in files:
        assert data.file_md5(dst / name) == md5s[name], name
    cli.aws("s3", "cp", "--no-progress", f"s3://{b}/one/multi.bin", str(tmp_path / "multi.back"))
    assert data.file_md5(tmp_path / "multi.back") == md5s["multi.bin"]

    # a second sync uploads nothing (sizes and times match)
    again = cli.aws("s3", "sync", "--no-progress", str(src), f"s3://{b}/tree/").stdout.decode()
    assert "upload:" not in again, again

    cli.aws("s3", "rm", f"s3://{b}/one/small.txt")
    ls = cli.aws("s3", "ls", f"s3://{b}/one/").stdout.decode()
    assert "small.txt" not in ls and "multi.bin" in ls

    # rb without --force fails on a non-empty bucket, with --force empties and removes it
    p = cli.aws("s3", "rb", f"s3://{b}", check=False)
    assert p.returncode != 0 and b"BucketNotEmpty" in p.stderr, p.stderr
    cli.aws("s3", "rb", "--force", f"s3://{b}")
    assert b not in cli.aws("s3", "ls").stdout.decode()


def test_aws_s3api(cli, tmp_path):
    b = new_bucket_name("s3api")
    cli.aws("s3api", "create-bucket", "--bucket", b)
    body = tmp_path / "body"
    md5 = data.write_file(body, "s3api", 12345)
    put = json.loads(
        cli.aws(
            "s3api", "put-object", "--bucket", b, "--key", "k 1", "--body", str(body),
            "--content-type", "text/csv", "--metadata", "dossier=42",
        ).stdout
    )
    assert put["ETag"] == f'"{md5}"'
    head = json.loads(cli.aws("s3api", "head-object", "--bucket", b, "--key", "k 1").stdout)
    assert head["ContentLength"] == 12345
    assert head["ContentType"] == "text/csv"
    assert head["Metadata"] == {"dossier": "42"}
    listed = json.loads(cli.aws("s3api", "list-objects-v2", "--bucket", b).stdout)
    assert [o["Key"] for o in listed["Contents"]] == ["k 1"]
    cli.aws("s3api", "get-object", "--bucket", b, "--key", "k 1", "--range", "bytes=100-199", str(tmp_path / "part"))
    assert (tmp_path / "part").read_bytes() == data.content("s3api", 12345)[100:200]
    loc = json.loads(cli.aws("s3api", "get-bucket-location", "--bucket", b).stdout)
    assert loc.get("LocationConstraint") in (None, "", "us-east-1")

    p = cli.aws("s3api", "head-object", "--bucket", b, "--key", "missing", check=False)
    assert p.returncode != 0 and b"404" in p.stderr, p.stderr
    p = cli.aws("s3api", "create-bucket", "--bucket", b, check=False)
    assert p.returncode != 0 and b"BucketAlreadyOwnedByYou" in p.stderr, p.stderr

    cli.aws("s3api", "delete-object", "--bucket", b, "--key", "k 1")
    cli.aws("s3api", "delete-bucket", "--bucket", b)
    p = cli.aws("s3api", "head-bucket", "--bucket", b, check=False)
    assert p.returncode != 0 and b"404" in p.stderr


def test_expect_100_continue_without_body_closes_or_continues(server, raw, bucket):
    """aws-cli v1 (its vendored botocore) sends `Expect: 100-continue` on every PutObject and
    UploadPart. When the server answers such a request with a final response and no
    `100 Continue` (as for an empty body), that botocore keeps the connection but reuses the
    stale status line for the next response on it, and the next upload on the connection hangs
    until the read timeout (seen with `aws s3 sync` of a folder holding an empty file). S3-
    compatible servers avoid it by sending `100 Continue` first or by closing the connection
    (`Connection: close`, as Go's net/http does)."""
    import datetime as dt
    import hashlib
    import socket

    h = {"Host": f"{raw.host}:{raw.port}", "Content-Length": "0", "Expect": "100-continue"}
    h, _ = raw.signer.sign(
        "PUT", f"/{bucket}/empty-expect", [], h, hashlib.sha256(b"").hexdigest(),
        dt.datetime.now(dt.timezone.utc),
    )
    head = f"PUT /{bucket}/empty-expect HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
    with socket.create_connection((raw.host, raw.port), timeout=10) as s:
        s.sendall((head + "\r\n").encode())
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        first = got.split(b"\r\n", 1)[0]
        if first.startswith(b"HTTP/1.1 100"):
            return  # 100 Continue first: fine
        assert first.startswith(b"HTTP/1.1 200"), got
        headers = got.split(b"\r\n\r\n", 1)[0].lower()
        assert b"connection: close" in headers, (
            "final response to an Expect: 100-continue request without a 100 Continue must "
            f"close the connection: {got!r}"
        )


def test_awscli_mv(cli, s3, tmp_path):
    """`aws s3 mv` local → S3 (upload, then the local file is gone) and S3 → S3 (server-side
    copy, then the source is deleted)."""
    b = new_bucket_name("awsmv")
    cli.aws("s3", "mb", f"s3://{b}")
    f = tmp_path / "move-me.bin"
    md5 = data.write_file(f, "awscli-mv", 6 * MiB + 1)
    cli.aws("s3", "mv", "--no-progress", str(f), f"s3://{b}/in/move-me.bin")
    assert not f.exists()
    cli.aws("s3", "mv", "--no-progress", f"s3://{b}/in/move-me.bin", f"s3://{b}/out/moved.bin")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", [])]
    assert keys == ["out/moved.bin"], keys
    body = s3.get_object(Bucket=b, Key="out/moved.bin")["Body"].read()
    assert hashlib.md5(body).hexdigest() == md5
    cli.aws("s3", "rb", "--force", f"s3://{b}")
