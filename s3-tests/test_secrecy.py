"""Secrecy at the locations: after storing objects whose bucket names, keys, metadata and
contents carry marker strings, no file under DIR/locations contains any marker (raw bytes, and
in file names), as a hostile provider would search."""

import uuid

import pytest

from cwtest.data import CHUNK, MiB

pytestmark = pytest.mark.destructive


def _scan(root, markers: dict[str, bytes]):
    hits = []
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        for what, m in markers.items():
            if m.decode() in rel:
                hits.append(f"{what} in file name {rel}")
        if p.is_file():
            blob = p.read_bytes()
            for what, m in markers.items():
                for variant, needle in (("", m), (" (utf-16le)", m.decode().encode("utf-16le"))):
                    if needle in blob:
                        hits.append(f"{what}{variant} in content of {rel}")
    return hits


def test_no_plaintext_at_locations(fresh_server, fresh_s3):
    tag = uuid.uuid4().hex[:12]
    markers = {
        "bucket name": f"cwbucketmark{tag}".encode(),
        "key": f"KEYMARK-{tag}".encode(),
        "content": f"CONTENTMARK-{tag}".encode(),
        "metadata": f"METAMARK-{tag}".encode(),
        "content-type": f"application/x-typemark-{tag}".encode(),
    }
    bucket = markers["bucket name"].decode()
    s3 = fresh_s3
    s3.create_bucket(Bucket=bucket)
    key = markers["key"].decode()
    content = markers["content"]
    sizes = {"small": 200, "one-byte-over": CHUNK + 1, "multi": 2 * CHUNK + 99}
    for name, size in sizes.items():
        body = (content + b" ") * (size // (len(content) + 1) + 1)
        s3.put_object(
            Bucket=bucket,
            Key=f"dossier/{key}/{name}-{key}.txt",
            Body=body[:size],
            ContentType=markers["content-type"].decode(),
            Metadata={"note": markers["metadata"].decode()},
            ContentDisposition=f'attachment; filename="{key}.txt"',
        )
    # a marker that is shorter than nothing: the whole body is the marker
    s3.put_object(Bucket=bucket, Key=f"exact-{key}", Body=content)
    # multipart, whose parts are stored before completion
    up = s3.create_multipart_upload(Bucket=bucket, Key=f"mp-{key}", Metadata={"n": markers["metadata"].decode()})
    p1 = s3.upload_part(Bucket=bucket, Key=f"mp-{key}", UploadId=up["UploadId"], PartNumber=1,
                        Body=(content * (5 * MiB // len(content) + 1))[: 5 * MiB])
    pending = s3.create_multipart_upload(Bucket=bucket, Key=f"pending-{key}")
    s3.upload_part(Bucket=bucket, Key=f"pending-{key}", UploadId=pending["UploadId"], PartNumber=1,
                   Body=content * 10)
    s3.complete_multipart_upload(
        Bucket=bucket, Key=f"mp-{key}", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}]},
    )
    # delete one object too: tombstones must not leak the key either
    s3.delete_object(Bucket=bucket, Key=f"exact-{key}")

    root = fresh_server.data_dir / "locations"
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files, f"nothing stored under {root}"
    assert any("shards" in p.parts for p in files), [str(p) for p in files][:10]
    hits = _scan(root, markers)
    assert not hits, "plaintext found at the locations:\n" + "\n".join(hits)

    # sanity: the markers are really in what the client reads back
    got = s3.get_object(Bucket=bucket, Key=f"dossier/{key}/small-{key}.txt")
    assert content in got["Body"].read()
    assert got["Metadata"]["note"] == markers["metadata"].decode()
