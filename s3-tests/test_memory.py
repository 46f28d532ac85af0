"""Memory and temp files: a single-stream PUT and GET of a 2 GiB object keep the gateway's peak
RSS (VmHWM) under 256 MiB, and no file of object size (>= 1 GiB) appears in the data dir, the
gateway's TMPDIR, /tmp, or among the gateway's open files (deleted temp files included)."""

import hashlib
import http.client
import os
import threading
import time
from pathlib import Path

import pytest

from cwtest.data import FastStream, MiB
from cwtest.sigv4 import UNSIGNED, uri_encode
from cwtest.util import REPORT_LINES

pytestmark = [pytest.mark.slow, pytest.mark.destructive]

SIZE = 2 * 1024 * MiB
LIMIT_KIB = 256 * 1024
BIG = 1024 * MiB


class Watch(threading.Thread):
    def __init__(self, gw, roots):
        super().__init__(daemon=True)
        self.gw = gw
        self.roots = roots
        self.stop_event = threading.Event()
        self.big_files: set[str] = set()
        self.max_rss = 0
        self.preexisting = self._big_now()

    def _big_now(self):
        found = set()
        for root in self.roots:
            for dirpath, _, names in os.walk(root):
                for n in names:
                    p = os.path.join(dirpath, n)
                    try:
                        st = os.lstat(p)
                    except OSError:
                        continue
                    if st.st_size >= BIG:
                        found.add((p, st.st_ino))
        for fd in Path(f"/proc/{self.gw.pid}/fd").glob("*"):
            try:
                st = os.stat(fd)
                if st.st_size >= BIG and not os.path.isdir(fd):
                    found.add((f"fd:{os.readlink(fd)}", st.st_ino))
            except OSError:
                pass
        return found

    def run(self):
        while not self.stop_event.is_set():
            try:
                self.max_rss = max(self.max_rss, self.gw.proc_status().get("VmRSS", 0))
            except OSError:
                pass
            for path, ino in self._big_now() - self.preexisting:
                self.big_files.add(path)
            self.stop_event.wait(0.5)

    def stop(self):
        self.stop_event.set()
        self.join(10)


def _signed_headers(raw, method, path, extra):
    import datetime as dt

    h = {"Host": f"{raw.host}:{raw.port}", **extra}
    h, _ = raw.signer.sign(method, path, [], h, UNSIGNED, dt.datetime.now(dt.timezone.utc))
    return h


def test_2gib_put_get_bounded_memory(fresh_server, fresh_raw, fresh_s3, fresh_bucket):
    gw = fresh_server
    stream = FastStream("memory-2gib", SIZE)
    roots = [str(gw.data_dir), str(gw.tmp_dir), "/tmp", os.environ.get("TMPDIR", "/tmp")]
    watch = Watch(gw, sorted(set(roots)))
    watch.start()
    path = f"/{fresh_bucket}/big/2gib"
    try:
        # PUT: one stream, UNSIGNED-PAYLOAD, Content-Length known, fed from a generator
        h = _signed_headers(fresh_raw, "PUT", path, {"Content-Length": str(SIZE)})
        conn = http.client.HTTPConnection(gw.host, gw.port, timeout=600)
        conn.putrequest("PUT", uri_encode(path, True), skip_host=True, skip_accept_encoding=True)
        for k, v in h.items():
            conn.putheader(k, v)
        conn.endheaders()
        md5 = hashlib.md5()
        t0 = time.monotonic()
        for block in stream.iter_blocks():
            md5.update(block)
            conn.send(block)
        resp = conn.getresponse()
        body = resp.read()
        put_s = time.monotonic() - t0
        conn.close()
        assert resp.status == 200, (resp.status, body[:500])
        expected = md5.hexdigest()
        assert resp.getheader("ETag") == f'"{expected}"'
        after_put = gw.proc_status()

        # GET: stream to an MD5, never held
        h = _signed_headers(fresh_raw, "GET", path, {})
        conn = http.client.HTTPConnection(gw.host, gw.port, timeout=600)
        conn.putrequest("GET", uri_encode(path, True), skip_host=True, skip_accept_encoding=True)
        for k, v in h.items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        assert resp.status == 200
        assert int(resp.getheader("Content-Length")) == SIZE
        got = hashlib.md5()
        n = 0
        t0 = time.monotonic()
        while True:
            b = resp.read(MiB)
            if not b:
                break
            got.update(b)
            n += len(b)
        get_s = time.monotonic() - t0
        conn.close()
        assert n == SIZE
        assert got.hexdigest() == expected
    finally:
        watch.stop()
    status = gw.proc_status()
    REPORT_LINES.append(
        f"2 GiB single-stream PUT {SIZE / MiB / put_s:.0f} MiB/s, GET {SIZE / MiB / get_s:.0f} MiB/s; "
        f"VmHWM {status['VmHWM'] / 1024:.0f} MiB (after PUT {after_put['VmHWM'] / 1024:.0f} MiB), "
        f"max sampled VmRSS {watch.max_rss / 1024:.0f} MiB"
    )
    assert not watch.big_files, f"object-sized files appeared: {sorted(watch.big_files)}"
    assert after_put["VmHWM"] < LIMIT_KIB, f"peak RSS after PUT {after_put['VmHWM']} KiB >= 256 MiB"
    assert status["VmHWM"] < LIMIT_KIB, f"peak RSS after GET {status['VmHWM']} KiB >= 256 MiB"
    # the shard files are each about a quarter of the object: none near its size
    largest = max((p.stat().st_size for p in gw.all_location_files()), default=0)
    assert largest < BIG, largest
