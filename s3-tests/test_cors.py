"""CORS: Put/Get/DeleteBucketCors (boto3, aws-cli), the unauthenticated preflight (`OPTIONS`
with Origin and Access-Control-Request-Method/-Headers, as a browser sends it) and the CORS
headers on actual requests, also on error answers; AWS's validation errors."""

import json
import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.exceptions import ClientError

from cwtest.util import err, new_bucket_name

RULES = [
    {
        "ID": "app",
        "AllowedOrigins": ["https://app.example.nl", "https://*.gemeente.nl"],
        "AllowedMethods": ["GET", "PUT", "HEAD"],
        "AllowedHeaders": ["content-type", "x-amz-*"],
        "ExposeHeaders": ["ETag", "x-amz-request-id"],
        "MaxAgeSeconds": 600,
    },
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]

NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of "
    "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
    "are not whitelisted by the resource's CORS spec."
)


def s3_error(resp):
    root = ET.fromstring(resp.content)
    return root.findtext("Code"), root.findtext("Message")


def preflight(server, path, origin, method, headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(f"{server.endpoint}{path}", headers=h, timeout=30)


@pytest.fixture
def cors_bucket(s3, bucket):
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    return bucket


def test_put_get_delete_bucket_cors(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert err(e.value) == ("NoSuchCORSConfiguration", 404)
    assert e.value.response["Error"]["Message"] == "The CORS configuration does not exist"
    r = s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert got == RULES
    r = s3.delete_bucket_cors(Bucket=bucket)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert err(e.value) == ("NoSuchCORSConfiguration", 404)


def test_bucket_cors_on_missing_bucket(s3):
    missing = new_bucket_name()
    for call in (
        lambda: s3.get_bucket_cors(Bucket=missing),
        lambda: s3.put_bucket_cors(Bucket=missing, CORSConfiguration={"CORSRules": RULES}),
        lambda: s3.delete_bucket_cors(Bucket=missing),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e.value) == ("NoSuchBucket", 404)


@pytest.mark.parametrize(
    "rule, code, message",
    [
        ({"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}, "InvalidRequest",
         "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"),
        ({"AllowedOrigins": ["https://*.*.nl"], "AllowedMethods": ["GET"]}, "InvalidRequest",
         'AllowedOrigin "https://*.*.nl" can not have more than one wildcard.'),
        ({"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["x-*-*"]}, "InvalidRequest",
         'AllowedHeader "x-*-*" can not have more than one wildcard.'),
    ],
)
def test_invalid_cors_rules(s3, bucket, rule, code, message):
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    assert err(e.value) == (code, 400)
    assert e.value.response["Error"]["Message"] == message
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket=bucket)
    assert err(e.value) == ("NoSuchCORSConfiguration", 404)


def test_malformed_cors_configuration(raw, s3, bucket):
    too_many = "".join(
        "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"
        for _ in range(101)
    )
    for body in (
        "<CORSConfiguration></CORSConfiguration>",
        "<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
        "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>",
        "<CORSConfiguration><CORSRule>",
        f"<CORSConfiguration>{too_many}</CORSConfiguration>",
    ):
        r = raw.request("PUT", f"/{bucket}", query={"cors": ""}, body=body.encode())
        assert (r.status, r.code) == (400, "MalformedXML"), r.describe()
    # exactly 100 rules is the limit
    hundred = too_many.replace("<CORSRule>", "", 1).split("</CORSRule>", 1)[1]
    body = f"<CORSConfiguration>{hundred}</CORSConfiguration>".encode()
    r = raw.request("PUT", f"/{bucket}", query={"cors": ""}, body=body)
    assert r.status == 200, r.describe()
    assert len(s3.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 100


def test_preflight_allowed(server, cors_bucket):
    r = preflight(server, f"/{cors_bucket}/some/key.txt", "https://app.example.nl", "PUT",
                  "Content-Type, X-Amz-Date")
    assert r.status_code == 200, r.text
    h = r.headers
    assert h["Access-Control-Allow-Origin"] == "https://app.example.nl"
    assert h["Access-Control-Allow-Methods"] == "GET, PUT, HEAD"
    assert h["Access-Control-Allow-Headers"] == "content-type, x-amz-date"
    assert h["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"
    assert h["Access-Control-Max-Age"] == "600"
    assert h["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in h["Vary"]
    # wildcard origin in the first rule
    r = preflight(server, f"/{cors_bucket}/k", "https://loket.gemeente.nl", "HEAD")
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://loket.gemeente.nl"
    # any origin for GET via the second rule: answered with `*`, no credentials
    r = preflight(server, f"/{cors_bucket}", "https://elsewhere.example", "GET")
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Access-Control-Allow-Methods"] == "GET"
    assert "Access-Control-Allow-Credentials" not in r.headers


@pytest.mark.parametrize(
    "origin, method, headers",
    [
        ("https://elsewhere.example", "PUT", None),  # origin only allowed for GET
        ("https://app.example.nl", "DELETE", None),  # method not allowed by any rule
        ("https://app.example.nl", "PUT", "content-type, authorization"),  # header not allowed
        ("https://gemeente.nl", "PUT", None),  # the wildcard needs a subdomain
    ],
)
def test_preflight_denied(server, cors_bucket, origin, method, headers):
    r = preflight(server, f"/{cors_bucket}/k", origin, method, headers)
    assert r.status_code == 403, r.text
    assert s3_error(r) == ("AccessForbidden", NOT_ALLOWED)
    assert "Access-Control-Allow-Origin" not in r.headers


def test_preflight_without_configuration_or_bucket(server, bucket):
    r = preflight(server, f"/{bucket}/k", "https://app.example.nl", "GET")
    assert r.status_code == 403
    assert s3_error(r) == ("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.")
    r = preflight(server, f"/{new_bucket_name()}/k", "https://app.example.nl", "GET")
    assert r.status_code == 403
    assert s3_error(r)[0] == "AccessForbidden"


def test_preflight_malformed(server, cors_bucket):
    r = requests.options(f"{server.endpoint}/{cors_bucket}/k",
                         headers={"Access-Control-Request-Method": "GET"}, timeout=30)
    assert r.status_code == 400
    assert s3_error(r) == ("BadRequest", "Insufficient information. Origin request header needed.")
    r = requests.options(f"{server.endpoint}/{cors_bucket}/k",
                         headers={"Origin": "https://app.example.nl"}, timeout=30)
    assert r.status_code == 400
    assert s3_error(r)[0] == "BadRequest"


def test_configuration_changes_apply_at_once(server, s3, cors_bucket):
    assert preflight(server, f"/{cors_bucket}/k", "https://app.example.nl", "GET").status_code == 200
    s3.put_bucket_cors(Bucket=cors_bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://other.example"], "AllowedMethods": ["GET"]}]})
    assert preflight(server, f"/{cors_bucket}/k", "https://app.example.nl", "GET").status_code == 403
    assert preflight(server, f"/{cors_bucket}/k", "https://other.example", "GET").status_code == 200
    s3.delete_bucket_cors(Bucket=cors_bucket)
    assert preflight(server, f"/{cors_bucket}/k", "https://other.example", "GET").status_code == 403


def test_actual_requests_get_cors_headers(s3, cors_bucket):
    s3.put_object(Bucket=cors_bucket, Key="page.html", Body=b"<p>hi</p>")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": cors_bucket, "Key": "page.html"})
    r = requests.get(url, headers={"Origin": "https://app.example.nl"}, timeout=30)
    assert r.status_code == 200 and r.content == b"<p>hi</p>"
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example.nl"
    assert r.headers["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"
    assert r.headers["Access-Control-Allow-Methods"] == "GET, PUT, HEAD"
    # an origin no rule allows for this method gets no CORS headers (the answer itself is unchanged)
    url = s3.generate_presigned_url("delete_object", Params={"Bucket": cors_bucket, "Key": "page.html"})
    r = requests.delete(url, headers={"Origin": "https://app.example.nl"}, timeout=30)
    assert r.status_code == 204
    assert "Access-Control-Allow-Origin" not in r.headers
    # error answers carry them too, so a script can read the S3 error
    url = s3.generate_presigned_url("get_object", Params={"Bucket": cors_bucket, "Key": "page.html"})
    r = requests.get(url, headers={"Origin": "https://x.gemeente.nl"}, timeout=30)
    assert r.status_code == 404 and s3_error(r)[0] == "NoSuchKey"
    assert r.headers["Access-Control-Allow-Origin"] == "https://x.gemeente.nl"
    # without Origin: no CORS headers
    r = requests.get(url, timeout=30)
    assert "Access-Control-Allow-Origin" not in r.headers


def test_aws_cli_bucket_cors(cli, bucket):
    config = {"CORSRules": [{"AllowedOrigins": ["https://cli.example"], "AllowedMethods": ["GET", "POST"],
                             "MaxAgeSeconds": 30}]}
    cli.aws("s3api", "put-bucket-cors", "--bucket", bucket, "--cors-configuration", json.dumps(config))
    out = json.loads(cli.aws("s3api", "get-bucket-cors", "--bucket", bucket).stdout)
    assert out == config
    cli.aws("s3api", "delete-bucket-cors", "--bucket", bucket)
    p = cli.aws("s3api", "get-bucket-cors", "--bucket", bucket, check=False)
    assert p.returncode != 0 and b"NoSuchCORSConfiguration" in p.stderr
