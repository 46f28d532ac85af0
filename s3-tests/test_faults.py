"""Fault matrix against remote locations.

Every test gets three `rclone serve s3` servers (locations a, b, c; buckets loc-a/b/c, prefix
`cw`), each behind a FaultProxy (cwtest/faultproxy.py), and a gateway whose locations point at
the proxies, with request_timeout_secs = 3 and hedge_delay_ms = 300. Policy: k=4, m=2, two
shards per location, so losing any one location loses nothing.

For each fault the test checks:
- the client's answer: success, or 503/500 with an S3 error code where the write quorum cannot
  be met; never a hang (every client call has a timeout of CLIENT_TIMEOUT, far below 60 s);
- no acknowledged byte is lost: every object acknowledged with 200 reads back byte-exact
  (streamed MD5 against deterministic pseudo-random content);
- after the fault clears, `chunkworks heal` restores full redundancy: every acknowledged
  object's blob has all k+m shard files, two per location, in the servers' directories;
  `chunkworks scrub --no-repair` exits 0; every object reads back byte-exact again.

The terminal summary prints one row per fault ("chunkworks fault matrix").
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cwtest import data
from cwtest.data import MiB
from cwtest.gateway import ACCESS_KEY, REGION, SECRET_KEY
from cwtest.rawclient import CLIENT_TIMEOUT, Answer, Client, at_bytes
from cwtest.remote import FAULT_ROWS, LOCATIONS, FaultRow, describe

pytestmark = [pytest.mark.faults, pytest.mark.destructive]

CALL_LIMIT = 55  # seconds: no single client call may take longer (well below 60 s)
BASE_SIZE = 16 * MiB
BIG_SIZE = 64 * MiB
KILL_SIZE = 500 * MiB
BUCKET = "faults"


# --- client side --------------------------------------------------------------------------


def boto(gw):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=gw.endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            signature_version="s3v4",
            connect_timeout=5,
            read_timeout=CLIENT_TIMEOUT,
        ),
    )


# --- the rig: remotes + gateway + what was acknowledged -----------------------------------


@dataclass
class Acked:
    key: str
    seed: str
    size: int
    md5: str
    blobs: set[str]


class Rig:
    def __init__(self, remotes, gw, fault: str):
        self.remotes = remotes
        self.gw = gw
        self.acked: dict[str, Acked] = {}
        self.row = FaultRow(fault)
        FAULT_ROWS.append(self.row)
        self.start()
        self.s3.create_bucket(Bucket=BUCKET)

    def start(self):
        try:
            self.gw.start()
        except Exception:
            self.row.client_answer = "gateway did not start"
            raise
        self.client = Client(self.gw.host, self.gw.port, BUCKET)
        self.s3 = boto(self.gw)

    def restart(self):
        self.gw.stop()
        self.start()

    def proxy(self, loc):
        return self.remotes.proxy(loc)

    # operations

    def put(self, key: str, size: int, on_progress=None, seed: str | None = None) -> Answer:
        seed = seed or f"faults/{key}/{size}"
        before = self.remotes.blob_ids()
        ans = self.client.put(key, seed, size, on_progress)
        assert ans.elapsed < CALL_LIMIT, f"PUT {key} took {ans.elapsed:.1f}s: {ans.short()}"
        if ans.status == 200:
            md5 = data.md5_of(seed, size)
            assert ans.etag == f'"{md5}"', f"PUT {key}: ETag {ans.etag} != MD5 {md5}"
            self.acked[key] = Acked(key, seed, size, md5, self.remotes.blob_ids() - before)
        return ans

    def load_baseline(self, n=2, size=BASE_SIZE):
        for i in range(n):
            ans = self.put(f"base-{i}", size)
            assert ans.status == 200, f"baseline PUT base-{i}: {ans.short()}\n{self.gw.log_tail(30)}"

    def verify_all(self, note="") -> tuple[int, int, list[str]]:
        """GETs every acknowledged object; returns (byte-exact, total, problems) and fills the
        row's bytes-lost / byte-exact columns."""
        ok, problems, lost = 0, [], 0
        for a in self.acked.values():
            ans = self.client.get(a.key)
            if ans.status == 200 and ans.md5 == a.md5 and ans.length == a.size:
                ok += 1
            else:
                lost += a.size
                problems.append(
                    f"{a.key}: {ans.short()} len={ans.length}/{a.size} md5 ok={ans.md5 == a.md5} "
                    f"({ans.elapsed:.1f}s)"
                )
            assert ans.elapsed < CALL_LIMIT, f"GET {a.key} took {ans.elapsed:.1f}s"
        self.row.bytes_lost = str(lost)
        self.row.byte_exact = f"{ok}/{len(self.acked)}" + (f" {note}" if note else "")
        return ok, len(self.acked), problems

    def assert_all_exact(self, when: str):
        ok, total, problems = self.verify_all()
        assert ok == total, f"{when}: {total - ok} of {total} acknowledged objects not byte-exact:\n" + "\n".join(
            problems
        ) + f"\n--- gateway log ---\n{self.gw.log_tail(30)}"

    def assert_invisible(self, key: str):
        h = self.client.head(key)
        assert h.status == 404, f"HEAD {key} after a failed PUT: {h.short()}"
        keys = self.list_keys()
        assert key not in keys, f"{key} listed after a failed PUT: {keys}"

    def list_keys(self) -> list[str]:
        out = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            out += [o["Key"] for o in page.get("Contents", [])]
        return out

    def cli(self, *args, timeout=120):
        t0 = time.monotonic()
        p = self.gw.cli(*args, timeout=timeout)
        self.row.notes.append(f"`chunkworks {' '.join(args)}` exit {p.returncode} ({time.monotonic() - t0:.1f}s)")
        return p

    def redundancy_problems(self) -> list[str]:
        problems = []
        for a in self.acked.values():
            if not a.blobs:
                problems.append(f"{a.key}: no blob dir appeared in any location at PUT time")
            for blob in sorted(a.blobs):
                ok, why = self.remotes.blob_complete(blob)
                if not ok:
                    problems.append(f"{a.key}: {why}")
        return problems

    def heal_and_check(self):
        """Clear all faults, run heal, then: shard files complete, scrub --no-repair exits 0,
        every object byte-exact."""
        self.remotes.all_pass()
        self.row.redundancy = "no"
        p = self.cli("heal")
        assert p.returncode == 0, describe(p)
        problems = self.redundancy_problems()
        assert not problems, "after heal, not at full redundancy:\n" + "\n".join(problems)
        # the index can be rebuilt from any one location: each holds a manifest copy of every
        # acknowledged object (also those written while it was down)
        for name in LOCATIONS:
            n = len(self.remotes[name].server.manifest_files())
            assert n >= len(self.acked), (
                f"after heal, location {name} holds {n} manifest copies for {len(self.acked)} objects"
            )
        s = self.cli("scrub", "--no-repair")
        assert s.returncode == 0, describe(s)
        self.assert_all_exact("after heal")
        self.row.redundancy = "yes"


@pytest.fixture
def rig_factory(remotes, remote_gateway):
    def make(fault: str) -> Rig:
        return Rig(remotes, remote_gateway, fault)

    return make


# --- the harness itself (runs without any gateway) ----------------------------------------


def test_harness_rclone_and_proxy_modes(remotes):
    """The infrastructure: rclone serves the bucket through the proxy, and every proxy mode
    does what it says, also when switched in the middle of a transfer."""
    loc = remotes["a"]
    srv, px = loc.server, loc.proxy

    def client(read_timeout=5):
        return boto3.session.Session().client(
            "s3",
            endpoint_url=px.endpoint,
            aws_access_key_id=srv.access_key,
            aws_secret_access_key=srv.secret_key,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1, "mode": "standard"},
                connect_timeout=2,
                read_timeout=read_timeout,
            ),
        )

    c = client()
    body = data.content("harness", 8 * MiB)
    c.put_object(Bucket=srv.bucket, Key="cw/shards/x/1.0", Body=body)
    assert (srv.prefix_dir / "shards" / "x" / "1.0").read_bytes() == body
    assert c.get_object(Bucket=srv.bucket, Key="cw/shards/x/1.0")["Body"].read() == body

    px.refuse()
    t0 = time.monotonic()
    with pytest.raises(Exception) as e:
        client().head_object(Bucket=srv.bucket, Key="cw/shards/x/1.0")
    assert "connect" in str(e.value).lower(), e.value
    assert time.monotonic() - t0 < 3

    px.blackhole()
    t0 = time.monotonic()
    with pytest.raises(Exception) as e:
        client(read_timeout=1).head_object(Bucket=srv.bucket, Key="cw/shards/x/1.0")
    assert "timeout" in str(e.value).lower(), e.value
    assert time.monotonic() - t0 < 4
    px.pass_()
    client().head_object(Bucket=srv.bucket, Key="cw/shards/x/1.0")

    px.error500()
    with pytest.raises(ClientError) as e:
        client().get_object(Bucket=srv.bucket, Key="cw/shards/x/1.0")
    assert e.value.response["Error"]["Code"] == "InternalError"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    with pytest.raises(ClientError) as e:  # with a request body too
        client().put_object(Bucket=srv.bucket, Key="cw/shards/x/2.0", Body=body)
    assert e.value.response["Error"]["Code"] == "InternalError"
    assert px.answered_500 >= 2

    px.slow(1.0)
    t0 = time.monotonic()
    client().head_object(Bucket=srv.bucket, Key="cw/shards/x/1.0")
    assert 1.0 <= time.monotonic() - t0 < 8  # one delayed answer (a retried connection may add one more)

    px.kill_after(100_000)
    with pytest.raises(Exception):
        client().get_object(Bucket=srv.bucket, Key="cw/shards/x/1.0")["Body"].read()

    # switched mid-transfer: a GET cut by refuse after 1 MiB (the object is larger than what
    # loopback socket buffers can hold, so the cut is seen), a PUT cut by kill_after
    px.pass_()
    big = data.content("harness-big", 48 * MiB)
    client().put_object(Bucket=srv.bucket, Key="cw/shards/x/4.0", Body=big)
    stream = client().get_object(Bucket=srv.bucket, Key="cw/shards/x/4.0")["Body"]
    got, cut = 0, None
    try:
        while True:
            b = stream.read(256 * 1024)
            if not b:
                break
            got += len(b)
            if got >= MiB and px.mode == "pass":
                px.refuse()
    except Exception as e:  # noqa: BLE001 - any transport error is the expected outcome
        cut = e
    assert cut is not None or got < len(big), f"GET was not cut ({got} bytes)"

    px.pass_()
    t = threading.Timer(0.05, lambda: px.kill_after(0))
    t.start()
    with pytest.raises(Exception):
        client(read_timeout=5).put_object(Bucket=srv.bucket, Key="cw/shards/x/3.0", Body=data.content("h3", 64 * MiB))
    t.join()

    px.pass_()
    assert client().get_object(Bucket=srv.bucket, Key="cw/shards/x/1.0")["Body"].read() == body
    assert px.resets >= 1


# --- the fault matrix ---------------------------------------------------------------------


def test_location_down_before_put(rig_factory):
    rig = rig_factory("location a refused before PUT (64 MiB)")
    rig.load_baseline()
    rig.proxy("a").refuse()
    ans = rig.put("big", BIG_SIZE)
    rig.row.client_answer = ans.short()
    assert ans.status == 200, f"PUT with one location down must succeed (degraded): {ans.short()}"
    rig.assert_all_exact("with location a still down")
    rig.heal_and_check()


def test_two_locations_down_put_fails(rig_factory):
    rig = rig_factory("locations a refused + b blackholed before PUT")
    rig.load_baseline()
    rig.proxy("a").refuse()
    rig.proxy("b").blackhole()
    ans = rig.put("doomed", BASE_SIZE)
    rig.row.client_answer = ans.short()
    assert ans.status == 503 and ans.code == "ServiceUnavailable", (
        f"PUT without write quorum must fail with 503 ServiceUnavailable: {ans.short()}"
    )
    g = rig.client.get("base-0")
    rig.row.notes.append(f"GET of an acknowledged object with two locations down: {g.short()} ({g.elapsed:.1f}s)")
    assert g.status in (500, 503) and g.code, f"unreadable GET must be 503/500 with a code: {g.short()}"
    rig.remotes.all_pass()
    rig.assert_invisible("doomed")
    live = set().union(*(a.blobs for a in rig.acked.values()))
    rig.row.notes.append(f"blob ids left by the failed PUT (for gc): {len(rig.remotes.blob_ids() - live)}")
    rig.assert_all_exact("after the locations came back")
    rig.heal_and_check()


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(("a", "refuse"), id="refuse"),
        pytest.param(("b", "kill"), id="kill_connection"),
        pytest.param(("c", "blackhole"), id="blackhole"),
    ],
)
def test_location_fails_mid_put(rig_factory, fault):
    loc, how = fault
    rig = rig_factory(f"location {loc} {how} in the middle of a 64 MiB PUT")
    rig.load_baseline()
    px = rig.proxy(loc)
    before = dict(px.stats())
    action = {"refuse": px.refuse, "kill": lambda: px.kill_after(64 * 1024), "blackhole": px.blackhole}[how]
    hook = at_bytes(24 * MiB, action)
    ans = rig.put("big", BIG_SIZE, on_progress=hook)
    rig.row.client_answer = f"{ans.short()} ({ans.elapsed:.1f}s)"
    assert hook.fired.is_set()
    rig.row.notes.append(f"proxy {loc} before {before}, after {px.stats()}")
    assert ans.status == 200, f"PUT that loses one location mid-stream must succeed (degraded): {ans.short()}"
    rig.assert_all_exact(f"with location {loc} still {how}")
    rig.heal_and_check()


@pytest.mark.parametrize("how", ["refuse", "kill", "blackhole"])
def test_location_fails_mid_get(rig_factory, how):
    rig = rig_factory(f"location a {how} in the middle of a 64 MiB GET")
    rig.load_baseline(n=1)
    ans = rig.put("big", BIG_SIZE)
    assert ans.status == 200, ans.short()
    px = rig.proxy("a")
    action = {"refuse": px.refuse, "kill": lambda: px.kill_after(0), "blackhole": px.blackhole}[how]
    hook = at_bytes(4 * MiB, action)
    g = rig.client.get("big", on_progress=hook)
    rig.row.client_answer = f"GET {g.short()} ({g.elapsed:.1f}s)"
    rig.row.notes.append(f"proxy a after the GET: {px.stats()}")
    assert hook.fired.is_set()
    assert g.elapsed < CALL_LIMIT
    assert g.status == 200 and g.length == BIG_SIZE and g.md5 == rig.acked["big"].md5, (
        f"GET must complete byte-exact when one location goes away mid-read: {g.short()} "
        f"len={g.length} md5 ok={g.md5 == rig.acked['big'].md5}"
    )
    rig.assert_all_exact(f"with location a still {how}")
    rig.heal_and_check()


def test_location_answers_500(rig_factory):
    rig = rig_factory("location c answers 500 InternalError")
    rig.load_baseline()
    px = rig.proxy("c")
    px.error500()
    ans = rig.put("big", BIG_SIZE)
    rig.row.client_answer = ans.short()
    assert ans.status == 200, f"PUT with one location answering 500 must succeed (degraded): {ans.short()}"
    rig.assert_all_exact("with location c answering 500")
    rig.row.notes.append(f"proxy c answered {px.answered_500} requests with 500")
    assert px.answered_500 > 0
    rig.heal_and_check()


@pytest.mark.parametrize("seconds", [2, 6])
def test_location_slow(rig_factory, seconds):
    rig = rig_factory(f"location a answers {seconds} s late")
    rig.load_baseline(n=1)
    rig.proxy("a").slow(seconds)
    ans = rig.put("slow-put", BASE_SIZE)
    g = rig.client.get("base-0")
    rig.row.client_answer = f"PUT {ans.short()} ({ans.elapsed:.1f}s), GET {g.short()} ({g.elapsed:.1f}s)"
    assert ans.status == 200, f"PUT with a slow location must succeed: {ans.short()}"
    assert g.status == 200 and g.md5 == rig.acked["base-0"].md5, g.short()
    # a 16 MiB object is 4 chunks: parity reads after hedge_delay_ms (300 ms) must keep the
    # slow location off the critical path
    assert g.elapsed < 15, f"GET of 16 MiB with a slow location took {g.elapsed:.1f}s (hedging?)"
    rig.assert_all_exact(f"with location a {seconds} s slow")
    rig.heal_and_check()


def _flip(path, offsets):
    with open(path, "r+b") as f:
        for off in offsets:
            f.seek(off)
            b = f.read(1)
            if b:
                f.seek(off)
                f.write(bytes([b[0] ^ 0xFF]))


@pytest.mark.parametrize("how", ["corrupt", "delete"])
def test_shard_file_damaged(rig_factory, how):
    rig = rig_factory(f"shard files {'bit-flipped' if how == 'corrupt' else 'deleted'} at location a")
    rig.load_baseline(n=1)
    ans = rig.put("big", BIG_SIZE)
    assert ans.status == 200, ans.short()
    srv = rig.remotes["a"].server
    blobs = rig.acked["big"].blobs
    files = [p for p in srv.shard_files() if p.parent.name in blobs]
    assert files, f"no shard files of the object at location a: {srv.shard_files()}"
    damaged = {}
    for p in files:
        if how == "corrupt":
            n = p.stat().st_size
            _flip(p, list(range(n // 3, n, 1 << 20)) + [n - 1])
            damaged[p] = p.read_bytes()
        else:
            p.unlink()
    rig.remotes.settle()
    s = rig.cli("scrub", "--no-repair")
    rig.row.notes.append(f"scrub --no-repair with damage: exit {s.returncode}")
    g = rig.client.get("big")
    rig.row.client_answer = f"GET {g.short()}"
    assert g.status == 200 and g.md5 == rig.acked["big"].md5, g.short()
    rig.assert_all_exact(f"with {how}d shard files")
    rig.heal_and_check()
    for p, bad in damaged.items():
        assert not p.exists() or p.read_bytes() != bad, f"{p} still holds the corrupted bytes after heal"


def test_gateway_killed_mid_500mib_put(rig_factory):
    rig = rig_factory("gateway SIGKILLed in the middle of a 500 MiB PUT")
    rig.load_baseline()
    gw = rig.gw
    hook = at_bytes(200 * MiB, gw.kill9)
    ans = rig.put("huge", KILL_SIZE, on_progress=hook)
    rig.row.client_answer = ans.short()
    assert hook.fired.is_set()
    assert ans.status is None, f"the client must not get an answer from a killed gateway: {ans.short()}"
    assert "huge" not in rig.acked
    rig.start()  # new process, same data dir and config
    rig.assert_invisible("huge")
    rig.assert_all_exact("after restart")
    uploads = rig.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    assert not uploads, uploads

    live = set().union(*(a.blobs for a in rig.acked.values()))
    before = rig.remotes.shard_file_count()
    stray_before = rig.remotes.blob_ids() - live
    p = rig.cli("gc", "--grace-secs", "0")
    assert p.returncode == 0, describe(p)
    after = rig.remotes.shard_file_count()
    stray_after = rig.remotes.blob_ids() - live
    rig.row.notes.append(
        f"shard files before gc {before}, after {after}; stray blob ids before {len(stray_before)}, after {len(stray_after)}"
    )
    assert not stray_after, f"gc --grace-secs 0 left shard files of no object: {sorted(stray_after)}"
    if stray_before:
        assert after < before
    rig.assert_all_exact("after gc")
    rig.heal_and_check()


def test_recover_index_from_one_location(rig_factory):
    rig = rig_factory("meta.sqlite deleted, location a down, recover-index --from b")
    rig.load_baseline(n=3)
    # an overwritten and a deleted object: the rebuild must take the newest state of each key
    rig.put("over", 5 * MiB, seed="over/v1")
    rig.put("over", 6 * MiB + 3, seed="over/v2")
    rig.put("gone", MiB)
    rig.s3.delete_object(Bucket=BUCKET, Key="gone")
    del rig.acked["gone"]
    expected = sorted(rig.acked)
    assert rig.list_keys() == expected

    rig.gw.stop()
    for suffix in ("", "-wal", "-shm", "-journal"):
        f = rig.gw.data_dir / f"meta.sqlite{suffix}"
        if f.exists():
            f.unlink()
    rig.proxy("a").refuse()
    p = rig.cli("recover-index", "--from", "b", timeout=180)
    rig.row.client_answer = f"recover-index exit {p.returncode}"
    assert p.returncode == 0, describe(p)
    assert (rig.gw.data_dir / "meta.sqlite").exists()
    rig.start()
    keys = rig.list_keys()
    rig.row.client_answer += f"; listing {len(keys)}/{len(expected)} keys"
    assert keys == expected, f"listing after recover-index: {keys} != {expected}"
    rig.assert_all_exact("after recover-index with location a down")
    rig.heal_and_check()
