"""rclone against the gateway, with an on-the-fly remote `cw:` from RCLONE_CONFIG_CW_* env vars:
mkdir, copy (single and multipart uploads), lsf, cat, md5sum, check, sync, check --checksum,
delete, purge."""

from cwtest import data
from cwtest.data import MiB
from cwtest.util import new_bucket_name


def test_rclone_round_trip(cli, tmp_path):
    b = new_bucket_name("rclone")
    cli.rclone("mkdir", f"cw:{b}")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    files = {
        "a.txt": 5,
        "empty": 0,
        "sub/b.bin": 4 * MiB - 1,
        "sub/c.bin": 12 * MiB + 3,  # multipart with the cutoff below
        "name with spaces.txt": 100,
    }
    md5s = {}
    for name, size in files.items():
        md5s[name] = data.write_file(src / name, f"rclone-{name}", size)

    cli.rclone(
        "copy", str(src), f"cw:{b}/docs",
        "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M",
    )

    lsf = cli.rclone("lsf", "-R", "--files-only", f"cw:{b}/docs").stdout.decode().splitlines()
    assert sorted(lsf) == sorted(files), lsf

    assert cli.rclone("cat", f"cw:{b}/docs/a.txt").stdout == data.content("rclone-a.txt", 5)

    sums = {}
    for line in cli.rclone("md5sum", f"cw:{b}/docs").stdout.decode().splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    # rclone reports the ETag for single-part objects; multipart objects carry the MD5 in
    # metadata (rclone's X-Amz-Meta-Md5chksum), which must round-trip.
    assert sums == md5s, (sums, md5s)

    # check compares sizes and hashes of the local tree with the remote
    cli.rclone("check", str(src), f"cw:{b}/docs")
    cli.rclone("check", "--download", str(src), f"cw:{b}/docs")

    dst = tmp_path / "dst"
    cli.rclone("copy", f"cw:{b}/docs", str(dst))
    for name in files:
        assert data.file_md5(dst / name) == md5s[name], name

    cli.rclone("deletefile", f"cw:{b}/docs/a.txt")
    lsf = cli.rclone("lsf", "-R", "--files-only", f"cw:{b}").stdout.decode().splitlines()
    assert "docs/a.txt" not in lsf and "docs/sub/b.bin" in lsf

    # a modified local file makes check fail
    (src / "a.txt").write_bytes(b"different")
    cli.rclone("copyto", str(src / "a.txt"), f"cw:{b}/docs/a.txt")
    (src / "a.txt").write_bytes(b"differenT")
    p = cli.rclone("check", str(src), f"cw:{b}/docs", check=False)
    assert p.returncode != 0

    cli.rclone("purge", f"cw:{b}")
    assert b not in cli.rclone("lsd", "cw:").stdout.decode()


def test_rclone_sync_and_check_checksum(cli, tmp_path):
    """`rclone sync` mirrors additions, changes and deletions; `check --checksum` compares MD5s
    (ETag, or rclone's md5 metadata for multipart uploads) and catches a changed file."""
    b = new_bucket_name("rsync")
    cli.rclone("mkdir", f"cw:{b}")
    src = tmp_path / "tree"
    (src / "d").mkdir(parents=True)
    files = {"keep.txt": 10, "change.bin": 3 * MiB, "gone.txt": 7, "d/big.bin": 11 * MiB + 5}
    for name, size in files.items():
        data.write_file(src / name, f"sync-{name}", size)
    sync = ["sync", str(src), f"cw:{b}/mirror", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"]
    cli.rclone(*sync)
    cli.rclone("check", "--checksum", str(src), f"cw:{b}/mirror")

    (src / "gone.txt").unlink()
    data.write_file(src / "change.bin", "sync-changed", 3 * MiB + 1)
    data.write_file(src / "d" / "new.txt", "sync-new", 1234)
    cli.rclone(*sync)
    lsf = sorted(cli.rclone("lsf", "-R", "--files-only", f"cw:{b}/mirror").stdout.decode().splitlines())
    assert lsf == ["change.bin", "d/big.bin", "d/new.txt", "keep.txt"], lsf
    cli.rclone("check", "--checksum", str(src), f"cw:{b}/mirror")
    assert cli.rclone("cat", f"cw:{b}/mirror/d/new.txt").stdout == data.content("sync-new", 1234)

    # same size, different bytes: only a checksum comparison sees it
    data.write_file(src / "keep.txt", "sync-other", 10)
    p = cli.rclone("check", "--checksum", str(src), f"cw:{b}/mirror", check=False)
    assert p.returncode != 0 and b"keep.txt" in p.stderr, p.stderr
    cli.rclone("purge", f"cw:{b}")
