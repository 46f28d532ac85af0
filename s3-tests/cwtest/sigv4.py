"""A small, self-contained AWS Signature Version 4 signer and a raw HTTP client.

Used where the suite needs full control over what goes on the wire: signed-SHA256 and
aws-chunked payloads (signed chunks, unsigned payload with trailers), tampering, clock skew,
unknown keys, anonymous requests and virtual-hosted-style Host headers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def uri_encode(s: str, keep_slash: bool) -> str:
    safe = "-_.~/" if keep_slash else "-_.~"
    return urllib.parse.quote(s, safe=safe)


def amz_date(when: dt.datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%SZ")


@dataclass
class Signer:
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    service: str = "s3"

    def scope(self, when: dt.datetime) -> str:
        return f"{when.strftime('%Y%m%d')}/{self.region}/{self.service}/aws4_request"

    def signing_key(self, when: dt.datetime) -> bytes:
        k = _hmac(("AWS4" + self.secret_key).encode(), when.strftime("%Y%m%d"))
        k = _hmac(k, self.region)
        k = _hmac(k, self.service)
        return _hmac(k, "aws4_request")

    def sign(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        payload_hash: str,
        when: dt.datetime,
    ) -> tuple[dict[str, str], str]:
        """Adds x-amz-date, x-amz-content-sha256 and Authorization to a copy of `headers`
        (which must hold Host). `path` is the raw (unencoded) path. Returns (headers, signature).
        """
        h = dict(headers)
        h["x-amz-date"] = amz_date(when)
        h["x-amz-content-sha256"] = payload_hash
        canon_headers = {}
        for k, v in h.items():
            lk = k.lower()
            if lk in ("user-agent", "expect", "transfer-encoding", "authorization"):
                continue
            canon_headers[lk] = " ".join(str(v).strip().split())
        signed = ";".join(sorted(canon_headers))
        canonical_query = "&".join(
            f"{uri_encode(k, False)}={uri_encode(v, False)}" for k, v in sorted(query)
        )
        canonical = "\n".join(
            [
                method,
                uri_encode(path, True),
                canonical_query,
                "".join(f"{k}:{canon_headers[k]}\n" for k in sorted(canon_headers)),
                signed,
                payload_hash,
            ]
        )
        sts = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                amz_date(when),
                self.scope(when),
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        signature = hmac.new(self.signing_key(when), sts.encode(), hashlib.sha256).hexdigest()
        h["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key}/{self.scope(when)}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
        return h, signature

    def chunk_signature(self, when: dt.datetime, previous: str, chunk: bytes) -> str:
        sts = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                amz_date(when),
                self.scope(when),
                previous,
                EMPTY_SHA256,
                hashlib.sha256(chunk).hexdigest(),
            ]
        )
        return hmac.new(self.signing_key(when), sts.encode(), hashlib.sha256).hexdigest()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    reason: str = ""
    _xml: ET.Element | None = field(default=None, repr=False)

    def header(self, name: str, default=None):
        return self.headers.get(name.lower(), default)

    def xml(self) -> ET.Element:
        if self._xml is None:
            self._xml = ET.fromstring(self.body)
        return self._xml

    def find(self, tag: str) -> str | None:
        """Text of the first element with local name `tag` (namespace-agnostic)."""
        for el in self.xml().iter():
            if el.tag.split("}")[-1] == tag:
                return el.text or ""
        return None

    def findall(self, tag: str) -> list[ET.Element]:
        return [el for el in self.xml().iter() if el.tag.split("}")[-1] == tag]

    @property
    def code(self) -> str | None:
        if not self.body:
            return None
        try:
            return self.find("Code")
        except ET.ParseError:
            return None

    def describe(self) -> str:
        return f"HTTP {self.status} {self.reason} headers={self.headers} body={self.body[:600]!r}"


class Raw:
    """Sends raw (optionally SigV4-signed) requests to the gateway at host:port."""

    def __init__(self, host: str, port: int, signer: Signer | None):
        self.host = host
        self.port = port
        self.signer = signer

    def request(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | dict | None = None,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        *,
        payload: str = "signed",  # "signed" | "unsigned" | literal x-amz-content-sha256
        sign: bool = True,
        signer: Signer | None = None,
        when: dt.datetime | None = None,
        host_header: str | None = None,
        tamper=None,
        timeout: float = 120,
    ) -> Response:
        """`path` is raw ("/bucket/key with space"). `tamper(headers) -> headers` runs after
        signing, to alter the request the signature covered."""
        if isinstance(query, dict):
            query = list(query.items())
        query = list(query or [])
        headers = dict(headers or {})
        host = host_header or f"{self.host}:{self.port}"
        headers.setdefault("Host", host)
        if body or method in ("PUT", "POST"):
            headers.setdefault("Content-Length", str(len(body)))
        signer = signer or self.signer
        if sign:
            when = when or dt.datetime.now(dt.timezone.utc)
            if payload == "signed":
                payload_hash = hashlib.sha256(body).hexdigest()
            elif payload == "unsigned":
                payload_hash = UNSIGNED
            else:
                payload_hash = payload
            headers, _ = signer.sign(method, path, query, headers, payload_hash, when)
        if tamper:
            headers = tamper(headers)
        return send(self.host, self.port, method, path, query, headers, body, timeout)

    def put_aws_chunked_signed(
        self,
        path: str,
        data: bytes,
        chunk_size: int = 64 * 1024,
        headers: dict[str, str] | None = None,
        corrupt_chunk: int | None = None,
        when: dt.datetime | None = None,
    ) -> Response:
        """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD (every chunk signed). When
        `corrupt_chunk` is set, that chunk's data is altered after signing."""
        when = when or dt.datetime.now(dt.timezone.utc)
        pieces = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
        # Length of the encoded body must be known before signing the headers.
        sig_len = 64
        encoded_len = sum(
            len(f"{len(p):x};chunk-signature=") + sig_len + 2 + len(p) + 2 for p in pieces
        )
        h = dict(headers or {})
        h["Host"] = f"{self.host}:{self.port}"
        h.setdefault("Content-Encoding", "aws-chunked")
        h["x-amz-decoded-content-length"] = str(len(data))
        h["Content-Length"] = str(encoded_len)
        h, seed = self.signer.sign("PUT", path, [], h, STREAMING_SIGNED, when)
        body = bytearray()
        previous = seed
        for i, p in enumerate(pieces):
            sig = self.signer.chunk_signature(when, previous, p)
            previous = sig
            if corrupt_chunk is not None and i == corrupt_chunk and p:
                p = bytes([p[0] ^ 0x01]) + p[1:]
            body += f"{len(p):x};chunk-signature={sig}\r\n".encode() + p + b"\r\n"
        assert len(body) == encoded_len
        return send(self.host, self.port, "PUT", path, [], h, bytes(body), 120)

    def put_aws_chunked_unsigned_trailer(
        self,
        path: str,
        data: bytes,
        trailers: dict[str, str],
        chunk_size: int = 64 * 1024,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """PUT with STREAMING-UNSIGNED-PAYLOAD-TRAILER, as current SDKs send over TLS."""
        when = dt.datetime.now(dt.timezone.utc)
        pieces = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
        body = bytearray()
        for p in pieces:
            body += f"{len(p):x}\r\n".encode() + p + b"\r\n"
        body += b"0\r\n"
        for k, v in trailers.items():
            body += f"{k}:{v}\r\n".encode()
        body += b"\r\n"
        h = dict(headers or {})
        h["Host"] = f"{self.host}:{self.port}"
        h["Content-Encoding"] = "aws-chunked"
        h["x-amz-decoded-content-length"] = str(len(data))
        h["x-amz-trailer"] = ",".join(trailers)
        h["Content-Length"] = str(len(body))
        h, _ = self.signer.sign("PUT", path, [], h, STREAMING_UNSIGNED_TRAILER, when)
        return send(self.host, self.port, "PUT", path, [], h, bytes(body), 120)


def send(host, port, method, path, query, headers, body, timeout=120) -> Response:
    target = uri_encode(path, True)
    if query:
        target += "?" + "&".join(
            f"{uri_encode(k, False)}={uri_encode(v, False)}" for k, v in query
        )
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            if isinstance(body, (bytes, bytearray)):
                conn.send(body)
            else:
                for piece in body:
                    conn.send(piece)
        resp = conn.getresponse()
        data = resp.read()
        return Response(
            status=resp.status,
            headers={k.lower(): v for k, v in resp.getheaders()},
            body=data,
            reason=resp.reason,
        )
    finally:
        conn.close()
