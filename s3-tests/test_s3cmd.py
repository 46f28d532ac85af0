"""s3cmd against the gateway (config file in the test's temp dir: host_base/host_bucket =
127.0.0.1:port, i.e. path style, plain HTTP, SigV4): mb, put (single and multipart), get, ls,
la, du, info, sync up and down, del, rb, --mime-type/--add-header, and its error reports."""

import re

from cwtest import data
from cwtest.data import MiB
from cwtest.util import new_bucket_name

BIG = 12 * MiB + 3  # 3 parts with --multipart-chunk-size-mb=5


def _out(p) -> str:
    return p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def _ls_entries(text: str) -> dict[str, int]:
    """`s3cmd ls`/`la` object lines (`DATE TIME SIZE s3://b/key`) as {uri: size}."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d\s+(\d+)\s+(s3://\S.*)$", line.strip())
        if m:
            out[m.group(2)] = int(m.group(1))
    return out


def _info(text: str) -> dict[str, str]:
    """`s3cmd info` lines (`   Name: value`) as a dict."""
    out = {}
    for line in text.splitlines():
        if line.startswith("   ") and ":" in line:
            k, v = line.strip().split(":", 1)
            out[k.strip()] = v.strip()
    return out


def test_s3cmd_put_get_list_info(cli, s3, tmp_path):
    b = new_bucket_name("s3cmd")
    out = _out(cli.s3cmd("mb", f"s3://{b}"))
    assert f"Bucket 's3://{b}/' created" in out, out
    s3.head_bucket(Bucket=b)

    small = tmp_path / "small.txt"
    small_md5 = data.write_file(small, "s3cmd-small", 1000)
    big = tmp_path / "big.bin"
    big_md5 = data.write_file(big, "s3cmd-big", BIG)

    cli.s3cmd("put", str(small), f"s3://{b}/dir/small.txt")
    cli.s3cmd("put", "--multipart-chunk-size-mb=5", str(big), f"s3://{b}/dir/big.bin")

    # the multipart upload really was one: 3 parts of 5, 5 and 2 MiB + 3 bytes
    head = s3.head_object(Bucket=b, Key="dir/big.bin")
    assert head["ContentLength"] == BIG
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]
    assert s3.head_object(Bucket=b, Key="dir/small.txt")["ETag"] == f'"{small_md5}"'

    # byte-exact downloads
    cli.s3cmd("get", f"s3://{b}/dir/small.txt", str(tmp_path / "small.back"))
    cli.s3cmd("get", f"s3://{b}/dir/big.bin", str(tmp_path / "big.back"))
    assert (tmp_path / "small.back").read_bytes() == data.content("s3cmd-small", 1000)
    assert data.file_md5(tmp_path / "big.back") == big_md5
    assert (tmp_path / "big.back").stat().st_size == BIG

    # listings: buckets, a bucket's top level (a DIR for the common prefix), a prefix, all
    buckets = cli.s3cmd("ls").stdout.decode()
    assert re.search(rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d\s+s3://{b}$", buckets, re.M), buckets
    top = cli.s3cmd("ls", f"s3://{b}").stdout.decode()
    assert re.search(rf"^\s*DIR\s+s3://{b}/dir/$", top, re.M), top
    assert _ls_entries(top) == {}, top
    entries = _ls_entries(cli.s3cmd("ls", f"s3://{b}/dir/").stdout.decode())
    assert entries == {f"s3://{b}/dir/small.txt": 1000, f"s3://{b}/dir/big.bin": BIG}, entries
    la = cli.s3cmd("la").stdout.decode()  # every bucket's top level
    assert re.search(rf"^\s*DIR\s+s3://{b}/dir/$", la, re.M), la
    everything = _ls_entries(cli.s3cmd("la", "--recursive").stdout.decode())
    assert everything[f"s3://{b}/dir/small.txt"] == 1000
    assert everything[f"s3://{b}/dir/big.bin"] == BIG
    du = cli.s3cmd("du", f"s3://{b}").stdout.decode()
    assert re.search(rf"^\s*{1000 + BIG}\s+2 objects s3://{b}/$", du, re.M), du

    # info: size, MIME type and MD5 (for the multipart object from s3cmd's own
    # x-amz-meta-s3cmd-attrs metadata, which must round-trip)
    info = _info(cli.s3cmd("info", f"s3://{b}/dir/small.txt").stdout.decode())
    assert info["File size"] == "1000", info
    assert info["MD5 sum"] == small_md5, info
    # whatever type s3cmd guessed on upload is what the gateway stored and returns
    assert info["MIME type"] == s3.head_object(Bucket=b, Key="dir/small.txt")["ContentType"], info
    info = _info(cli.s3cmd("info", f"s3://{b}/dir/big.bin").stdout.decode())
    assert info["File size"] == str(BIG), info
    assert info["MD5 sum"] == big_md5, info
    assert f"md5:{big_md5}" in info["x-amz-meta-s3cmd-attrs"], info
    assert s3.head_object(Bucket=b, Key="dir/big.bin")["Metadata"]["s3cmd-attrs"] == info[
        "x-amz-meta-s3cmd-attrs"
    ]

    # del, then rb
    out = _out(cli.s3cmd("del", f"s3://{b}/dir/small.txt"))
    assert f"delete: 's3://{b}/dir/small.txt'" in out, out
    entries = _ls_entries(cli.s3cmd("ls", f"s3://{b}/dir/").stdout.decode())
    assert entries == {f"s3://{b}/dir/big.bin": BIG}, entries
    # rb of a non-empty bucket: the gateway's 409 BucketNotEmpty as s3cmd reports it
    p = cli.s3cmd("rb", f"s3://{b}", check=False)
    assert p.returncode != 0
    assert "409 (BucketNotEmpty)" in _out(p), _out(p)
    cli.s3cmd("del", f"s3://{b}/dir/big.bin")
    out = _out(cli.s3cmd("rb", f"s3://{b}"))
    assert f"Bucket 's3://{b}/' removed" in out, out
    assert b not in cli.s3cmd("ls").stdout.decode()


def test_s3cmd_sync_up_and_down(cli, s3, tmp_path):
    b = new_bucket_name("s3cmd")
    cli.s3cmd("mb", f"s3://{b}")
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    files = {
        "a.txt": 17,
        "empty": 0,
        "sub/b.bin": 4 * MiB + 1,
        "sub/deeper/c.bin": 300_000,
        "name with spaces.txt": 42,
    }
    md5s = {name: data.write_file(src / name, f"s3cmd-sync-{name}", size) for name, size in files.items()}

    out = _out(cli.s3cmd("sync", f"{src}/", f"s3://{b}/tree/"))
    assert out.count("upload:") == len(files), out
    listed = {
        o["Key"]: o["Size"]
        for o in s3.list_objects_v2(Bucket=b, Prefix="tree/").get("Contents", [])
    }
    assert listed == {f"tree/{k}": v for k, v in files.items()}, listed

    # nothing changed: a second sync uploads nothing
    out = _out(cli.s3cmd("sync", f"{src}/", f"s3://{b}/tree/"))
    assert "upload:" not in out, out

    # a changed file (same size, other content) is found by its MD5 and uploaded again
    (src / "a.txt").write_bytes(b"X" * 17)
    out = _out(cli.s3cmd("sync", f"{src}/", f"s3://{b}/tree/"))
    assert out.count("upload:") == 1 and "a.txt" in out, out
    assert s3.get_object(Bucket=b, Key="tree/a.txt")["Body"].read() == b"X" * 17
    md5s["a.txt"] = data.md5_hex(b"X" * 17)

    dst = tmp_path / "dst"
    out = _out(cli.s3cmd("sync", f"s3://{b}/tree/", f"{dst}/"))
    assert out.count("download:") == len(files), out
    got = sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file())
    assert got == sorted(files), got
    for name in files:
        assert data.file_md5(dst / name) == md5s[name], name

    # --delete-removed mirrors a local deletion
    (src / "sub" / "b.bin").unlink()
    cli.s3cmd("sync", "--delete-removed", f"{src}/", f"s3://{b}/tree/")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b, Prefix="tree/")["Contents"])
    assert keys == sorted(f"tree/{k}" for k in files if k != "sub/b.bin"), keys

    cli.s3cmd("del", "--recursive", "--force", f"s3://{b}")
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0
    cli.s3cmd("rb", f"s3://{b}")


def test_s3cmd_headers_and_mime_type(cli, s3, bucket, tmp_path):
    f = tmp_path / "page.html"
    f.write_bytes(b"<html>s3cmd headers</html>")
    cli.s3cmd(
        "put",
        "--mime-type=text/x-chunkworks",
        "--add-header=x-amz-meta-colour:blue",
        "--add-header=Cache-Control:max-age=60",
        "--add-header=Content-Disposition:attachment; filename=\"p.html\"",
        str(f),
        f"s3://{bucket}/page.html",
    )
    head = s3.head_object(Bucket=bucket, Key="page.html")
    assert head["ContentType"] == "text/x-chunkworks"
    assert head["Metadata"]["colour"] == "blue"
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == 'attachment; filename="p.html"'
    got = s3.get_object(Bucket=bucket, Key="page.html")
    assert got["Body"].read() == b"<html>s3cmd headers</html>"
    assert got["ContentType"] == "text/x-chunkworks"

    # the same headers on a multipart upload
    big = tmp_path / "big.bin"
    md5 = data.write_file(big, "s3cmd-mp-headers", 11 * MiB)
    cli.s3cmd(
        "put",
        "--multipart-chunk-size-mb=5",
        "--mime-type=application/x-cw-test",
        "--add-header=x-amz-meta-origin:s3cmd-multipart",
        str(big),
        f"s3://{bucket}/big.bin",
    )
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentType"] == "application/x-cw-test"
    assert head["Metadata"]["origin"] == "s3cmd-multipart"
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]
    info = _info(cli.s3cmd("info", f"s3://{bucket}/big.bin").stdout.decode())
    assert info["MIME type"] == "application/x-cw-test", info
    assert info["x-amz-meta-origin"] == "s3cmd-multipart", info
    assert info["MD5 sum"] == md5, info


def test_s3cmd_errors(cli, bucket, tmp_path):
    # get of a missing key: s3cmd HEADs first; the 404 NoSuchKey makes it exit non-zero
    p = cli.s3cmd("get", f"s3://{bucket}/no-such-key", str(tmp_path / "x"), check=False)
    assert p.returncode != 0
    assert f"Source object 's3://{bucket}/no-such-key' does not exist" in _out(p), _out(p)
    assert not (tmp_path / "x").exists()

    # listing a missing bucket: the XML error body's code as s3cmd prints it
    missing = new_bucket_name("s3cmd-missing")
    p = cli.s3cmd("ls", f"s3://{missing}", check=False)
    assert p.returncode != 0
    assert "S3 error: 404 (NoSuchBucket)" in _out(p), _out(p)

    # put into a missing bucket
    f = tmp_path / "f"
    f.write_bytes(b"data")
    p = cli.s3cmd("put", str(f), f"s3://{missing}/f", check=False)
    assert p.returncode != 0
    assert "S3 error: 404 (NoSuchBucket)" in _out(p), _out(p)

    # mb of an existing bucket: BucketAlreadyOwnedByYou (409)
    p = cli.s3cmd("mb", f"s3://{bucket}", check=False)
    assert p.returncode != 0
    assert "409 (BucketAlreadyOwnedByYou)" in _out(p), _out(p)


def test_s3cmd_wrong_secret(cli, bucket, tmp_path):
    cfg = cli.s3cmd_config.read_text()
    bad = tmp_path / "bad.cfg"
    bad.write_text(re.sub(r"^secret_key = .*$", "secret_key = not-the-secret", cfg, flags=re.M))
    p = cli.run(["s3cmd", "--config", str(bad), "ls", f"s3://{bucket}"], check=False)
    assert p.returncode != 0
    assert "403 (SignatureDoesNotMatch)" in _out(p), _out(p)
