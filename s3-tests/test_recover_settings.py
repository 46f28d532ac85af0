"""Disaster recovery keeps bucket settings: with `meta.sqlite` deleted, `chunkworks
recover-index` (server stopped) restores buckets from their sealed copies at a location —
versioning state, Object Lock and its default retention, tags, CORS, and empty buckets — along
with every object version, and the restored lock still refuses to delete a locked version."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from cwtest.gateway import Gateway, make_workdir, remove_workdir
from cwtest.remote import describe

from conftest import boto_client, gateway_binary

pytestmark = pytest.mark.destructive

CORS = {
    "CORSRules": [
        {
            "AllowedOrigins": ["https://dms.gemeente.example"],
            "AllowedMethods": ["GET", "PUT"],
            "AllowedHeaders": ["*"],
            "MaxAgeSeconds": 600,
        }
    ]
}


@pytest.fixture
def gw():
    workdir = make_workdir("cw-recover-")
    g = Gateway(gateway_binary(), workdir)
    g.start()
    yield g
    g.stop()
    remove_workdir(workdir)


def test_recover_index_restores_bucket_settings(gw):
    s3 = boto_client(gw)
    s3.create_bucket(Bucket="archive", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket="archive",
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 2}},
        },
    )
    s3.put_bucket_tagging(Bucket="archive", Tagging={"TagSet": [{"Key": "bio", "Value": "hoog"}]})
    s3.put_bucket_cors(Bucket="archive", CORSConfiguration=CORS)
    locked = s3.put_object(Bucket="archive", Key="besluit.pdf", Body=b"%PDF raadsbesluit")["VersionId"]

    s3.create_bucket(Bucket="werk")
    s3.put_bucket_versioning(Bucket="werk", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="werk", Key="nota.txt", Body=b"versie 1")["VersionId"]
    s3.put_bucket_versioning(Bucket="werk", VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket="werk", Key="nota.txt", Body=b"versie 2 (null)")
    s3.create_bucket(Bucket="leeg")

    gw.stop()
    for suffix in ("", "-wal", "-shm"):
        f = gw.data_dir / f"meta.sqlite{suffix}"
        if f.exists():
            f.unlink()
    p = gw.cli("recover-index")
    assert p.returncode == 0, describe(p)
    assert b"bucket settings read 3" in p.stdout + p.stderr, describe(p)
    gw.start()
    s3 = boto_client(gw)

    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == ["archive", "leeg", "werk"]
    cfg = s3.get_object_lock_configuration(Bucket="archive")["ObjectLockConfiguration"]
    assert cfg["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": 2}
    assert s3.get_bucket_versioning(Bucket="archive")["Status"] == "Enabled"
    assert s3.get_bucket_tagging(Bucket="archive")["TagSet"] == [{"Key": "bio", "Value": "hoog"}]
    rules = s3.get_bucket_cors(Bucket="archive")["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["https://dms.gemeente.example"]
    assert s3.get_bucket_versioning(Bucket="werk")["Status"] == "Suspended"

    assert s3.get_object(Bucket="archive", Key="besluit.pdf")["Body"].read() == b"%PDF raadsbesluit"
    ret = s3.get_object_retention(Bucket="archive", Key="besluit.pdf", VersionId=locked)["Retention"]
    assert ret["Mode"] == "COMPLIANCE"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket="archive", Key="besluit.pdf", VersionId=locked, BypassGovernanceRetention=True)
    assert e.value.response["Error"]["Code"] == "AccessDenied"

    versions = s3.list_object_versions(Bucket="werk")["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True), (v1, False)]
    assert s3.get_object(Bucket="werk", Key="nota.txt", VersionId=v1)["Body"].read() == b"versie 1"
    assert s3.get_object(Bucket="werk", Key="nota.txt")["Body"].read() == b"versie 2 (null)"
