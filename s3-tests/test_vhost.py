"""Virtual-hosted-style addressing (config base_domain = ["s3.example.test"]) next to
path style on the same gateway."""

import pytest

from conftest import VHOST_DOMAIN, boto_client
from cwtest.gateway import ACCESS_KEY, REGION, SECRET_KEY
from cwtest.sigv4 import Raw, Signer
from cwtest.util import new_bucket_name


@pytest.fixture(scope="module")
def vraw(vhost_server):
    return Raw(vhost_server.host, vhost_server.port, Signer(ACCESS_KEY, SECRET_KEY, REGION))


@pytest.fixture(scope="module")
def vbucket(vhost_server):
    c = boto_client(vhost_server)
    name = new_bucket_name("vh")
    c.create_bucket(Bucket=name)
    return name


def vhost(vhost_server, bucket):
    return f"{bucket}.{VHOST_DOMAIN}:{vhost_server.port}"


def test_put_virtual_get_path(vhost_server, vraw, vbucket):
    body = b"virtual hosted body"
    r = vraw.request("PUT", "/dir/obj.txt", body=body, host_header=vhost(vhost_server, vbucket))
    assert r.status == 200, r.describe()
    c = boto_client(vhost_server)
    assert c.get_object(Bucket=vbucket, Key="dir/obj.txt")["Body"].read() == body


def test_put_path_get_virtual(vhost_server, vraw, vbucket):
    c = boto_client(vhost_server)
    c.put_object(Bucket=vbucket, Key="p/1", Body=b"path style")
    r = vraw.request("GET", "/p/1", host_header=vhost(vhost_server, vbucket))
    assert r.status == 200, r.describe()
    assert r.body == b"path style"
    h = vraw.request("HEAD", "/p/1", host_header=vhost(vhost_server, vbucket))
    assert h.status == 200 and h.header("content-length") == "10"


def test_list_virtual(vhost_server, vraw, vbucket):
    c = boto_client(vhost_server)
    c.put_object(Bucket=vbucket, Key="l/a", Body=b"a")
    c.put_object(Bucket=vbucket, Key="l/b", Body=b"b")
    r = vraw.request(
        "GET", "/", query=[("list-type", "2"), ("prefix", "l/")],
        host_header=vhost(vhost_server, vbucket),
    )
    assert r.status == 200, r.describe()
    assert r.find("Name") == vbucket
    assert [e.text for e in r.findall("Key")] == ["l/a", "l/b"]


def test_path_style_on_base_domain(vhost_server, vraw, vbucket):
    c = boto_client(vhost_server)
    c.put_object(Bucket=vbucket, Key="pb", Body=b"on base domain")
    r = vraw.request("GET", f"/{vbucket}/pb", host_header=f"{VHOST_DOMAIN}:{vhost_server.port}")
    assert r.status == 200, r.describe()
    assert r.body == b"on base domain"


def test_list_buckets_on_base_domain(vhost_server, vraw, vbucket):
    r = vraw.request("GET", "/", host_header=f"{VHOST_DOMAIN}:{vhost_server.port}")
    assert r.status == 200, r.describe()
    assert vbucket in [e.text for e in r.findall("Name")]


def test_create_and_delete_bucket_virtual(vhost_server, vraw):
    name = new_bucket_name("vhc")
    r = vraw.request("PUT", "/", host_header=vhost(vhost_server, name))
    assert r.status == 200, r.describe()
    c = boto_client(vhost_server)
    assert c.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    r = vraw.request("DELETE", "/", host_header=vhost(vhost_server, name))
    assert r.status == 204, r.describe()


def test_virtual_missing_bucket(vhost_server, vraw):
    r = vraw.request("GET", "/k", host_header=vhost(vhost_server, "cw-not-there-123"))
    assert r.status == 404, r.describe()
    assert r.code == "NoSuchBucket"


def test_virtual_anonymous_denied(vhost_server, vraw, vbucket):
    r = vraw.request("GET", "/p/1", sign=False, host_header=vhost(vhost_server, vbucket))
    assert r.status == 403, r.describe()
    assert r.code == "AccessDenied"
