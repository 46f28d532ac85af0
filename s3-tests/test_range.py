"""Ranged GETs: bytes=a-b, a-, -n, across chunk and part boundaries; 206 + Content-Range;
unsatisfiable ranges answer 416 InvalidRange."""

import pytest
from botocore.exceptions import ClientError

from cwtest import data
from cwtest.data import CHUNK
from cwtest.util import err

SIZE = 3 * CHUNK + 7
SEED = "range-object"


@pytest.fixture(scope="module")
def range_bucket(s3):
    from cwtest.util import new_bucket_name

    name = new_bucket_name("range")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="obj", Body=data.content(SEED, SIZE))
    s3.put_object(Bucket=name, Key="small", Body=b"0123456789")
    return name


@pytest.mark.parametrize(
    "spec,start,end",
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-99", 0, 99),
        (f"bytes={CHUNK - 1}-{CHUNK}", CHUNK - 1, CHUNK),  # straddles a chunk boundary
        (f"bytes={CHUNK - 10}-{2 * CHUNK + 10}", CHUNK - 10, 2 * CHUNK + 10),  # spans 3 chunks
        (f"bytes={CHUNK}-{2 * CHUNK - 1}", CHUNK, 2 * CHUNK - 1),  # exactly one chunk
        (f"bytes={3 * CHUNK}-", 3 * CHUNK, SIZE - 1),  # the 7-byte tail chunk
        (f"bytes={SIZE - 1}-", SIZE - 1, SIZE - 1),
        ("bytes=-1", SIZE - 1, SIZE - 1),
        ("bytes=-8", SIZE - 8, SIZE - 1),  # suffix across the last chunk boundary
        (f"bytes=-{CHUNK + 3}", SIZE - CHUNK - 3, SIZE - 1),
        (f"bytes=12345-{SIZE + 1000}", 12345, SIZE - 1),  # end past EOF is clamped
        (f"bytes=-{SIZE + 50}", 0, SIZE - 1),  # suffix longer than object: whole object
    ],
)
def test_range(s3, range_bucket, spec, start, end):
    r = s3.get_object(Bucket=range_bucket, Key="obj", Range=spec)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert r["ContentRange"] == f"bytes {start}-{end}/{SIZE}"
    assert r["ContentLength"] == end - start + 1
    body = r["Body"].read()
    assert body == data.slice_of(SEED, SIZE, start, end)


def test_range_on_small_object(s3, range_bucket):
    r = s3.get_object(Bucket=range_bucket, Key="small", Range="bytes=2-5")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert r["ContentRange"] == "bytes 2-5/10"
    assert r["Body"].read() == b"2345"


@pytest.mark.parametrize("spec", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}"])
def test_unsatisfiable_range(s3, range_bucket, spec):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=range_bucket, Key="obj", Range=spec)
    assert err(e.value) == ("InvalidRange", 416)


def test_unsatisfiable_range_raw(raw, range_bucket):
    r = raw.request("GET", f"/{range_bucket}/small", headers={"Range": "bytes=10-"})
    assert r.status == 416, r.describe()
    assert r.code == "InvalidRange"
    assert r.header("content-range") in (None, "bytes */10")


def test_head_with_range(s3, range_bucket):
    r = s3.head_object(Bucket=range_bucket, Key="obj", Range="bytes=0-9")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert r["ContentLength"] == 10
    assert r["ContentRange"] == f"bytes 0-9/{SIZE}"


def test_invalid_range_syntax_is_ignored(s3, range_bucket):
    # S3 ignores a syntactically invalid Range header and returns the whole object.
    r = s3.get_object(Bucket=range_bucket, Key="small", Range="bytes=abc")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["Body"].read() == b"0123456789"
