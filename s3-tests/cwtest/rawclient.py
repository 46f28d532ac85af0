"""A raw signed HTTP client for fault tests: streams request and response bodies (never whole
objects in memory), times every call, and reports what the client saw (`Answer`), including
"no answer at all" when the gateway dies mid-request. `on_progress(bytes_so_far)` hooks let a
test switch a fault on in the middle of a transfer."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from . import data
from .data import MiB
from .gateway import ACCESS_KEY, REGION, SECRET_KEY
from .sigv4 import UNSIGNED, Signer, uri_encode

CLIENT_TIMEOUT = 30  # seconds, per socket operation of every client call


@dataclass
class Answer:
    """What the client saw for one request."""

    status: int | None  # None: no HTTP answer (connection error)
    code: str | None = None  # S3 error code from the XML body
    etag: str | None = None
    md5: str | None = None  # of the body (GET)
    length: int = 0
    error: str | None = None  # transport error
    elapsed: float = 0.0
    headers: dict = field(default_factory=dict)

    def short(self) -> str:
        if self.status is None:
            return f"no answer ({self.error})"
        if self.status < 300:
            return f"{self.status} OK"
        return f"{self.status} {self.code}"


def _s3_code(body: bytes) -> str | None:
    try:
        return ET.fromstring(body).findtext("Code")
    except ET.ParseError:
        return None


class Client:
    """Raw signed HTTP against the gateway, streaming both ways, with timeouts and hooks
    (`on_progress(bytes_so_far)`) so a test can switch a fault in the middle of a transfer."""

    def __init__(self, host: str, port: int, bucket: str):
        self.host = host
        self.port = port
        self.bucket = bucket
        self.signer = Signer(ACCESS_KEY, SECRET_KEY, REGION)

    def _conn(self, method, path, extra):
        h = {"Host": f"{self.host}:{self.port}", **extra}
        h, _ = self.signer.sign(method, path, [], h, UNSIGNED, dt.datetime.now(dt.timezone.utc))
        conn = http.client.HTTPConnection(self.host, self.port, timeout=CLIENT_TIMEOUT)
        conn.putrequest(method, uri_encode(path, True), skip_host=True, skip_accept_encoding=True)
        for k, v in h.items():
            conn.putheader(k, v)
        conn.endheaders()
        return conn

    def put(self, key: str, seed: str, size: int, on_progress=None) -> Answer:
        path = f"/{self.bucket}/{key}"
        t0 = time.monotonic()
        conn = None
        send_error = None
        try:
            conn = self._conn("PUT", path, {"Content-Length": str(size)})
            sent = 0
            for block in data.blocks(seed, size):
                conn.send(block)
                sent += len(block)
                if on_progress:
                    on_progress(sent)
        except OSError as e:  # the gateway may answer (and close) before the body is sent
            send_error = e
        try:
            if conn is None:
                raise send_error  # type: ignore[misc]
            resp = conn.getresponse()
            body = resp.read()
            return Answer(
                resp.status,
                code=_s3_code(body) if resp.status >= 300 else None,
                etag=resp.getheader("ETag"),
                elapsed=time.monotonic() - t0,
                headers=dict(resp.getheaders()),
            )
        except (OSError, http.client.HTTPException) as e:
            err = f"{type(e).__name__}: {e}"
            if send_error is not None:
                err = f"send: {type(send_error).__name__}: {send_error}; {err}"
            return Answer(None, error=err, elapsed=time.monotonic() - t0)
        finally:
            if conn is not None:
                conn.close()

    def get(self, key: str, on_progress=None) -> Answer:
        return self._read("GET", key, on_progress)

    def head(self, key: str) -> Answer:
        return self._read("HEAD", key, None)

    def _read(self, method: str, key: str, on_progress) -> Answer:
        path = f"/{self.bucket}/{key}"
        t0 = time.monotonic()
        conn = None
        try:
            conn = self._conn(method, path, {})
            resp = conn.getresponse()
            if resp.status >= 300 or method == "HEAD":
                body = resp.read()
                return Answer(
                    resp.status,
                    code=_s3_code(body) if resp.status >= 300 else None,
                    etag=resp.getheader("ETag"),
                    length=int(resp.getheader("Content-Length") or 0),
                    elapsed=time.monotonic() - t0,
                )
            h = hashlib.md5()
            n = 0
            while True:
                b = resp.read(MiB)
                if not b:
                    break
                h.update(b)
                n += len(b)
                if on_progress:
                    on_progress(n)
            return Answer(
                resp.status,
                etag=resp.getheader("ETag"),
                md5=h.hexdigest(),
                length=n,
                elapsed=time.monotonic() - t0,
                error=None,
            )
        except (OSError, http.client.HTTPException) as e:
            return Answer(None, error=f"{type(e).__name__}: {e}", elapsed=time.monotonic() - t0)
        finally:
            if conn is not None:
                conn.close()


def at_bytes(threshold: int, action):
    """on_progress hook that runs `action` once when `threshold` bytes have gone by."""
    fired = threading.Event()

    def hook(n):
        if n >= threshold and not fired.is_set():
            fired.set()
            action()

    hook.fired = fired  # type: ignore[attr-defined]
    return hook
