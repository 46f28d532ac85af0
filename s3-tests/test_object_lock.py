"""Object Lock through boto3 and aws-cli: buckets created with lock, default retention,
GOVERNANCE (removable only with x-amz-bypass-governance-retention), COMPLIANCE (nobody can
shorten it), legal hold; deleting a locked version is refused while a delete marker is not."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from botocore.exceptions import ClientError


def code(e: ClientError) -> str:
    return e.response["Error"]["Code"]


def status(e: ClientError) -> int:
    return e.response["ResponseMetadata"]["HTTPStatusCode"]


def in_days(n: float) -> dt.datetime:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=n)).replace(microsecond=0)


@pytest.fixture
def lbucket(s3):
    name = f"lock-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    yield name
    # locked versions stay: the bucket is left behind on purpose (like a real archive)


def test_bucket_created_with_lock_is_versioned(s3, lbucket):
    assert s3.get_bucket_versioning(Bucket=lbucket)["Status"] == "Enabled"
    cfg = s3.get_object_lock_configuration(Bucket=lbucket)["ObjectLockConfiguration"]
    assert cfg["ObjectLockEnabled"] == "Enabled"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=lbucket, VersioningConfiguration={"Status": "Suspended"})
    assert code(e.value) == "InvalidBucketState" and status(e.value) == 409


def test_no_lock_configuration(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object_lock_configuration(Bucket=bucket)
    assert code(e.value) == "ObjectLockConfigurationNotFoundError"
    with pytest.raises(ClientError) as e:
        s3.put_object(
            Bucket=bucket, Key="x", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=in_days(1)
        )
    assert code(e.value) == "InvalidRequest"


def test_governance_retention_needs_bypass(s3, lbucket):
    r = s3.put_object(
        Bucket=lbucket, Key="g", Body=b"governed", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=in_days(2)
    )
    vid = r["VersionId"]
    head = s3.head_object(Bucket=lbucket, Key="g")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] > in_days(1.9)
    ret = s3.get_object_retention(Bucket=lbucket, Key="g", VersionId=vid)["Retention"]
    assert ret["Mode"] == "GOVERNANCE"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=lbucket, Key="g", VersionId=vid)
    assert code(e.value) == "AccessDenied" and status(e.value) == 403
    # shortening without bypass: refused; extending: fine
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(
            Bucket=lbucket, Key="g", VersionId=vid, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": in_days(1)}
        )
    assert code(e.value) == "AccessDenied"
    s3.put_object_retention(
        Bucket=lbucket, Key="g", VersionId=vid, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": in_days(3)}
    )
    # a delete marker is allowed (the version stays)
    d = s3.delete_object(Bucket=lbucket, Key="g")
    assert d["DeleteMarker"] is True
    assert s3.get_object(Bucket=lbucket, Key="g", VersionId=vid)["Body"].read() == b"governed"
    # with bypass the version can go
    s3.delete_object(Bucket=lbucket, Key="g", VersionId=vid, BypassGovernanceRetention=True)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=lbucket, Key="g", VersionId=vid)
    assert code(e.value) == "NoSuchVersion"


def test_compliance_retention_cannot_be_shortened_or_bypassed(s3, lbucket):
    vid = s3.put_object(
        Bucket=lbucket, Key="c", Body=b"archive", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=in_days(5)
    )["VersionId"]
    for kwargs in ({}, {"BypassGovernanceRetention": True}):
        with pytest.raises(ClientError) as e:
            s3.delete_object(Bucket=lbucket, Key="c", VersionId=vid, **kwargs)
        assert code(e.value) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(
            Bucket=lbucket,
            Key="c",
            VersionId=vid,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": in_days(1)},
            BypassGovernanceRetention=True,
        )
    assert code(e.value) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(
            Bucket=lbucket, Key="c", VersionId=vid, Retention={"Mode": "GOVERNANCE", "RetainUntilDate": in_days(9)}
        )
    assert code(e.value) == "AccessDenied"
    # DeleteObjects reports the refusal per key
    r = s3.delete_objects(Bucket=lbucket, Delete={"Objects": [{"Key": "c", "VersionId": vid}]})
    assert r["Errors"][0]["Code"] == "AccessDenied"
    # overwriting makes a new version; the locked one keeps its bytes
    s3.put_object(Bucket=lbucket, Key="c", Body=b"newer")
    assert s3.get_object(Bucket=lbucket, Key="c", VersionId=vid)["Body"].read() == b"archive"
    s3.put_object_retention(
        Bucket=lbucket, Key="c", VersionId=vid, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": in_days(10)}
    )
    assert s3.get_object_retention(Bucket=lbucket, Key="c", VersionId=vid)["Retention"]["RetainUntilDate"] > in_days(9)


def test_legal_hold(s3, lbucket):
    vid = s3.put_object(Bucket=lbucket, Key="h", Body=b"held", ObjectLockLegalHoldStatus="ON")["VersionId"]
    assert s3.get_object_legal_hold(Bucket=lbucket, Key="h")["LegalHold"]["Status"] == "ON"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=lbucket, Key="h", VersionId=vid, BypassGovernanceRetention=True)
    assert code(e.value) == "AccessDenied"
    s3.put_object_legal_hold(Bucket=lbucket, Key="h", VersionId=vid, LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=lbucket, Key="h", VersionId=vid)["LegalHold"]["Status"] == "OFF"
    s3.delete_object(Bucket=lbucket, Key="h", VersionId=vid)


def test_default_retention_applies_to_new_versions(s3, lbucket):
    s3.put_object_lock_configuration(
        Bucket=lbucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    cfg = s3.get_object_lock_configuration(Bucket=lbucket)["ObjectLockConfiguration"]
    assert cfg["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": 1}
    vid = s3.put_object(Bucket=lbucket, Key="d", Body=b"default")["VersionId"]
    ret = s3.get_object_retention(Bucket=lbucket, Key="d", VersionId=vid)["Retention"]
    assert ret["Mode"] == "COMPLIANCE" and in_days(0.9) < ret["RetainUntilDate"] <= in_days(1.01)
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=lbucket, Key="d", VersionId=vid)
    assert code(e.value) == "AccessDenied"
    # a multipart upload gets it too
    up = s3.create_multipart_upload(Bucket=lbucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=lbucket, Key="mp", UploadId=up, PartNumber=1, Body=b"only part")["ETag"]
    mp = s3.complete_multipart_upload(
        Bucket=lbucket, Key="mp", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )["VersionId"]
    assert s3.get_object_retention(Bucket=lbucket, Key="mp", VersionId=mp)["Retention"]["Mode"] == "COMPLIANCE"


def test_bad_retention_requests(s3, lbucket):
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=lbucket, Key="p", Body=b"x", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=past)
    assert code(e.value) == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(
            Bucket=lbucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 0}},
            },
        )
    assert code(e.value) == "InvalidArgument"
    s3.put_object(Bucket=lbucket, Key="none", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.get_object_retention(Bucket=lbucket, Key="none")
    assert code(e.value) == "NoSuchObjectLockConfiguration"


def test_awscli_object_lock(cli, s3, lbucket, tmp_path):
    until = in_days(3).strftime("%Y-%m-%dT%H:%M:%SZ")
    f = tmp_path / "a.txt"
    f.write_bytes(b"cli locked")
    out = json.loads(
        cli.aws(
            "s3api", "put-object", "--bucket", lbucket, "--key", "a.txt", "--body", str(f),
            "--object-lock-mode", "COMPLIANCE", "--object-lock-retain-until-date", until,
        ).stdout
    )
    vid = out["VersionId"]
    ret = json.loads(cli.aws("s3api", "get-object-retention", "--bucket", lbucket, "--key", "a.txt").stdout)
    assert ret["Retention"]["Mode"] == "COMPLIANCE"
    p = cli.aws("s3api", "delete-object", "--bucket", lbucket, "--key", "a.txt", "--version-id", vid, check=False)
    assert p.returncode != 0 and b"AccessDenied" in p.stderr
    assert s3.get_object(Bucket=lbucket, Key="a.txt", VersionId=vid)["Body"].read() == b"cli locked"
