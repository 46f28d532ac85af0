"""Multipart uploads: Create, UploadPart, Complete (ETag "<md5 of part md5s>-N"), Abort,
ListParts, ListMultipartUploads, and the errors InvalidPart, InvalidPartOrder, EntityTooSmall,
NoSuchUpload. Plus a 100 MiB multipart object through boto3's transfer manager."""

import hashlib

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from cwtest import data
from cwtest.data import MiB
from cwtest.util import body_md5, err


def _upload_parts(s3, bucket, key, sizes, seed):
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-test")
    upload_id = up["UploadId"]
    assert up["Bucket"] == bucket and up["Key"] == key and upload_id
    parts, digests, bodies_md5 = [], [], hashlib.md5()
    for i, size in enumerate(sizes, start=1):
        body = data.content(f"{seed}-{i}", size)
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=i, Body=body)
        d = hashlib.md5(body).digest()
        assert r["ETag"] == f'"{d.hex()}"'
        parts.append({"PartNumber": i, "ETag": r["ETag"]})
        digests.append(d)
        bodies_md5.update(body)
    return upload_id, parts, digests, bodies_md5.hexdigest()


def test_multipart_round_trip(s3, bucket):
    sizes = [5 * MiB, 5 * MiB + 3, 1234]
    upload_id, parts, digests, whole_md5 = _upload_parts(s3, bucket, "mp/obj", sizes, "mp")

    lp = s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in lp["Parts"]] == [
        (p["PartNumber"], s, p["ETag"]) for p, s in zip(parts, sizes)
    ]
    assert lp["UploadId"] == upload_id

    lmu = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in lmu.get("Uploads", [])] == [("mp/obj", upload_id)]

    # not visible before completion
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="mp/obj")
    assert err(e.value)[1] == 404

    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp/obj", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    expected_etag = data.multipart_etag(digests)
    assert done["ETag"] == expected_etag
    assert done["Key"] == "mp/obj"

    head = s3.head_object(Bucket=bucket, Key="mp/obj")
    assert head["ContentLength"] == sum(sizes)
    assert head["ETag"] == expected_etag
    assert head["ContentType"] == "application/x-test"
    got = s3.get_object(Bucket=bucket, Key="mp/obj")
    assert body_md5(got["Body"]) == (whole_md5, sum(sizes))

    # a range across the part boundary
    start, end = 5 * MiB - 5, 5 * MiB + 5
    r = s3.get_object(Bucket=bucket, Key="mp/obj", Range=f"bytes={start}-{end}")
    expected = data.content("mp-1", 5 * MiB)[start:] + data.content("mp-2", 6)
    assert r["Body"].read() == expected
    assert r["ContentRange"] == f"bytes {start}-{end}/{sum(sizes)}"

    # the upload is gone
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=upload_id)
    assert err(e.value) == ("NoSuchUpload", 404)


def test_head_and_get_by_part_number(s3, bucket):
    sizes = [5 * MiB, 1000]
    upload_id, parts, digests, _ = _upload_parts(s3, bucket, "pn/obj", sizes, "pnum")
    s3.complete_multipart_upload(
        Bucket=bucket, Key="pn/obj", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    p2 = s3.head_object(Bucket=bucket, Key="pn/obj", PartNumber=2)
    assert p2["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert p2["ContentLength"] == sizes[1]
    assert p2.get("PartsCount") == 2
    g = s3.get_object(Bucket=bucket, Key="pn/obj", PartNumber=2)
    assert g["ContentRange"] == f"bytes {sizes[0]}-{sum(sizes) - 1}/{sum(sizes)}"
    assert g["Body"].read() == data.content("pnum-2", sizes[1])


def test_complete_with_subset_of_parts(s3, bucket):
    sizes = [5 * MiB, 5 * MiB, 100]
    upload_id, parts, digests, _ = _upload_parts(s3, bucket, "subset", sizes, "sub")
    chosen = [parts[0], parts[2]]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="subset", UploadId=upload_id, MultipartUpload={"Parts": chosen}
    )
    assert done["ETag"] == data.multipart_etag([digests[0], digests[2]])
    body = s3.get_object(Bucket=bucket, Key="subset")["Body"].read()
    assert body == data.content("sub-1", 5 * MiB) + data.content("sub-3", 100)


def test_reupload_part_replaces_it(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="re")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="re", UploadId=up, PartNumber=1, Body=b"old")
    r = s3.upload_part(Bucket=bucket, Key="re", UploadId=up, PartNumber=1, Body=b"new!")
    lp = s3.list_parts(Bucket=bucket, Key="re", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in lp] == [(1, 4)]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="re",
        UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"]}]},
    )
    assert s3.get_object(Bucket=bucket, Key="re")["Body"].read() == b"new!"


def test_invalid_part_wrong_etag(s3, bucket):
    upload_id, parts, _, _ = _upload_parts(s3, bucket, "bad", [5 * MiB, 10], "bad")
    parts[1] = {"PartNumber": 2, "ETag": '"00000000000000000000000000000000"'}
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="bad", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    assert err(e.value) == ("InvalidPart", 400)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad")
    s3.abort_multipart_upload(Bucket=bucket, Key="bad", UploadId=upload_id)


def test_invalid_part_unknown_number(s3, bucket):
    upload_id, parts, _, _ = _upload_parts(s3, bucket, "unk", [5 * MiB, 5 * MiB], "unk")
    parts.append({"PartNumber": 7, "ETag": parts[1]["ETag"]})  # never uploaded
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="unk", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    assert err(e.value) == ("InvalidPart", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="unk", UploadId=upload_id)


def test_invalid_part_order(s3, bucket):
    upload_id, parts, _, _ = _upload_parts(s3, bucket, "ord", [5 * MiB, 5 * MiB], "ord")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="ord",
            UploadId=upload_id,
            MultipartUpload={"Parts": list(reversed(parts))},
        )
    assert err(e.value) == ("InvalidPartOrder", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="ord", UploadId=upload_id)


def test_entity_too_small(s3, bucket):
    upload_id, parts, _, _ = _upload_parts(s3, bucket, "small", [1 * MiB, 1 * MiB], "small")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="small", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    assert err(e.value) == ("EntityTooSmall", 400)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="small")
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=upload_id)


def test_single_small_part_is_fine(s3, bucket):
    # The last (here: only) part may be smaller than 5 MiB.
    upload_id, parts, digests, _ = _upload_parts(s3, bucket, "one", [10], "one")
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="one", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert done["ETag"] == data.multipart_etag(digests)
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == data.content("one-1", 10)


def test_abort(s3, bucket):
    upload_id, _, _, _ = _upload_parts(s3, bucket, "ab", [1000], "ab")
    r = s3.abort_multipart_upload(Bucket=bucket, Key="ab", UploadId=upload_id)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="ab", UploadId=upload_id)
    assert err(e.value) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="ab", UploadId=upload_id, PartNumber=2, Body=b"x")
    assert err(e.value) == ("NoSuchUpload", 404)
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="ab")
    assert err(e.value)[1] == 404


def test_unknown_upload_id(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="k", UploadId="does-not-exist", PartNumber=1, Body=b"x")
    assert err(e.value) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId="does-not-exist",
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]},
        )
    assert err(e.value) == ("NoSuchUpload", 404)


def test_invalid_part_number(raw, s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="pn")["UploadId"]
    for pn in ("0", "10001"):
        r = raw.request(
            "PUT", f"/{bucket}/pn", query=[("partNumber", pn), ("uploadId", up)], body=b"x"
        )
        assert r.status == 400, r.describe()
        assert r.code in ("InvalidArgument", "InvalidPartNumber"), r.describe()
    s3.abort_multipart_upload(Bucket=bucket, Key="pn", UploadId=up)


def test_list_multipart_uploads_several(s3, bucket):
    ids = {}
    for key in ["u/1", "u/2", "v/1"]:
        ids[key] = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    r = s3.list_multipart_uploads(Bucket=bucket)
    assert sorted((u["Key"], u["UploadId"]) for u in r["Uploads"]) == sorted(ids.items())
    r = s3.list_multipart_uploads(Bucket=bucket, Prefix="u/")
    assert sorted(u["Key"] for u in r["Uploads"]) == ["u/1", "u/2"]
    for key, up in ids.items():
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up)
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_100mib_multipart_transfer_manager(s3, bucket):
    size = 100 * MiB
    cfg = TransferConfig(
        multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4
    )
    src = data.GeneratedFile("big100", size)
    s3.upload_fileobj(src, bucket, "big/100mib", Config=cfg)
    expected_md5 = data.md5_of("big100", size)

    # expected multipart ETag from 8 MiB parts (13 parts)
    digests = []
    src.seek(0)
    while True:
        part = src.read(8 * MiB)
        if not part:
            break
        digests.append(hashlib.md5(part).digest())
    assert len(digests) == 13
    head = s3.head_object(Bucket=bucket, Key="big/100mib")
    assert head["ContentLength"] == size
    assert head["ETag"] == data.multipart_etag(digests)

    got = s3.get_object(Bucket=bucket, Key="big/100mib")
    assert body_md5(got["Body"]) == (expected_md5, size)

    start = 57 * MiB + 11
    r = s3.get_object(Bucket=bucket, Key="big/100mib", Range=f"bytes={start}-{start + 3 * MiB}")
    assert r["Body"].read() == data.slice_of("big100", size, start, start + 3 * MiB)
